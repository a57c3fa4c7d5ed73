"""Frame cost of the scene compositor on the headless EGL context (Mesa llvmpipe without a GPU).

Layer: benchmarks. Threads: the main thread only (it creates and owns the GL context).

What a show pays per frame for a **3-layer scene with feedback**: ``plasma.fs`` (normal),
``beat_rings.fs`` (screen) and ``spectrum_bars.fs`` (add, at half opacity), with
``effects/feedback.fs`` (two passes, a persistent float target) over the composite. One frame =
`SceneSet.evaluate` (bindings, modulators) + `Compositor.render` (every node, the blend passes,
the final pass and the float readback into a preallocated ``(height, width, 3)`` array) + the
patch (`MatrixMap.apply` of a wall of the frame's size, at most 512x256, into DMX bytes).
Setup and warm-up frames are untimed; batches are repeated; reported per frame:
min/median/max ms, frames/s at the median, and the fraction of the 60 fps budget (16.7 ms).
The target is >= 300 fps at 256x128.

Baselines measured in the same run: the same compositor with one layer (``pulse.fs``) and no
effects, and the bare `Renderer` drawing ``pulse.fs`` (draw + readback, no compositing) on an
RGBA32F (``fbo f4``, lumen's default) and an RGBA8 (``fbo f1``, read as uint8 and scaled)
framebuffer, and a shader writing a constant (``flat``: the floor of draw + readback + copy), so
the compositor's own overhead shows as a ratio that survives a noisy machine.

Per-node costs: each node rendered alone (`ShaderNode.render` then ``ctx.finish()``, so the
GPU work is inside the timing), plus the compositor's blend pass and final pass + readback.

Usage::

    python benchmarks/render.py [--quick] [--repeats N] [--no-record] [--sizes 64x32,256x128]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import moderngl
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO))
from _common import record, table  # noqa: E402

from lumen.features import Features  # noqa: E402
from lumen.patch.pixelmap import MatrixMap  # noqa: E402
from lumen.render import Renderer, ShaderProgram, create_context  # noqa: E402
from lumen.render.compositor import Compositor  # noqa: E402
from lumen.render.isf import ShaderNode  # noqa: E402
from lumen.render.textures import AudioTextures  # noqa: E402
from lumen.scene.graph import SceneSet  # noqa: E402
from lumen.show.load import load_show_text  # noqa: E402
from lumen.show.scenes import build_scene_set  # noqa: E402

SIZES: tuple[tuple[int, int], ...] = ((64, 32), (256, 128), (512, 256), (1920, 1080))
BUDGET_60FPS_MS = 1000.0 / 60.0
TARGET_FPS_256 = 300.0

SCENE = """\
version: 1
scenes:
  bench:
    modulators:
      kick: {type: envelope, trigger: beat, release_s: 0.3}
      sway: {type: lfo, shape: sine, period_beats: 16}
    layers:
      - {shader: plasma.fs, params: {hue: "0.6 + 0.2 * sway", brightness: "0.5 + 0.5 * energy"}}
      - {shader: beat_rings.fs, blend: screen, opacity: "0.5 + 0.5 * kick"}
      - {shader: spectrum_bars.fs, blend: add, opacity: 0.5}
    effects:
      - {shader: effects/feedback.fs, params: {decay: 0.85}}
"""
BASELINE = "version: 1\nscene: {shader: pulse.fs, params: {hue: bar_phase}}\n"
FLAT_SHADER = "void main() { gl_FragColor = vec4(0.5, 0.25, 0.125, 1.0); }\n"


def _features(t: float) -> Features:
    beats = t * 2.0  # 120 BPM
    return Features(
        t=t, seq=1, bpm=120.0, beat_phase=beats % 1.0, bar_phase=(beats % 4.0) / 4.0, energy=0.7,
        bands=(0.6, 0.4, 0.3, 0.2), spectrum=tuple(np.linspace(0.9, 0.1, 32).tolist()),
        wave=tuple(np.sin(np.linspace(0, 6.28, 64)).tolist()),
    )  # fmt: skip


def _resolve(name: str) -> Path:
    return REPO / "shaders" / name


class SceneFrame:
    """One show frame: evaluate + composite + readback + patch, on preallocated buffers."""

    def __init__(self, ctx: moderngl.Context, show: str, size: tuple[int, int]) -> None:
        self.scenes: SceneSet = build_scene_set(load_show_text(show))
        self.comp = Compositor(ctx, size[0], size[1], resolve=_resolve)
        self.out = self.comp.new_frame()
        wall = (min(size[0], 512), min(size[1], 256))
        self.wall = MatrixMap(wall[0], wall[1])
        self.dmx = self.wall.new_dmx()
        self.wall.prepare(size[1], size[0])
        self.features = [_features(k / 60.0) for k in range(240)]
        self.k = 0

    def __call__(self) -> None:
        k = self.k
        self.k += 1
        f = self.features[k % len(self.features)]
        t = k / 60.0
        st = self.scenes.evaluate(f, t_now=t, t_target=t, time_s=t, frame=k)
        self.comp.render(st.uniforms, st.plan, st.transition, self.out, spectrum=f.spectrum, wave=f.wave, bands=f.bands)
        self.wall.apply(self.out, self.dmx)

    def release(self) -> None:
        if self.comp.problems:
            raise RuntimeError(f"benchmark scene has problems: {self.comp.problems}")
        self.comp.release()


def _time(fn: Callable[[], None], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def _measure(fn: Callable[[], None], repeats: int, target_s: float) -> tuple[int, list[float]]:
    """Frames per batch and ms per frame of each batch (after two untimed warm-up frames)."""
    _time(fn, 1)  # first frame: shader JIT, allocations, page faults
    warm = _time(fn, 2)
    n = max(1, min(2000, int(target_s / max(warm, 1e-6))))
    return n, [_time(fn, n) * 1e3 for _ in range(repeats)]


def _row(name: str, size: tuple[int, int], n: int, ms: list[float]) -> list[object]:
    med = float(np.median(ms))
    return [name, f"{size[0]}x{size[1]}", f"{n}x{len(ms)}", min(ms), med, max(ms), 1000.0 / med, med / BUDGET_60FPS_MS]


def node_costs(ctx: moderngl.Context, size: tuple[int, int], repeats: int, target_s: float) -> list[list[object]]:
    """Each node of the scene alone, and the compositor's own passes, at one size."""
    rows: list[list[object]] = []
    audio = AudioTextures(ctx)
    f = _features(0.5)
    audio.update(f.spectrum, f.wave)
    uniforms = dict(f.scalars(), TIME=0.5)
    src = ctx.texture(size, 4, dtype="f2")
    for shader in ("plasma.fs", "beat_rings.fs", "spectrum_bars.fs", "effects/feedback.fs"):
        program = ShaderProgram(ctx, _resolve(shader))
        node = ShaderNode(ctx, program, size[0], size[1])

        def one(node: ShaderNode = node) -> None:
            node.render(uniforms, images={"inputImage": src}, audio=audio, time_s=0.5, frame=1)
            ctx.finish()

        n, ms = _measure(one, repeats, target_s)
        rows.append(_row(f"node {shader}", size, n, ms))
        node.release()
        program.release()
    # The compositor's own work: an empty scene costs the readback + patch; each layer above
    # the bottom one adds one blend pass on top of its node.
    empty = SceneFrame(ctx, "version: 1\nscenes:\n  e:\n    layers: [{shader: pulse.fs, opacity: 0.0}]\n", size)
    n, ms = _measure(empty, repeats, target_s)
    rows.append(_row("empty scene: readback + patch", size, n, ms))
    empty.release()
    src.release()
    audio.release()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark grid, print the tables and append them to RESULTS.md; returns 0."""
    parser = argparse.ArgumentParser(description="lumen scene compositor frame cost (EGL)")
    parser.add_argument("--quick", action="store_true", help="short batches (smoke run)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per cell (default 5)")
    parser.add_argument("--sizes", default=None, help="comma-separated WxH sizes (default: 64x32,256x128,512x256,1920x1080)")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    target_s = 0.05 if args.quick else 0.3
    sizes = SIZES if args.sizes is None else tuple(tuple(int(v) for v in s.split("x")) for s in args.sizes.split(","))

    ctx = create_context("egl")
    gl = f"{ctx.info['GL_RENDERER']}, {ctx.info['GL_VERSION']}"
    rows: list[list[object]] = []
    verdict = ""
    for size in sizes:
        assert len(size) == 2
        wh = (size[0], size[1])
        repeats = args.repeats if wh[0] * wh[1] < 600_000 else min(args.repeats, 3)
        scene = SceneFrame(ctx, SCENE, wh)
        n, ms = _measure(scene, repeats, target_s)
        scene.release()
        rows.append(_row("3 layers + feedback", wh, n, ms))
        base = SceneFrame(ctx, BASELINE, wh)
        n, ms_base = _measure(base, repeats, target_s)
        base.release()
        rows.append(_row("baseline: 1 layer pulse.fs", wh, n, ms_base))
        for label, source, fbo in (("pulse.fs", None, "f4"), ("pulse.fs", None, "f1"), ("flat (floor)", FLAT_SHADER, "f4")):
            renderer = Renderer(ctx, wh[0], wh[1], fbo_dtype=fbo)  # type: ignore[arg-type]
            program = ShaderProgram(ctx)
            if source is None:
                program.load(_resolve("pulse.fs"))
            else:
                program.load_source(source, "<flat>")
            out = renderer.new_frame()
            uniforms = dict(_features(0.5).scalars(), TIME=0.5)
            n, ms_r = _measure(lambda: renderer.render(program, uniforms, out), repeats, target_s)
            rows.append(_row(f"baseline: Renderer {label}, fbo {fbo} (no compositor)", wh, n, ms_r))
            program.release()
            renderer.release()
        med = float(np.median(ms))
        print(f"  {wh[0]:>4d}x{wh[1]:<4d} 3 layers + feedback: median {med:8.3f} ms ({1000 / med:7.1f} fps)", file=sys.stderr)
        if wh == (256, 128):
            fps = 1000.0 / med
            verdict = f"Target >= {TARGET_FPS_256:.0f} fps at 256x128: **{'met' if fps >= TARGET_FPS_256 else 'missed'}** ({fps:.0f} fps)."
    node_size = (256, 128)
    node_rows = node_costs(ctx, node_size, args.repeats, target_s)
    ctx.release()

    headers = ["frame", "size", "frames x repeats", "min ms", "median ms", "max ms", "fps (median)", "budget @60 fps"]
    threads = os.environ.get("LP_NUM_THREADS", f"default ({os.cpu_count()} cpus)")
    body = (
        f"GL renderer: {gl}; LP_NUM_THREADS: {threads}.\n\n"
        "Per frame: `SceneSet.evaluate` + `Compositor.render` (nodes, blend passes, final pass, float readback into a "
        "preallocated (height, width, 3) array) + `MatrixMap.apply` (a wall of the frame's size, at most 512x256). "
        "The scene: plasma.fs + beat_rings.fs (screen) + spectrum_bars.fs (add, 0.5) with effects/feedback.fs over the "
        "composite. Baselines: one pulse.fs layer through the compositor, and the bare `Renderer` (draw + readback; "
        "fbo f4 = RGBA32F read as float, f1 = RGBA8 read as uint8 and scaled; flat = a constant shader, the floor). "
        f"`budget @60 fps` = median / 16.67 ms. {verdict}\n\n"
        + table(headers, rows)
        + f"\n\nPer node at {node_size[0]}x{node_size[1]} (`ShaderNode.render` + `ctx.finish()`; the last row is an "
        "empty scene: the readback + patch):\n\n"
        + table(headers, node_rows)
    )
    record("scene compositor frame cost (render.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
