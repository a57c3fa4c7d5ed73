"""Live parameter overrides (OSC /lumen/param/<scene>/<node>/<param>)."""

from __future__ import annotations

import math

import pytest

from lumen.features import Features
from lumen.scene.graph import LayerSpec, NodeSpec, SceneSet, SceneSpec, UnknownSceneError


def scenes() -> SceneSet:
    a = SceneSpec("a", (
        LayerSpec(NodeSpec.compile("x.fs", {"hue": "bar_phase"}), (NodeSpec.compile("fb.fs", {"amount": 0.5}, name="trail"),)),
        LayerSpec(NodeSpec.compile("y.fs", {}, name="top")),
    ), (NodeSpec.compile("grade.fs", {"gain": 1.0}),))
    return SceneSet([a, SceneSpec.single("b", "z.fs", {})])


def plan(ss: SceneSet) -> tuple[dict[str, float], dict[str, float], dict[str, float], float]:
    st = ss.evaluate(Features(bar_phase=0.25), t_now=0.0, t_target=0.0, time_s=0.0, frame=0)
    l0 = st.plan.layers[0]
    return dict(l0.source.params), dict(l0.effects[0].params), dict(st.plan.effects[0].params), st.plan.layers[1].opacity


def test_node_names() -> None:
    assert scenes().nodes("a") == ("layer1", "layer1.trail", "top", "post.fx1")
    assert scenes().nodes("b") == ("layer1",)


def test_override_replaces_binding_and_nan_releases() -> None:
    ss = scenes()
    assert plan(ss)[0]["hue"] == 0.25
    ss.set_param("a/layer1/hue", 0.9)
    ss.set_param("a/layer1.trail/amount", 0.1)
    ss.set_param("a/post.fx1/gain", 2.0)
    ss.set_param("a/top/opacity", 0.3)
    src, fx, post, opacity = plan(ss)
    assert (src["hue"], fx["amount"], post["gain"], opacity) == (0.9, 0.1, 2.0, pytest.approx(0.3))
    ss.set_param("a/layer1/hue", math.nan)
    assert plan(ss)[0]["hue"] == 0.25


def test_bad_paths() -> None:
    ss = scenes()
    with pytest.raises(ValueError, match="nodes: layer1, layer1.trail, top, post.fx1"):
        ss.set_param("a/layer9/hue", 1.0)
    with pytest.raises(ValueError, match="scene/node/param"):
        ss.set_param("a/hue", 1.0)
    with pytest.raises(UnknownSceneError):
        ss.set_param("nope/layer1/hue", 1.0)


def test_reload_drops_overrides() -> None:
    ss = scenes()
    ss.set_param("a/layer1/hue", 0.9)
    ss.replace([scenes().spec("a"), scenes().spec("b")])
    assert plan(ss)[0]["hue"] == 0.25
