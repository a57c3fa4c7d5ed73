"""The scene: bindings become uniforms; beat phase is predicted to the light's arrival."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumen.features import SECTIONS, Features, from_vector, to_vector
from lumen.scene.graph import Scene, predict_phases


def test_bindings_and_music_uniforms() -> None:
    scene = Scene("pulse.fs", {"brightness": "0.2 + 0.8 * energy", "hue": "bar_phase", "k": 0.5})
    f = Features(t=1.0, energy=0.5, bar_phase=0.25, bpm=0.0)
    st_ = scene.evaluate(f, t_now=1.0, t_target=1.0, time_s=3.0, frame=7)
    u = st_.uniforms
    assert u["brightness"] == pytest.approx(0.6)
    assert u["hue"] == pytest.approx(0.25)
    assert u["k"] == 0.5
    assert u["TIME"] == 3.0 and u["FRAMEINDEX"] == 7.0
    assert u["energy"] == 0.5 and "bass" in u


def test_phase_is_extrapolated_to_the_target_time() -> None:
    f = Features(t=10.0, bpm=120.0, beat_phase=0.5, bar_phase=0.375, next_beat_t=10.25)
    bp, barp, beat, down = predict_phases(f, 10.125)
    assert bp == pytest.approx(0.75) and barp == pytest.approx(0.4375)
    assert not beat and not down
    bp, barp, beat, down = predict_phases(f, 10.30)
    assert bp == pytest.approx(0.1) and beat and not down
    assert barp == pytest.approx((2 + 0.1) / 4)


def test_unknown_tempo_leaves_features_alone() -> None:
    f = Features(t=1.0, beat_phase=0.3, bar_phase=0.1)
    assert predict_phases(f, 5.0) == (0.3, 0.1, False, False)


@given(
    t_ahead=st.floats(0.0, 3.0),
    bpm=st.floats(60.0, 200.0),
    phase=st.floats(0.0, 0.999),
    beat_in_bar=st.integers(0, 3),
)
def test_predicted_phases_stay_in_range(t_ahead: float, bpm: float, phase: float, beat_in_bar: int) -> None:
    period = 60.0 / bpm
    f = Features(t=100.0, bpm=bpm, beat_phase=phase, bar_phase=(beat_in_bar + phase) / 4, next_beat_t=100.0 + (1 - phase) * period)
    bp, barp, _, _ = predict_phases(f, 100.0 + t_ahead)
    assert 0.0 <= bp <= 1.0 and 0.0 <= barp < 1.0 + 1e-9


@given(
    bpm=st.floats(0, 240), energy=st.floats(0, 1), beat=st.booleans(), section=st.sampled_from(SECTIONS),
    bands=st.tuples(*[st.floats(0, 1)] * 4), seq=st.integers(0, 2**40),
)
def test_features_round_trip_through_the_vector(bpm: float, energy: float, beat: bool, section: str, bands: tuple[float, float, float, float], seq: int) -> None:
    f = Features(bpm=bpm, energy=energy, beat=beat, section=section, bands=bands, seq=seq)
    assert from_vector(to_vector(f)) == f
