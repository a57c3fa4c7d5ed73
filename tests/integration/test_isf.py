"""Integration tests of full ISF support: `ShaderNode` (multi-pass, persistent targets, images,
IMPORTED, audio textures), GLSL 1.x files, run-time faults, and `Renderer.read`.

Layer: tests. Threads: pytest's main thread, which owns the GL context (one test checks that
other threads are refused).

The shaders in ``tests/golden/isf/`` are written in the VJ community's ISF style; each test
checks pixel values computed independently in numpy.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import moderngl
import numpy as np
import numpy.typing as npt
import pytest

from lumen.errors import ShaderError
from lumen.features import SPECTRUM_BINS, WAVE_SAMPLES
from lumen.render import AudioTextures, Renderer, ShaderNode, ShaderProgram, UniformValue

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parents[2]
ISF_DIR = REPO / "tests" / "golden" / "isf"

F32 = npt.NDArray[np.float32]


@pytest.fixture
def reader(ctx: moderngl.Context) -> Iterator[Renderer]:
    """A renderer used for its `Renderer.read` (its own size does not matter)."""
    r = Renderer(ctx, 4, 4)
    yield r
    r.release()


def _image(ctx: moderngl.Context, rgb: F32) -> moderngl.Texture:
    """An RGBA32F texture from a (h, w, 3) top-row-first array (alpha 1)."""
    h, w, _ = rgb.shape
    rgba = np.ones((h, w, 4), dtype=np.float32)
    rgba[..., :3] = rgb
    tex = ctx.texture((w, h), 4, np.ascontiguousarray(rgba[::-1]).tobytes(), dtype="f4")
    tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
    tex.repeat_x = tex.repeat_y = False  # as the compositor's layers (ISF samples clamp to edge)
    return tex


def _read(reader: Renderer, tex: moderngl.Texture) -> F32:
    w, h = tex.size
    out = np.zeros((h, w, 3), dtype=np.float32)
    reader.read(tex, out)
    return out


def _gradient(w: int, h: int) -> F32:
    x = (np.arange(w, dtype=np.float32) + 0.5) / w
    y = (np.arange(h, dtype=np.float32) + 0.5) / h
    img = np.zeros((h, w, 3), dtype=np.float32)
    img[..., 0] = x[None, :]
    img[..., 1] = y[:, None]
    img[..., 2] = 0.25
    return img


def _write(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


# -- multi-pass ---------------------------------------------------------------------------------
def test_two_pass_blur_uses_a_half_size_target(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "blur_two_pass.fs")
    node = ShaderNode(ctx, program, 33, 8, dtype="f4")
    step = np.zeros((8, 33, 3), dtype=np.float32)
    step[:, 17:] = 1.0  # a vertical edge: dark left, white right
    edge = _image(ctx, step)
    flat = _image(ctx, np.full((8, 33, 3), 0.4, dtype=np.float32))
    try:
        assert [p.target for p in program.passes] == ["halfBlur", None]
        node.render({}, images={"inputImage": edge})
        assert node.target_texture("halfBlur").size == (16, 4)  # floor(33/2), 8/2
        out = _read(reader, node.output)
        assert node.n_errors == 0
        row = out[4, :, 0]
        np.testing.assert_allclose(out[..., 0], np.broadcast_to(row, (8, 33)), atol=1e-6)  # vertical blur of a constant
        assert row[0] == pytest.approx(0.0, abs=1e-6) and row[-1] == pytest.approx(1.0, abs=1e-6)
        assert np.all(np.diff(row) >= -1e-6)  # monotonic across the edge
        assert np.count_nonzero((row > 0.02) & (row < 0.98)) >= 4  # and blurred over several pixels
        # A uniform image stays uniform (the 8-bit intermediate quantizes to 1/255).
        node.render({"radius": 3.0}, images={"inputImage": flat})
        np.testing.assert_allclose(_read(reader, node.output), 0.4, atol=0.6 / 255)
        # No blur at radius 0: the edge comes back (sampled through the half-size buffer).
        node.render({"radius": 0.0}, images={"inputImage": edge})
        row0 = _read(reader, node.output)[4, :, 0]
        assert np.count_nonzero((row0 > 0.02) & (row0 < 0.98)) <= 1  # only the half-size buffer's rounding
    finally:
        node.release()
        program.release()
        edge.release()
        flat.release()


def test_rendersize_and_passindex_per_pass(ctx: moderngl.Context, reader: Renderer) -> None:
    src = """/*{
  "PASSES": [
    {"TARGET": "sizes", "FLOAT": true, "WIDTH": "$WIDTH/4", "HEIGHT": "max(1, floor($HEIGHT/3))"},
    {}
  ]
}*/
void main() {
    if (PASSINDEX == 0)
        gl_FragColor = vec4(RENDERSIZE, 7.0, 1.0);
    else
        gl_FragColor = vec4(IMG_THIS_PIXEL(sizes).rgb / 100.0 + vec3(0.0, 0.0, float(PASSINDEX)), 1.0)
                     + vec4(0.0, 0.0, RENDERSIZE.x / 1000.0, 0.0);
}
"""
    program = ShaderProgram(ctx)
    program.load_source(src, "sizes.fs")
    node = ShaderNode(ctx, program, 40, 9, dtype="f4")
    try:
        node.render({})
        assert node.target_texture("sizes").size == (10, 3)
        out = _read(reader, node.output)
        np.testing.assert_allclose(out[..., 0], 0.10, atol=1e-6)
        np.testing.assert_allclose(out[..., 1], 0.03, atol=1e-6)
        np.testing.assert_allclose(out[..., 2], 0.07 + 1.0 + 0.040, atol=1e-6)
    finally:
        node.release()
        program.release()


def test_persistent_trail_accumulates(ctx: moderngl.Context, reader: Renderer, tmp_path: Path) -> None:
    path = tmp_path / "trails.fs"
    text = (ISF_DIR / "trails.fs").read_text(encoding="utf-8")
    _write(path, text, 1_000_000_000)
    program = ShaderProgram(ctx, path)
    node = ShaderNode(ctx, program, 16, 4)
    try:
        n = 6
        for frame in range(n):
            node.render({}, frame=frame, time_s=frame / 60.0)
        out = _read(reader, node.output)
        expected = np.zeros(16, dtype=np.float32)
        expected[:n] = 0.5 ** np.arange(n - 1, -1, -1)  # the dot is at column n-1; older columns halve
        np.testing.assert_allclose(out[..., 0], np.broadcast_to(expected, (4, 16)), atol=1e-3)
        # decay as a uniform: a slower fade keeps more of the trail.
        for frame in range(n, n + 2):
            node.render({"decay": 0.9}, frame=frame)
        out = _read(reader, node.output)
        assert out[0, n + 1, 0] == pytest.approx(1.0) and out[0, n, 0] == pytest.approx(0.9, abs=2e-3)
        assert out[0, n - 1, 0] == pytest.approx(0.81, abs=2e-3)

        # A hot reload that keeps the target's name, flags and size keeps its content.
        _write(path, text.replace('"DEFAULT": 0.5', '"DEFAULT": 0.25'), 2_000_000_000)
        assert program.changed() and program.reload() is None
        node.render({}, frame=100)  # the dot is off screen; the trail fades by the new default
        out = _read(reader, node.output)
        assert out[0, n + 1, 0] == pytest.approx(0.25, abs=2e-3)

        # resize() restarts the persistent buffer black.
        node.resize(8, 2)
        node.render({}, frame=100)
        assert node.output.size == (8, 2)
        np.testing.assert_allclose(_read(reader, node.output), 0.0, atol=1e-6)
        assert node.n_errors == 0
    finally:
        node.release()
        program.release()


def test_reload_that_changes_targets_rebuilds_them(ctx: moderngl.Context, reader: Renderer, tmp_path: Path) -> None:
    path = tmp_path / "scaled.fs"
    src = """/*{"PASSES": [{"TARGET": "small", "FLOAT": true, "WIDTH": "$WIDTH/2", "HEIGHT": "$HEIGHT/2"}, {}]}*/
void main() { gl_FragColor = PASSINDEX == 0 ? vec4(RENDERSIZE / 100.0, 0.0, 1.0) : IMG_THIS_PIXEL(small); }
"""
    _write(path, src, 1_000_000_000)
    program = ShaderProgram(ctx, path)
    node = ShaderNode(ctx, program, 20, 10, dtype="f4")
    try:
        node.render({})
        np.testing.assert_allclose(_read(reader, node.output)[0, 0, :2], [0.10, 0.05], atol=1e-6)
        _write(path, src.replace("$WIDTH/2", "$WIDTH/4"), 2_000_000_000)
        assert program.reload() is None
        node.render({})
        assert node.target_texture("small").size == (5, 5)
        np.testing.assert_allclose(_read(reader, node.output)[0, 0, :2], [0.05, 0.05], atol=1e-6)
        # A target sized from an input follows the input.
        _write(path, src.replace('"$WIDTH/2"', '"$WIDTH/$div"').replace('"PASSES"', '"INPUTS": [{"NAME": "div", "TYPE": "float", "DEFAULT": 2}], "PASSES"'), 3_000_000_000)
        assert program.reload() is None
        node.render({})
        assert node.target_texture("small").size == (10, 5)
        node.render({"div": 10.0})
        assert node.target_texture("small").size == (2, 5)
        np.testing.assert_allclose(_read(reader, node.output)[0, 0, :2], [0.02, 0.05], atol=1e-6)
    finally:
        node.release()
        program.release()


# -- images -------------------------------------------------------------------------------------
def test_filter_reads_input_image_with_img_this_pixel(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "invert_filter.fs")
    node = ShaderNode(ctx, program, 12, 6, dtype="f4")
    src = _gradient(12, 6)
    below = _image(ctx, src)
    try:
        out = _read(reader, node.render({}, images={"inputImage": below}))
        np.testing.assert_allclose(out, 1.0 - src, atol=1e-6)  # orientation kept: row 0 is the top
        out = _read(reader, node.render({"amount": 0.5}, images={"inputImage": below}))
        np.testing.assert_allclose(out, 0.5, atol=1e-6)
        assert node.n_errors == 0 and node.last_error is None
    finally:
        node.release()
        program.release()
        below.release()


def test_missing_image_input_is_counted_not_raised(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "invert_filter.fs")
    node = ShaderNode(ctx, program, 8, 4, dtype="f4")
    try:
        out = _read(reader, node.render({}))  # no images at all
        np.testing.assert_allclose(out, 1.0, atol=1e-6)  # black below, inverted
        assert node.n_errors == 1 and node.last_error is not None and "inputImage" in node.last_error
        node.render({}, images={"otherName": node.output})
        assert node.n_errors == 2
    finally:
        node.release()
        program.release()


def test_imported_image(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "palette_stripes.fs")
    node = ShaderNode(ctx, program, 8, 4, dtype="f4")
    try:
        out = _read(reader, node.render({}))
        top = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=np.float32)
        bottom = np.array([[128, 0, 0], [0, 128, 0], [0, 0, 128], [64, 64, 64]], dtype=np.float32) / 255
        expected = np.empty((4, 8, 3), dtype=np.float32)
        expected[:2] = np.repeat(top, 2, axis=0)[None]  # the PNG's top row is the frame's top
        expected[2:] = np.repeat(bottom, 2, axis=0)[None]
        np.testing.assert_allclose(out, expected, atol=1e-3)
    finally:
        node.release()
        program.release()


def test_missing_or_broken_imported_file_is_a_shader_error(ctx: moderngl.Context, tmp_path: Path) -> None:
    src = '/*{\n  "IMPORTED": {\n    "logo": {"PATH": "logo.png"}\n  }\n}*/\nvoid main() { gl_FragColor = IMG_THIS_PIXEL(logo); }\n'
    path = tmp_path / "logo.fs"
    path.write_text(src, encoding="utf-8")
    program = ShaderProgram(ctx)
    with pytest.raises(ShaderError, match="not found") as info:
        program.load(path)
    assert (info.value.path, info.value.line) == (str(path), 3)
    (tmp_path / "logo.png").write_bytes(b"definitely not a PNG")
    with pytest.raises(ShaderError, match="cannot be read") as info:
        program.load(path)
    assert info.value.line == 3
    # ISF 1's list form of IMPORTED, with a real image next to the shader.
    (tmp_path / "logo.png").write_bytes((ISF_DIR / "palette_4x2.png").read_bytes())
    path.write_text(src.replace('{\n    "logo": {"PATH": "logo.png"}\n  }', '[{"NAME": "logo", "PATH": "logo.png"}]'), encoding="utf-8")
    program.load(path)
    assert program.ok and program.n_errors == 2
    program.release()


# -- audio --------------------------------------------------------------------------------------
def test_audio_fft_input_draws_spectrum_bars(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "spectrum_bars.fs")
    audio = AudioTextures(ctx)
    node = ShaderNode(ctx, program, SPECTRUM_BINS, 10, dtype="f4")
    try:
        levels = [(i % 11) / 10.0 for i in range(SPECTRUM_BINS)]
        levels[5] = math.nan  # a NaN bin becomes 0
        audio.update(levels, [0.0] * WAVE_SAMPLES)
        assert audio.n_nonfinite == 1
        out = _read(reader, node.render({}, audio=audio))
        y = 1.0 - (np.arange(10) + 0.5) / 10  # isf_FragNormCoord.y of each row (row 0 = top)
        clean = np.nan_to_num(np.array(levels, dtype=np.float32))
        lit = (y[:, None] < clean[None, :]).astype(np.float32)
        np.testing.assert_array_equal(out[..., 1], lit)
        np.testing.assert_array_equal(out[..., 2], 0.5 * lit)
        assert node.n_errors == 0
        # Without audio the bars are dark (black fallback), nothing is raised.
        out = _read(reader, node.render({}))
        assert out.max() == 0.0
    finally:
        node.release()
        program.release()
        audio.release()


def test_lumen_spectrum_waveform_and_music_uniforms(ctx: moderngl.Context, reader: Renderer) -> None:
    src = """/*{"INPUTS": [{"NAME": "wave", "TYPE": "audio"}]}*/
void main() {
    int i = int(gl_FragCoord.x);
    gl_FragColor = vec4(texelFetch(spectrum, ivec2(i % 32, 0), 0).r,
                        texelFetch(waveform, ivec2(i, 0), 0).r,
                        texelFetch(wave, ivec2(i, 0), 0).r + bass, 1.0);
}
"""
    program = ShaderProgram(ctx)
    program.load_source(src, "extras.fs")
    assert "uniform sampler2D spectrum;" in program.source and "uniform float bass;" in program.source
    assert "uniform float treble;" not in program.source
    audio = AudioTextures(ctx)
    node = ShaderNode(ctx, program, WAVE_SAMPLES, 1, dtype="f4")
    try:
        spectrum = np.linspace(0.0, 1.0, SPECTRUM_BINS)
        wave = np.sin(np.linspace(0, 2 * np.pi, WAVE_SAMPLES, endpoint=False))
        wave[3] = math.inf
        audio.update(spectrum.tolist(), tuple(wave))
        out = _read(reader, node.render({"bass": 0.25}, audio=audio))[0]
        np.testing.assert_allclose(out[:, 0], np.tile(spectrum, WAVE_SAMPLES // SPECTRUM_BINS), atol=1e-6)
        clean = np.where(np.isfinite(wave), wave, 0.0)
        np.testing.assert_allclose(out[:, 1], clean, atol=1e-6)  # -1..1 stored as is
        np.testing.assert_allclose(out[:, 2], 0.5 + 0.5 * clean + 0.25, atol=1e-6)  # ISF audio: 0..1
    finally:
        node.release()
        program.release()
        audio.release()


# -- GLSL 1.x ------------------------------------------------------------------------------------
def test_glsl1_style_file_compiles_and_renders(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "legacy_gain.fs")
    node = ShaderNode(ctx, program, 10, 5, dtype="f4")
    src = _gradient(10, 5)
    below = _image(ctx, src)
    try:
        assert "#define texture2D texture" in program.source
        out = _read(reader, node.render({}, images={"inputImage": below}))
        np.testing.assert_allclose(out, src * 0.5, atol=1e-6)
        out = _read(reader, node.render({"gain": 2.0}, images={"inputImage": below}))
        np.testing.assert_allclose(out, src * 2.0, atol=1e-6)
    finally:
        node.release()
        program.release()
        below.release()


# -- faults ---------------------------------------------------------------------------------------
def test_compile_error_in_multipass_file_names_the_line(ctx: moderngl.Context, tmp_path: Path) -> None:
    lines = (ISF_DIR / "blur_two_pass.fs").read_text(encoding="utf-8").splitlines()
    n = next(i for i, s in enumerate(lines) if "PASSINDEX == 0" in s)
    lines[n + 1] = "\t\tgl_FragColor = boxBlur(inputImage, isf_FragNormCoord, vec2(1.0, 0.0)) * notDeclared;"
    path = tmp_path / "broken_blur.fs"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ShaderError) as info:
        ShaderProgram(ctx, path)
    assert (info.value.path, info.value.line) == (str(path), n + 2)
    assert "notDeclared" in info.value.message


def test_bad_json_header_names_the_line(ctx: moderngl.Context) -> None:
    text = (ISF_DIR / "spectrum_bars.fs").read_text(encoding="utf-8")
    bad = text.replace('"TYPE": "audioFFT"', '"TYPE": "audioFFT",')  # trailing comma before '}'
    line = text.splitlines().index('\t\t\t"TYPE": "audioFFT"') + 2  # the parser stops at the '}'
    program = ShaderProgram(ctx)
    with pytest.raises(ShaderError, match="invalid ISF JSON header") as info:
        program.load_source(bad, "bars.fs")
    assert info.value.line == line


def test_nan_uniform_is_replaced_by_default_and_counted(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "invert_filter.fs")
    bars = ShaderProgram(ctx, ISF_DIR / "spectrum_bars.fs")
    node = ShaderNode(ctx, program, 6, 3, dtype="f4")
    node_bars = ShaderNode(ctx, bars, 6, 3, dtype="f4")
    src = _gradient(6, 3)
    below = _image(ctx, src)
    audio = AudioTextures(ctx)
    try:
        out = _read(reader, node.render({"amount": math.nan}, images={"inputImage": below}))
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, 1.0 - src, atol=1e-6)  # DEFAULT 1.0 was used
        assert node.n_errors == 1 and node.last_error is not None and "amount" in node.last_error
        out = _read(reader, node.render({"amount": -math.inf, "TIME": math.inf}, images={"inputImage": below}))
        assert node.n_errors == 2 and np.isfinite(out).all()  # TIME is unused by this shader: ignored
        audio.update([1.0] * SPECTRUM_BINS, [0.0] * WAVE_SAMPLES)
        color: UniformValue = (math.nan, 0.0, 1.0, 1.0)
        out = _read(reader, node_bars.render({"barColor": color}, audio=audio))
        assert node_bars.n_errors == 1 and np.isfinite(out).all()
        np.testing.assert_allclose(out[0, 0], [0.0, 1.0, 0.5], atol=1e-6)  # the DEFAULT color
    finally:
        node.release()
        node_bars.release()
        program.release()
        bars.release()
        below.release()
        audio.release()


def test_program_that_never_compiled_renders_black(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx)
    with pytest.raises(ShaderError):
        program.load_source("void main() { gl_FragColor = vec4(nope); }", "bad.fs")
    node = ShaderNode(ctx, program, 4, 4)
    try:
        out = _read(reader, node.render({}))
        assert out.max() == 0.0 and node.n_errors == 1
        program.load_source("void main() { gl_FragColor = vec4(0.5); }", "good.fs")
        np.testing.assert_allclose(_read(reader, node.render({})), 0.5, atol=1e-3)
    finally:
        node.release()
        program.release()


def test_node_refuses_other_threads(ctx: moderngl.Context) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "trails.fs")
    node = ShaderNode(ctx, program, 4, 4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            node.render({})
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join(timeout=10)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    node.release()
    program.release()


def test_node_render_allocates_nothing_frame_sized(ctx: moderngl.Context) -> None:
    import tracemalloc

    program = ShaderProgram(ctx, ISF_DIR / "blur_two_pass.fs")
    node = ShaderNode(ctx, program, 256, 128)
    below = _image(ctx, _gradient(256, 128))
    audio = AudioTextures(ctx)
    images = {"inputImage": below}
    uniforms: dict[str, UniformValue] = {"radius": 2.0}
    spectrum = [0.5] * SPECTRUM_BINS
    wave = [0.0] * WAVE_SAMPLES
    try:
        for i in range(5):
            audio.update(spectrum, wave)
            node.render(uniforms, images=images, audio=audio, time_s=i / 60, frame=i)
        tracemalloc.start()
        try:
            for i in range(100):
                audio.update(spectrum, wave)
                node.render(uniforms, images=images, audio=audio, time_s=i / 60, frame=i)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 32 * 1024, f"render() peaked at {peak} bytes of Python allocations"
        assert node.n_errors == 0
    finally:
        node.release()
        program.release()
        below.release()
        audio.release()


# -- Renderer -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["f1", "f2", "f4"])
def test_renderer_read_any_texture(ctx: moderngl.Context, reader: Renderer, dtype: str) -> None:
    src = _gradient(7, 3)
    rgba = np.ones((3, 7, 4), dtype=np.float32)
    rgba[..., :3] = src
    data = np.ascontiguousarray(rgba[::-1])
    raw = (np.rint(data * 255).astype(np.uint8) if dtype == "f1" else data.astype(np.float16 if dtype == "f2" else np.float32)).tobytes()
    tex = ctx.texture((7, 3), 4, raw, dtype=dtype)
    try:
        out = np.zeros((3, 7, 3), dtype=np.float32)
        reader.read(tex, out)
        np.testing.assert_allclose(out, src, atol={"f1": 0.5 / 255, "f2": 1e-3, "f4": 1e-7}[dtype])
        with pytest.raises(ValueError, match="shape"):
            reader.read(tex, np.zeros((7, 3, 3), dtype=np.float32))
    finally:
        tex.release()


def test_renderer_draws_multipass_programs(ctx: moderngl.Context) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "trails.fs")
    renderer = Renderer(ctx, 16, 4)
    out = renderer.new_frame()
    try:
        for frame in range(4):
            renderer.render(program, {"FRAMEINDEX": frame}, out)
        np.testing.assert_allclose(out[1, :5, 0], [0.125, 0.25, 0.5, 1.0, 0.0], atol=1e-3)
    finally:
        renderer.release()
        program.release()


# -- ISF vertex shaders and single-pass feedback -----------------------------------------------------
def test_companion_vertex_shader_computes_varyings(ctx: moderngl.Context, reader: Renderer) -> None:
    program = ShaderProgram(ctx, ISF_DIR / "horizontal_edges.fs")
    node = ShaderNode(ctx, program, 8, 2, dtype="f4")
    x = np.array([0, 0, 1, 3, 6, 6, 6, 6], dtype=np.float32) / 8
    src = np.zeros((2, 8, 3), dtype=np.float32)
    src[...] = x[None, :, None]
    below = _image(ctx, src)
    try:
        out = _read(reader, node.render({}, images={"inputImage": below}))
        padded = np.concatenate([x[:1], x, x[-1:]])  # clamp to edge
        np.testing.assert_allclose(out[0, :, 0], np.abs(padded[2:] - padded[:-2]), atol=1e-6)
        assert node.n_errors == 0
    finally:
        node.release()
        program.release()
        below.release()


def test_error_in_vertex_shader_names_the_vs_file(ctx: moderngl.Context, tmp_path: Path) -> None:
    fs = tmp_path / "edges.fs"
    vs = tmp_path / "edges.vs"
    fs.write_text((ISF_DIR / "horizontal_edges.fs").read_text(encoding="utf-8"), encoding="utf-8")
    vs.write_text((ISF_DIR / "horizontal_edges.vs").read_text(encoding="utf-8").replace("1.0 / RENDERSIZE.x", "1.0 / sizeOops"), encoding="utf-8")
    program = ShaderProgram(ctx)
    with pytest.raises(ShaderError, match="sizeOops") as info:
        program.load(fs)
    assert (info.value.path, info.value.line) == (str(vs), 6)
    # Fixing the .vs counts as a change of the shader.
    vs.write_text((ISF_DIR / "horizontal_edges.vs").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert program.changed() and program.reload() is None
    program.release()


def test_single_persistent_pass_is_also_the_output(ctx: moderngl.Context, reader: Renderer) -> None:
    # As in community feedback shaders: one pass, drawn into a persistent target.
    src = """/*{"PASSES": [{"TARGET": "feedbackBuffer", "PERSISTENT": true}]}*/
void main() { gl_FragColor = vec4(IMG_THIS_PIXEL(feedbackBuffer).rgb + vec3(0.25), 1.0); }
"""
    program = ShaderProgram(ctx)
    program.load_source(src, "feedback.fs")
    node = ShaderNode(ctx, program, 5, 3)
    try:
        for expected in (0.25, 0.5, 0.75, 1.0, 1.0):  # RGBA8 target: clamps at 1
            out = _read(reader, node.render({}))
            np.testing.assert_allclose(out, expected, atol=1.5 / 255)  # 8-bit quantization
    finally:
        node.release()
        program.release()


def test_standard_uniforms(ctx: moderngl.Context, reader: Renderer) -> None:
    src = """/*{"INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/
void main() { gl_FragColor = vec4(TIME, TIMEDELTA, float(FRAMEINDEX), DATE.x / 10000.0) + IMG_THIS_PIXEL(inputImage).a; }
"""
    program = ShaderProgram(ctx)
    program.load_source(src, "std.fs")
    node = ShaderNode(ctx, program, 2, 2, dtype="f4")
    black = ctx.texture((1, 1), 4, bytes(4))
    images = {"inputImage": black}
    try:
        node.render({}, images=images, time_s=1.0, frame=60)
        np.testing.assert_allclose(_read(reader, node.output)[0, 0], [1.0, 0.0, 60.0], atol=1e-6)
        node.render({}, images=images, time_s=1.5, frame=61)
        np.testing.assert_allclose(_read(reader, node.output)[0, 0], [1.5, 0.5, 61.0], atol=1e-6)
        node.render({"TIME": 9.0, "FRAMEINDEX": 3}, images=images, time_s=2.0, frame=62)  # values given win
        np.testing.assert_allclose(_read(reader, node.output)[0, 0], [9.0, 0.5, 3.0], atol=1e-6)
        rgba = np.zeros((2, 2, 4), dtype=np.float32)
        node.output.read_into(rgba)
        assert 0.2 < rgba[0, 0, 3] < 0.3  # DATE.x is the year
        # The node's own output as its input is a feedback loop: black, counted.
        node.render({}, images={"inputImage": node.output})
        assert node.n_errors == 1 and node.last_error is not None and "own output" in node.last_error
    finally:
        node.release()
        program.release()
        black.release()
