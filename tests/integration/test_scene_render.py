"""The compositor on headless GL: blend modes, effect chains, bypassed nodes, transitions, goldens."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import moderngl
import numpy as np
import numpy.typing as npt
import pytest

from lumen.errors import ConfigError, ConfigIssue
from lumen.features import Features
from lumen.render.compositor import Compositor
from lumen.render.preview import Preview
from lumen.scene.expr import compile_expr
from lumen.scene.graph import LayerSpec, NodeSpec, SceneSet, SceneSpec
from lumen.scene.plan import BlendMode, LayerPlan, NodePlan, ScenePlan, TransitionPlan

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "golden" / "scenes"


def _load_regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lumen_golden_regen_scenes", REPO / "tests" / "golden" / "regen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


regen = _load_regen()


def resolve(name: str) -> Path:
    path = SCENES / name
    if not path.is_file():
        path = REPO / "shaders" / name
    if not path.is_file():
        raise ConfigError([ConfigIssue("<test>", 0, 0, "shader", f"shader {name!r} not found")])
    return path


@pytest.fixture
def comp(ctx: moderngl.Context) -> Iterator[Compositor]:
    c = Compositor(ctx, 8, 4, resolve=resolve)
    yield c
    c.release()


def node(shader: str, key: str = "", **params: float) -> NodePlan:
    return NodePlan(key or f"n:{shader}:{sorted(params.items())}", shader, params)


def layer(shader: str, *, blend: BlendMode = "normal", opacity: float = 1.0, effects: tuple[NodePlan, ...] = (), key: str = "", **params: float) -> LayerPlan:
    return LayerPlan(node(shader, key, **params), effects, opacity, blend)


def draw(comp: Compositor, *layers: LayerPlan, effects: tuple[NodePlan, ...] = (), transition: TransitionPlan | None = None) -> npt.NDArray[np.float32]:
    out = comp.new_frame()
    comp.render({"TIME": 0.0}, ScenePlan("s", tuple(layers), effects), transition, out)
    return out


def test_ramp_is_drawn_with_row_zero_at_the_top(comp: Compositor) -> None:
    out = draw(comp, layer("ramp.fs", level=0.25))
    x = (np.arange(8) + 0.5) / 8
    y = (np.arange(4) + 0.5) / 4
    np.testing.assert_allclose(out[0, :, 0], x, atol=2e-3)
    np.testing.assert_allclose(out[:, 0, 1], y[::-1], atol=2e-3)  # GL y grows upward; row 0 is the top
    np.testing.assert_allclose(out[..., 2], 0.25, atol=2e-3)


A = 0.6  # solid level below
B = 0.3  # solid level of the layer


@pytest.mark.parametrize(
    ("blend", "expected"),
    [
        ("normal", B), ("add", A + B), ("screen", 1 - (1 - A) * (1 - B)), ("multiply", A * B),
        ("difference", abs(A - B)), ("lighten", max(A, B)),
    ],
)  # fmt: skip
def test_blend_modes_and_opacity(comp: Compositor, blend: BlendMode, expected: float) -> None:
    full = draw(comp, layer("solid.fs", key="below", level=A), layer("solid.fs", key="top", blend=blend, level=B))
    assert full[..., 0] == pytest.approx(np.full((4, 8), expected), abs=2e-3)
    assert full[..., 1:].max() < 1e-3  # solid.fs default color is pure red
    half = draw(comp, layer("solid.fs", key="below", level=A), layer("solid.fs", key="top", blend=blend, opacity=0.5, level=B))
    assert half[0, 0, 0] == pytest.approx(A + 0.5 * (expected - A), abs=2e-3)


def test_effect_chain_and_filter_layer(comp: Compositor) -> None:
    inv = node("invert.fs", amount=1.0)
    out = draw(comp, layer("solid.fs", level=0.25, effects=(inv,)))
    np.testing.assert_allclose(out[0, 0], [0.75, 1.0, 1.0], atol=2e-3)
    # A filter as a layer sees the composite below it as inputImage.
    out = draw(comp, layer("solid.fs", level=0.25), layer("invert.fs", amount=1.0))
    np.testing.assert_allclose(out[0, 0], [0.75, 1.0, 1.0], atol=2e-3)
    # Post effects run over the whole composite.
    out = draw(comp, layer("solid.fs", level=0.25), effects=(node("invert.fs", "post", amount=0.5),))
    np.testing.assert_allclose(out[0, 0], [0.5, 0.5, 0.5], atol=2e-3)


def test_feedback_node_keeps_its_trail_across_frames(comp: Compositor) -> None:
    trail = node("trail.fs", "trail", decay=0.5)
    lit = draw(comp, layer("solid.fs", key="src", level=0.8), effects=(trail,))
    assert lit[0, 0, 0] == pytest.approx(0.8, abs=2e-3)
    dark = draw(comp, layer("solid.fs", key="src", level=0.0), effects=(trail,))
    assert dark[0, 0, 0] == pytest.approx(0.4, abs=2e-3)  # half of the last frame lingers
    dark = draw(comp, layer("solid.fs", key="src", level=0.0), effects=(trail,))
    assert dark[0, 0, 0] == pytest.approx(0.2, abs=2e-3)


def test_missing_and_broken_shaders_are_bypassed_not_black(comp: Compositor, tmp_path: Path) -> None:
    broken = tmp_path / "broken.fs"
    broken.write_text("void main() {\n  gl_FragColor = vec4(nope, 1.0);\n}\n")
    comp.resolve = lambda n: broken if n == "broken.fs" else resolve(n)
    out = draw(
        comp,
        layer("solid.fs", level=0.5),
        layer("missing.fs", blend="multiply"),  # would make the frame black if it were drawn as black
        layer("broken.fs", blend="multiply"),
        effects=(node("missing_effect.fs"),),
    )
    assert out[0, 0, 0] == pytest.approx(0.5, abs=2e-3)
    assert comp.n_bypassed == 3
    assert "not found" in comp.problems["missing.fs"]
    assert comp.problems["broken.fs"].startswith(f"{broken}:2:")  # file:line of the compile error
    assert set(comp.problems) == {"missing.fs", "broken.fs", "missing_effect.fs"}


def test_non_finite_values_never_reach_the_wall(comp: Compositor) -> None:
    out = comp.new_frame()
    plan = ScenePlan("s", (layer("solid.fs", level=1.0), layer("solid.fs", key="x", level=math.nan)))
    comp.render({"TIME": math.nan, "FRAMEINDEX": math.inf, "energy": math.inf}, plan, None, out)
    assert np.isfinite(out).all()


@pytest.mark.parametrize(("kind", "mix", "expected"), [("crossfade", 0.25, [0.75, 0.0]), ("flash", 0.25, [1.0, 0.5]), ("flash", 0.75, [0.5, 0.5])])
def test_transition_kinds(comp: Compositor, kind: str, mix: float, expected: list[float]) -> None:
    outgoing = ScenePlan("a", (layer("solid.fs", key="a", level=1.0),))  # red
    t = TransitionPlan(outgoing, mix, kind, "left")  # type: ignore[arg-type]
    out = draw(comp, layer("solid.fs", key="b", level=0.0), transition=t)  # black
    # crossfade: red * (1 - mix); flash: red -> white, then white -> black.
    assert out[0, 0, 0] == pytest.approx(expected[0], abs=3e-3)
    assert out[0, 0, 1] == pytest.approx(expected[1], abs=3e-3)


@pytest.mark.parametrize(("direction", "incoming"), [("left", (slice(None), slice(4, 8))), ("right", (slice(None), slice(0, 4))),
                                                     ("up", (slice(2, 4), slice(None))), ("down", (slice(0, 2), slice(None)))])
def test_wipe_directions(comp: Compositor, direction: str, incoming: tuple[slice, slice]) -> None:
    outgoing = ScenePlan("a", (layer("solid.fs", key="a", level=1.0),))
    out = draw(comp, layer("solid.fs", key="b", level=0.0), transition=TransitionPlan(outgoing, 0.5, "wipe", direction))  # type: ignore[arg-type]
    red = out[..., 0]
    assert red[incoming].max() < 0.05  # the incoming (black) half
    mask = np.ones_like(red, dtype=bool)
    mask[incoming] = False
    assert red[mask].min() > 0.95  # the outgoing (red) half


def _golden(ctx: moderngl.Context, name: str) -> None:
    expected = np.load(regen.golden_path(name))
    got = regen.render_scene_case(ctx, regen.SCENE_CASES[name])
    diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 2, (
        f"{name}: max diff {diff.max()}/255 in {np.count_nonzero(diff.max(axis=2))} pixels; "
        "if the change is intended, review it and run tests/golden/regen.py --approve"
    )
    assert expected.std() > 5


def test_layered_scene_matches_golden(ctx: moderngl.Context) -> None:
    _golden(ctx, "scene_layers_64x32")


def test_transition_lands_on_the_bar_and_matches_golden(ctx: moderngl.Context) -> None:
    _golden(ctx, "transition_wipe_64x32")
    case = regen.SCENE_CASES["transition_wipe_64x32"]
    frames = regen.render_scene_frames(ctx, case, [99, 100, 101, 150])
    # Scene b (inverted ramp) has a pure red left edge column at the top; scene a never does.
    b_alone = regen.render_scene_frames(ctx, regen.SceneCase(case.show.replace("  a:\n    layers: [{shader: pulse.fs, params: {hue: 0.1}}]\n", ""), 64, 32, 50.0, 150), [150])[150]
    np.testing.assert_array_equal(frames[150], b_alone)  # the wipe is over two beats after the bar line
    # The bar line at 120 BPM / 50 fps is frame 100: the wipe starts there (mix 0: all 'a'),
    # and frame 101 shows the first columns of 'b' on the right edge.
    assert not np.array_equal(frames[101][:, -1], frames[100][:, -1])
    assert np.array_equal(frames[101][:, :32], _scene_a_only(ctx, case, 101)[:, :32])


def _scene_a_only(ctx: moderngl.Context, case: object, frame: int) -> npt.NDArray[np.uint8]:
    c = regen.SceneCase(regen.SCENE_CASES["transition_wipe_64x32"].show, 64, 32, 50.0, frame)  # never goes to b
    return regen.render_scene_frames(ctx, c)[frame]  # type: ignore[no-any-return]


def test_scene_set_drives_the_compositor_with_audio_textures(ctx: moderngl.Context) -> None:
    spec = SceneSpec("s", (LayerSpec(NodeSpec.compile("spectrum_bars.fs", {"gain": 1.0})),
                           LayerSpec(NodeSpec.compile("solid.fs", {"level": "energy"}), blend="add", opacity=compile_expr(0.5, ()))))
    s = SceneSet([spec])
    comp = Compositor(ctx, 32, 16, resolve=resolve)
    try:
        out = comp.new_frame()
        f = Features(t=1.0, energy=0.5, spectrum=tuple(np.linspace(0, 1, 32).tolist()))
        st = s.evaluate(f, t_now=1.0, t_target=1.0, time_s=1.0, frame=0)
        comp.render(st.uniforms, st.plan, st.transition, out, spectrum=f.spectrum, wave=f.wave, bands=f.bands)
        assert not comp.problems and comp.n_bypassed == 0
        assert out.max() > 0.3 and np.isfinite(out).all()
    finally:
        comp.release()


def test_preview_overlay_shows_errors(ctx: moderngl.Context) -> None:
    comp = Compositor(ctx, 64, 32, resolve=resolve)
    preview = Preview(ctx, 256, 128)
    try:
        draw(comp, layer("solid.fs", level=0.0))  # black frame
        preview.show(comp.output)
        plain = preview.snapshot()
        assert plain.max() == 0
        preview.show(comp.output, ["120.0 bpm"], ["broken.fs:2: 'nope' undeclared"])
        shown = preview.snapshot()
        assert shown.shape == (128, 256, 3)
        red = (shown[..., 0] > 150) & (shown[..., 1] < 120)
        assert red[:16].sum() > 20  # the error line, in red, at the top
        white = shown.min(axis=2) > 200
        assert white[10:40].sum() > 20  # the feature line below it
        assert not preview.has_window
    finally:
        preview.release()
        comp.release()


def test_resize_remakes_nodes_and_buffers(comp: Compositor) -> None:
    trail = node("trail.fs", "trail", decay=0.5)
    draw(comp, layer("ramp.fs", key="r", level=0.5), effects=(trail,))
    comp.resize(16, 8)
    out = draw(comp, layer("ramp.fs", key="r", level=0.5), effects=(trail,))
    assert out.shape == (8, 16, 3)
    np.testing.assert_allclose(out[0, :, 0], (np.arange(16) + 0.5) / 16, atol=2e-3)
    assert comp.n_nodes == 2
