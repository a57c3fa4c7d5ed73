"""Benchmark: the outputs at 44 Hz: packets/s and CPU, lumen's sACN vs PyPI ``sacn`` 1.11, plus
Art-Net and DDP.

Two measurements per grid point (universes per frame; DDP sends the same bytes as
``170 * universes`` RGB pixels):

- **paced**: frames at 44 Hz for ``--seconds`` (bounded in frames too), the way the output thread
  drives an output. Reported: packets/s actually sent, frames/s reached, and CPU load =
  ``time.process_time()`` / wall time (1.0 = one core busy). A path that cannot keep 44 Hz sends
  back to back and shows its reached frame rate.
- **flat out**: frames back to back, bounded in packets and seconds. Reported: packets per CPU
  second and from it the most universes one core can keep at 44 Hz (``packets per CPU-s / 44``;
  for DDP, 170-pixel universe equivalents).

Paths:

- ``lumen sacn``: ``SacnOutput.send_frame`` (numpy encode into preallocated packets, one
  ``sendto`` each).
- ``sacn 1.11``: per universe what ``sacn``'s sender thread does for a changed universe: the
  ``dmxData`` setter, ``sequence_increase()``, ``bytearray(packet.getBytes())`` and one
  ``sendto`` (as in bench_encode.py; its own thread is rate-limited, so the packet path is driven
  directly, and the tuples are prebuilt outside the timing).
- ``lumen artnet``: ``ArtnetOutput.send_frame``.
- ``lumen ddp``: ``DdpOutput.send_frame`` (170 RGB pixels per row, 480 pixels per packet).

Everything goes to one bound, never-read UDP socket on 127.0.0.1 (the kernel drops what
overflows its buffer; ``sendto`` still succeeds, so the cost stays the sender's).
"""

from __future__ import annotations

import argparse
import gc
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, table  # noqa: E402

from lumen.output.artnet import ArtnetOutput  # noqa: E402
from lumen.output.ddp import DdpOutput  # noqa: E402
from lumen.output.sacn import SacnOutput  # noqa: E402

RATE_HZ = 44.0
#: Targets of the issue: lumen/sacn packet-rate ratio and universes at 44 Hz on one core.
TARGET_RATIO = 10.0
TARGET_UNIVERSES = 2000

Step = Callable[[], int]  # sends one frame, returns packets handed to the kernel


def _frame(n_universes: int) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(n_universes).integers(0, 256, (n_universes, 512), dtype=np.uint8)


def paced(step: Step, seconds: float, rate_hz: float = RATE_HZ) -> tuple[float, float, float]:
    """Run ``step`` at ``rate_hz`` for ``seconds``: (packets/s, frames/s, CPU load)."""
    n_frames = max(1, int(seconds * rate_hz))
    interval = 1.0 / rate_hz
    gc_was = gc.isenabled()
    gc.disable()
    try:
        packets = 0
        c0 = time.process_time()
        t0 = time.perf_counter()
        deadline = t0 + 3.0 * seconds + 1.0  # bound for a path that cannot keep up
        done = 0
        for k in range(n_frames):
            due = t0 + k * interval
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            packets += step()
            done += 1
            if time.perf_counter() > deadline:
                break
        # A frame's slot lasts one interval: count the last one in full.
        wall = max(time.perf_counter() - t0, done * interval)
        cpu = time.process_time() - c0
    finally:
        if gc_was:
            gc.enable()
    return packets / wall, done / wall, cpu / wall


def flat_out(step: Step, per_frame: int, max_packets: int, max_seconds: float) -> tuple[float, float]:
    """Run ``step`` back to back: (packets per wall second, packets per CPU second)."""
    max_frames = max(1, max_packets // per_frame)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        packets = 0
        frames = 0
        c0 = time.process_time()
        t0 = time.perf_counter()
        while frames < max_frames:
            packets += step()
            frames += 1
            if frames & 3 == 0 and time.perf_counter() - t0 > max_seconds:
                break
        wall = time.perf_counter() - t0
        cpu = max(time.process_time() - c0, 1e-9)
    finally:
        if gc_was:
            gc.enable()
    return packets / wall, packets / cpu


class SacnBaseline:
    """PyPI sacn 1.11's per-universe packet path, driven directly (see the module docstring)."""

    def __init__(self, n: int, port: int) -> None:
        from sacn.messages.data_packet import DataPacket

        cid = tuple(range(16))
        packets = [DataPacket(cid=cid, sourceName="sacn", universe=1 + u) for u in range(n)]
        rows = [tuple(r.tolist()) for r in _frame(n)]
        self.pairs = list(zip(packets, rows))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("", 0))
        self.dest = ("127.0.0.1", port)

    def send_frame(self) -> int:
        sock, dest = self.sock, self.dest
        for pkt, row in self.pairs:
            pkt.dmxData = row
            pkt.sequence_increase()
            sock.sendto(bytearray(pkt.getBytes()), dest)
        return len(self.pairs)

    def close(self) -> None:
        self.sock.close()


def _paths(n: int, port: int, have_sacn: bool) -> list[tuple[str, Step, int, Callable[[], None], float]]:
    """(name, step, packets per frame, close, universe-equivalents per packet) of each path."""
    dmx = _frame(n)
    lumen = SacnOutput(port=port, n_universes=n, cid=bytes(16))
    art = ArtnetOutput(port=port, n_universes=n)
    ddp = DdpOutput(port=port, n_pixels=170 * n)
    paths: list[tuple[str, Step, int, Callable[[], None], float]] = [
        ("lumen sacn", lambda: lumen.send_frame(dmx), n, lumen.close, 1.0),
    ]
    if have_sacn:
        base = SacnBaseline(n, port)
        paths.append(("sacn 1.11", base.send_frame, n, base.close, 1.0))
    paths.append(("lumen artnet", lambda: art.send_frame(dmx), n, art.close, 1.0))
    paths.append(("lumen ddp", lambda: ddp.send_frame(dmx), ddp.encoder.n_packets, ddp.close, 480 / 170))
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--universes", type=int, nargs="+", default=[10, 100, 1000], help="grid of universes per frame")
    p.add_argument("--seconds", type=float, default=2.0, help="duration of each paced run, s")
    p.add_argument("--repeats", type=int, default=3, help="flat-out runs per path (median kept)")
    p.add_argument("--max-packets", type=int, default=200_000, help="packet bound per flat-out run")
    p.add_argument("--max-seconds", type=float, default=0.5, help="time bound per flat-out run, s")
    p.add_argument("--quick", action="store_true", help="smoke pass: 0.5 s paced, 1 repeat, 0.1 s flat-out runs")
    p.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = p.parse_args(argv)
    seconds, repeats, max_seconds = (0.5, 1, 0.1) if args.quick else (args.seconds, args.repeats, args.max_seconds)

    try:
        import sacn  # noqa: F401

        have_sacn = True
    except ImportError:
        have_sacn = False

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]

    paced_rows: list[list[object]] = []
    flat_rows: list[list[object]] = []
    per_cpu: dict[tuple[str, int], float] = {}
    try:
        for n in args.universes:
            for name, step, per_frame, close, u_per_packet in _paths(n, port, have_sacn):
                try:
                    flat_out(step, per_frame, max(per_frame, args.max_packets // 20), max_seconds / 5)  # warm-up
                    pps, fps, load = paced(step, seconds)
                    paced_rows.append([name, n, pps, fps, f"{fps / RATE_HZ:.0%}", f"{load:.3f}"])
                    runs = sorted(
                        (flat_out(step, per_frame, args.max_packets, max_seconds) for _ in range(repeats)),
                        key=lambda r: r[1],
                    )
                    wall_pps, cpu_pps = runs[len(runs) // 2]
                    per_cpu[(name, n)] = cpu_pps
                    flat_rows.append([name, n, wall_pps, cpu_pps, int(cpu_pps * u_per_packet / RATE_HZ)])
                finally:
                    close()
    finally:
        rx.close()

    body = (
        "Outputs at 44 Hz on one core (everything to a bound, never-read UDP socket on 127.0.0.1). "
        "`paced`: frames at 44 Hz; `CPU load` = process CPU time / wall time (1.0 = one core); "
        "`44 Hz kept` = frames/s reached / 44. DDP sends each universe row as 170 RGB pixels "
        "(480 pixels per packet).\n\n"
        + table(["path", "universes", "paced pkt/s", "frames/s", "44 Hz kept", "CPU load"], paced_rows)
        + "\n\nFlat out (median of the runs): `pkt/CPU-s` = packets per CPU second; `max univ @44Hz/core` "
        "= pkt/CPU-s / 44 (DDP: 170-pixel universe equivalents).\n\n"
        + table(["path", "universes", "pkt/s (wall)", "pkt/CPU-s", "max univ @44Hz/core"], flat_rows)
    )
    verdict: list[list[object]] = []
    best_univ = max((v / RATE_HZ for (name, _), v in per_cpu.items() if name == "lumen sacn"), default=0.0)
    for n in args.universes:
        if have_sacn and ("sacn 1.11", n) in per_cpu:
            ratio = per_cpu[("lumen sacn", n)] / per_cpu[("sacn 1.11", n)]
            verdict.append([f"lumen/sacn pkt per CPU-s, {n} universes", f"{ratio:.1f}x", f">= {TARGET_RATIO:.0f}x",
                            "ok" if ratio >= TARGET_RATIO else "MISSED"])
    verdict.append(["lumen sacn universes @44Hz on one core", f"{best_univ:,.0f}", f">= {TARGET_UNIVERSES}",
                    "ok" if best_univ >= TARGET_UNIVERSES else "MISSED"])
    body += "\n\nTargets:\n\n" + table(["measure", "value", "target", ""], verdict)
    if not have_sacn:
        body += "\n\n(PyPI `sacn` is not installed: no baseline in this run.)"
    record("Outputs at 44 Hz: sACN vs sacn 1.11, Art-Net, DDP (outputs.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
