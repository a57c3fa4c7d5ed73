"""Regenerate lumen's golden files (rendered frames) after a reviewed change.

Layer: tests (tooling). Threads: main thread only (it owns the GL context it creates).

Usage::

    python tests/golden/regen.py            # report the max difference per golden, change nothing
    python tests/golden/regen.py --approve  # report, then rewrite the golden files

Golden frames are rendered headless on EGL and stored as uint8 ``(height, width, 3)`` ``.npy``
files (linear RGB clipped to 0..1 and rounded to 1/255, row 0 at the top). The GL tests import
`CASES`, `render_case` and `to_uint8` from this file, so the tests and the regeneration render
exactly the same thing.

Scene goldens (`SCENE_CASES`, `render_scene_case`) run a whole show file through the scene
graph and the compositor, frame by frame, with perfectly tracked music features
(`tracked_features`), and keep one frame: a layered scene with effects and feedback, and a
transition quantized to a bar line, caught halfway.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import moderngl
import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from lumen.features import Features  # noqa: E402
from lumen.render import Renderer, ShaderProgram, UniformValue, create_context  # noqa: E402
from lumen.render.compositor import Compositor  # noqa: E402
from lumen.scene.graph import SceneSet  # noqa: E402
from lumen.show.load import load_show_text  # noqa: E402
from lumen.show.scenes import build_scene_set  # noqa: E402

FRAMES_DIR = Path(__file__).resolve().parent / "frames"
SHADERS_DIR = REPO / "shaders"
#: Small test shaders for the scene goldens (flat colors, ramps, a filter, a feedback trail).
SCENE_SHADERS_DIR = Path(__file__).resolve().parent / "scenes"


@dataclass(frozen=True)
class GoldenCase:
    """One golden frame: a shader rendered at a size with fixed uniforms.

    Attributes
    ----------
    shader : pathlib.Path
        The ``.fs`` file.
    width, height : int, pixels
    uniforms : Mapping[str, float or sequence of float]
        Every uniform the shader reads, fixed (TIME included) so the frame is deterministic.
    """

    shader: Path
    width: int
    height: int
    uniforms: Mapping[str, UniformValue] = field(default_factory=dict)


#: Every golden frame, by file stem in `FRAMES_DIR`.
CASES: dict[str, GoldenCase] = {
    "pulse_64x32": GoldenCase(
        shader=SHADERS_DIR / "pulse.fs",
        width=64,
        height=32,
        uniforms={
            "TIME": 1.5,
            "TIMEDELTA": 1.0 / 60.0,
            "FRAMEINDEX": 90,
            "beat_phase": 0.2,
            "bar_phase": 0.25,
            "energy": 0.8,
            "bass": 0.5,
            "treble": 0.3,
            "hue": 0.3,
            "brightness": 1.0,
            "flash": 0.0,
            "bass_boost": 1.0,
        },
    ),
}


def tracked_features(t: float, *, bpm: float = 120.0, energy: float = 0.7, bass: float = 0.5) -> Features:
    """Features of perfectly tracked music at audio time ``t``: beat 0 of bar 0 at ``t = 0``."""
    beats = t * bpm / 60.0
    period = 60.0 / bpm
    return Features(
        t=t, seq=int(t * 100) + 1, bpm=bpm, beat_phase=beats % 1.0, bar_phase=(beats % 4.0) / 4.0,
        next_beat_t=(int(beats) + 1) * period, confidence=1.0, energy=energy, bands=(bass, 0.4, 0.3, 0.2),
    )


@dataclass(frozen=True)
class SceneCase:
    """A scene golden: a show file rendered through the scene graph and the compositor.

    Attributes
    ----------
    show : str
        Show file text (shaders resolve in `SCENE_SHADERS_DIR`, then `SHADERS_DIR`).
    width, height : int, pixels
    fps : float
        Frame ``k`` is rendered at ``t = k / fps`` with `tracked_features`.
    frame : int
        The frame kept as the golden (frames 0 .. frame are rendered, in order).
    go : tuple of (int, str)
        ``(frame, scene)``: `SceneSet.go` calls made before rendering that frame.
    """

    show: str
    width: int
    height: int
    fps: float
    frame: int
    go: tuple[tuple[int, str], ...] = ()


def resolve_scene_shader(name: str) -> Path:
    """Where the scene goldens find a shader."""
    own = SCENE_SHADERS_DIR / name
    return own if own.is_file() else SHADERS_DIR / name


_LAYERS_SHOW = """\
version: 1
scenes:
  layers:
    modulators:
      kick: {type: envelope, trigger: beat, attack_s: 0.0, release_s: 0.3}
    layers:
      - shader: pulse.fs
        params: {hue: bar_phase, brightness: 0.8, bass_boost: 1.0}
      - shader: ramp.fs
        blend: multiply
        opacity: 0.6
        params: {level: 0.9}
      - shader: solid.fs
        blend: add
        opacity: "0.3 + 0.5 * kick"
        params: {level: 0.4}
        effects:
          - {shader: invert.fs, params: {amount: 0.5}}
    effects:
      - {shader: trail.fs, params: {decay: 0.7}}
"""

_TRANSITION_SHOW = """\
version: 1
scenes:
  a:
    layers: [{shader: pulse.fs, params: {hue: 0.1}}]
  b:
    layers:
      - shader: ramp.fs
        params: {level: 1.0}
        effects: [{shader: invert.fs}]
    transition: {kind: wipe, direction: left, duration_beats: 2, quantize: bar}
"""

#: Every scene golden, by file stem in `FRAMES_DIR`.
SCENE_CASES: dict[str, SceneCase] = {
    # 3 layers (normal, multiply, add with an effect), an envelope, feedback over the composite.
    "scene_layers_64x32": SceneCase(_LAYERS_SHOW, 64, 32, fps=50.0, frame=30),
    # go("b") at frame 10; the bar line at 120 BPM and 50 fps is frame 100; a 2-beat wipe then
    # runs 50 frames: frame 125 is halfway.
    "transition_wipe_64x32": SceneCase(_TRANSITION_SHOW, 64, 32, fps=50.0, frame=125, go=((10, "b"),)),
}


def render_scene_frames(ctx: moderngl.Context, case: SceneCase, frames: Sequence[int] = ()) -> dict[int, npt.NDArray[np.uint8]]:
    """Render ``case`` from frame 0 to its golden frame; the uint8 frames asked for (and the golden's)."""
    scenes: SceneSet = build_scene_set(load_show_text(case.show, "<golden>"))
    comp = Compositor(ctx, case.width, case.height, resolve=resolve_scene_shader)
    want = set(frames) | {case.frame}
    go = dict(case.go)
    out = comp.new_frame()
    kept: dict[int, npt.NDArray[np.uint8]] = {}
    try:
        for k in range(max(want) + 1):
            if k in go:
                scenes.go(go[k])
            t = k / case.fps
            f = tracked_features(t)
            state = scenes.evaluate(f, t_now=t, t_target=t, time_s=t, frame=k)
            comp.render(state.uniforms, state.plan, state.transition, out, spectrum=f.spectrum, wave=f.wave, bands=f.bands)
            if k in want:
                kept[k] = to_uint8(out)
        if comp.problems:
            raise RuntimeError(f"golden scene has problems: {comp.problems}")
    finally:
        comp.release()
    return kept


def render_scene_case(ctx: moderngl.Context, case: SceneCase) -> npt.NDArray[np.uint8]:
    """The golden frame of ``case`` (uint8, ``(height, width, 3)``)."""
    return render_scene_frames(ctx, case)[case.frame]


def to_uint8(frame: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """Quantize a float frame ``(height, width, 3)`` (linear, 0..1) to uint8, rounding.

    Examples
    --------
    >>> to_uint8(np.array([[[0.0, 0.5, 1.2]]], dtype=np.float32)).tolist()
    [[[0, 128, 255]]]
    """
    out: npt.NDArray[np.uint8] = np.rint(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8)
    return out


def render_case(ctx: moderngl.Context, case: GoldenCase) -> npt.NDArray[np.uint8]:
    """Render ``case`` on ``ctx`` and return the uint8 frame ``(height, width, 3)``."""
    program = ShaderProgram(ctx, case.shader)
    renderer = Renderer(ctx, case.width, case.height)
    try:
        out = renderer.new_frame()
        renderer.render(program, case.uniforms, out)
        return to_uint8(out)
    finally:
        renderer.release()
        program.release()


def golden_path(name: str) -> Path:
    """Path of the golden ``.npy`` file of case ``name``."""
    return FRAMES_DIR / f"{name}.npy"


def main(argv: Sequence[str] | None = None) -> int:
    """Report (and with ``--approve`` rewrite) every golden frame; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approve", action="store_true", help="rewrite the golden files after reporting")
    args = parser.parse_args(argv)
    ctx = create_context("egl")
    print(f"GL renderer: {ctx.info['GL_RENDERER']}")
    n_changed = 0
    jobs: list[tuple[str, GoldenCase | SceneCase]] = [*CASES.items(), *SCENE_CASES.items()]
    for name, case in jobs:
        frame = render_case(ctx, case) if isinstance(case, GoldenCase) else render_scene_case(ctx, case)
        path = golden_path(name)
        if path.exists():
            old = np.load(path)
            if old.shape != frame.shape:
                print(f"{name}: shape changed {old.shape} -> {frame.shape}")
                n_changed += 1
            else:
                diff = np.abs(old.astype(np.int16) - frame.astype(np.int16))
                n_px = int(np.count_nonzero(diff.max(axis=2)))
                print(f"{name}: max diff {int(diff.max())}/255, {n_px} of {diff.shape[0] * diff.shape[1]} pixels differ")
                n_changed += int(diff.max() > 0)
        else:
            print(f"{name}: new (no golden yet)")
            n_changed += 1
        if args.approve:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, frame)
            print(f"  wrote {path.relative_to(REPO)}")
    if not args.approve and n_changed:
        print(f"{n_changed} golden(s) differ; review, then rerun with --approve to rewrite them")
    ctx.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
