"""The control hub and the tempo arbiter's precedence."""

from __future__ import annotations

import pytest

from lumen.control.commands import Command
from lumen.control.hub import ControlHub, TempoArbiter


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Hints:
    def __init__(self) -> None:
        self.sent: list[tuple[str, float, float, float, str]] = []

    def __call__(self, mode: str, bpm: float, beat_t: float, weight: float, source: str) -> None:
        self.sent.append((mode, bpm, beat_t, weight, source))


class Inbox:
    def __init__(self) -> None:
        self.got: list[Command] = []

    def post(self, cmd: Command) -> None:
        self.got.append(cmd)


def make(**kw: float) -> tuple[TempoArbiter, Hints, Clock]:
    hints, clock = Hints(), Clock()
    return TempoArbiter(hints, clock=clock, **kw), hints, clock  # type: ignore[arg-type]


def test_external_source_overrides_then_times_out_to_audio() -> None:
    arb, hints, clock = make(timeout_s=2.0)
    arb.report("midi_clock", 128.0, beat_t=99.9)
    assert arb.current == "midi_clock"
    assert hints.sent[-1] == ("override", 128.0, 99.9, 1.0, "midi_clock")
    clock.t += 1.0
    arb.poll()
    assert arb.current == "midi_clock"
    clock.t += 1.5  # silent for 2.5 s
    assert arb.poll() == "audio"
    assert hints.sent[-1][0] == "clear" and hints.sent[-1][4] == "audio"


def test_precedence_link_over_midi_over_manual() -> None:
    arb, hints, clock = make()
    arb.manual(100.0)
    assert arb.current == "osc"
    arb.report("midi_clock", 120.0)
    assert arb.current == "midi_clock"
    arb.report("link", 126.0, beat_t=99.5)
    assert arb.current == "link" and hints.sent[-1][1] == 126.0
    arb.lost("link")
    assert arb.current == "midi_clock"
    arb.lost("midi_clock")
    assert arb.current == "osc" and hints.sent[-1][:2] == ("override", 100.0)
    arb.release()
    assert arb.current == "audio"
    assert arb.n_switches == 6


def test_custom_precedence_and_tap_nudges() -> None:
    hints, clock = Hints(), Clock()
    arb = TempoArbiter(hints, ("tap", "link", "audio"), clock=clock)
    arb.report("link", 130.0)
    for k in range(4):
        arb.tap(clock.t + 0.5 * k)
    assert arb.current == "tap"
    assert hints.sent[-1][0] == "nudge" and hints.sent[-1][1] == pytest.approx(120.0) and hints.sent[-1][4] == "tap"
    arb.report("midi_clock", 99.0)  # not in this precedence: never wins
    assert arb.current == "tap"


def test_external_hint_is_refreshed_and_out_of_range_reports_ignored() -> None:
    arb, hints, clock = make()
    arb.report("os2l", 500.0)
    assert arb.current == "audio"
    arb.report("os2l", 124.0, beat_t=100.0)
    n = len(hints.sent)
    clock.t += 0.1
    arb.report("os2l", 124.0, beat_t=100.0)
    assert len(hints.sent) == n  # unchanged and fresh: nothing to send
    clock.t += 0.5
    arb.report("os2l", 124.0, beat_t=100.5)
    assert len(hints.sent) == n + 1  # phase refreshed


def test_manual_hold_expires() -> None:
    arb, hints, clock = make(manual_hold_s=5.0)
    arb.manual(90.0)
    clock.t += 4.0
    assert arb.poll() == "osc"
    clock.t += 2.0
    assert arb.poll() == "audio"
    with pytest.raises(ValueError):
        arb.manual(1000.0)


def test_hub_routes_tempo_commands_to_the_arbiter_and_the_rest_to_the_inbox() -> None:
    arb, hints, clock = make()
    inbox = Inbox()
    hub = ControlHub(inbox, arb)
    hub.post(Command("scene", arg="drop", source="osc"))
    hub.post(Command("tempo", value=140.0, source="osc"))
    hub.post(Command("tempo", value=4000.0, source="osc"))
    hub.post(Command("master", value=0.5, source="midi"))
    hub.post(Command("tempo_release", source="osc"))
    assert [c.name for c in inbox.got] == ["scene", "master"]
    assert hub.n_rejected == 1 and hub.n_commands == {"osc": 4, "midi": 1}
    assert [h[0] for h in hints.sent] == ["override", "clear"]
    hub.report("midi_clock", 128.0)
    assert arb.current == "midi_clock"
    hub.lost("midi_clock")
    assert arb.current == "audio"
