"""The director: cue list, automation rules, manual override."""

from __future__ import annotations

import pytest

from lumen.control.commands import Command
from lumen.features import Features
from lumen.show.cues import Cue, CueList, Director, Rule, UnknownCueError, build_director
from lumen.show.load import load_show_text

SHOW = """\
version: 2
scenes:
  intro: {layers: [{shader: wash.fs}]}
  verse: {layers: [{shader: plasma.fs}]}
  drop: {layers: [{shader: strobe.fs}]}
  calm: {layers: [{shader: noise_flow.fs}]}
cues:
  - {number: 1, scene: intro}
  - {number: 2, scene: verse, follow_bars: 2}
  - {number: 3, scene: drop, quantize: beat}
automation:
  min_bars: 0
  rules:
    - {on: drop, go: drop}
    - {on: break, when: "arousal < 0.4", go: calm}
    - {every_bars: 4, rotate: [verse, intro]}
"""


def feats(section: str = "none", arousal: float = 0.5) -> Features:
    return Features(section=section, arousal=arousal)


def test_cue_list_go_back_goto() -> None:
    cl = CueList([Cue(1, "a"), Cue(2, "b"), Cue(2.5, "c")])
    assert cl.current is None and cl.back() is None
    assert [cl.go().scene, cl.go().scene, cl.go().scene] == ["a", "b", "c"]  # type: ignore[union-attr]
    assert cl.go() is None and cl.current is not None and cl.current.number == 2.5
    assert cl.back().scene == "b"  # type: ignore[union-attr]
    assert cl.goto(1).scene == "a"
    with pytest.raises(UnknownCueError, match="no cue 7"):
        cl.goto(7)
    assert cl.current.number == 1  # a failed GOTO leaves the playhead


def test_manual_command_overrides_automation_until_released() -> None:
    d = build_director(load_show_text(SHOW))
    a = d.step(feats("drop"), bar=False, bars=1, t=0.0)
    assert a is not None and a.scene == "drop" and a.reason == "auto:drop"
    m = d.command(Command("scene", arg="calm", t=1.0))
    assert m is not None and m.scene == "calm" and d.override
    assert d.step(feats("break", arousal=0.1), bar=False, bars=2, t=2.0) is None  # held by the override
    assert d.step(feats("drop"), bar=True, bars=4, t=3.0) is None
    d.command(Command("release"))
    a = d.step(feats("break", arousal=0.1), bar=False, bars=5, t=4.0)
    assert a is not None and a.scene == "calm"


def test_condition_gates_a_rule() -> None:
    d = build_director(load_show_text(SHOW))
    assert d.step(feats("break", arousal=0.9), bar=False, bars=1, t=0.0) is None
    d2 = build_director(load_show_text(SHOW))
    a = d2.step(feats("break", arousal=0.2), bar=False, bars=1, t=0.0)
    assert a is not None and a.scene == "calm"


def test_every_bars_rotates_and_min_bars_spaces_changes() -> None:
    d = Director(CueList(), [Rule(every_bars=4, rotate=("a", "b"))], min_bars=0)
    got = [d.step(feats(), bar=True, bars=b, t=float(b)) for b in range(1, 13)]
    fired = [(b + 1, a.scene) for b, a in enumerate(got) if a is not None]
    assert fired == [(4, "a"), (8, "b"), (12, "a")]
    d = Director(CueList(), [Rule(on="drop", go="x"), Rule(on="break", go="y")], min_bars=8)
    assert d.step(feats("drop"), bar=False, bars=1, t=0.0) is not None
    assert d.step(feats("break"), bar=False, bars=3, t=1.0) is None  # too soon
    assert d.step(feats("drop"), bar=False, bars=9, t=2.0) is not None


def test_cue_follow_runs_under_an_override() -> None:
    d = build_director(load_show_text(SHOW))
    d.command(Command("cue_go"), bars=0)
    a = d.command(Command("cue_go"), bars=10)
    assert a is not None and a.cue is not None and a.cue.number == 2
    assert d.step(feats(), bar=True, bars=11, t=0.0) is None
    a = d.step(feats(), bar=True, bars=12, t=0.0)
    assert a is not None and a.reason == "follow" and a.scene == "drop" and a.quantize == "beat"


def test_goto_and_hold_timeout() -> None:
    d = Director(CueList([Cue(1, "a"), Cue(5, "b")]), [Rule(on="drop", go="a")], hold_s=10.0, min_bars=0)
    a = d.command(Command("cue_goto", arg="5", t=100.0))
    assert a is not None and a.scene == "b"
    assert d.step(feats("drop"), bar=False, bars=1, t=105.0) is None  # still held
    d.step(feats("none"), bar=False, bars=1, t=109.0)
    a = d.step(feats("drop"), bar=False, bars=2, t=111.0)
    assert a is not None and a.scene == "a"
    with pytest.raises(UnknownCueError):
        d.command(Command("cue_goto", arg="9"))


def test_automation_off_switch() -> None:
    d = Director(CueList(), [Rule(on="drop", go="a")], min_bars=0)
    d.command(Command("auto", value=0.0))
    assert d.step(feats("drop"), bar=False, bars=1, t=0.0) is None
    d.command(Command("auto", value=1.0))
    d.step(feats("none"), bar=False, bars=1, t=0.0)
    assert d.step(feats("drop"), bar=False, bars=2, t=0.0) is not None
