"""Render + readback time per frame on the headless EGL context (Mesa llvmpipe without a GPU).

Layer: benchmarks. Threads: the main thread only (it creates and owns the GL context).

For each shader and wall size: setup (context, program, renderer, buffers) and warm-up frames are
untimed; then several repeats each time a batch of frames (``Renderer.render``: set uniforms,
draw, ``read_into``, flip into the caller's float32 ``(height, width, 3)`` array). Reported per
frame: min/median/max over repeats in ms, frames/s at the median, and the fraction of the 60 fps
frame budget (16.7 ms) the median takes. Baselines measured in the same run:

- ``flat``: a shader that writes a constant, so its time is the floor of draw + readback + copy;
- ``pulse.fs`` on an RGBA8 framebuffer (``fbo=f1``, readback converted to float32) against the
  default RGBA32F one (``fbo=f4``).

Usage::

    python benchmarks/bench_render.py [--quick] [--repeats N] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import moderngl
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO))
from _common import record, table  # noqa: E402

from lumen.render import Renderer, ShaderProgram, UniformValue, create_context  # noqa: E402

SIZES: tuple[tuple[int, int], ...] = ((64, 32), (256, 128), (512, 256), (1920, 1080))
BUDGET_60FPS_MS = 1000.0 / 60.0
FLAT_SHADER = "void main() { gl_FragColor = vec4(0.5, 0.25, 0.125, 1.0); }\n"

#: Mid-song feature values, so every branch of the shaders is exercised.
UNIFORMS: dict[str, UniformValue] = {
    "TIME": 0.0,
    "beat_phase": 0.3,
    "bar_phase": 0.4,
    "energy": 0.7,
    "bass": 0.6,
    "treble": 0.4,
    "hue": 0.2,
    "brightness": 1.0,
    "flash": 0.0,
    "bass_boost": 1.0,
}


def _time_batch(renderer: Renderer, program: ShaderProgram, uniforms: dict[str, UniformValue], out: np.ndarray, n: int) -> float:
    """Seconds per frame over ``n`` frames (TIME advances, as in a show)."""
    t0 = time.perf_counter()
    for i in range(n):
        uniforms["TIME"] = i / 60.0
        renderer.render(program, uniforms, out)
    return (time.perf_counter() - t0) / n


def bench_one(
    ctx: moderngl.Context,
    program: ShaderProgram,
    size: tuple[int, int],
    *,
    fbo_dtype: str,
    repeats: int,
    target_s: float,
) -> tuple[int, list[float]]:
    """Frames per repeat and ms per frame of each repeat for one shader at one size."""
    renderer = Renderer(ctx, size[0], size[1], fbo_dtype="f1" if fbo_dtype == "f1" else "f4")
    try:
        out = renderer.new_frame()
        uniforms = dict(UNIFORMS)
        warm = _time_batch(renderer, program, uniforms, out, 1)  # first frame: JIT, page faults
        warm = _time_batch(renderer, program, uniforms, out, 2)
        n = max(1, min(2000, int(target_s / max(warm, 1e-6))))
        per_frame_ms = [_time_batch(renderer, program, uniforms, out, n) * 1e3 for _ in range(repeats)]
        return n, per_frame_ms
    finally:
        renderer.release()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark grid, print the table and append it to RESULTS.md; returns 0."""
    parser = argparse.ArgumentParser(description="lumen render + readback benchmark (EGL)")
    parser.add_argument("--quick", action="store_true", help="short batches (smoke run)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per cell (default 5)")
    parser.add_argument("--no-heavy", action="store_true", help="skip heavy.fs (slow at 1920x1080)")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    target_s = 0.05 if args.quick else 0.3

    ctx = create_context("egl")
    gl = f"{ctx.info['GL_RENDERER']}, {ctx.info['GL_VERSION']}"
    flat = ShaderProgram(ctx)
    flat.load_source(FLAT_SHADER, "<flat>")
    cells: list[tuple[str, ShaderProgram, str]] = [
        ("flat (floor)", flat, "f4"),
        ("flat (floor)", flat, "f1"),
        ("pulse.fs", ShaderProgram(ctx, REPO / "shaders" / "pulse.fs"), "f4"),
        ("pulse.fs", ShaderProgram(ctx, REPO / "shaders" / "pulse.fs"), "f1"),
    ]
    if not args.no_heavy:
        cells.append(("heavy.fs", ShaderProgram(ctx, REPO / "shaders" / "heavy.fs"), "f4"))

    rows: list[list[object]] = []
    for size in SIZES:
        for name, program, fbo_dtype in cells:
            # heavy.fs at 1080p takes ~0.5 s a frame: fewer repeats keep the run bounded.
            repeats = args.repeats if not (name == "heavy.fs" and size[0] * size[1] > 600_000) else min(args.repeats, 3)
            n, ms = bench_one(ctx, program, size, fbo_dtype=fbo_dtype, repeats=repeats, target_s=target_s)
            med = float(np.median(ms))
            rows.append([name, fbo_dtype, f"{size[0]}x{size[1]}", f"{n}x{repeats}", min(ms), med, max(ms), 1000.0 / med, med / BUDGET_60FPS_MS])
            print(f"  {name:13s} {fbo_dtype} {size[0]:>4d}x{size[1]:<4d} median {med:9.3f} ms", file=sys.stderr)
    for _, program, _ in cells:
        program.release()
    ctx.release()

    headers = ["shader", "fbo", "size", "frames x repeats", "min ms", "median ms", "max ms", "fps (median)", "budget @60 fps"]
    threads = os.environ.get("LP_NUM_THREADS", f"default ({os.cpu_count()} cpus)")
    body = (
        f"GL renderer: {gl}; LP_NUM_THREADS: {threads}.\n\n"
        "Per frame: `Renderer.render` = set uniforms + draw a fullscreen triangle + `fbo.read_into` + flip "
        "into a preallocated float32 (height, width, 3) array. `fbo`: f4 = RGBA32F read as float RGB "
        "(lumen's default), f1 = RGBA8 read as uint8 RGB and scaled to float32. `flat (floor)` writes a "
        "constant (the cost of draw + readback + copy). `budget @60 fps` = median / 16.67 ms.\n\n"
        + table(headers, rows)
    )
    if args.no_record:
        print(body)
    else:
        record("render + readback per frame (bench_render.py)", body, argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
