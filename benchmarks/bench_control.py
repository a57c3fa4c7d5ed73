"""Benchmark: show control speed: OSC in, OSC out, and a command's way to the wire.

Layer: benchmarks. Threads: the main thread times; part 2 runs a real `OscServer` thread and a
sender in a child process; part 4 runs a whole `Engine` (listen process, frame, output and
control threads) and a receiver thread. Everything goes to 127.0.0.1; every load loop is
bounded in count and in time.

What is measured:

1. **OSC in, per message**: ``OscServer.handle(data, source)`` (structure check, python-osc
   decode, `lumen.control.oscmap.parse`, a `Command` posted to a counting sink, and the echo of
   the new state to the sender, as the engine runs it: ``echo="all"``, scene and parameter
   names known) for ``/lumen/master f``, ``/lumen/scene/<name>``,
   ``/lumen/param/<scene>/<node>/<param> f`` and a malformed datagram (``/lumen/master ,f``
   without its float, refused by `check_packet`). Baseline in the same run: python-osc's
   ``Dispatcher.call_handlers_for_packet`` with a counting handler mapped to the same
   addresses (decode + dispatch only: no checks, no mapping, no echo). Server not started:
   ``handle`` is called directly; echoes go to a bound, never-read socket.
2. **OSC in over UDP, sustained**: a started `OscServer` on 127.0.0.1 (ephemeral port); a child
   process sends N ``/lumen/master f`` datagrams at full speed (and a paced run), bounded in
   count and seconds; received (``osc_packets``), handled (commands posted) and lost.
3. **OSC out**: `lumen.output.encode.osc.osc_message` vs python-osc's ``OscMessageBuilder``
   building the same bytes (checked equal).
4. **Command -> wire, end to end**: a real `Engine` with two flat-color scenes (cut, quantize
   none), render fps 60, sACN at 44 Hz unicast to a receiver thread on 127.0.0.1; a
   ``/lumen/scene/<name>`` datagram (alternating red/blue, random gaps) to the engine's OSC
   port; latency = first sACN packet carrying the new color minus the send time
   (``time.perf_counter`` both).

Usage::

    python benchmarks/bench_control.py [--quick] [--no-record] [--repeats N] [--e2e-samples N]
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import random
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO))
from _common import record, table  # noqa: E402

from lumen.control.commands import Command  # noqa: E402
from lumen.control.osc import OscServer  # noqa: E402
from lumen.output.encode.osc import OscArg, osc_message  # noqa: E402

SCENES = ("red", "blue")
PARAMS = {"red": ["layer1"], "blue": ["layer1"]}
#: Load of a busy controller for the "core share" column: messages per second.
LOAD_MSGS_PER_S = 1000.0


# --------------------------------------------------------------------------- timing helpers


def _per_call_s(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def _measure_us(fn: Callable[[], object], repeats: int, target_s: float) -> tuple[int, list[float]]:
    """Calls per batch and µs per call of each batch; warm-up untimed, gc off while timing."""
    warm = _per_call_s(fn, 200)
    n = max(100, min(200_000, int(target_s / max(warm, 1e-7))))
    gc_was = gc.isenabled()
    gc.disable()
    try:
        return n, [_per_call_s(fn, n) * 1e6 for _ in range(repeats)]
    finally:
        if gc_was:
            gc.enable()


def _pct(xs: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of ``xs``, nearest rank."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


class CountingSink:
    """A `CommandSink` that counts and keeps the arrival window (perf_counter at each post)."""

    def __init__(self) -> None:
        self.n = 0
        self.last: Command | None = None
        self.t_first = 0.0
        self.t_last = 0.0

    def post(self, cmd: Command) -> None:
        t = time.perf_counter()
        if self.n == 0:
            self.t_first = t
        self.t_last = t
        self.n += 1
        self.last = cmd


def _bound_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


# --------------------------------------------------------------------------- 1. OSC in, per message

IN_CASES: tuple[tuple[str, bytes, bool], ...] = (
    ("/lumen/master f", osc_message("/lumen/master", [0.5]), True),
    ("/lumen/scene/<name>", osc_message("/lumen/scene/blue"), True),
    ("/lumen/param/<scene>/<node>/<param> f", osc_message("/lumen/param/blue/layer1/b", [0.5]), True),
    ("malformed (/lumen/master ,f, float missing)", osc_message("/lumen/master", [0.5])[:-4], False),
)


def bench_osc_in(repeats: int, target_s: float) -> tuple[list[list[object]], list[str]]:
    from pythonosc.dispatcher import Dispatcher

    rows: list[list[object]] = []
    notes: list[str] = []
    echo_rx = _bound_socket()  # the "controller": bound, never read
    source = ("127.0.0.1", int(echo_rx.getsockname()[1]))
    servers = {
        echo: OscServer(CountingSink(), port=0, echo=echo, scenes=SCENES, params=PARAMS)
        for echo in ("all", "off")
    }

    calls: list[tuple[str, tuple[object, ...]]] = []

    def handler(address: str, *args: object) -> None:
        calls.append((address, args))
        if len(calls) > 64:
            del calls[:-1]

    disp = Dispatcher()
    for _, data, valid in IN_CASES:
        if valid:
            from pythonosc.osc_message import OscMessage

            disp.map(OscMessage(data).address, handler)
    try:
        for label, data, valid in IN_CASES:
            for echo in ("all", "off") if label == "/lumen/master f" else ("all",):
                srv = servers[echo]
                sink = srv._sink
                assert isinstance(sink, CountingSink)
                n0, bad0 = sink.n, srv.counters["osc_bad"]
                srv.handle(data, source)
                ok = (sink.n == n0 + 1) if valid else (srv.counters["osc_bad"] == bad0 + 1 and sink.n == n0)
                if not ok:
                    raise RuntimeError(f"{label}: not handled as expected ({srv.last_error})")
                n, us = _measure_us(functools.partial(srv.handle, data, source), repeats, target_s)
                calls.clear()
                disp.call_handlers_for_packet(data, source)
                pyosc_took = bool(calls)
                if valid and not pyosc_took:
                    raise RuntimeError(f"{label}: python-osc did not call the handler")
                if not valid and pyosc_took:
                    notes.append(
                        f"python-osc accepts the malformed datagram and calls the handler with {calls[-1][1]!r} "
                        "(a missing float reads as 0.0); lumen refuses it (`osc_bad`)."
                    )
                _, base = _measure_us(functools.partial(disp.call_handlers_for_packet, data, source), repeats, target_s)
                med, bmed = statistics.median(us), statistics.median(base)
                name = label if echo == "all" else f"{label}, echo off"
                rows.append([
                    name, f"{n}x{repeats}", min(us), med, max(us), 1e6 / med, med * LOAD_MSGS_PER_S / 1e6,
                    bmed, f"{med / bmed:.2f}x",
                ])  # fmt: skip
        fb = servers["all"].counters["osc_feedback"]
        notes.append(f"echo=all sent {fb:,} feedback datagrams during the runs (one per valid message).")
    finally:
        for srv in servers.values():
            srv.stop()
        echo_rx.close()
    return rows, notes


# --------------------------------------------------------------------------- 2. OSC in over UDP

SENDER = r"""
import json, socket, struct, sys, time
port, n, max_s, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
def s(x):
    b = x.encode()
    return b + b"\0" * (4 - len(b) % 4)
msgs = [s("/lumen/master") + s(",f") + struct.pack(">f", (i % 1000) / 1000.0) for i in range(1000)]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
dest = ("127.0.0.1", port)
sent = errors = 0
perf = time.perf_counter
t0 = perf()
deadline = t0 + max_s
interval = 1.0 / rate if rate > 0 else 0.0
while sent + errors < n:
    if interval:
        due = t0 + (sent + errors) * interval
        wait = due - perf()
        if wait > 0.0002:
            time.sleep(wait - 0.0001)
        while perf() < due:
            pass
    try:
        sock.sendto(msgs[(sent + errors) % 1000], dest)
        sent += 1
    except OSError:
        errors += 1
    if (sent + errors) & 255 == 0 and perf() > deadline:
        break
dt = perf() - t0
print(json.dumps({"sent": sent, "errors": errors, "seconds": dt}), flush=True)
sys.stdin.read()  # keep the socket (where the echoes land) open until the parent is done
"""


def _rmem() -> str:
    try:
        d = Path("/proc/sys/net/core/rmem_default").read_text().strip()
        m = Path("/proc/sys/net/core/rmem_max").read_text().strip()
        return f"rmem_default {int(d):,} B, rmem_max {int(m):,} B"
    except (OSError, ValueError):
        return "rmem unknown"


def udp_run(n: int, max_s: float, rate: float) -> dict[str, float]:
    """One sustained run: a fresh server, a sender process; counts and rates."""
    sink = CountingSink()
    srv = OscServer(sink, port=0, scenes=SCENES, params=PARAMS)
    srv.start()
    proc = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(srv.port), str(n), str(max_s), str(rate)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], max_s + 20.0)
        if not ready:
            raise RuntimeError("the OSC sender did not report within its time bound")
        sent = json.loads(proc.stdout.readline())
        # Drain: wait until the server has stopped receiving (bounded).
        deadline = time.perf_counter() + 3.0
        last, still = -1, time.perf_counter()
        while time.perf_counter() < deadline:
            got = srv.counters["osc_packets"]
            if got != last:
                last, still = got, time.perf_counter()
            elif time.perf_counter() - still > 0.3:
                break
            time.sleep(0.02)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        srv.stop()
    received = srv.counters["osc_packets"]
    window = sink.t_last - sink.t_first
    return {
        "sent": float(sent["sent"]), "send_s": float(sent["seconds"]), "received": float(received),
        "handled": float(sink.n), "window_s": window, "errors": float(srv.counters["osc_errors"] + srv.counters["osc_bad"]),
    }  # fmt: skip


def bench_osc_udp(n: int, max_s: float, repeats: int, paced_rate: float, paced_n: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for label, count, rate, reps in (("full speed", n, 0.0, repeats), (f"paced {paced_rate:,.0f} msg/s", paced_n, paced_rate, 1)):
        for _ in range(reps):
            r = udp_run(count, max_s, rate)
            lost = r["sent"] - r["received"]
            handled_rate = (r["handled"] - 1) / r["window_s"] if r["window_s"] > 0 and r["handled"] > 1 else 0.0
            rows.append([
                label, int(r["sent"]), r["sent"] / r["send_s"], int(r["received"]), int(r["handled"]), handled_rate,
                int(lost), f"{100.0 * lost / max(1.0, r['sent']):.1f}%", int(r["errors"]),
            ])  # fmt: skip
    return rows


# --------------------------------------------------------------------------- 3. OSC out

OUT_CASES: tuple[tuple[str, str, tuple[OscArg, ...]], ...] = (
    ("/lumen/master f", "/lumen/master", (0.5,)),
    ("/lumen/scene s", "/lumen/scene", ("blue",)),
    ("/eos/cue/1/5/fire (no args)", "/eos/cue/1/5/fire", ()),
    ("/lumen/param/<scene>/<node>/<param> f", "/lumen/param/blue/layer1/b", (0.5,)),
    ("4 args: i f s T", "/console/cue", (5, 1.5, "go", True)),
)


def bench_osc_out(repeats: int, target_s: float) -> list[list[object]]:
    from pythonosc.osc_message_builder import OscMessageBuilder

    def build(address: str, args: tuple[OscArg, ...]) -> bytes:
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)  # type: ignore[arg-type]  # lumen's Double is not a python-osc type (not used here)
        return bytes(b.build().dgram)

    rows: list[list[object]] = []
    for label, address, args in OUT_CASES:
        if osc_message(address, args) != build(address, args):
            raise RuntimeError(f"{label}: lumen and python-osc encode different bytes")
        n, us = _measure_us(functools.partial(osc_message, address, args), repeats, target_s)
        _, base = _measure_us(functools.partial(build, address, args), repeats, target_s)
        med, bmed = statistics.median(us), statistics.median(base)
        rows.append([label, f"{n}x{repeats}", min(us), med, max(us), bmed, f"{med / bmed:.2f}x"])
    return rows


# --------------------------------------------------------------------------- 4. command -> wire

SOLID = """/*{
    "DESCRIPTION": "bench: one flat color",
    "ISFVSN": "2",
    "INPUTS": [
        {"NAME": "r", "TYPE": "float", "DEFAULT": 0.0},
        {"NAME": "g", "TYPE": "float", "DEFAULT": 0.0},
        {"NAME": "b", "TYPE": "float", "DEFAULT": 0.0}
    ]
}*/
void main() { gl_FragColor = vec4(r, g, b, 1.0); }
"""

SACN_ROOT = b"ASC-E1.17\x00\x00\x00"


class SacnWatch(threading.Thread):
    """Receiver thread: timestamps sACN packets on 127.0.0.1 and reports the first of a color."""

    def __init__(self) -> None:
        super().__init__(name="bench-sacn-rx", daemon=True)
        self.sock = _bound_socket()
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.halt = threading.Event()
        self._lock = threading.Lock()
        self._want: str | None = None
        self._after = 0.0
        self._hit = threading.Event()
        self.t_hit = 0.0
        self.packets = 0
        self.t_first = 0.0
        self.t_last = 0.0

    @staticmethod
    def color(d: bytes) -> str | None:
        if len(d) < 129 or d[4:16] != SACN_ROOT or d[125] != 0:
            return None
        r, b = d[126], d[128]
        if r > 200 and b < 30:
            return "red"
        if b > 200 and r < 30:
            return "blue"
        return "other"

    def expect(self, color: str, after: float) -> None:
        with self._lock:
            self._want, self._after = color, after
            self._hit.clear()

    def wait(self, timeout_s: float) -> float | None:
        return self.t_hit if self._hit.wait(timeout_s) else None

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                d = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            t = time.perf_counter()
            c = self.color(d)
            if c is None:
                continue
            if self.packets == 0:
                self.t_first = t
            self.t_last = t
            self.packets += 1
            with self._lock:
                if self._want is not None and c == self._want and t >= self._after:
                    self.t_hit = t
                    self._want = None
                    self._hit.set()

    def close(self) -> None:
        self.halt.set()
        self.join(timeout=2.0)
        self.sock.close()


def _show(dmx_port: int, fps: float, rate_hz: float) -> str:
    cut = "transition: {kind: cut, quantize: none}"
    return f"""\
version: 2
name: bench control
audio: {{source: signal}}
render: {{fps: {fps:g}}}
wall: {{width: 8, height: 4}}
safety: {{flash_limiter: false}}
outputs:
  - {{type: sacn, address: 127.0.0.1, port: {dmx_port}, rate_hz: {rate_hz:g}}}
scenes:
  red:
    layers: [{{shader: solid.fs, params: {{r: 1.0}}}}]
    {cut}
  blue:
    layers: [{{shader: solid.fs, params: {{b: 1.0}}}}]
    {cut}
start_scene: red
automation: {{enabled: false}}
control: {{osc: {{bind: 127.0.0.1}}}}
"""


def bench_e2e(samples: int, fps: float, rate_hz: float, max_s: float) -> tuple[list[float], int, dict[str, Any]]:
    """Latencies (ms) of scene changes sent over OSC until the new color is on the wire."""
    from lumen.engine import Engine, EngineOptions
    from lumen.show.load import load_show

    watch = SacnWatch()
    watch.start()
    lat: list[float] = []
    split_in: list[float] = []  # sendto -> the OSC server has the datagram (cmd.t)
    split_frame: list[float] = []  # cmd.t -> the frame thread publishes the first frame with the new color
    split_out: list[float] = []  # that publish -> its sACN packet at the receiver
    misses = 0
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lumen-bench-control-") as tmp:
        d = Path(tmp)
        (d / "solid.fs").write_text(SOLID)
        (d / "show.yaml").write_text(_show(watch.port, fps, rate_hz))
        engine = Engine(load_show(d / "show.yaml"), d / "show.yaml", EngineOptions(seconds=max_s + 120.0, gl_backend="egl"))
        engine.osc_port = 0
        ctl = _bound_socket()  # the controller; the engine's echoes land here, unread
        try:
            engine.start()
            assert engine.control is not None and engine.control.osc is not None, engine.control and engine.control.problems
            dest = ("127.0.0.1", int(engine.control.osc.port))
            # Split the latency: the OSC server stamps each command with its arrival time (cmd.t).
            hub = engine.hub
            post = hub.post
            arrivals: list[float] = []

            def stamped(cmd: Command) -> None:
                if cmd.name == "scene":
                    arrivals.append(cmd.t)
                post(cmd)

            hub.post = stamped  # type: ignore[method-assign]  # the OSC server holds the hub, looks up .post per call
            # ... and at the frame thread's hand-over to the output thread (first frame of each color).
            out = engine.output
            publish = out.publish
            pubs: list[tuple[float, str]] = []

            def stamped_publish(dmx: Any, t_audio: float, frame_no: int) -> None:
                t = time.perf_counter()
                publish(dmx, t_audio, frame_no)
                r, b = int(dmx[0, 0]), int(dmx[0, 2])
                c = "red" if r > 200 and b < 30 else "blue" if b > 200 and r < 30 else "other"
                if not pubs or pubs[-1][1] != c:
                    pubs.append((t, c))

            out.publish = stamped_publish
            watch.expect("red", 0.0)
            if watch.wait(15.0) is None:
                raise RuntimeError("no red sACN frame from the engine within 15 s")
            time.sleep(0.5)  # settle: listen process streaming, frame pacing steady
            rng = random.Random(1)
            frames0, pk0, t0 = engine.snapshot()["show"]["frames"], watch.packets, time.perf_counter()
            deadline = t0 + max_s
            colors = ("blue", "red")
            for i in range(samples):
                if time.perf_counter() > deadline:
                    break
                color = colors[i % 2]
                msg = osc_message(f"/lumen/scene/{color}")
                n_arr = len(arrivals)
                t_send = time.perf_counter()
                watch.expect(color, t_send)
                ctl.sendto(msg, dest)
                t_hit = watch.wait(2.0)
                if t_hit is None:
                    misses += 1
                    watch.expect(color, 0.0)  # resync: wait for the color whenever it comes
                    watch.wait(2.0)
                else:
                    lat.append((t_hit - t_send) * 1e3)
                    t_pub = None
                    for _ in range(50):  # the frame thread notes the publish just after handing it over
                        t_pub = next((t for t, c in reversed(pubs) if c == color and t >= t_send), None)
                        if t_pub is not None:
                            break
                        time.sleep(0.001)
                    if len(arrivals) == n_arr + 1 and t_pub is not None:
                        split_in.append((arrivals[-1] - t_send) * 1e3)
                        split_frame.append((t_pub - arrivals[-1]) * 1e3)
                        split_out.append((t_hit - t_pub) * 1e3)
                time.sleep(rng.uniform(0.06, 0.16))  # random phase against the frame and output clocks
            dt = time.perf_counter() - t0
            snap = engine.snapshot()
            info["fps"] = (snap["show"]["frames"] - frames0) / dt
            info["pkt_rate"] = (watch.packets - pk0) / dt
            info["control"] = snap.get("control", {})
            info["render_ms"] = float(snap.get("render_ms_mean", 0.0))
            info["split_in"], info["split_frame"], info["split_out"] = split_in, split_frame, split_out
        finally:
            engine.stop()
            ctl.close()
            watch.close()
    return lat, misses, info


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke pass: 2 repeats, short batches, fewer messages and samples")
    p.add_argument("--repeats", type=int, default=5, help="timed batches per case (default 5)")
    p.add_argument("--udp-messages", type=int, default=20_000, help="messages per sustained UDP run (default 20000)")
    p.add_argument("--udp-seconds", type=float, default=10.0, help="time bound per sustained UDP run, s (default 10)")
    p.add_argument("--e2e-samples", type=int, default=40, help="scene changes timed end to end (default 40)")
    p.add_argument("--fps", type=float, default=60.0, help="render fps of the end-to-end show (default 60)")
    p.add_argument("--rate", type=float, default=44.0, help="sACN rate of the end-to-end show, Hz (default 44)")
    p.add_argument("--no-e2e", action="store_true", help="skip part 4 (needs EGL)")
    p.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = p.parse_args(argv)
    quick = args.quick
    repeats = 2 if quick else args.repeats
    target_s = 0.05 if quick else 0.3
    udp_n = min(args.udp_messages, 2000) if quick else args.udp_messages
    udp_repeats = 1 if quick else 3
    paced_rate = 2000.0
    paced_n = 1000 if quick else 4000
    samples = min(args.e2e_samples, 10) if quick else args.e2e_samples

    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = ["?"]
    print("OSC in, per message ...", file=sys.stderr)
    in_rows, in_notes = bench_osc_in(repeats, target_s)
    print("OSC in over UDP, sustained ...", file=sys.stderr)
    udp_rows = bench_osc_udp(udp_n, args.udp_seconds, udp_repeats, paced_rate, paced_n)
    print("OSC out ...", file=sys.stderr)
    out_rows = bench_osc_out(repeats, target_s)
    e2e: tuple[list[float], int, dict[str, Any]] | None = None
    if not args.no_e2e:
        print("command -> wire, end to end ...", file=sys.stderr)
        e2e = bench_e2e(samples, args.fps, args.rate, max_s=30.0)

    from importlib.metadata import version

    body = (
        f"python-osc {version('python-osc')}; load average before the run {' '.join(load)}. Median of {repeats} batches unless noted; setup and warm-up untimed, gc off "
        "while timing.\n\n"
        "**1. OSC in, per message**: `OscServer.handle(data, source)` called directly (structure check, python-osc decode, "
        "`oscmap.parse` with the show's scene/parameter names, a `Command` to a counting sink, the echo of the new state "
        "to the sender as the engine runs it, `echo=all`, to a bound never-read socket on 127.0.0.1). Baseline: python-osc "
        "`Dispatcher.call_handlers_for_packet` with a counting handler mapped to the same addresses (decode + dispatch "
        f"only). `msg/s/core` = 1e6 / median µs; `core @1k msg/s` = share of one core at {LOAD_MSGS_PER_S:,.0f} "
        "messages/s (a busy controller).\n\n"
        + table(["message", "calls x batches", "min µs", "median µs", "max µs", "msg/s/core", "core @1k msg/s",
                 "python-osc median µs", "lumen / python-osc"], in_rows)  # fmt: skip
        + "\n\n" + "\n".join(f"- {n}" for n in in_notes)
        + "\n\n**2. OSC in over UDP, sustained**: a started `OscServer` on 127.0.0.1 (ephemeral port, `echo=all`); a child "
        f"process sends `/lumen/master f` datagrams (at most {udp_n:,} per full-speed run, {paced_n:,} paced; each run "
        f"stopped after {args.udp_seconds:g} s). `handled/s` = commands posted over the window from the first to the last "
        f"one; lost = sent - `osc_packets`. Kernel: {_rmem()}.\n\n"
        + table(["sender", "sent", "sent/s", "received", "handled", "handled/s", "lost", "loss", "bad+errors"], udp_rows)
        + "\n\n**3. OSC out**: `osc_message(address, args)` vs python-osc `OscMessageBuilder(address)` + `add_arg` (types "
        "inferred) + `build().dgram`; the bytes are checked equal.\n\n"
        + table(["message", "calls x batches", "min µs", "median µs", "max µs", "python-osc median µs", "lumen / python-osc"],
                out_rows)  # fmt: skip
    )
    if e2e is not None:
        lat, misses, info = e2e
        frame_ms, out_ms = 1000.0 / args.fps, 1000.0 / args.rate
        gap_ms = max(frame_ms - 5.0, out_ms)  # FrameThread: min gap = max(period - 5 ms, 1 / output rate)
        real_ms = 1000.0 / info["fps"] if info.get("fps") else gap_ms
        show = f"{args.fps:g} fps / sACN {args.rate:g} Hz"
        e2e_rows: list[list[object]] = []
        for label, xs in (("sendto -> sACN on the wire", lat), ("  1. sendto -> OSC server has it", info["split_in"]),
                          ("  2. OSC server -> frame thread publishes the new color", info["split_frame"]),
                          ("  3. publish -> sACN packet at the receiver", info["split_out"])):
            if xs:
                e2e_rows.append([label, len(xs), _pct(xs, 0.5), _pct(xs, 0.9), _pct(xs, 0.99), max(xs), min(xs)])
        body += (
            f"\n\n**4. Command -> wire, end to end** ({show}): a real `Engine` (EGL, show: two flat-color scenes on an 8x4 "
            "wall, cut transitions, quantize none, signal audio, sACN unicast to a receiver thread on 127.0.0.1). "
            "`/lumen/scene/<red|blue>` (alternating, 60-160 ms random gaps) sent over UDP to the engine's OSC port; latency = "
            "`perf_counter` at the receiver when the first sACN packet with the new color arrives minus `perf_counter` "
            "before `sendto`; split at the arrival time the OSC server stamps on the command (`Command.t`) and at the frame thread's `OutputThread.publish` of the first frame with the new color (both wrapped for the run). "
            f"Misses (no new color within 2 s): {misses}. During the samples the engine rendered {info['fps']:.1f} frames/s "
            f"and sent {info['pkt_rate']:.1f} sACN packets/s.\n\n"
            + table(["path", "samples", "p50 ms", "p90 ms", "p99 ms", "max ms", "min ms"], e2e_rows)
            + "\n\nExpected floor: the command waits for the next frame boundary (the frame thread drains its inbox before "
            "each frame), then evaluate + render + patch + publish (render "
            f"{info['render_ms']:.2f} ms mean here), then for the output thread's next send slot (it sends at most once per "
            f"1 / rate after its previous send): at most one frame period + one output period = {frame_ms:.1f} + {out_ms:.1f} "
            f"= {frame_ms + out_ms:.1f} ms, about half that on average. In practice the frame thread never renders faster "
            f"than the output rate (min gap = max(period - 5 ms, 1 / rate) = {gap_ms:.1f} ms) and starts a frame only once "
            f"a new audio hop has arrived, so at {show} it renders ~{info['fps']:.0f} fps (a frame every ~{real_ms:.1f} ms), "
            "not 60: step 2 is uniform over 0..one real frame period + render. The frame cadence is then only slightly "
            "slower than the output's 1 / rate, so once a send slips (render jitter, a late audio hop, another process on "
            "the CPU), the following frames keep waiting for their slot: step 3 is 0..one output period instead of ~0. "
            f"Bound: {real_ms:.1f} + {out_ms:.1f} + ~1 = ~{real_ms + out_ms + 1:.0f} ms; mean ~{(real_ms + out_ms) / 2 + 1:.0f} ms "
            "if both waits were uniform."
        )
    record("show control: OSC in/out, command -> wire (bench_control.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
