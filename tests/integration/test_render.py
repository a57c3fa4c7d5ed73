"""Integration tests of lumen.render on a headless EGL context (Mesa llvmpipe here).

Layer: tests. Threads: pytest's main thread, which owns the GL context (one test checks that
other threads are refused).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import moderngl
import numpy as np
import numpy.typing as npt
import pytest

from lumen.errors import ShaderError
from lumen.render import Renderer, ShaderProgram, UniformValue, build_fragment_source, create_context, parse_shader

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parents[2]
ISF_DIR = REPO / "tests" / "golden" / "isf"


def _load_regen() -> ModuleType:
    # tests/ has no __init__.py, so load the golden tool by path; it defines the golden cases.
    spec = importlib.util.spec_from_file_location("lumen_golden_regen", REPO / "tests" / "golden" / "regen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while building the class
    spec.loader.exec_module(module)
    return module


regen = _load_regen()


@pytest.fixture
def renderer(ctx: moderngl.Context) -> Iterator[Renderer]:
    """A 64x32 renderer (an LED wall's size), released after the test."""
    r = Renderer(ctx, 64, 32)
    yield r
    r.release()


def _render(renderer: Renderer, program: ShaderProgram, uniforms: dict[str, UniformValue]) -> npt.NDArray[np.float32]:
    out = renderer.new_frame()
    renderer.render(program, uniforms, out)
    return out


def _write(path: Path, text: str, mtime_ns: int) -> None:
    # Explicit mtimes: two writes within the filesystem's timestamp granularity must still
    # look different to ShaderProgram.changed().
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


# Orientation and uniforms, checked against values computed in numpy. The header is 3 lines.
ANALYTIC = """/*{ "DESCRIPTION": "orientation test",
    "INPUTS": [{"NAME": "gain", "TYPE": "float", "DEFAULT": 1.0}]
}*/
void main() {
    vec2 uv = isf_FragNormCoord;
    gl_FragColor = vec4(uv.x, gl_FragCoord.y / RENDERSIZE.y, beat_phase * gain, 1.0);
}
"""


def _expected_analytic(width: int, height: int, blue: float) -> npt.NDArray[np.float32]:
    """Pixel centers: x = (col + 0.5) / W; y = 1 - (row + 0.5) / H because row 0 is the top."""
    x = (np.arange(width, dtype=np.float64) + 0.5) / width
    y = 1.0 - (np.arange(height, dtype=np.float64) + 0.5) / height
    out = np.empty((height, width, 3), dtype=np.float32)
    out[..., 0] = x[None, :]
    out[..., 1] = y[:, None]
    out[..., 2] = blue
    return out


# -- goldens ------------------------------------------------------------------------------------
def test_pulse_matches_golden(ctx: moderngl.Context) -> None:
    name = "pulse_64x32"
    expected = np.load(regen.golden_path(name))
    got = regen.render_case(ctx, regen.CASES[name])
    assert got.shape == expected.shape == (32, 64, 3)
    diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1, (
        f"{name}: max diff {diff.max()}/255 in {np.count_nonzero(diff.max(axis=2))} pixels; "
        "if the change is intended, review it and run tests/golden/regen.py --approve"
    )
    # A sanity check that the golden is a real image: colorful, not black or saturated.
    assert 20 < expected.mean() < 235 and expected.std() > 5


@pytest.mark.parametrize("size", [(64, 32), (7, 5), (256, 128)])
def test_analytic_orientation_and_uniforms(ctx: moderngl.Context, size: tuple[int, int]) -> None:
    width, height = size
    program = ShaderProgram(ctx)
    program.load_source(ANALYTIC, "analytic.fs")
    renderer = Renderer(ctx, width, height)
    try:
        out = _render(renderer, program, {"beat_phase": 0.4, "no_such_uniform": 9.0})
        np.testing.assert_allclose(out, _expected_analytic(width, height, 0.4), atol=1e-6)
        assert np.array_equal(regen.to_uint8(out), regen.to_uint8(_expected_analytic(width, height, 0.4)))
        out = _render(renderer, program, {"beat_phase": 0.4, "gain": 0.5})
        np.testing.assert_allclose(out[..., 2], 0.2, atol=1e-6)
        # Uniforms not passed keep their last value (gain stays 0.5).
        out = _render(renderer, program, {"beat_phase": 1.0})
        np.testing.assert_allclose(out[..., 2], 0.5, atol=1e-6)
    finally:
        renderer.release()
        program.release()


def test_uint8_framebuffer_matches_float_within_quantization(ctx: moderngl.Context) -> None:
    program = ShaderProgram(ctx)
    program.load_source(ANALYTIC, "analytic.fs")
    r8 = Renderer(ctx, 64, 32, fbo_dtype="f1")
    try:
        out = _render(r8, program, {"beat_phase": 0.3})
        np.testing.assert_allclose(out, _expected_analytic(64, 32, 0.3), atol=0.5 / 255 + 1e-6)
    finally:
        r8.release()
        program.release()


def test_uniform_kinds(ctx: moderngl.Context, renderer: Renderer) -> None:
    src = """/*{ "INPUTS": [
        {"NAME": "on", "TYPE": "bool", "DEFAULT": true},
        {"NAME": "mode", "TYPE": "long", "VALUES": [0, 1, 2], "DEFAULT": 2},
        {"NAME": "tint", "TYPE": "color", "DEFAULT": [0.1, 0.2, 0.3, 1.0]},
        {"NAME": "pos", "TYPE": "point2D", "DEFAULT": [0.25, 0.5]}
    ]}*/
    void main() {
        gl_FragColor = vec4(on ? tint.r : 0.0, float(mode) * 0.25 + pos.x, bands.y + section * 0.1 + float(FRAMEINDEX) * 0.01, 1.0);
    }
    """
    program = ShaderProgram(ctx)
    program.load_source(src, "kinds.fs")
    try:
        out = _render(renderer, program, {})
        np.testing.assert_allclose(out[0, 0], [0.1, 0.75, 0.0], atol=1e-6)
        u: dict[str, UniformValue] = {"on": False, "mode": 1.0, "pos": (0.5, 0.0), "bands": (0.0, 0.25, 0.0, 0.0), "section": 2.0, "FRAMEINDEX": 3}
        out = _render(renderer, program, u)
        np.testing.assert_allclose(out[0, 0], [0.0, 0.75, 0.25 + 0.2 + 0.03], atol=1e-6)
        out = _render(renderer, program, {"on": 0.7, "tint": [0.9, 0.0, 0.0, 1.0]})
        assert out[0, 0, 0] == pytest.approx(0.9)
    finally:
        program.release()


# -- compile errors and hot reload ------------------------------------------------------------
HEADER_6 = """/*{
    "DESCRIPTION": "six header lines",
    "INPUTS": [
        {"NAME": "level", "TYPE": "float", "DEFAULT": 0.25, "MIN": 0.0, "MAX": 1.0}
    ]
}*/
"""


def _shader(level_expr: str) -> str:
    # Lines 7.. of the file: main() is on 8, the color line on 9.
    return HEADER_6 + "\nvoid main() {\n    gl_FragColor = vec4(" + level_expr + ", 0.0, 0.0, 1.0);\n}\n"


def test_compile_error_names_the_file_line(ctx: moderngl.Context, tmp_path: Path) -> None:
    path = tmp_path / "broken.fs"
    path.write_text(_shader("level * undefined_thing"), encoding="utf-8")
    with pytest.raises(ShaderError) as info:
        ShaderProgram(ctx, path)
    assert info.value.path == str(path)
    assert info.value.line == 9
    assert "undefined_thing" in info.value.message
    assert str(info.value).startswith(f"{path}:9: ")


def test_compile_error_without_header(ctx: moderngl.Context) -> None:
    program = ShaderProgram(ctx)
    with pytest.raises(ShaderError) as info:
        program.load_source("void main() {\n  float x = 1.0;\n  gl_FragColor = vec4(y);\n}\n", "plain.fs")
    assert (info.value.path, info.value.line) == ("plain.fs", 3)
    assert program.n_errors == 1 and program.last_error is info.value
    assert not program.ok


def test_header_errors_point_into_the_header(ctx: moderngl.Context) -> None:
    bad_json = HEADER_6.replace('"MAX": 1.0}', '"MAX": 1.0},')  # trailing comma on line 4
    with pytest.raises(ShaderError) as info:
        parse_shader(bad_json + "void main() {}\n", "h.fs")
    assert info.value.line == 5  # the JSON parser notices at the closing bracket
    # Multi-pass ISF parses (see test_isf*.py); a bad size expression names its line.
    parsed = parse_shader('/*{\n  "PASSES": [{"TARGET": "buf"}, {}]\n}*/\nvoid main() {}\n', "p.fs")
    assert [p.target for p in parsed.passes] == ["buf", None] and parsed.passes[0].line == 2
    with pytest.raises(ShaderError, match="WIDTH") as info:
        parse_shader('/*{\n  "PASSES": [{"TARGET": "buf",\n "WIDTH": "$WIDTH/"}, {}]\n}*/\n', "p.fs")
    assert info.value.line == 3
    with pytest.raises(ShaderError, match="clashes") as info:
        parse_shader('/*{"INPUTS": [\n {"NAME": "TIME", "TYPE": "float"}\n]}*/\n', "c.fs")
    assert info.value.line == 2
    # An input may shadow a music uniform (community files with a "bass" slider load as they are).
    shadow = parse_shader('/*{"INPUTS": [\n {"NAME": "bass", "TYPE": "float", "DEFAULT": 0.5}\n]}*/\nvoid main() { gl_FragColor = vec4(bass); }\n', "c.fs")
    assert build_fragment_source(shadow).count("uniform float bass;") == 1


def test_hot_reload_keeps_last_good_program(ctx: moderngl.Context, renderer: Renderer, tmp_path: Path) -> None:
    path = tmp_path / "live.fs"
    _write(path, _shader("level"), 1_000_000_000)
    program = ShaderProgram(ctx, path)
    assert not program.changed()
    first = _render(renderer, program, {})
    np.testing.assert_allclose(first[..., 0], 0.25, atol=1e-6)  # the ISF DEFAULT

    # Break it on disk: the reload fails with the line, the old program keeps rendering.
    _write(path, _shader("level + oops"), 2_000_000_000)
    assert program.changed()
    err = program.reload()
    assert isinstance(err, ShaderError) and err.line == 9 and "oops" in err.message
    assert program.last_error is err and program.n_errors == 1 and program.generation == 1
    assert not program.changed()  # a failed attempt is not retried every frame
    np.testing.assert_array_equal(_render(renderer, program, {}), first)
    with pytest.raises(ShaderError, match="oops"):
        program.reload(raise_errors=True)
    assert program.n_errors == 2

    # Fix it: the new program renders the new output.
    _write(path, _shader("level * 3.0"), 3_000_000_000)
    assert program.changed()
    assert program.reload() is None
    assert program.last_error is None and program.generation == 2
    np.testing.assert_allclose(_render(renderer, program, {})[..., 0], 0.75, atol=1e-6)
    program.release()


def test_first_load_failure_recovers_when_fixed(ctx: moderngl.Context, renderer: Renderer, tmp_path: Path) -> None:
    path = tmp_path / "new.fs"
    _write(path, _shader("nope"), 1_000_000_000)
    program = ShaderProgram(ctx)
    with pytest.raises(ShaderError):
        program.load(path)
    with pytest.raises(ShaderError, match="nope"):  # nothing to draw yet: the renderer says why
        renderer.render(program, {}, renderer.new_frame())
    _write(path, _shader("0.5"), 2_000_000_000)
    assert program.changed() and program.reload() is None
    np.testing.assert_allclose(_render(renderer, program, {})[..., 0], 0.5, atol=1e-6)
    program.release()


def test_missing_file_is_reported_once(ctx: moderngl.Context, tmp_path: Path) -> None:
    path = tmp_path / "gone.fs"
    _write(path, _shader("level"), 1_000_000_000)
    program = ShaderProgram(ctx, path)
    path.unlink()
    assert program.changed()
    err = program.reload()
    assert err is not None and "cannot read" in err.message
    assert not program.changed() and program.ok
    program.release()


# -- community ISF files ------------------------------------------------------------------------
def test_plain_isf_files_load_unmodified(ctx: moderngl.Context, renderer: Renderer) -> None:
    waves = ShaderProgram(ctx, ISF_DIR / "radial_waves.fs")
    spot = ShaderProgram(ctx, ISF_DIR / "spot.fs")
    try:
        assert [i.name for i in waves.inputs] == ["speed", "color1", "color2", "rings"]
        assert waves.defaults()["rings"] == 4.0 and waves.inputs[3].values == (2, 4, 8)
        a = _render(renderer, waves, {"TIME": 0.0})
        b = _render(renderer, waves, {"TIME": 0.5})
        for frame in (a, b):
            assert np.isfinite(frame).all() and frame.min() >= 0.0 and frame.max() <= 1.0
            assert frame.std() > 0.05
        assert np.abs(a - b).max() > 0.1  # TIME animates it
        # Colors stay on the segment between color1 and color2 (the defaults).
        c1, c2 = np.array([1.0, 0.2, 0.1]), np.array([0.1, 0.3, 1.0])
        w = (a[..., 2] - c1[2]) / (c2[2] - c1[2])
        np.testing.assert_allclose(a, c1 + w[..., None] * (c2 - c1), atol=1e-5)

        # spot.fs: the default center (0.25, 0.75) is in ISF's bottom-left convention, so the
        # spot lands in the upper-left quarter of the image (row 0 = top).
        s = _render(renderer, spot, {"TIME": 0.0})[..., 0]
        row, col = np.unravel_index(np.argmax(s), s.shape)
        assert row < 16 and col < 32 and s.max() == pytest.approx(1.0)
        inverted = _render(renderer, spot, {"TIME": 0.0, "invert": True})[..., 0]
        np.testing.assert_allclose(inverted, 1.0 - s, atol=1e-6)
    finally:
        waves.release()
        spot.release()


# -- threads and contexts -----------------------------------------------------------------------
def test_render_refuses_other_threads(ctx: moderngl.Context, renderer: Renderer) -> None:
    program = ShaderProgram(ctx)
    program.load_source(ANALYTIC, "analytic.fs")
    out = renderer.new_frame()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            renderer.render(program, {}, out)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join(timeout=10)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    program.release()


def test_auto_without_display_is_egl(ctx: moderngl.Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    found: dict[str, object] = {}

    def worker() -> None:
        # In its own thread: making a context current here leaves the test's context current
        # in the main thread.
        other = create_context("auto")
        found.update(other.extra)
        found["renderer"] = other.info["GL_RENDERER"]
        other.release()

    t = threading.Thread(target=worker)
    t.start()
    t.join(timeout=30)
    assert found["lumen_backend"] == "egl"
    assert found["lumen_thread"] != threading.get_ident()
    with pytest.raises(ValueError, match="unknown GL backend"):
        create_context("vulkan")  # type: ignore[arg-type]


def test_render_allocates_no_frame_sized_buffers(ctx: moderngl.Context) -> None:
    import tracemalloc

    program = ShaderProgram(ctx, REPO / "shaders" / "pulse.fs")
    renderer = Renderer(ctx, 256, 128)  # one float32 frame is 384 KiB
    out = renderer.new_frame()
    uniforms: dict[str, UniformValue] = {"TIME": 0.0, "beat_phase": 0.5, "energy": 0.5, "bands": (0.1, 0.2, 0.3, 0.4)}
    try:
        for _ in range(5):  # warm up caches of moderngl and numpy
            renderer.render(program, uniforms, out)
        tracemalloc.start()
        try:
            for i in range(100):
                uniforms["TIME"] = i / 60.0
                renderer.render(program, uniforms, out)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 32 * 1024, f"render() peaked at {peak} bytes of Python allocations"
    finally:
        renderer.release()
        program.release()
