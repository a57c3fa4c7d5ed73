"""Benchmark: sACN encoding and sending, packets per second, lumen vs PyPI ``sacn`` 1.11.

What is timed, per grid point (number of universes per frame):

- **lumen encode**: ``SacnEncoder.encode_frame`` alone (µs per universe).
- **lumen encode+send**: ``SacnOutput.send_frame``: encode every universe of the frame and one
  ``sendto`` each, to a UDP socket bound on 127.0.0.1 that is never read (when its buffer is
  full the kernel drops at the receiver; ``sendto`` still succeeds, so the cost stays the send
  path's).
- **sacn build+send** (baseline, same run, same receiver): per universe what ``sacn``'s sender
  does for a changed universe: the ``dmxData`` setter (validates and pads a tuple of 512 ints),
  ``sequence_increase()``, ``bytearray(packet.getBytes())`` and one ``sendto``. Its sender
  thread is rate-limited, so its packet path is driven directly; the tuples are prepared
  outside the timing (numpy -> tuple conversion would cost lumen-style callers extra).

Each figure is also given as universes per core at 44 Hz and as the fraction of the 44 Hz frame
budget (22.7 ms) the frame takes. Every run is bounded in packets and seconds; everything goes
to 127.0.0.1.
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
from _common import record, repeat, table  # noqa: E402

from lumen.output.encode.sacn import SacnEncoder  # noqa: E402
from lumen.output.sacn import SacnOutput  # noqa: E402

RATE_HZ = 44.0


def _timed(step: Callable[[], object], per_call: int, max_packets: int, max_seconds: float) -> float:
    """Packets per second of ``step`` (which handles ``per_call`` packets), bounded in both ways."""
    max_calls = max(1, max_packets // per_call)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        calls = 0
        t0 = time.perf_counter()
        while calls < max_calls:
            step()
            calls += 1
            if calls & 7 == 0 and time.perf_counter() - t0 > max_seconds:
                break
        dt = time.perf_counter() - t0
    finally:
        if gc_was:
            gc.enable()
    return calls * per_call / dt


def _frame(n_universes: int) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(n_universes).integers(0, 256, (n_universes, 512), dtype=np.uint8)


def bench_lumen_encode(n: int, repeats: int, max_packets: int, max_seconds: float) -> tuple[float, float, float]:
    enc = SacnEncoder(n, cid=bytes(16))
    dmx = _frame(n)
    _timed(lambda: enc.encode_frame(dmx), n, max_packets // 10, max_seconds / 10)  # warm-up
    return repeat(lambda: _timed(lambda: enc.encode_frame(dmx), n, max_packets, max_seconds), repeats)


def bench_lumen_send(
    n: int, port: int, repeats: int, max_packets: int, max_seconds: float
) -> tuple[tuple[float, float, float], int]:
    out = SacnOutput(port=port, n_universes=n, cid=bytes(16))
    dmx = _frame(n)
    try:
        _timed(lambda: out.send_frame(dmx), n, max_packets // 10, max_seconds / 10)
        stats = repeat(lambda: _timed(lambda: out.send_frame(dmx), n, max_packets, max_seconds), repeats)
        return stats, out.errors
    finally:
        out.close()


def bench_sacn_send(n: int, port: int, repeats: int, max_packets: int, max_seconds: float) -> tuple[float, float, float]:
    from sacn.messages.data_packet import DataPacket

    cid = tuple(range(16))
    packets = [DataPacket(cid=cid, sourceName="sacn", universe=1 + u) for u in range(n)]
    rows = [tuple(r.tolist()) for r in _frame(n)]
    pairs = list(zip(packets, rows))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("", 0))
    dest = ("127.0.0.1", port)

    def frame() -> None:
        for pkt, row in pairs:
            pkt.dmxData = row
            pkt.sequence_increase()
            sock.sendto(bytearray(pkt.getBytes()), dest)

    try:
        _timed(frame, n, max_packets // 10, max_seconds / 10)
        return repeat(lambda: _timed(frame, n, max_packets, max_seconds), repeats)
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--universes", type=int, nargs="+", default=[1, 16, 64, 256], help="grid of universes per frame")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per grid point")
    p.add_argument("--max-packets", type=int, default=100_000, help="packet bound per timed run")
    p.add_argument("--max-seconds", type=float, default=0.5, help="time bound per timed run, s")
    p.add_argument("--quick", action="store_true", help="smoke pass: 2 repeats, 0.1 s runs")
    p.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = p.parse_args(argv)
    repeats, max_seconds = (2, 0.1) if args.quick else (args.repeats, args.max_seconds)
    max_packets = args.max_packets

    try:
        import sacn  # noqa: F401

        have_sacn = True
    except ImportError:
        have_sacn = False

    # A receiver that is bound (so no ICMP port-unreachable per packet) but never read.
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]

    rows: list[list[object]] = []
    ratio_rows: list[list[object]] = []
    budget_s = 1.0 / RATE_HZ
    try:
        for n in args.universes:
            enc = bench_lumen_encode(n, repeats, max_packets, max_seconds)
            (lmn, lmed, lmx), errors = bench_lumen_send(n, port, repeats, max_packets, max_seconds)
            rows.append(
                ["lumen encode+send", n, lmn, lmed, lmx, lmed / RATE_HZ, n / lmed / budget_s, 1e6 / enc[1], errors]
            )
            if have_sacn:
                smn, smed, smx = bench_sacn_send(n, port, repeats, max_packets, max_seconds)
                rows.append(["sacn 1.11 build+send", n, smn, smed, smx, smed / RATE_HZ, n / smed / budget_s, "", ""])
                ratio_rows.append([n, f"{lmed / smed:.1f}x", f"{lmn / smx:.1f}x", f"{lmx / smn:.1f}x"])
    finally:
        rx.close()

    body = (
        "sACN data packets per second on one core (everything to a bound, never-read UDP socket on "
        "127.0.0.1). `univ@44Hz` = median packets/s / 44; `budget` = fraction of the 22.7 ms frame "
        "budget one frame of that many universes takes; `encode µs/univ` = `encode_frame` alone "
        "(median). sacn: `dmxData` setter + `sequence_increase` + `bytearray(getBytes())` + `sendto` "
        "per universe, tuples prebuilt.\n\n"
        + table(
            ["path", "universes", "min pkt/s", "median pkt/s", "max pkt/s", "univ@44Hz/core", "budget",
             "encode µs/univ", "send errors"],
            rows,
        )
    )
    if ratio_rows:
        body += "\n\nlumen / sacn (median/median, worst: lumen min / sacn max, best: lumen max / sacn min):\n\n" + table(
            ["universes", "median ratio", "worst", "best"], ratio_rows
        )
    else:
        body += "\n\n(PyPI `sacn` is not installed: no baseline in this run.)"
    record("sACN encode + send, lumen vs sacn 1.11 (bench_encode.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
