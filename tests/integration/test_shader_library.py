"""Integration tests of lumen's shader library: every ``shaders/*.fs`` and ``shaders/effects/*.fs``.

Layer: tests. Threads: pytest's main thread, which owns the GL context.

Every file is rendered through `lumen.render.isf.ShaderNode` (all PASSES, lumen's audio
textures) at 64x32, an LED wall's size, with one fixed set of features. Generators must react
visibly to the music feature named for them in `REACTIONS`; effects (ISF filters reading
``inputImage``) are checked against a test pattern for the change each one promises.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import moderngl
import numpy as np
import numpy.typing as npt
import pytest

from lumen.features import SPECTRUM_BINS, WAVE_SAMPLES
from lumen.render import Renderer, ShaderProgram, UniformValue, parse_shader
from lumen.render.isf import ShaderNode
from lumen.render.textures import AudioTextures, configure_texture

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parents[2]
SHADERS_DIR = REPO / "shaders"
EFFECTS_DIR = SHADERS_DIR / "effects"
GENERATORS = sorted(SHADERS_DIR.glob("*.fs"))
EFFECTS = sorted(EFFECTS_DIR.glob("*.fs"))
WIDTH, HEIGHT = 64, 32

#: The library the README promises; every one must exist (other files are allowed too).
LIBRARY_GENERATORS = (
    "wash", "plasma", "tunnel", "kaleidoscope", "particles", "spectrum_bars", "waveform",
    "noise_flow", "beat_rings", "starfield", "strobe", "text_logo",
)  # fmt: skip
LIBRARY_EFFECTS = ("feedback", "blur", "kaleido", "color_grade", "strobe")

#: Mid-energy features, fixed (TIME included) so every frame is deterministic.
FEATURES: dict[str, UniformValue] = {
    "TIME": 7.3,
    "TIMEDELTA": 1.0 / 60.0,
    "FRAMEINDEX": 440,
    "bpm": 124.0,
    "beat_phase": 0.15,
    "bar_phase": 0.3,
    "beat": 0.0,
    "downbeat": 0.0,
    "energy": 0.55,
    "bass": 0.5,
    "low_mid": 0.45,
    "high_mid": 0.35,
    "treble": 0.3,
    "bands": (0.5, 0.45, 0.35, 0.3),
    "onset": 0.3,
    "valence": 0.5,
    "arousal": 0.6,
    "section": 4.0,
    "novelty": 0.2,
}
#: A falling spectrum (bass heavy, like most music) and a two-tone waveform.
SPECTRUM: tuple[float, ...] = tuple(float(0.9 - 0.7 * k / (SPECTRUM_BINS - 1)) for k in range(SPECTRUM_BINS))
WAVE: tuple[float, ...] = tuple(
    float(0.6 * np.sin(2 * np.pi * 3 * k / WAVE_SAMPLES) + 0.25 * np.sin(2 * np.pi * 11 * k / WAVE_SAMPLES))
    for k in range(WAVE_SAMPLES)
)
SILENT_SPECTRUM: tuple[float, ...] = (0.0,) * SPECTRUM_BINS
SILENT_WAVE: tuple[float, ...] = (0.0,) * WAVE_SAMPLES


@dataclass(frozen=True)
class Reaction:
    """Two musical situations a generator must render measurably differently.

    Attributes
    ----------
    a, b : Mapping[str, float or sequence of float]
        Uniform overrides on top of `FEATURES`.
    spectrum_a, spectrum_b, wave_a, wave_b : tuple of float
        Audio texture contents for each situation.
    min_diff : float
        Smallest mean absolute difference (linear RGB, 0..1) that counts as a visible reaction.
    """

    a: Mapping[str, UniformValue] = field(default_factory=dict)
    b: Mapping[str, UniformValue] = field(default_factory=dict)
    spectrum_a: tuple[float, ...] = SPECTRUM
    spectrum_b: tuple[float, ...] = SPECTRUM
    wave_a: tuple[float, ...] = WAVE
    wave_b: tuple[float, ...] = WAVE
    min_diff: float = 0.01


def _beat(a: float, b: float, min_diff: float = 0.01) -> Reaction:
    return Reaction({"beat_phase": a}, {"beat_phase": b}, min_diff=min_diff)


def _energy(min_diff: float = 0.01) -> Reaction:
    return Reaction({"energy": 0.1}, {"energy": 0.9}, min_diff=min_diff)


#: What each generator reacts to (file stem -> named reactions). Thresholds sit at about a
#: third of the difference measured when the shaders were written.
REACTIONS: dict[str, dict[str, Reaction]] = {
    "wash": {"beat": _beat(0.0, 0.5, 0.02), "energy": _energy(0.04)},
    "plasma": {"beat": _beat(0.05, 0.6, 0.008), "bass": Reaction({"bass": 0.0}, {"bass": 1.0}, min_diff=0.025)},
    "tunnel": {"beat": _beat(0.1, 0.6, 0.05), "bar": Reaction({"bar_phase": 0.1}, {"bar_phase": 0.6}, min_diff=0.009)},
    "kaleidoscope": {"beat": _beat(0.1, 0.6, 0.008), "bar": Reaction({"bar_phase": 0.1}, {"bar_phase": 0.35}, min_diff=0.018)},
    "particles": {"energy": _energy(0.008), "beat": _beat(0.0, 0.6, 0.008)},
    "spectrum_bars": {
        "spectrum": Reaction(spectrum_a=SPECTRUM, spectrum_b=SILENT_SPECTRUM, min_diff=0.025),
        "spectrum_shape": Reaction(spectrum_a=SPECTRUM, spectrum_b=SPECTRUM[::-1], min_diff=0.03),
    },
    "waveform": {
        "wave": Reaction(wave_a=WAVE, wave_b=SILENT_WAVE, min_diff=0.035),
        "beat": _beat(0.0, 0.6, 0.007),
    },
    "noise_flow": {"beat": _beat(0.0, 0.5, 0.02), "bass": Reaction({"bass": 0.0}, {"bass": 1.0}, min_diff=0.012)},
    "beat_rings": {"beat": _beat(0.1, 0.6, 0.015), "energy": _energy(0.007)},
    "starfield": {"beat": _beat(0.0, 0.7, 0.004), "energy": _energy(0.003)},
    "strobe": {"beat": _beat(0.02, 0.6, 0.1), "energy": _energy(0.015)},
    "text_logo": {"beat": _beat(0.05, 0.6, 0.005), "energy": _energy(0.009)},
    "pulse": {"beat": _beat(0.1, 0.6, 0.005), "bass": Reaction({"bass": 0.0}, {"bass": 1.0}, min_diff=0.005)},
    "heavy": {"bass": Reaction({"bass": 0.0}, {"bass": 1.0}, min_diff=0.01)},
}

REACTION_CASES = [
    pytest.param(stem, name, id=f"{stem}-{name}") for stem, cases in sorted(REACTIONS.items()) for name in cases
]


# -- fixtures and helpers -----------------------------------------------------------------------
@pytest.fixture
def reader(ctx: moderngl.Context) -> Iterator[Renderer]:
    """A renderer used to read node outputs back, released after the test."""
    r = Renderer(ctx, WIDTH, HEIGHT)
    yield r
    r.release()


@pytest.fixture
def audio(ctx: moderngl.Context) -> Iterator[AudioTextures]:
    """lumen's audio textures holding `SPECTRUM` and `WAVE`."""
    a = AudioTextures(ctx)
    a.update(SPECTRUM, WAVE)
    yield a
    a.release()


@pytest.fixture
def pattern(ctx: moderngl.Context) -> Iterator[tuple[moderngl.Texture, npt.NDArray[np.float32]]]:
    """A 64x32 test image (texture and its pixels, row 0 = top): ramps, a checkerboard, a disc."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    img = np.zeros((HEIGHT, WIDTH, 4), dtype=np.float32)  # GL order: row 0 at the bottom
    img[..., 0] = (x + 0.5) / WIDTH
    img[..., 1] = (y + 0.5) / HEIGHT
    img[..., 2] = ((x // 8 + y // 8) % 2) * 0.8
    img[..., 3] = 1.0
    disc = np.hypot(x + 0.5 - 20.0, y + 0.5 - 20.0) < 6.0
    img[disc, :3] = 1.0
    # Sampled like lumen's layer textures (linear, clamped to the edge).
    tex = configure_texture(ctx.texture((WIDTH, HEIGHT), 4, img.tobytes(), dtype="f4"))
    yield tex, np.ascontiguousarray(img[::-1, :, :3])
    tex.release()


def _header(path: Path) -> dict[str, object]:
    parsed = parse_shader(path.read_text(encoding="utf-8"), str(path))
    return dict(parsed.header)


def _frames(
    ctx: moderngl.Context,
    reader: Renderer,
    path: Path,
    uniforms: Sequence[Mapping[str, UniformValue]],
    *,
    audio: AudioTextures | None = None,
    images: Mapping[str, moderngl.Texture] | None = None,
) -> list[npt.NDArray[np.float32]]:
    """Render ``path`` once per entry of ``uniforms`` (successive frames of one node)."""
    program = ShaderProgram(ctx, path)
    node = ShaderNode(ctx, program, WIDTH, HEIGHT, dtype="f4")
    out: list[npt.NDArray[np.float32]] = []
    try:
        for i, u in enumerate(uniforms):
            time_s = float(cast(float, u.get("TIME", 0.0)))
            tex = node.render(u, images=images, audio=audio, time_s=time_s, frame=i)
            frame = reader.new_frame()
            reader.read(tex, frame)
            out.append(frame)
        assert node.n_errors == 0, node.last_error
    finally:
        node.release()
        program.release()
    return out


def _render(
    ctx: moderngl.Context,
    reader: Renderer,
    path: Path,
    uniforms: Mapping[str, UniformValue],
    *,
    audio: AudioTextures | None = None,
    images: Mapping[str, moderngl.Texture] | None = None,
) -> npt.NDArray[np.float32]:
    """Render one frame of ``path`` (a fresh node) and read it back, row 0 = top."""
    return _frames(ctx, reader, path, [uniforms], audio=audio, images=images)[0]


def _with(**overrides: UniformValue) -> dict[str, UniformValue]:
    u = dict(FEATURES)
    u.update(overrides)
    return u


# -- every file ---------------------------------------------------------------------------------
def test_library_is_complete() -> None:
    assert {p.stem for p in GENERATORS} >= set(LIBRARY_GENERATORS)
    assert {p.stem for p in EFFECTS} >= set(LIBRARY_EFFECTS)
    readme = (SHADERS_DIR / "README.md").read_text(encoding="utf-8")
    for path in GENERATORS + EFFECTS:
        assert f"`{path.name}`" in readme, f"shaders/README.md does not document {path.name}"


@pytest.mark.parametrize("path", GENERATORS + EFFECTS, ids=lambda p: p.relative_to(SHADERS_DIR).as_posix())
def test_isf_header(path: Path) -> None:
    header = _header(path)
    assert isinstance(header.get("DESCRIPTION"), str) and len(str(header["DESCRIPTION"])) > 20
    categories = header.get("CATEGORIES")
    assert isinstance(categories, list) and categories
    assert header.get("ISFVSN") == "2" and header.get("CREDIT") == "lumen"
    inputs = header.get("INPUTS")
    assert isinstance(inputs, list)
    for entry in inputs:
        assert isinstance(entry, dict)
        if entry["TYPE"] == "image":
            continue
        assert "DEFAULT" in entry, f"input {entry['NAME']!r} has no DEFAULT"
        if entry["TYPE"] in ("float", "long") and "VALUES" not in entry:
            assert entry["MIN"] <= entry["DEFAULT"] <= entry["MAX"], entry["NAME"]
        if entry["TYPE"] == "long" and "VALUES" in entry:
            assert entry["DEFAULT"] in entry["VALUES"] and len(entry["LABELS"]) == len(entry["VALUES"])
    image_inputs = [e["NAME"] for e in inputs if isinstance(e, dict) and e["TYPE"] == "image"]
    if path.parent == EFFECTS_DIR:
        assert "Filter" in categories and image_inputs == ["inputImage"]
    else:
        assert "Generator" in categories and not image_inputs
    # The header is plain JSON (other ISF hosts parse it with strict parsers too).
    text = path.read_text(encoding="utf-8")
    json.loads(text[text.index("/*") + 2 : text.index("*/")])


@pytest.mark.parametrize("path", GENERATORS + EFFECTS, ids=lambda p: p.relative_to(SHADERS_DIR).as_posix())
def test_renders_in_range(
    ctx: moderngl.Context,
    reader: Renderer,
    audio: AudioTextures,
    pattern: tuple[moderngl.Texture, npt.NDArray[np.float32]],
    path: Path,
) -> None:
    frame = _render(ctx, reader, path, FEATURES, audio=audio, images={"inputImage": pattern[0]})
    assert np.isfinite(frame).all()
    assert frame.min() >= 0.0 and frame.max() <= 1.5, (frame.min(), frame.max())
    assert frame.mean() > 0.005 and frame.max() > 0.05, "renders (almost) black"


# -- generators react to the music ----------------------------------------------------------------
def test_every_generator_has_reactions() -> None:
    assert {p.stem for p in GENERATORS} <= set(REACTIONS)


@pytest.mark.parametrize(("stem", "name"), REACTION_CASES)
def test_generator_reacts_to_music(ctx: moderngl.Context, reader: Renderer, audio: AudioTextures, stem: str, name: str) -> None:
    case = REACTIONS[stem][name]
    path = SHADERS_DIR / f"{stem}.fs"
    audio.update(case.spectrum_a, case.wave_a)
    a = _render(ctx, reader, path, _with(**case.a), audio=audio)
    audio.update(case.spectrum_b, case.wave_b)
    b = _render(ctx, reader, path, _with(**case.b), audio=audio)
    diff = float(np.abs(a - b).mean())
    assert diff > case.min_diff, f"{stem} barely reacts to {name}: mean |a - b| = {diff:.4f}"


# -- effects do what they promise -----------------------------------------------------------------
def test_blur_smooths(ctx: moderngl.Context, reader: Renderer, pattern: tuple[moderngl.Texture, npt.NDArray[np.float32]]) -> None:
    tex, src = pattern
    path = EFFECTS_DIR / "blur.fs"
    for downsample in (1, 2):
        out = _render(ctx, reader, path, _with(radius=0.08, downsample=downsample), images={"inputImage": tex})
        # Less variance, and no sharp steps left between neighbouring pixels in either
        # direction (the checkerboard and the disc jump by 0.8 or more); the mean stays.
        assert out.var() < 0.8 * src.var()
        for axis in (0, 1):
            assert np.abs(np.diff(out, axis=axis)).max() < 0.5 * np.abs(np.diff(src, axis=axis)).max()
        assert abs(float(out.mean() - src.mean())) < 0.03
    sharp = _render(ctx, reader, path, _with(radius=0.08, amount=0.0), images={"inputImage": tex})
    np.testing.assert_allclose(sharp, src, atol=1e-3)
    # The beat pump widens the blur right after the beat.
    calm = _render(ctx, reader, path, _with(radius=0.04, beat_pump=2.0, beat_phase=0.9), images={"inputImage": tex})
    hit = _render(ctx, reader, path, _with(radius=0.04, beat_pump=2.0, beat_phase=0.0), images={"inputImage": tex})
    assert hit.var() < calm.var()


def test_feedback_accumulates(ctx: moderngl.Context, reader: Renderer, pattern: tuple[moderngl.Texture, npt.NDArray[np.float32]]) -> None:
    tex, src = pattern
    black = ctx.texture((WIDTH, HEIGHT), 4, bytes(WIDTH * HEIGHT * 16), dtype="f4")
    path = EFFECTS_DIR / "feedback.fs"
    program = ShaderProgram(ctx, path)
    node = ShaderNode(ctx, program, WIDTH, HEIGHT, dtype="f4")
    means: list[float] = []
    try:
        for i in range(6):
            u = _with(TIME=i / 60.0, decay=0.8, zoom=0.0, rotate=0.0)
            out = reader.new_frame()
            reader.read(node.render(u, images={"inputImage": tex if i == 0 else black}, time_s=i / 60.0, frame=i), out)
            if i == 0:
                np.testing.assert_allclose(out, src, atol=1e-4)  # the first frame passes through
            means.append(float(out.mean()))
        assert node.n_errors == 0, node.last_error
    finally:
        node.release()
        program.release()
        black.release()
    # With black input the trail remains and fades by `decay` per frame (at 60 fps).
    assert means[1] == pytest.approx(0.8 * means[0], rel=0.02)
    assert all(b < a for a, b in zip(means[1:], means[2:]))
    assert means[5] == pytest.approx(0.8**5 * means[0], rel=0.05)


def test_color_grade_neutral_is_identity(ctx: moderngl.Context, reader: Renderer, pattern: tuple[moderngl.Texture, npt.NDArray[np.float32]]) -> None:
    tex, src = pattern
    path = EFFECTS_DIR / "color_grade.fs"
    out = _render(ctx, reader, path, FEATURES, images={"inputImage": tex})
    np.testing.assert_allclose(out, src, atol=2e-3)
    grey = _render(ctx, reader, path, _with(saturation=0.0), images={"inputImage": tex})
    np.testing.assert_allclose(grey[..., 0], grey[..., 2], atol=1e-4)
    turned = _render(ctx, reader, path, _with(hue_shift=1.0 / 3.0), images={"inputImage": tex})
    # A third of a turn about the grey axis permutes R -> G -> B.
    np.testing.assert_allclose(turned[..., [1, 2, 0]], src, atol=2e-3)
    darker = _render(ctx, reader, path, _with(gain=0.5), images={"inputImage": tex})
    np.testing.assert_allclose(darker, 0.5 * src, atol=2e-3)


def test_kaleido_is_mirror_symmetric(ctx: moderngl.Context, reader: Renderer, pattern: tuple[moderngl.Texture, npt.NDArray[np.float32]]) -> None:
    tex, src = pattern
    u = _with(segments=4, spin=False, angle=0.0, bass_zoom=0.0)
    out = _render(ctx, reader, EFFECTS_DIR / "kaleido.fs", u, images={"inputImage": tex})
    # Four mirrored wedges about the center: symmetric left-right and top-bottom.
    np.testing.assert_allclose(out, out[::-1, :], atol=0.02)
    np.testing.assert_allclose(out, out[:, ::-1], atol=0.02)
    assert np.abs(out - src).mean() > 0.05


def test_strobe_effect_hits_on_the_beat(ctx: moderngl.Context, reader: Renderer, pattern: tuple[moderngl.Texture, npt.NDArray[np.float32]]) -> None:
    tex, src = pattern
    path = EFFECTS_DIR / "strobe.fs"
    hit = _render(ctx, reader, path, _with(beat_phase=0.0, energy=1.0), images={"inputImage": tex})
    late = _render(ctx, reader, path, _with(beat_phase=0.9, energy=1.0), images={"inputImage": tex})
    assert hit.mean() > src.mean() + 0.05  # flashed towards white
    np.testing.assert_allclose(late, src, atol=2e-3)  # back to the image by the end of the beat
    gated = _render(ctx, reader, path, _with(beat_phase=0.9, mode=2, intensity=1.0), images={"inputImage": tex})
    assert gated.mean() < 0.05 * src.mean()  # gate: black between hits
    # The default intensity stays moderate: the image is still there at the hit.
    assert np.corrcoef(hit.ravel(), src.ravel())[0, 1] > 0.9
