"""Show file version 2: control sections, cue list, automation, consoles, rig files, migration."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumen.control.commands import COMMANDS, TEMPO_SOURCES
from lumen.errors import ConfigError
from lumen.features import TEMPO_SOURCES as FEATURE_TEMPO_SOURCES
from lumen.show.load import dump_show, load_show, load_show_text
from lumen.show.schema import COMMAND_NAMES, CURRENT_VERSION

SCENES = """\
scenes:
  intro:
    layers: [{shader: wash.fs}]
  drop:
    layers: [{shader: strobe.fs, name: flash}]
  calm:
    layers: [{shader: plasma.fs}]
"""


def where(err: ConfigError) -> list[str]:
    return [f"{i.path}:{i.line}:{i.col}: {i.key_path}" for i in err.issues]


def test_vocabularies_agree() -> None:
    assert COMMAND_NAMES == tuple(COMMANDS)
    assert TEMPO_SOURCES == FEATURE_TEMPO_SOURCES


def test_full_programming_loads() -> None:
    text = "version: 2\n" + SCENES + """\
start_scene: intro
cues:
  - {number: 1, scene: intro, label: Doors}
  - {number: 2, scene: drop, quantize: beat, follow_bars: 8}
  - {number: 2.5, scene: calm, transition: {kind: cut}}
automation:
  hold_s: 30
  rules:
    - {on: drop, go: drop}
    - {on: break, when: "arousal < 0.4", go: calm}
    - {every_bars: 16, rotate: [intro, calm]}
    - {on: section, section: build, cue: next}
control:
  osc: {bind: 0.0.0.0, port: 9100, allow: [192.168.1.0/24, 10.0.0.7], feedback_port: 9101}
  midi: {enabled: true, api: jack, bindings: [{kind: cc, number: 7, command: master}, {kind: note, number: 36, command: scene, arg: drop}]}
  os2l: {enabled: true, buttons: {Strobe: {command: strobe}}}
  link: {enabled: true, mode: lead}
  tempo: {precedence: [midi_clock, link, tap, audio]}
consoles:
  - {name: eos, type: eos, port: 8000, cue_map: {drop: "5"}}
  - {name: vj, type: features, port: 9001, features_hz: 60}
"""
    cfg = load_show_text(text, "show.yaml")
    assert [c.number for c in cfg.cues] == [1.0, 2.0, 2.5]
    assert cfg.automation.rules[1].when == "arousal < 0.4"
    assert cfg.control.osc.allow == ("192.168.1.0/24", "10.0.0.7")
    assert cfg.control.midi.bindings[1].arg == "drop"
    assert cfg.control.tempo.precedence == ("midi_clock", "link", "tap", "audio")
    assert cfg.consoles[0].cue_map == {"drop": "5"}
    assert cfg.scenes["drop"].layers[0].name == "flash"
    assert load_show_text(dump_show(cfg)) == cfg


BROKEN: list[tuple[str, str, list[str], list[str]]] = [
    ("cue to a missing scene", "cues:\n  - {number: 1, scene: dorp}\n",
     ["show.yaml:10:17: cues.0.scene"], ["no scene named 'dorp' (did you mean 'drop'?)"]),
    ("cue numbers descend", "cues:\n  - {number: 2, scene: drop}\n  - {number: 1, scene: intro}\n",
     ["show.yaml:11:6: cues.1.number"], ["cue 1 must come after cue 2"]),
    ("rule without action", "automation:\n  rules:\n    - {on: drop}\n",
     ["show.yaml:11:7: automation.rules.0"], ["exactly one action"]),
    ("rule with two triggers", "automation:\n  rules:\n    - {on: drop, every_bars: 4, go: drop}\n",
     ["show.yaml:11:7: automation.rules.0"], ["exactly one trigger"]),
    ("rule event typo", "automation:\n  rules:\n    - {on: dorp, go: drop}\n",
     ["show.yaml:11:12: automation.rules.0.on"], ["'drop'"]),
    ("rule to a missing scene", "automation:\n  rules:\n    - {every_bars: 8, rotate: [intro, clam]}\n",
     ["show.yaml:11:39: automation.rules.0.rotate.1"], ["no scene named 'clam' (did you mean 'calm'?)"]),
    ("bad condition", "automation:\n  rules:\n    - {on: break, when: 'arousal <', go: calm}\n",
     ["show.yaml:11:35: automation.rules.0.when"], ["bad binding"]),
    ("unknown command", "control:\n  midi:\n    bindings: [{kind: cc, number: 7, command: mastr}]\n",
     ["show.yaml:11:47: control.midi.bindings.0.command"], ["unknown command 'mastr' (did you mean 'master'?)"]),
    ("bad allow entry", "control:\n  osc:\n    allow: [192.168.1.0/33]\n",
     ["show.yaml:11:13: control.osc.allow.0"], ["not an IPv4 address or network"]),
    ("bad bind", "control:\n  osc: {bind: localhost}\n",
     ["show.yaml:10:15: control.osc.bind"], ["not an IPv4 address"]),
    ("tempo precedence without audio", "control:\n  tempo: {precedence: [link, tap]}\n",
     ["show.yaml:10:23: control.tempo.precedence"], ["must include 'audio'"]),
    ("console to broadcast", "consoles:\n  - {name: eos, type: eos, port: 8000, address: 255.255.255.255}\n",
     ["show.yaml:10:40: consoles.0.address"], ["broadcast"]),
    ("console type typo", "consoles:\n  - {name: eos, type: eso, port: 8000}\n",
     ["show.yaml:10:23: consoles.0.type"], ["'eos'"]),
    ("two consoles one name", "consoles:\n  - {name: a, type: eos, port: 1}\n  - {name: a, type: qlab, port: 2}\n",
     ["show.yaml:11:6: consoles.1.name"], ["two consoles are named 'a'"]),
    ("scene and scenes", "scene: {shader: wash.fs}\n",
     ["show.yaml:9:1: scene"], ["not both"]),
    ("every section present loads", "cues: []\nstart_scene: intro\nname: x\nrender: {fps: 30}\nwall: {width: 8}\nsafety: {}\naudio: {}\nanalysis: {}\ncontrol: {}\nconsoles: []\nautomation: {}\n"
     "fixtures: []\n", [], []),
]


@pytest.mark.parametrize(("text", "expected", "words"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_programming(text: str, expected: list[str], words: list[str]) -> None:
    full = "version: 2\n" + SCENES + text
    if not expected:  # a control case: it must load
        load_show_text(full, "show.yaml")
        return
    with pytest.raises(ConfigError) as info:
        load_show_text(full, "show.yaml")
    assert where(info.value) == expected, str(info.value)
    for issue, word in zip(info.value.issues, words):
        assert word in issue.message, str(issue)


def test_version_2_has_no_scene_section() -> None:
    with pytest.raises(ConfigError) as info:
        load_show_text("version: 2\nscene: {shader: wash.fs}\n", "show.yaml")
    assert where(info.value) == ["show.yaml:2:1: scene"]
    assert "lumen migrate" in info.value.issues[0].message


def test_version_1_single_scene_migrates_and_errors_point_at_the_file() -> None:
    cfg = load_show_text("version: 1\nscene:\n  shader: wash.fs\n  params: {hue: bar_phase}\n")
    assert cfg.version == CURRENT_VERSION
    assert cfg.scenes["main"].layers[0].shader == "wash.fs"
    assert dict(cfg.scenes["main"].layers[0].params) == {"hue": "bar_phase"}
    with pytest.raises(ConfigError) as info:
        load_show_text("version: 1\nscene:\n  params:\n    hue: 'bar_phase +'\n  shadr: x.fs\n", "old.yaml")
    assert where(info.value) == ["old.yaml:4:22: scene.params.hue", "old.yaml:5:3: scene.shadr"], str(info.value)


def test_rig_file_split(tmp_path: Path) -> None:
    (tmp_path / "venue.yaml").write_text(
        "version: 2\nname: Club X\nwall: {width: 16, height: 8}\n"
        "outputs:\n  - {type: artnet, port: 6454}\nconsoles:\n  - {name: eos, type: eos, port: 8000}\n"
    )
    (tmp_path / "show.yaml").write_text("version: 2\nname: Tour\nrig: venue.yaml\n" + SCENES)
    cfg = load_show(tmp_path / "show.yaml")
    assert cfg.name == "Tour" and cfg.wall.width == 16 and cfg.outputs[0].type == "artnet"
    assert cfg.consoles[0].name == "eos" and set(cfg.scenes) == {"intro", "drop", "calm"}
    # dump keeps the split: the rig's sections stay in the rig file
    text = dump_show(cfg)
    assert "wall:" not in text and "rig: venue.yaml" in text
    (tmp_path / "again.yaml").write_text(text)
    assert load_show(tmp_path / "again.yaml") == cfg


def test_rig_file_errors_name_the_rig_file(tmp_path: Path) -> None:
    (tmp_path / "venue.yaml").write_text("version: 2\nwall: {width: 0}\nscenes: {}\nouputs: []\n")
    (tmp_path / "show.yaml").write_text("version: 2\nrig: venue.yaml\nwall: {width: 8}\n")
    with pytest.raises(ConfigError) as info:
        load_show(tmp_path / "show.yaml")
    got = where(info.value)
    v, s = str(tmp_path / "venue.yaml"), str(tmp_path / "show.yaml")
    assert f"{s}:3:1: wall" in got  # set in both places
    assert f"{v}:3:1: scenes" in got  # programming in the rig
    assert f"{v}:4:1: ouputs" in got  # typo, with a hint
    assert any("did you mean 'outputs'" in i.message for i in info.value.issues)


def test_missing_rig_file(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text("version: 2\nrig: nowhere.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_show(tmp_path / "show.yaml")
    assert where(info.value) == [f"{tmp_path / 'show.yaml'}:2:6: rig"]
    assert "cannot read rig file" in info.value.issues[0].message


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[3] / "presets").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_show_validates_in_the_current_version(path: Path) -> None:
    cfg = load_show(path)
    assert cfg.version == CURRENT_VERSION
    assert path.read_text().count("\nversion: 2") == 1  # written in the current version, not migrated
