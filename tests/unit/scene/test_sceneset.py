"""The scene set: layered plans, modulators in bindings, quantized transitions, reloads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lumen.features import Features
from lumen.scene.expr import compile_expr
from lumen.scene.graph import LayerSpec, NodeSpec, SceneSet, SceneSpec, SceneState, UnknownSceneError, binding_names
from lumen.scene.modulate import EnvelopeSpec, LfoSpec
from lumen.scene.transition import TransitionSpec

FPS = 50.0
BPM = 120.0  # 0.5 s a beat: 25 frames a beat, 100 frames a bar at 50 fps


def features_at(t: float, *, bpm: float = BPM, **kw: float) -> Features:
    """Perfectly tracked music: beat 0 of bar 0 at t = 0."""
    if bpm <= 0:
        return Features(t=t, **kw)  # type: ignore[arg-type]
    beats = t * bpm / 60.0
    return Features(t=t, bpm=bpm, beat_phase=beats % 1.0, bar_phase=(beats % 4.0) / 4.0, **kw)  # type: ignore[arg-type]


def run(s: SceneSet, frame: int, **kw: float) -> SceneState:
    t = frame / FPS
    return s.evaluate(features_at(t, **kw), t_now=t, t_target=t, time_s=t, frame=frame)


def two_scenes(transition: TransitionSpec) -> SceneSet:
    a = SceneSpec.single("a", "solid.fs", {"level": 1.0})
    b = SceneSpec("b", (LayerSpec(NodeSpec.compile("ramp.fs", {})),), transition=transition)
    return SceneSet([a, b])


def test_plan_layers_effects_opacity_and_blend() -> None:
    names = binding_names(["wob"])
    spec = SceneSpec(
        "main",
        layers=(
            LayerSpec(NodeSpec.compile("gen.fs", {"hue": "bar_phase"})),
            LayerSpec(
                NodeSpec.compile("gen2.fs", {"k": "wob * 2"}, names),
                effects=(NodeSpec.compile("effects/blur.fs", {"radius": 3}),),
                opacity=compile_expr("wob + 5", names),  # clamped to 1
                blend="screen",
            ),
        ),
        effects=(NodeSpec.compile("effects/feedback.fs", {"amount": 0.9}),),
        modulators=(("wob", LfoSpec(shape="saw", period_beats=4.0)),),
    )
    s = SceneSet([spec])
    st = run(s, 50)  # t = 1 s: beat 2 of bar 0, saw at 0.5
    plan = st.plan
    assert plan is not None and st.transition is None
    assert [l.source.shader for l in plan.layers] == ["gen.fs", "gen2.fs"]
    assert plan.layers[0].source.params["hue"] == pytest.approx(0.5)
    assert plan.layers[1].source.params["k"] == pytest.approx(1.0)
    assert plan.layers[1].opacity == 1.0 and plan.layers[1].blend == "screen"
    assert plan.layers[1].effects[0].params == {"radius": 3.0, "TIME": 0.0}
    assert st.uniforms["wob"] == pytest.approx(0.5)
    assert st.uniforms["TIME"] == pytest.approx(1.0) and st.uniforms["FRAMEINDEX"] == 50.0
    keys = [n.key for n in plan.nodes()]
    assert len(set(keys)) == 4 and keys == [n.key for n in run(s, 51).plan.nodes()]  # type: ignore[union-attr]


def test_unknown_scene_is_an_error_with_a_hint() -> None:
    s = two_scenes(TransitionSpec())
    with pytest.raises(UnknownSceneError, match=r"did you mean 'b'"):
        s.go("bb")
    with pytest.raises(UnknownSceneError):
        SceneSet([SceneSpec.single("a", "x.fs", {})], start="z")
    with pytest.raises(ValueError, match="two scenes"):
        SceneSet([SceneSpec.single("a", "x.fs", {}), SceneSpec.single("a", "y.fs", {})])


def test_cut_quantized_to_the_bar_lands_on_the_downbeat_frame() -> None:
    s = two_scenes(TransitionSpec(kind="cut", quantize="bar"))
    shown = []
    for frame in range(0, 230):
        if frame == 30:
            s.go("b")
        st = run(s, frame)
        assert st.plan is not None
        shown.append(st.plan.name)
    assert shown.index("b") == 100  # the next downbeat after frame 30 (bar = 100 frames)
    assert set(shown[100:]) == {"b"}


@pytest.mark.parametrize(("quantize", "first"), [("none", 30), ("beat", 50), ("bar", 100), ("phrase", 400)])
def test_quantization_waits_for_the_next_boundary(quantize: str, first: int) -> None:
    s = two_scenes(TransitionSpec(kind="cut"))
    landed = None
    for frame in range(0, 420):
        if frame == 30:
            s.go("b", quantize=quantize)  # type: ignore[arg-type]
        st = run(s, frame)
        if landed is None and st.plan is not None and st.plan.name == "b":
            landed = frame
    assert landed == first


def test_crossfade_runs_for_its_beats_then_ends() -> None:
    s = two_scenes(TransitionSpec(kind="crossfade", duration_beats=2.0, quantize="beat", direction="up"))
    s.go("b")
    mixes = {}
    for frame in range(1, 120):
        st = run(s, frame)
        if st.transition is not None:
            assert st.plan is not None and st.plan.name == "b"
            assert st.transition.outgoing.name == "a" and st.transition.kind == "crossfade"
            mixes[frame] = st.transition.mix
    assert min(mixes) == 25 and max(mixes) == 74  # two beats = 50 frames from the beat at 25
    assert mixes[25] == 0.0 and mixes[50] == pytest.approx(0.5)
    assert all(b > a for a, b in zip(list(mixes.values()), list(mixes.values())[1:]))


def test_without_a_tempo_a_quantized_change_starts_at_once() -> None:
    s = two_scenes(TransitionSpec(kind="wipe", duration_beats=1.0, quantize="phrase"))
    s.go("b")
    st = run(s, 10, bpm=0.0)
    assert st.transition is not None and st.transition.mix == 0.0
    st = run(s, 10 + 25, bpm=0.0)  # 1 beat at the fallback 120 BPM = 0.5 s = 25 frames
    assert st.transition is None and st.plan is not None and st.plan.name == "b"


def test_go_overrides_transition_and_quantize() -> None:
    s = two_scenes(TransitionSpec(kind="crossfade", quantize="phrase"))
    s.go("b", transition=TransitionSpec(kind="flash", duration_beats=1.0), quantize="none")
    st = run(s, 3)
    assert st.transition is not None and st.transition.kind == "flash"


def test_modulators_drive_bindings_and_run_per_scene() -> None:
    env = EnvelopeSpec(trigger="beat", attack_s=0.0, release_s=0.5)
    spec = SceneSpec(
        "a", (LayerSpec(NodeSpec.compile("x.fs", {"flash": "kick"}, binding_names(["kick"]))),), modulators=(("kick", env),)
    )
    s = SceneSet([spec])
    vals = [run(s, f).plan.layers[0].source.params["flash"] for f in range(0, 40)]  # type: ignore[union-attr]
    assert vals[24] == 0.0 and vals[25] == pytest.approx(1.0)  # the beat at frame 25
    assert vals[30] == pytest.approx(1.0 - 0.1 / 0.5)


def test_non_finite_features_become_zero_and_are_counted() -> None:
    s = SceneSet([SceneSpec.single("a", "x.fs", {"v": "energy * 2"})])
    f = Features(t=1.0, energy=math.nan, bands=(math.inf, 0.0, 0.0, 0.0))
    st = s.evaluate(f, t_now=1.0, t_target=1.0, time_s=1.0, frame=0)
    assert all(math.isfinite(v) for v in st.uniforms.values())
    assert st.plan is not None and st.plan.layers[0].source.params["v"] == 0.0
    assert s.n_nonfinite == 2


def test_replace_keeps_the_current_scene_and_drops_vanished_targets() -> None:
    s = two_scenes(TransitionSpec(kind="cut", quantize="bar"))
    s.go("b")
    for frame in range(101):
        run(s, frame)
    assert s.current == "b"
    s.go("a")
    s.replace([SceneSpec.single("b", "new.fs", {}), SceneSpec.single("c", "c.fs", {})])
    assert s.current == "b" and s.pending is None  # 'a' is gone
    st = run(s, 101)
    assert st.plan is not None and st.plan.layers[0].source.shader == "new.fs"
    assert st.plan.layers[0].source.key.startswith("b:0:new.fs")
    s.replace([SceneSpec.single("z", "z.fs", {})], start="z")
    assert s.current == "z"
    with pytest.raises(UnknownSceneError):
        s.replace([SceneSpec.single("y", "y.fs", {})], start="q")
    assert s.names == ("z",)  # a rejected replace changes nothing


def test_layer_speed_integrates_so_a_music_bound_speed_never_jumps() -> None:
    layer = LayerSpec(NodeSpec.compile("gen.fs", {}), speed=compile_expr("0.5 + energy", binding_names(())))
    ss = SceneSet([SceneSpec("a", (layer,))])
    times = []
    for k in range(200):
        energy = 1.0 if k >= 100 else 0.0  # speed steps from 0.5 to 1.5 at t = 1 s
        st = ss.evaluate(Features(energy=energy), t_now=0.0, t_target=0.0, time_s=k * 0.01, frame=k)
        assert st.plan is not None
        times.append(st.plan.layers[0].source.params["TIME"])
    steps = np.diff(times)
    assert steps[:99] == pytest.approx(0.005) and steps[100:] == pytest.approx(0.015)
    assert max(steps) < 0.02  # continuous: no jump when the speed changes
