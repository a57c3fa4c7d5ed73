"""Show files with scenes: schema, file:line:col errors, specs for the scene graph, live reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from lumen.errors import ConfigError
from lumen.features import Features
from lumen.scene.modulate import EnvelopeSpec, LfoSpec, SmoothSpec
from lumen.show.load import ShowWatcher, dump_show, load_show, load_show_text
from lumen.show.scenes import build_scene_set, scene_specs, shader_names
from lumen.show.schema import (
    EffectConfig,
    EnvelopeConfig,
    LayerConfig,
    LfoConfig,
    SceneGraphConfig,
    ShowConfig,
    SmoothConfig,
    TransitionConfig,
)

REPO = Path(__file__).resolve().parents[3]

SHOW = """\
version: 1
scenes:
  intro:
    modulators:
      wob: {type: lfo, shape: triangle, period_beats: 8}
      kick: {type: envelope, trigger: downbeat, attack_s: 0.01, release_s: 0.4}
      glow: {type: smooth, input: "bass + 0.5 * kick", rise_s: 0.05, fall_s: 0.5}
    layers:
      - shader: plasma.fs
        params: {hue: "wob", brightness: "0.4 + 0.6 * glow"}
      - shader: beat_rings.fs
        blend: screen
        opacity: "kick"
        effects:
          - {shader: effects/blur.fs, params: {radius: 2}}
    effects:
      - {shader: effects/feedback.fs, params: {amount: 0.8}}
    transition: {kind: wipe, duration_beats: 2, quantize: beat, direction: up}
  drop:
    layers: [{shader: tunnel.fs}]
start_scene: intro
"""


@pytest.mark.parametrize(
    "model",
    [SceneGraphConfig, LayerConfig, EffectConfig, LfoConfig, EnvelopeConfig, SmoothConfig, TransitionConfig],
    ids=lambda m: m.__name__,
)
def test_new_models_are_strict_and_described(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("frozen") is True
    assert model.__doc__
    for name, info in model.model_fields.items():
        assert info.description, f"{model.__name__}.{name} has no description"


def test_scenes_load_and_become_specs() -> None:
    cfg = load_show_text(SHOW, "show.yaml")
    assert cfg.scene_names() == ("intro", "drop") and cfg.start_scene == "intro"
    specs, start = scene_specs(cfg)
    assert start == "intro"
    intro = specs[0]
    assert [m for m, _ in intro.modulators] == ["wob", "kick", "glow"]
    assert isinstance(intro.modulators[0][1], LfoSpec) and intro.modulators[0][1].period_beats == 8.0
    assert isinstance(intro.modulators[1][1], EnvelopeSpec) and intro.modulators[1][1].trigger == "downbeat"
    assert isinstance(intro.modulators[2][1], SmoothSpec) and intro.modulators[2][1].input.names == {"bass", "kick"}
    assert intro.layers[1].blend == "screen" and intro.layers[1].effects[0].shader == "effects/blur.fs"
    assert intro.transition.kind == "wipe" and intro.transition.direction == "up"
    assert intro.effects[0].params["amount"].text == "0.8"
    assert specs[1].transition.kind == "crossfade" and specs[1].transition.quantize == "bar"  # defaults
    s = build_scene_set(cfg)
    st = s.evaluate(Features(t=1.0, bands=(0.5, 0.0, 0.0, 0.0)), t_now=1.0, t_target=1.0, time_s=1.0, frame=0)
    assert st.plan is not None and st.plan.name == "intro" and len(st.plan.layers) == 2
    assert [loc for loc, _ in shader_names(cfg)][:3] == [
        ("scenes", "intro", "layers", 0, "shader"),
        ("scenes", "intro", "layers", 1, "shader"),
        ("scenes", "intro", "layers", 1, "effects", 0, "shader"),
    ]


def test_a_scene_section_is_a_one_layer_scene() -> None:
    cfg = load_show_text("version: 1\nscene: {shader: pulse.fs, params: {hue: bar_phase}}\n")
    specs, start = scene_specs(cfg)
    assert start == "main" and len(specs) == 1 and specs[0].layers[0].source.params["hue"].text == "bar_phase"


def test_dump_round_trips_scenes() -> None:
    cfg = load_show_text(SHOW)
    again = load_show_text(dump_show(cfg))
    assert again == cfg
    assert dump_show(again) == dump_show(cfg)


def test_presets_load() -> None:
    presets = sorted((REPO / "presets").glob("*.yaml"))
    assert len(presets) >= 5
    for p in presets:
        cfg = load_show(p)
        assert isinstance(cfg, ShowConfig)
        build_scene_set(cfg)


BROKEN: list[tuple[str, str, list[str], list[str]]] = [
    (
        "unknown name in a layer binding",
        "version: 1\nscenes:\n  a:\n    layers:\n      - shader: x.fs\n        params: {hue: 'wobb * 2'}\n",
        ["show.yaml:6:24: scenes.a.layers.0.params.hue"],
        ["unknown name 'wobb'"],
    ),
    (
        "modulator name known only in its own scene",
        "version: 1\nscenes:\n  a:\n    modulators: {wob: {type: lfo}}\n    layers: [{shader: x.fs, params: {k: wob}}]\n"
        "  b:\n    layers: [{shader: y.fs, params: {k: wob}}]\n",
        ["show.yaml:7:41: scenes.b.layers.0.params.k"],
        ["unknown name 'wob'"],
    ),
    (
        "blend typo",
        "version: 1\nscenes:\n  a:\n    layers:\n      - {shader: x.fs, blend: screem}\n",
        ["show.yaml:5:31: scenes.a.layers.0.blend"],
        ["(did you mean 'screen'?)"],
    ),
    (
        "no layers",
        "version: 1\nscenes:\n  a:\n    layers: []\n",
        ["show.yaml:4:13: scenes.a.layers"],
        ["needs at least 1 item"],
    ),
    (
        "modulator type typo and bad field",
        "version: 1\nscenes:\n  a:\n    layers: [{shader: x.fs}]\n    modulators:\n      w: {type: lfoo}\n"
        "      e: {type: envelope, trigger: beats}\n      s: {type: smooth}\n",
        ["show.yaml:6:17: scenes.a.modulators.w.type", "show.yaml:7:36: scenes.a.modulators.e.trigger",
         "show.yaml:8:7: scenes.a.modulators.s.input"],
        ["unknown type 'lfoo' (did you mean 'lfo'?)", "(did you mean 'beat'?)", "missing required field 'input'"],
    ),
    (
        "modulator shadows a feature",
        "version: 1\nscenes:\n  a:\n    layers: [{shader: x.fs}]\n    modulators:\n      bass: {type: lfo}\n",
        ["show.yaml:6:7: scenes.a.modulators.bass"],
        ["taken by a feature"],
    ),
    (
        "lfo period out of range",
        "version: 1\nscenes:\n  a:\n    layers: [{shader: x.fs}]\n    modulators:\n      w: {type: lfo, period_beats: 0}\n",
        ["show.yaml:6:36: scenes.a.modulators.w.period_beats"],
        ["greater than 0"],
    ),
    (
        "transition typos",
        "version: 1\nscenes:\n  a:\n    layers: [{shader: x.fs}]\n    transition: {kind: fade, quantize: bars}\n",
        ["show.yaml:5:24: scenes.a.transition.kind", "show.yaml:5:40: scenes.a.transition.quantize"],
        ["'cut', 'crossfade', 'wipe' or 'flash'", "(did you mean 'bar'?)"],
    ),
    (
        "unknown start scene",
        "version: 1\nscenes:\n  intro:\n    layers: [{shader: x.fs}]\nstart_scene: intr\n",
        ["show.yaml:5:14: start_scene"],
        ["no scene named 'intr' (did you mean 'intro'?)"],
    ),
    (
        "scene and scenes both given",
        "version: 1\nscene: {shader: pulse.fs}\nscenes:\n  a:\n    layers: [{shader: x.fs}]\n",
        ["show.yaml:2:1: scene"],
        ["either 'scene'"],
    ),
    (
        "bad scene name and unknown layer key",
        "version: 1\nscenes:\n  'my scene':\n    layers: [{shader: x.fs, opacty: 0.5}]\n",
        ["show.yaml:3:3: scenes.my scene", "show.yaml:4:29: scenes.my scene.layers.0.opacty"],
        ["no spaces", "(did you mean 'opacity'?)"],
    ),
]


@pytest.mark.parametrize(("text", "expected", "words"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_scene_files(text: str, expected: list[str], words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_show_text(text, "show.yaml")
    err = info.value
    got = [f"{i.path}:{i.line}:{i.col}: {i.key_path}" for i in err.issues]
    assert got == expected, str(err)
    for issue, word in zip(err.issues, words):
        assert word in issue.message, str(issue)


def _touch(path: Path, text: str, ns: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(ns, ns))


def test_watcher_loads_valid_edits_and_reports_invalid_ones(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    _touch(show, SHOW, 1_000_000_000)
    w = ShowWatcher(show)
    assert w.poll() is None  # the version at start counts as seen
    _touch(show, SHOW.replace("kind: wipe", "kind: flash"), 2_000_000_000)
    cfg = w.poll()
    assert isinstance(cfg, ShowConfig) and cfg.scenes["intro"].transition.kind == "flash"
    assert w.poll() is None
    bad = SHOW.replace("blend: screen", "blend: scren")
    _touch(show, bad, 3_000_000_000)
    err = w.poll()
    line = next(i for i, l in enumerate(bad.splitlines(), 1) if "scren" in l)
    assert isinstance(err, ConfigError) and err.line == line and err.path == str(show)
    assert "scenes.intro.layers.1.blend" in str(err)
    show.unlink()
    assert w.poll() is None  # mid-save: wait for the file to come back
    _touch(show, SHOW, 4_000_000_000)
    assert isinstance(w.poll(), ShowConfig)
    assert (w.n_reloads, w.n_errors) == (2, 1)
