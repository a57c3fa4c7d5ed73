"""MIDI mapping, MIDI clock tempo and learn snippets (pure: no ports, no JACK)."""

from __future__ import annotations

import math

import mido
import numpy as np
import pytest
import yaml

from lumen.control.commands import Command
from lumen.control.midi import (
    MIDI_COUNTERS,
    MidiBinding,
    MidiClock,
    MidiMapper,
    binding_from_message,
    binding_snippet,
    learn,
    resolve_api,
)
from lumen.errors import DeviceError


class TempoLog:
    """A TempoSink that records what it hears."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, float, float | None, float | None]] = []
        self.losses: list[str] = []

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        self.reports.append((source, bpm, beat_t, t))

    def lost(self, source: str) -> None:
        self.losses.append(source)


def note_on(note: int, velocity: int = 100, channel: int = 0) -> mido.Message:
    return mido.Message("note_on", note=note, velocity=velocity, channel=channel)


def note_off(note: int, channel: int = 0) -> mido.Message:
    return mido.Message("note_off", note=note, velocity=0, channel=channel)


def cc(control: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", control=control, value=value, channel=channel)


# --------------------------------------------------------------------------- bindings


def test_binding_rejects_bad_fields_with_a_hint() -> None:
    with pytest.raises(ValueError, match="did you mean 'master'"):
        MidiBinding("cc", 1, 7, "mastr")
    with pytest.raises(ValueError, match="channel 0"):
        MidiBinding("cc", 0, 7, "master")
    with pytest.raises(ValueError, match="128"):
        MidiBinding("note", None, 128, "cue_go")
    with pytest.raises(ValueError, match="needs an arg"):
        MidiBinding("note", None, 36, "scene")
    with pytest.raises(ValueError, match="kind"):
        MidiBinding("pitch", None, 1, "master")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        MidiBinding("note", None, 1, "blackout", mode="latch")  # type: ignore[arg-type]


def test_note_press_fires_a_scene_on_note_on_only() -> None:
    m = MidiMapper([MidiBinding("note", None, 36, "scene", arg="drop")])
    assert m.handle(note_on(36), 1.5) == [Command("scene", 1.0, "drop", 1.5, "midi")]
    assert m.handle(note_off(36), 1.6) == []
    assert m.handle(note_on(36, velocity=0), 1.7) == []  # velocity 0 is a note-off
    assert m.matches(note_off(36))  # bound, though it fires nothing
    assert m.handle(note_on(37), 1.8) == [] and not m.matches(note_on(37))


def test_note_hold_is_momentary() -> None:
    m = MidiMapper([MidiBinding("note", 10, 40, "strobe", mode="hold")])
    values = [
        [c.value for c in m.handle(msg, 0.0)]
        for msg in (note_on(40, channel=9), note_on(40, velocity=0, channel=9), note_on(40, channel=9), note_off(40, channel=9))
    ]
    assert values == [[1.0], [0.0], [1.0], [0.0]]


def test_note_toggle_flips_on_each_press() -> None:
    m = MidiMapper([MidiBinding("note", None, 41, "blackout", mode="toggle")])
    got = []
    for _ in range(3):
        got += [c.value for c in m.handle(note_on(41), 0.0)]
        got += [c.value for c in m.handle(note_off(41), 0.0)]
    assert got == [1.0, 0.0, 1.0]
    m.reset()
    assert [c.value for c in m.handle(note_on(41), 0.0)] == [1.0]


def test_cc_scales_to_low_high_and_param_carries_its_path() -> None:
    m = MidiMapper([
        MidiBinding("cc", 1, 7, "master"),
        MidiBinding("cc", 1, 20, "param", arg="drop/tunnel/speed", low=0.5, high=4.0),
        MidiBinding("cc", None, 21, "tempo", low=60.0, high=187.0),
    ])
    assert [c.value for c in m.handle(cc(7, 0), 0.0)] == [0.0]
    assert [c.value for c in m.handle(cc(7, 127), 0.0)] == [1.0]
    (c,) = m.handle(cc(20, 127), 2.0)
    assert (c.name, c.arg, c.value, c.t, c.source) == ("param", "drop/tunnel/speed", 4.0, 2.0, "midi")
    (c,) = m.handle(cc(20, 64), 2.0)
    assert c.value == pytest.approx(0.5 + 3.5 * 64 / 127)
    assert [c.value for c in m.handle(cc(21, 64, channel=5), 0.0)] == [124.0]


def test_channel_filtering() -> None:
    m = MidiMapper([
        MidiBinding("note", 1, 36, "cue_go"),
        MidiBinding("note", 2, 36, "cue_back"),
        MidiBinding("note", None, 36, "tap"),
    ])
    assert [c.name for c in m.handle(note_on(36, channel=0), 0.0)] == ["cue_go", "tap"]
    assert [c.name for c in m.handle(note_on(36, channel=1), 0.0)] == ["cue_back", "tap"]
    assert [c.name for c in m.handle(note_on(36, channel=15), 0.0)] == ["tap"]


def test_cc_buttons_fire_trigger_commands_once_per_press() -> None:
    m = MidiMapper([
        MidiBinding("cc", None, 64, "cue_go"),
        MidiBinding("cc", None, 65, "blackout", mode="toggle"),
        MidiBinding("cc", None, 66, "strobe", mode="hold"),
    ])
    fired = [len(m.handle(cc(64, v), 0.0)) for v in (127, 127, 0, 127)]
    assert fired == [1, 0, 0, 1]  # a repeated 127 while held does not fire again
    toggles = [c.value for v in (127, 0, 127, 0) for c in m.handle(cc(65, v), 0.0)]
    assert toggles == [1.0, 0.0]
    holds = [c.value for v in (127, 0) for c in m.handle(cc(66, v), 0.0)]
    assert holds == [1.0, 0.0]


def test_program_change_fires() -> None:
    m = MidiMapper([MidiBinding("program", 1, 3, "cue_goto", arg="3")])
    assert m.handle(mido.Message("program_change", program=3), 0.0) == [Command("cue_goto", 1.0, "3", 0.0, "midi")]
    assert m.handle(mido.Message("program_change", program=3, channel=1), 0.0) == []
    assert m.handle(mido.Message("pitchwheel", pitch=100), 0.0) == []


# --------------------------------------------------------------------------- clock


def play_clock(clock: MidiClock, bpm: float, beats: float, t0: float, rng: np.random.Generator | None, jitter_s: float = 0.001) -> float:
    """Feed ``beats`` beats of pulses at ``bpm`` starting at ``t0``; return the time after the last."""
    dt = 60.0 / (bpm * 24)
    n = int(round(beats * 24))
    times = t0 + dt * np.arange(n)
    if rng is not None:
        times = times + rng.uniform(-jitter_s, jitter_s, n)
    for t in np.sort(times):
        clock.tick(float(t))
    return float(t0 + dt * n)


@pytest.mark.parametrize("bpm", [90.0, 128.0, 174.0])
def test_clock_bpm_within_a_tenth_with_1ms_jitter(bpm: float, rng: np.random.Generator) -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    clock.start(0.0)
    play_clock(clock, bpm, 40, 0.01, rng)
    settled = [r[1] for r in sink.reports[8:]]  # after the window has filled
    assert len(settled) >= 30
    assert max(abs(b - bpm) for b in settled) < 0.1, (bpm, min(settled), max(settled))
    beat_s = 60.0 / bpm
    for _, _, beat_t, t in sink.reports:
        assert beat_t is not None and t is not None
        # beat_t is a whole number of beats after the first pulse, within the jitter
        k = (beat_t - 0.01) / beat_s
        assert abs(k - round(k)) * beat_s < 0.001


def test_clock_reports_at_most_once_per_beat() -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    clock.start(0.0)
    play_clock(clock, 120.0, 10.5, 0.0, None)
    times = [r[3] for r in sink.reports if r[3] is not None]
    assert len(times) == 10  # beats 1..10 (the first beat fills the window)
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(times, times[1:]))
    assert all(r[0] == "midi_clock" for r in sink.reports)


def test_clock_rejects_a_late_pulse() -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    clock.start(0.0)
    dt = 60.0 / (128 * 24)
    for i in range(24 * 12):
        late = 0.03 if i % 50 == 17 else 0.0  # a 30 ms scheduling hiccup now and then
        clock.tick(i * dt + late)
    assert clock.bpm == pytest.approx(128.0, abs=0.01)


def test_clock_follows_a_tempo_change_within_two_beats() -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    clock.start(0.0)
    t = play_clock(clock, 120.0, 16, 0.0, None)
    play_clock(clock, 126.0, 3, t, None)
    assert clock.bpm == pytest.approx(126.0, abs=0.05)


def test_clock_start_counts_beats_from_the_first_pulse() -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    dt = 60.0 / (120 * 24)
    # Clock already running (no start seen): tempo without phase.
    for i in range(30):
        clock.tick(i * dt)
    assert sink.reports and sink.reports[-1][2] is None
    # Start 5 pulses later: beat 0 is the first pulse after Start.
    clock.start(29.5 * dt)
    for i in range(30, 30 + 49):
        clock.tick(i * dt)
    assert sink.reports[-1][2] == pytest.approx((30 + 48) * dt)
    assert clock.song_position == 49


def test_clock_song_position_pointer_sets_the_phase() -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    dt = 60.0 / (120 * 24)
    clock.stop(0.0)
    clock.song_position_pointer(2, 0.0)  # two sixteenths = 12 pulses into the beat
    clock.resume(0.0)
    for i in range(40):
        clock.tick(1.0 + i * dt)
    # Pulse 0 is at position 12, so the next beat is pulse 12.
    assert clock.song_position == 52
    assert clock.beat_t == pytest.approx(1.0 + 36 * dt)
    assert sink.reports[-1][2] == pytest.approx(1.0 + 36 * dt)


def test_clock_stop_reports_lost_and_silences_until_start() -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    clock.start(0.0)
    t = play_clock(clock, 120.0, 4, 0.0, None)
    assert sink.reports and sink.losses == []
    clock.stop(t)
    assert sink.losses == ["midi_clock"]
    n = len(sink.reports)
    t = play_clock(clock, 120.0, 4, t, None)  # pulses go on while stopped (many mixers do this)
    assert len(sink.reports) == n and not clock.running
    clock.start(t)
    play_clock(clock, 120.0, 2, t, None)
    assert len(sink.reports) > n
    clock.stop(t + 2)
    clock.stop(t + 2.1)
    assert sink.losses == ["midi_clock", "midi_clock"]  # once per stop, not per message


def test_clock_lost_after_half_a_second_of_silence() -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    t = play_clock(clock, 128.0, 4, 0.0, None)
    clock.poll(t + 0.4)
    assert sink.losses == []
    clock.poll(t + 0.6)
    assert sink.losses == ["midi_clock"]
    clock.poll(t + 5.0)
    assert sink.losses == ["midi_clock"]
    # Pulses coming back start a fresh estimate (another tempo, no stale pulses in the fit).
    play_clock(clock, 100.0, 3, t + 10.0, None)
    assert sink.reports[-1][1] == pytest.approx(100.0, abs=1e-6)


def test_clock_lost_is_also_checked_on_each_pulse() -> None:
    sink = TempoLog()
    clock = MidiClock(sink)
    t = play_clock(clock, 128.0, 4, 0.0, None)
    clock.tick(t + 1.0)
    assert sink.losses == ["midi_clock"]


def test_clock_feed_dispatches_transport_messages() -> None:
    clock = MidiClock(None)
    assert clock.feed(mido.Message("songpos", pos=4), 0.0)
    assert clock.song_position == 24
    assert clock.feed(mido.Message("start"), 0.0) and clock.song_position == 0
    assert clock.feed(mido.Message("clock"), 0.01) and clock.running
    assert clock.feed(mido.Message("stop"), 0.02) and not clock.running
    assert clock.feed(mido.Message("continue"), 0.03)
    assert not clock.feed(note_on(1), 0.04)
    assert math.isnan(clock.bpm)


# --------------------------------------------------------------------------- learn


def test_snippet_format_parses_as_the_binding() -> None:
    b = MidiBinding("cc", 1, 7, "master")
    assert binding_snippet(b) == "- {kind: cc, channel: 1, number: 7, command: master}"
    b2 = MidiBinding("cc", 16, 21, "param", arg="drop/tunnel/speed: x", low=0.5, high=4.0, mode="hold")
    assert yaml.safe_load(binding_snippet(b2)) == [
        {"kind": "cc", "channel": 16, "number": 21, "command": "param", "arg": "drop/tunnel/speed: x",
         "low": 0.5, "high": 4.0, "mode": "hold"}
    ]
    for arg in ("3", "2.5", "yes", "null", 'a "b"'):
        (item,) = yaml.safe_load(binding_snippet(MidiBinding("note", None, 1, "cue_goto", arg=arg)))
        assert item["arg"] == arg and "channel" not in item


def test_learn_ignores_clock_sensing_and_note_offs() -> None:
    msgs = [
        mido.Message("clock"), mido.Message("active_sensing"), mido.Message("start"),
        note_off(36), note_on(36, velocity=0), mido.Message("sysex", data=[1, 2]),
        cc(7, 100, channel=2), note_on(40),
    ]
    assert learn(None, None, 1.0, messages=msgs) == "- {kind: cc, channel: 3, number: 7, command: master}"
    assert learn(None, None, 1.0, messages=msgs[-1:], command="scene", arg="drop") == (
        "- {kind: note, channel: 1, number: 40, command: scene, arg: drop}"
    )
    assert learn(None, None, 1.0, messages=[mido.Message("program_change", program=5)]) == (
        "- {kind: program, channel: 1, number: 5, command: cue_go}"
    )
    assert learn(None, None, 1.0, messages=msgs[:6]) is None
    with pytest.raises(ValueError, match="did you mean"):
        learn(None, None, 1.0, command="scen", messages=[])


def test_binding_from_message_rejects_clock() -> None:
    with pytest.raises(ValueError, match="clock"):
        binding_from_message(mido.Message("clock"))


def test_api_names() -> None:
    assert resolve_api("alsa") == "LINUX_ALSA"
    assert resolve_api("UNIX_JACK") == "UNIX_JACK"
    with pytest.raises(ValueError, match="unknown MIDI API"):
        resolve_api("pipewire")
    with pytest.raises(DeviceError, match="no MACOSX_CORE"):
        resolve_api("coremidi")
    assert "midi_port_lost" in MIDI_COUNTERS
