"""lumen's neural beat tracker on generated music with exact beats, and on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.analysis.analyzer import Analyzer
from lumen.analysis.base import AnalysisSpec
from lumen.analysis.beat.neural import NeuralBeatTracker
from lumen.analysis.offline import analyze_signal
from lumen.audio.music import MusicGenerator, MusicParams, Section
from lumen.features import IDX

pytest.importorskip("torch")

SR = 48000
SONG = (Section("verse", 8), Section("drop", 8), Section("verse", 8), Section("drop", 8))


def song(bpm: float, seconds: float, seed: int, **kw: object) -> tuple[np.ndarray, MusicGenerator]:
    gen = MusicGenerator(MusicParams(bpm=bpm, seed=seed, arrangement=SONG, loop=False, **kw), sr=SR)  # type: ignore[arg-type]
    return gen.render_seconds(seconds), gen


def matched(est: np.ndarray, ref: np.ndarray, tol: float = 0.07) -> np.ndarray:
    """Signed error of each estimated beat to its nearest reference beat (NaN beyond tol)."""
    d = np.array([b - ref[np.argmin(np.abs(ref - b))] for b in est])
    return np.where(np.abs(d) <= tol, d, np.nan)


@pytest.mark.parametrize(("bpm", "seed"), [(96.0, 11), (128.0, 12), (150.0, 13), (174.0, 14)])
def test_locks_to_generated_music(bpm: float, seed: int) -> None:
    x, gen = song(bpm, 24.0, seed)
    res = analyze_signal(x, SR)
    ref = gen.beat_times(24.0)
    est = np.array(res.beats)
    late = est[est > 6.0]
    err = matched(late, ref)
    assert np.mean(np.isfinite(err)) >= 0.9, f"only {np.mean(np.isfinite(err)):.2f} of beats on the grid"
    assert len(late) >= 0.9 * np.sum(ref > 6.0)
    assert np.nanmedian(np.abs(err)) <= 0.02
    bpm_est = np.median(res.column("bpm")[res.times > 6.0])
    assert abs(bpm_est / bpm - 1.0) < 0.02
    assert np.median(res.column("confidence")[res.times > 8.0]) > 0.4


def test_beats_from_the_current_state_alone_land_on_the_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(NeuralBeatTracker, "emit_predicted", False)
    x, gen = song(128.0, 20.0, 12)
    est = np.array(analyze_signal(x, SR).beats)
    ref = gen.beat_times(20.0)
    err = matched(est[est > 6.0], ref)
    assert len(err) >= 0.9 * np.sum(ref > 6.0)
    assert np.mean(np.isfinite(err)) >= 0.9 and np.nanmedian(np.abs(err)) <= 0.02


def test_follows_a_tempo_step() -> None:
    bpm, after = 120.0, 136.0
    x, gen = song(bpm, 36.0, 21, tempo_changes=((8, after),))
    res = analyze_signal(x, SR)
    t_step = 8 * 4 * 60.0 / bpm
    tail = res.times > t_step + 6.0
    assert abs(np.median(res.column("bpm")[tail]) / after - 1.0) < 0.02
    ref = gen.beat_times(36.0)
    est = np.array(res.beats)
    err = matched(est[est > t_step + 6.0], ref)
    assert np.mean(np.isfinite(err)) >= 0.85


def test_bars_are_counted_in_fours_on_the_beat_grid() -> None:
    """Downbeats come every 4 beats, on beat 1 or 3 of the real bar.

    The shipped model's downbeat activation is nearly as high on beat 3 as on beat 1 of this
    four-on-the-floor music (a half-bar ambiguity the benchmark's downbeat F shows), so the
    test holds the tracker to what it reliably does: count bars of the right length, in phase
    with the beat grid.
    """
    x, gen = song(124.0, 30.0, 31)
    res = analyze_signal(x, SR)
    downs = np.array(res.downbeats)
    late = downs[downs > 10.0]
    assert late.size >= 6
    beats = gen.beat_times(30.0)
    idx = np.array([int(np.argmin(np.abs(beats - d))) for d in late])
    assert np.all(np.abs(beats[idx] - late) < 0.07)
    assert np.mean(np.diff(idx) == 4) >= 0.8
    first = gen.downbeat_times(30.0)
    bar_pos = np.array([int(np.argmin(np.abs(beats - f))) for f in first])
    assert np.all(np.isin((idx[:, None] - bar_pos[None, :]) % 4, [0, 2]).any(axis=1))


def test_next_beat_is_predicted_ahead_of_time() -> None:
    x, gen = song(128.0, 20.0, 41)
    res = analyze_signal(x, SR)
    ref = gen.beat_times(20.0)
    nb = res.column("next_beat_t")
    k = res.times > 8.0
    ahead = nb[k] - res.times[k]
    assert np.all(ahead > 0.0) and np.all(ahead <= 60.0 / 128.0 + 0.02)
    err = matched(nb[k], ref)
    assert np.nanmedian(np.abs(err)) <= 0.02 and np.mean(np.isfinite(err)) > 0.9


def _run(x: np.ndarray, sr: int) -> np.ndarray:
    return analyze_signal(x, sr).features


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 96000])
@pytest.mark.parametrize("kind", ["silence", "noise", "dc", "clipped", "nan"])
def test_bad_input_gives_finite_low_confidence_output(kind: str, sr: int, rng: np.random.Generator) -> None:
    n = sr * 6
    if kind == "silence":
        x = np.zeros((n, 2), np.float32)
    elif kind == "noise":
        x = rng.uniform(-0.5, 0.5, (n, 1)).astype(np.float32)
    elif kind == "dc":
        x = np.full(n, 0.7, np.float32)
    elif kind == "clipped":
        x = np.clip(10.0 * rng.standard_normal(n), -1, 1).astype(np.float32)
    else:
        x = rng.uniform(-0.5, 0.5, n).astype(np.float32)
        x[::7] = np.nan
    f = _run(x, sr)
    assert np.all(np.isfinite(f))
    assert f[-1, IDX["confidence"]] < 0.35
    assert 0.0 <= f[:, IDX["beat_phase"]].min() and f[:, IDX["beat_phase"]].max() < 1.0


@pytest.mark.parametrize("n", [0, 1, 100, 479, 480, 4800])
def test_very_short_signals(n: int) -> None:
    res = analyze_signal(np.zeros(n, np.float32), SR)
    assert res.features.shape[0] == n // 480
    assert res.beats == [] or all(np.isfinite(res.beats))


def test_override_and_nudge_from_an_external_tempo() -> None:
    spec = AnalysisSpec.for_rate(SR)
    an = Analyzer(spec, ["beat"])
    tracker = an.chain[0]
    assert isinstance(tracker, NeuralBeatTracker)
    hop = np.zeros((spec.hop_length, 2), np.float32)
    tracker.hint(100.0, beat_t=0.0, mode="override")
    beats = []
    for k in range(1, 601):
        v = an.process(hop, k * 0.01)
        if v[IDX["beat"]] >= 0.5:
            beats.append(k * 0.01)
        assert v[IDX["bpm"]] == pytest.approx(100.0)
    np.testing.assert_allclose(np.diff(beats), 0.6, atol=0.011)
    tracker.clear_hint()
    tracker.hint(140.0, mode="nudge", weight=1.0)
    assert abs(60.0 * tracker.fps / tracker.hmm.interval() - 140.0) < 3.0
    with pytest.raises(ValueError, match="bpm"):
        tracker.hint(float("nan"))


def test_bars_follow_chord_changes_when_the_downbeat_activation_says_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # A kick on every beat, and a chord that changes on every bar line (4/4, 120 bpm). The
    # network's downbeat output is replaced by the same value on every hop, so only the
    # harmonic change can tell beat one from the others.
    bpm, seconds, start = 120.0, 32.0, 0.25  # kicks from `start`; a two-beat pickup, then bars
    beat_s = 60.0 / bpm
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros(n)
    for b in np.arange(start, seconds, beat_s):
        k = int(b * SR)
        m = min(n - k, int(0.12 * SR))
        tt = np.arange(m) / SR
        x[k : k + m] += 0.6 * np.sin(2 * np.pi * 55.0 * tt) * np.exp(-tt / 0.04)
    chords = ((261.6, 329.6, 392.0), (370.0, 466.2, 554.4), (311.1, 392.0, 466.2), (220.0, 277.2, 329.6))
    bar_s = 4 * beat_s
    first_bar = start + 2 * beat_s
    for j, b0 in enumerate(np.arange(first_bar - bar_s, seconds, bar_s)):
        k0, k1 = max(0, int(b0 * SR)), min(n, int((b0 + bar_s) * SR))
        for f in chords[j % len(chords)]:
            x[k0:k1] += 0.08 * np.sin(2 * np.pi * f * t[k0:k1])
    x = x.astype(np.float32)

    spec = AnalysisSpec.for_rate(SR)
    an = Analyzer(spec, ("levels", "onset", "beat"))
    tracker = next(a for a in an.chain if isinstance(a, NeuralBeatTracker))
    step = tracker.model.step

    def flat_downbeat(frame: np.ndarray) -> np.ndarray:
        act = step(frame)
        act[1] = 0.3
        return act

    monkeypatch.setattr(tracker.model, "step", flat_downbeat)
    h = spec.hop_length
    beats, downs = [], []
    for k in range(n // h):
        an.process(x[k * h : (k + 1) * h], (k + 1) * h / SR)
        if tracker.event is not None:
            beats.append(tracker.event.t)
            if tracker.event.downbeat:
                downs.append(tracker.event.t)
    ref_beats = np.arange(start, seconds, beat_s)
    ref_downs = np.arange(first_bar, seconds, bar_s)
    late = np.array([b for b in beats if b > 12.0])
    assert np.mean(np.isfinite(matched(late, ref_beats))) >= 0.9  # the beat grid itself is right
    late_downs = np.array([d for d in downs if d > 12.0])
    on_bar = np.isfinite(matched(late_downs, ref_downs))
    assert late_downs.size >= 0.8 * np.sum(ref_downs > 12.0)
    assert np.mean(on_bar) >= 0.9, (late_downs, ref_downs)


def test_the_tracker_runs_on_replayed_activations(rng: np.random.Generator) -> None:
    # Activations of a 100 bpm grid (a peak every 60 hops, from hop 30) over noise, with audio
    # that says something else (a 150 bpm song): the beats follow the replayed evidence.
    x, _gen = song(150.0, 16.0, 5)
    n = int(16.0 * 100)
    acts = np.zeros((n, 2), np.float32)
    acts[:, 0] = rng.uniform(0.0, 0.05, n)
    acts[30::60, 0] = 0.9
    acts[30::240, 1] = 0.9
    res = analyze_signal(x, SR, activations=acts)
    ref = (np.arange(30, n, 60) + 1) / 100.0  # hop k covers audio up to (k + 1) / 100 s
    est = np.array(res.beats)
    err = matched(est[est > 5.0], ref)
    assert np.mean(np.isfinite(err)) >= 0.9 and np.nanmedian(np.abs(err)) <= 0.02
    np.testing.assert_allclose(res.activations, acts[: res.activations.shape[0]])
    assert abs(np.median(res.column("bpm")[res.times > 8.0]) - 100.0) < 2.0
    with pytest.raises(ValueError, match="shape"):
        analyze_signal(x[:4800], SR, activations=np.zeros((10, 3)))
    with pytest.raises(ValueError, match="no beat tracker"):
        analyze_signal(x[:4800], SR, ("levels", "tempo"), activations=acts)
