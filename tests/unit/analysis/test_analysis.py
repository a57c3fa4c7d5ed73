"""The analysis chain: levels, onsets, tempo and beats, on signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.analysis.analyzer import DEFAULT_ANALYZERS, Analyzer, analyze_array
from lumen.analysis.base import AnalysisSpec, HopContext, analyzers
from lumen.audio.music import MusicGenerator, MusicParams
from lumen.errors import UnknownPluginError
from lumen.features import IDX, N_FIELDS, from_vector, new_vector

SR = 48000


def click_track(bpm: float, seconds: float, sr: int = SR, start_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Decaying low 'kicks' on every beat; returns (audio (n,), beat times).

    Each kick fades out to silence: a kick cut off mid-decay ends in a broadband click that a
    beat model may rightly hear as a second, off-beat attack.
    """
    n = int(sr * seconds)
    x = np.zeros(n, np.float32)
    beats = np.arange(start_s, seconds - 0.2, 60.0 / bpm)
    tt = np.arange(int(0.25 * sr)) / sr
    kick = (np.sin(2 * np.pi * (50 + 100 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 14)).astype(np.float32)
    kick *= (np.cos(0.5 * np.pi * tt / tt[-1]) ** 2).astype(np.float32)
    for b in beats:
        s = int(round(b * sr))
        e = min(n, s + kick.size)
        x[s:e] += 0.6 * kick[: e - s]
    return x, beats


def hit_rate(emitted: np.ndarray, truth: np.ndarray, tol_s: float = 0.07) -> float:
    if emitted.size == 0:
        return 0.0
    return float(np.mean([np.min(np.abs(truth - b)) < tol_s for b in emitted]))


@pytest.mark.parametrize("name", analyzers.names())
def test_every_analyzer_honours_the_contract(name: str, rng: np.random.Generator) -> None:
    """Silence gives finite output; the same input gives the same output; reset restores."""
    spec = AnalysisSpec.for_rate(SR)
    deps = [n for n in DEFAULT_ANALYZERS if n != name and DEFAULT_ANALYZERS.index(n) < DEFAULT_ANALYZERS.index(name)] if name in DEFAULT_ANALYZERS else []
    an = Analyzer(spec, [*deps, name])
    silence = np.zeros((spec.hop_length, 2), np.float32)
    noise = rng.uniform(-0.3, 0.3, (400 * spec.hop_length, 2)).astype(np.float32)

    def run() -> np.ndarray:
        out = np.zeros((400 + 50, N_FIELDS))
        for i in range(50):
            out[i] = an.process(silence, i * 0.01)
        for i in range(400):
            out[50 + i] = an.process(noise[i * spec.hop_length : (i + 1) * spec.hop_length], (50 + i) * 0.01)
        return out

    first = run()
    assert np.all(np.isfinite(first))
    assert first.shape == (450, N_FIELDS) and first.dtype == np.float64
    an.reset()
    second = run()
    np.testing.assert_array_equal(first, second)


def test_unknown_analyzer_names_a_close_match() -> None:
    with pytest.raises(UnknownPluginError, match="did you mean 'tempo'"):
        Analyzer(AnalysisSpec.for_rate(SR), ["levels", "tempoo"])


def test_silence_is_quiet_and_has_no_events() -> None:
    f = analyze_array(np.zeros((SR * 5, 2), np.float32), SR)
    assert np.all(np.isfinite(f))
    assert f[:, IDX["energy"]].max() == 0.0
    assert f[:, IDX["is_onset"]].sum() == 0
    assert f[:, IDX["beat"]].sum() == 0
    assert f[-1, IDX["confidence"]] == 0.0
    assert f[-1, IDX["rms_db"]] <= -100.0


def test_bands_follow_the_spectrum() -> None:
    t = np.arange(SR * 2) / SR
    low = (0.5 * np.sin(2 * np.pi * 80 * t)).astype(np.float32)
    high = (0.5 * np.sin(2 * np.pi * 9000 * t)).astype(np.float32)
    both = np.concatenate([low, high])
    f = analyze_array(both, SR)
    mid_low, end = len(f) // 2 - 5, len(f) - 5
    assert f[mid_low, IDX["bass"]] > 0.9 and f[mid_low, IDX["treble"]] < 0.1
    assert f[end, IDX["treble"]] > 0.9 and f[end, IDX["bass"]] < 0.2


def test_louder_is_more_energy_and_rms_is_calibrated() -> None:
    t = np.arange(SR) / SR
    sine = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    f = analyze_array(np.concatenate([0.5 * sine, 0.05 * sine]), SR)
    # A full-scale sine is -3 dBFS RMS; at 0.5 amplitude -9 dB.
    assert f[50, IDX["rms_db"]] == pytest.approx(-9.03, abs=0.1)
    assert f[50, IDX["energy"]] > f[-5, IDX["energy"]] + 0.3


def test_onsets_find_the_clicks() -> None:
    x, beats = click_track(120, 10)
    f = analyze_array(x, SR)
    onsets = f[:, IDX["t"]][f[:, IDX["is_onset"]] > 0.5]
    assert len(onsets) == pytest.approx(len(beats), abs=2)
    assert hit_rate(onsets, beats, 0.03) > 0.9


@pytest.mark.parametrize("bpm", [90.0, 124.0, 150.0])
def test_tempo_and_beats_on_a_click_track(bpm: float) -> None:
    x, beats = click_track(bpm, 30)
    f = analyze_array(x, SR)
    assert f[-1, IDX["bpm"]] == pytest.approx(bpm, rel=0.02)
    emitted = f[:, IDX["t"]][f[:, IDX["beat"]] > 0.5]
    late = emitted[emitted > 12]
    assert hit_rate(late, beats) > 0.9
    # The prediction is ahead of time: next_beat_t lies in the future and near a true beat.
    nb = f[2000::50, IDX["next_beat_t"]]
    t = f[2000::50, IDX["t"]]
    assert np.all(nb > t)
    assert np.median([np.min(np.abs(beats - b)) for b in nb]) < 0.03


def test_beats_on_generated_music_at_124_bpm() -> None:
    g = MusicGenerator(MusicParams(bpm=124.0, seed=1), sr=SR)
    x = g.render_seconds(45.0)
    f = analyze_array(x, SR)
    assert f[-1, IDX["bpm"]] == pytest.approx(124.0, rel=0.02)
    emitted = f[:, IDX["t"]][f[:, IDX["beat"]] > 0.5]
    assert hit_rate(emitted[emitted > 15], g.beat_times(45.0)) > 0.8


def test_the_grid_holds_through_silence() -> None:
    x, beats = click_track(120, 20)
    gap = np.concatenate([x, np.zeros(SR * 4, np.float32)])
    f = analyze_array(gap, SR)
    during = f[(f[:, IDX["t"]] > 20.5)]
    assert during[:, IDX["beat"]].sum() >= 6  # beats keep coming
    assert during[-1, IDX["bpm"]] == pytest.approx(120, rel=0.02)
    assert during[-1, IDX["confidence"]] < f[len(x) // 480 - 1, IDX["confidence"]]


def test_vectors_turn_into_features() -> None:
    x, _ = click_track(120, 12)
    f = analyze_array(x, SR)
    feats = from_vector(f[-1])
    assert 0.0 <= feats.beat_phase <= 1.0 and 0.0 <= feats.bar_phase <= 1.0
    assert feats.seq == len(f)
    assert new_vector().shape == (N_FIELDS,)
    assert isinstance(HopContext(AnalysisSpec.for_rate(SR)).mag, np.ndarray)
