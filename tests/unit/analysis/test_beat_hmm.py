"""The beat-pointer HMM, the bar tracker and tap tempo, on synthetic activations."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.analysis.beat.hmm import BarTracker, BeatHMM
from lumen.analysis.beat.neural import TapTempo

FPS = 100.0


def impulses(bpm: float, seconds: float, *, phase_s: float = 0.3, noise: float = 0.02, rng: np.random.Generator | None = None) -> np.ndarray:
    n = int(seconds * FPS)
    a = np.full(n, noise)
    for t in np.arange(phase_s, seconds, 60.0 / bpm):
        k = int(t * FPS)
        if k < n:
            a[k] = 0.9
            if k + 1 < n:
                a[k + 1] = 0.4
    if rng is not None:
        a = np.clip(a + rng.uniform(0, 0.05, n), 0, 1)
    return a


def run(hmm: BeatHMM, a: np.ndarray) -> tuple[list[int], list[float]]:
    beats, bpms = [], []
    prev = 0
    for k, v in enumerate(a):
        s = hmm.step(float(v))
        p = hmm.position(s)
        if p < prev:
            beats.append(k)
        prev = p
        bpms.append(60.0 * FPS / hmm.interval(s))
    return beats, bpms


@pytest.mark.parametrize("bpm", [72.0, 100.0, 128.0, 174.0])
def test_tempo_and_phase_lock_to_an_impulse_train(bpm: float, rng: np.random.Generator) -> None:
    hmm = BeatHMM(FPS)
    a = impulses(bpm, 20.0, rng=rng)
    beats, bpms = run(hmm, a)
    assert abs(np.median(bpms[-500:]) / bpm - 1.0) < 0.03
    truth = np.flatnonzero(a > 0.8)
    late = [b for b in beats if b > 600]
    assert late, "no beats in the last 14 s"
    err = [min(abs(truth - b)) for b in late]
    assert np.median(err) <= 1.0  # hops


def test_quiet_keeps_the_grid_running() -> None:
    hmm = BeatHMM(FPS)
    a = np.concatenate([impulses(120.0, 10.0, noise=0.01), np.zeros(800), impulses(120.0, 4.0, phase_s=0.3 + 0.0, noise=0.01)])
    beats, bpms = run(hmm, a)
    silent = [b for b in beats if 1000 <= b < 1800]
    assert len(silent) >= 14  # ~16 beats at 120 bpm in 8 s of silence
    assert np.allclose(bpms[1000:1800], 120.0, rtol=0.03)
    spacing = np.diff(silent)
    assert np.all(np.abs(spacing - 50) <= 1)


def test_relocks_after_a_tempo_step() -> None:
    hmm = BeatHMM(FPS)
    a = np.concatenate([impulses(120.0, 12.0), impulses(135.0, 12.0, phase_s=0.1)])
    _, bpms = run(hmm, a)
    assert abs(np.median(bpms[1200 + 400 :]) - 135.0) < 3.0


def test_a_loose_share_gives_the_tempo_transitions_a_heavy_tail() -> None:
    stiff, mixed = BeatHMM(FPS), BeatHMM(FPS, loose_share=0.2, loose_lambda=20.0)
    for hmm in (stiff, mixed):
        assert np.allclose(hmm.trans_t.sum(axis=0), 1.0)  # columns: from one tempo to all
    far = np.abs(stiff.intervals[:, None] / stiff.intervals[None, :] - 1.0) > 0.1
    assert np.all(mixed.trans_t[far] > 10.0 * stiff.trans_t[far])
    assert np.all(np.diag(mixed.trans_t) < np.diag(stiff.trans_t))
    # Steady music still locks, and a tempo step is followed.
    a = np.concatenate([impulses(120.0, 12.0), impulses(135.0, 12.0, phase_s=0.1)])
    _, bpms = run(mixed, a)
    assert abs(np.median(bpms[600:1200]) - 120.0) < 3.0
    assert abs(np.median(bpms[1200 + 400 :]) - 135.0) < 3.0


def test_nudge_moves_the_posterior_to_the_hinted_tempo() -> None:
    hmm = BeatHMM(FPS)
    hmm.nudge(60.0 * FPS / 140.0, None, 1.0)
    assert abs(60.0 * FPS / hmm.interval() - 140.0) < 3.0


def test_invalid_activations_do_not_poison_the_filter() -> None:
    hmm = BeatHMM(FPS)
    for v in (float("nan"), float("inf"), -1.0, 2.0, 0.5):
        hmm.step(v)
    assert np.all(np.isfinite(hmm.alpha)) and abs(hmm.alpha.sum() - 1.0) < 1e-9


@pytest.mark.parametrize("meter", [3, 4])
def test_bar_tracker_finds_the_meter_and_the_downbeat(meter: int) -> None:
    bar = BarTracker()
    for k in range(8 * meter):
        bar.advance()
        bar.observe(0.8 if k % meter == 0 else 0.1)
    assert bar.meter == meter
    assert bar.position == (8 * meter - 1) % meter


@pytest.mark.parametrize("meter", [3, 4])
def test_bar_tracker_counts_bars_from_harmony_when_the_downbeat_activation_says_nothing(meter: int) -> None:
    # The network's downbeat output is the same on every beat; chords change on the first.
    bar = BarTracker()
    for k in range(8 * meter):
        bar.advance()
        bar.observe(0.4, 0.7 if k % meter == 0 else 0.05)
    assert bar.meter == meter
    assert bar.position == (8 * meter - 1) % meter


def test_bar_tracker_ignores_missing_harmony() -> None:
    with_nan, without = BarTracker(), BarTracker()
    for k in range(16):
        for bar in (with_nan, without):
            bar.advance()
        with_nan.observe(0.8 if k % 4 == 0 else 0.1, float("nan"))
        without.observe(0.8 if k % 4 == 0 else 0.1)
    np.testing.assert_array_equal(with_nan.p, without.p)


def test_tap_tempo_uses_the_median_and_restarts_after_a_gap() -> None:
    tap = TapTempo()
    for t in (0.0, 0.5, 1.0, 1.8, 2.0, 2.5):  # one late tap
        tap.tap(t)
    assert tap.bpm == pytest.approx(120.0)
    tap.tap(10.0)
    assert tap.bpm == 0.0 and tap.last_tap_t == 10.0
