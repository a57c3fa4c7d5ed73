"""Regenerate lumen's golden files (rendered frames) after a reviewed change.

Layer: tests (tooling). Threads: main thread only (it owns the GL context it creates).

Usage::

    python tests/golden/regen.py            # report the max difference per golden, change nothing
    python tests/golden/regen.py --approve  # report, then rewrite the golden files

Golden frames are rendered headless on EGL and stored as uint8 ``(height, width, 3)`` ``.npy``
files (linear RGB clipped to 0..1 and rounded to 1/255, row 0 at the top). The GL tests import
`CASES`, `render_case` and `to_uint8` from this file, so the tests and the regeneration render
exactly the same thing.
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

from lumen.render import Renderer, ShaderProgram, UniformValue, create_context  # noqa: E402

FRAMES_DIR = Path(__file__).resolve().parent / "frames"
SHADERS_DIR = REPO / "shaders"


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
    for name, case in CASES.items():
        frame = render_case(ctx, case)
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
