"""Modulators and the music clock: beat-locked, deterministic, finite."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumen.scene.expr import FEATURE_NAMES, compile_expr
from lumen.scene.modulate import EnvelopeSpec, LfoSpec, Modulator, MusicClock, SmoothSpec


def _clock_at(beats: float) -> MusicClock:
    """A clock driven beat by beat up to ``beats`` (4 beats a bar)."""
    c = MusicClock()
    b = 0.0
    while b < beats:
        c.update(b % 1.0, (b % 4.0) / 4.0, 120.0)
        b = min(beats, b + 0.25)
    c.update(beats % 1.0, (beats % 4.0) / 4.0, 120.0)
    return c


def test_clock_counts_beats_bars_and_phrases() -> None:
    c = MusicClock()
    events: list[tuple[int, bool, bool, bool]] = []
    for k in range(0, 17 * 4 * 4 + 1):  # 17 bars in quarter-beat steps
        b = k / 4.0
        c.update(b % 1.0, (b % 4.0) / 4.0, 120.0)
        if c.beat or c.bar:
            events.append((k, c.beat, c.bar, c.phrase))
    beats = [k for k, beat, _, _ in events if beat]
    bars = [k for k, _, bar, _ in events if bar]
    phrases = [k for k, _, _, phrase in events if phrase]
    assert beats == list(range(4, 17 * 16 + 1, 4))
    assert bars == list(range(16, 17 * 16 + 1, 16))
    assert phrases == [64, 128, 192, 256]
    assert c.bars == 17 and c.beats == pytest.approx(68.0)


def test_clock_ignores_small_backward_corrections() -> None:
    c = MusicClock()
    c.update(0.5, 0.6, 120.0)
    c.update(0.45, 0.58, 120.0)  # the tracker nudged the phase back a little: no new bar
    assert not c.bar and c.bars == 0


def test_clock_survives_nan() -> None:
    c = MusicClock()
    c.update(0.1, 0.3, 120.0)
    c.update(math.nan, math.nan, math.nan)
    assert math.isfinite(c.beats) and c.bars == 0


@pytest.mark.parametrize(
    ("shape", "beats", "expected"),
    [
        ("sine", 0.0, 0.0), ("sine", 2.0, 1.0), ("sine", 1.0, 0.5),
        ("triangle", 1.0, 0.5), ("triangle", 2.0, 1.0),
        ("saw", 1.0, 0.25), ("saw", 3.0, 0.75),
        ("square", 1.0, 1.0), ("square", 3.0, 0.0),
    ],
)  # fmt: skip
def test_lfo_shapes_follow_the_clock(shape: str, beats: float, expected: float) -> None:
    m = Modulator(LfoSpec(shape=shape, period_beats=4.0))  # type: ignore[arg-type]
    assert m.value(_clock_at(beats), {}, 0.0) == pytest.approx(expected, abs=1e-9)


def test_lfo_range_and_phase() -> None:
    m = Modulator(LfoSpec(shape="saw", period_beats=1.0, phase=0.5, low=-2.0, high=2.0))
    assert m.value(_clock_at(0.0), {}, 0.0) == pytest.approx(0.0)


def test_random_lfo_holds_per_period_and_is_seeded() -> None:
    a = Modulator(LfoSpec(shape="random", period_beats=1.0, seed=3))
    b = Modulator(LfoSpec(shape="random", period_beats=1.0, seed=3))
    other = Modulator(LfoSpec(shape="random", period_beats=1.0, seed=4))
    v1 = a.value(_clock_at(2.1), {}, 0.0)
    assert v1 == a.value(_clock_at(2.9), {}, 0.0)  # same beat: same value
    assert v1 != a.value(_clock_at(3.1), {}, 0.0)
    assert v1 == b.value(_clock_at(2.5), {}, 0.0)
    assert v1 != other.value(_clock_at(2.5), {}, 0.0)
    assert 0.0 <= v1 < 1.0


def test_envelope_attack_and_release_after_each_beat() -> None:
    m = Modulator(EnvelopeSpec(trigger="beat", attack_s=0.1, release_s=0.2))
    c = MusicClock()
    c.update(0.9, 0.225, 120.0)
    assert m.value(c, {}, 0.0) == 0.0  # nothing fired yet
    c.update(0.0, 0.25, 120.0)  # a beat
    assert c.beat
    assert m.value(c, {}, 1.0) == pytest.approx(0.0)
    c.update(0.1, 0.275, 120.0)
    assert m.value(c, {}, 1.05) == pytest.approx(0.5)
    assert m.value(c, {}, 1.1) == pytest.approx(1.0)
    assert m.value(c, {}, 1.2) == pytest.approx(0.5)
    assert m.value(c, {}, 1.4) == pytest.approx(0.0)


@pytest.mark.parametrize(("trigger", "env_key", "value"), [("onset", "is_onset", 1.0), ("drop", "section", 4.0)])
def test_envelope_fires_on_rising_edges_of_onsets_and_drops(trigger: str, env_key: str, value: float) -> None:
    m = Modulator(EnvelopeSpec(trigger=trigger, attack_s=0.0, release_s=1.0))  # type: ignore[arg-type]
    c = MusicClock()
    assert m.value(c, {env_key: 0.0}, 0.0) == 0.0
    assert m.value(c, {env_key: value}, 1.0) == pytest.approx(1.0)
    assert m.value(c, {env_key: value}, 1.5) == pytest.approx(0.5)  # still on: no refire
    assert m.value(c, {env_key: 0.0}, 1.75) == pytest.approx(0.25)
    assert m.value(c, {env_key: value}, 2.0) == pytest.approx(1.0)  # a new edge


def test_smooth_rises_and_falls_with_its_time_constants() -> None:
    m = Modulator(SmoothSpec(compile_expr("bass", FEATURE_NAMES), rise_s=0.1, fall_s=1.0))
    c = MusicClock()
    assert m.value(c, {"bass": 0.0}, 0.0) == 0.0
    up = m.value(c, {"bass": 1.0}, 0.1)
    assert up == pytest.approx(1.0 - math.exp(-1.0))
    down = m.value(c, {"bass": 0.0}, 0.2)
    assert down == pytest.approx(up * math.exp(-0.1))
    m.reset()
    assert m.value(c, {"bass": 0.7}, 5.0) == pytest.approx(0.7)  # first value passes straight


@given(beats=st.floats(0.0, 1000.0), period=st.floats(0.01, 64.0), phase=st.floats(0.0, 1.0),
       shape=st.sampled_from(["sine", "triangle", "saw", "square", "random"]))
def test_lfo_stays_in_range(beats: float, period: float, phase: float, shape: str) -> None:
    c = MusicClock()
    c.beats = beats
    v = Modulator(LfoSpec(shape=shape, period_beats=period, phase=phase, low=-1.0, high=3.0)).value(c, {}, 0.0)  # type: ignore[arg-type]
    assert -1.0 - 1e-9 <= v <= 3.0 + 1e-9
