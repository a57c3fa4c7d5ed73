"""Benchmark: does rendering cost the audio callback anything? Same process vs listen process.

Both runs capture from a real PortAudio stream on a JACK dummy server (48 kHz, 256-frame
periods) while pulse.fs renders flat out at 1920x1080 on llvmpipe:

- baseline, "same process": the naive design, capture and render in one Python process;
- lumen: capture and analysis in the listen process, rendering in the show process (Engine).

Figures: callbacks received vs periods elapsed, JACK xrun flags, xruns per minute. Needs a
JACK server (`tests/run.sh` starts one; or `jackd -d dummy -r 48000 -p 256` with
JACK_DEFAULT_SERVER set).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, table  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def same_process(seconds: float) -> tuple[int, float, int]:
    """Capture and render in this process; returns (callbacks, periods elapsed, xruns)."""
    from lumen.audio.sources import AUDIO_COUNTERS, DeviceSource
    from lumen.render.context import create_context
    from lumen.render.program import ShaderProgram
    from lumen.render.renderer import Renderer
    from lumen.rt.counters import Counters

    src = DeviceSource("JACK", sr=48000, blocksize=256, n_channels=2, client_name="lumen-bench")
    ring = src.make_ring()
    counters = Counters(AUDIO_COUNTERS)
    stop = threading.Event()

    def render() -> None:
        ctx = create_context("egl")
        r = Renderer(ctx, 1920, 1080)
        prog = ShaderProgram(ctx, REPO / "shaders" / "pulse.fs")
        out = r.new_frame()
        t0 = time.perf_counter()
        while not stop.is_set():
            r.render(prog, {"energy": 0.8, "TIME": time.perf_counter() - t0}, out)
        ctx.release()

    hop = np.zeros((480, 2), np.float32)
    th = threading.Thread(target=render)
    src.start(ring, counters)
    t0 = time.perf_counter()
    th.start()
    while time.perf_counter() - t0 < seconds:
        while ring.read(hop):
            pass
        time.sleep(0.002)
    elapsed = time.perf_counter() - t0
    stop.set()
    th.join()
    src.stop()
    return counters["callbacks"], elapsed * 48000 / 256, counters["xruns"]


def listen_process(seconds: float) -> tuple[int, float, int]:
    """lumen's two processes; returns (callbacks, periods elapsed, xruns)."""
    from lumen.engine import Engine, EngineOptions
    from lumen.show.load import load_show_text

    show = (
        "version: 1\naudio: {source: device, device: JACK}\nscene: {shader: pulse.fs}\n"
        "render: {fps: 60, width: 1920, height: 1080}\nwall: {width: 64, height: 32}\n"
        "outputs: [{type: sacn, address: 127.0.0.1, port: 5597}]\n"
    )
    engine = Engine(load_show_text(show), None, EngineOptions(gl_backend="egl"))
    engine.start()
    try:
        engine.run(seconds)
    finally:
        engine.stop()
    snap = engine.snapshot()
    return snap["listen"]["callbacks"], snap["elapsed_s"] * 48000 / 256, snap["listen"]["xruns"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="shorter runs")
    p.add_argument("--seconds", type=float, default=None)
    args = p.parse_args(argv)
    if not os.environ.get("JACK_DEFAULT_SERVER"):
        print("bench_isolation: set JACK_DEFAULT_SERVER to a running JACK dummy server (tests/run.sh does)")
        return 0
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    rows = []
    for name, fn in (("lumen: listen process + show process", listen_process), ("baseline: same process", same_process)):
        cb, periods, xr = fn(seconds)
        rows.append([name, seconds, cb, round(periods), f"{min(cb / periods, 1.0):.4f}", xr, f"{xr * 60 / seconds:.1f}"])
    body = (
        "Capture on JACK dummy (48 kHz, 256-frame periods) while pulse.fs renders flat out at "
        "1920x1080 on llvmpipe (~20 ms a frame):\n\n"
        + table(["design", "seconds", "callbacks", "periods elapsed", "received", "xruns", "xruns/min"], rows)
    )
    record("audio isolation under render load (bench_isolation.py)", body, argv if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
