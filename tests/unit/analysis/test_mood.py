"""The mood analyzer: strict weights, major vs minor, drop vs break, bad input, determinism."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from lumen.analysis.analyzer import Analyzer
from lumen.analysis.base import AnalysisSpec
from lumen.analysis.mood import (
    CONFIG_FILE,
    FEATURE_NAMES,
    MODEL_EVERY,
    N_FEATURES,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    MoodAnalyzer,
    MoodMLP,
    build_model,
    chroma_matrix,
    load_weights,
)
from lumen.audio.music import MusicGenerator, MusicParams, Section
from lumen.features import IDX

torch = pytest.importorskip("torch")

SR = 48000


def run(audio: np.ndarray, sr: int = SR) -> np.ndarray:
    """valence, arousal, mood_confidence per hop, shape (n_hops, 3)."""
    spec = AnalysisSpec.for_rate(sr)
    an = Analyzer(spec, ["mood"])
    h = spec.hop_length
    x = np.ascontiguousarray(audio, dtype=np.float32)
    n = x.shape[0] // h
    out = np.zeros((n, 3))
    cols = [IDX["valence"], IDX["arousal"], IDX["mood_confidence"]]
    for i in range(n):
        out[i] = an.process(x[i * h : (i + 1) * h], (i + 1) * h / sr)[cols]
    return out


def song(mode: str, seed: int, key: int, arrangement: tuple[Section, ...], seconds: float) -> np.ndarray:
    p = MusicParams(bpm=124.0, key=key, mode=mode, seed=seed, arrangement=arrangement, loop=False)
    return MusicGenerator(p, sr=SR).render_seconds(seconds)


def test_weights_load_strictly_and_match_their_config() -> None:
    model, meta = load_weights()
    assert meta["features"] == list(FEATURE_NAMES)
    assert meta["model"]["n_input"] == N_FEATURES
    assert (WEIGHTS_DIR / WEIGHTS_FILE).stat().st_size < 1_000_000
    state = torch.load(WEIGHTS_DIR / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    del state["fc1.bias"]
    with pytest.raises(RuntimeError, match="fc1.bias"):
        build_model().load_state_dict(state, strict=True)
    assert json.loads((WEIGHTS_DIR / CONFIG_FILE).read_text())["n_params"] == sum(p.numel() for p in model.parameters())


def test_numpy_mlp_matches_torch(rng: np.random.Generator) -> None:
    model, _ = load_weights()
    x = rng.standard_normal((20, N_FEATURES)).astype(np.float32)
    with torch.inference_mode():
        ref = torch.sigmoid(model(torch.from_numpy(x))).numpy()
    mlp = MoodMLP(model)
    got = np.stack([mlp(row) for row in x])
    np.testing.assert_allclose(got, ref, atol=1e-5)


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_chroma_weights_cover_every_pitch_class(sr: int) -> None:
    spec = AnalysisSpec.for_rate(sr)
    lo, hi, w = chroma_matrix(sr, spec.n_fft)
    assert w.shape == (12, hi - lo) and np.all(w >= 0)
    assert np.all(w.sum(axis=1) > 0)


VERSE = (Section("verse", 16),)


def test_major_and_minor_songs_separate() -> None:
    # A population, not hand-picked songs: six seeds (each its own chord loop and arrangement)
    # in six keys round the circle of fifths, each rendered major and minor. The model is a
    # listener, not a rule, so a song may land on the wrong side; most must not.
    right, gap = 0, []
    for seed in range(6):
        key = (7 * seed) % 12
        major = run(song("major", seed, key, VERSE, 20.0))
        minor = run(song("minor", seed, key, VERSE, 20.0))
        v_major = major[1000:, 0].mean()
        v_minor = minor[1000:, 0].mean()
        right += int(v_major > 0.5) + int(v_minor < 0.5)
        gap.append(v_major - v_minor)
        assert major[-1, 2] > 0.3 and minor[-1, 2] > 0.3
    assert right >= 10, (right, gap)
    assert float(np.mean(gap)) > 0.4, gap


def test_drop_is_more_aroused_than_break() -> None:
    arr = (Section("break", 8), Section("drop", 8), Section("break", 8))
    out = run(song("minor", 4, 9, arr, 46.0))
    bar_s = 4 * 60.0 / 124.0

    def hop(t: float) -> int:
        return int(t * 100)

    brk = out[hop(6.0) : hop(8 * bar_s), 1].mean()
    drop = out[hop(8 * bar_s + 6.0) : hop(16 * bar_s), 1].mean()
    brk2 = out[hop(16 * bar_s + 6.0) : hop(46.0), 1].mean()
    assert drop > brk + 0.15 and drop > brk2 + 0.15, (brk, drop, brk2)


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.1 * np.sin(2 * np.pi * 880.0 * t)


def _bursts(seconds: float, rng: np.random.Generator) -> np.ndarray:
    from scipy import signal

    n = int(SR * seconds)
    x = np.zeros(n)
    b, a = signal.butter(2, [300.0, 3000.0], btype="band", fs=SR)
    pos = 0
    while pos < n:
        d = int(rng.uniform(0.1, 0.25) * SR)
        seg = signal.lfilter(b, a, rng.standard_normal(d)) * np.hanning(d)
        x[pos : pos + d] += seg[: n - pos]
        pos += d + int(rng.uniform(0.05, 0.3) * SR)
    return np.asarray(0.3 * x / np.max(np.abs(x)), dtype=np.float64)


@pytest.mark.parametrize("kind", ["silence", "white", "bursts", "tone"])
def test_bad_input_is_neutral_with_low_confidence(kind: str, rng: np.random.Generator) -> None:
    seconds = 15.0
    n = int(SR * seconds)
    if kind == "silence":
        x = np.zeros(n)
    elif kind == "white":
        x = 0.2 * rng.standard_normal(n)
    elif kind == "bursts":
        x = _bursts(seconds, rng)
    else:
        x = _tone(seconds)
    out = run(x.astype(np.float32))
    assert np.all(np.isfinite(out))
    late = out[500:]
    assert np.all(np.abs(late[:, :2] - 0.5) < 0.12), late[:, :2].min(axis=0)
    assert late[:, 2].max() < 0.2


def test_music_then_silence_returns_to_neutral() -> None:
    x = np.concatenate([song("major", 3, 0, VERSE, 15.0), np.zeros((SR * 15, 2), np.float32)])
    out = run(x)
    assert out[1400, 2] > 0.3
    assert out[-1, 2] < 0.05 and abs(out[-1, 0] - 0.5) < 0.05 and abs(out[-1, 1] - 0.5) < 0.05


def test_deterministic_and_reset_restores() -> None:
    x = song("minor", 6, 4, VERSE, 8.0)
    spec = AnalysisSpec.for_rate(SR)
    h = spec.hop_length

    def once(an: Analyzer) -> np.ndarray:
        return np.stack([an.process(x[i * h : (i + 1) * h], i * 0.01).copy() for i in range(x.shape[0] // h)])

    an = Analyzer(spec, ["mood"])
    a = once(an)
    an.reset()
    np.testing.assert_array_equal(a, once(an))
    np.testing.assert_array_equal(a, once(Analyzer(spec, ["mood"])))
    assert np.ptp(a[:, IDX["valence"]]) > 0.0  # it did say something


def test_model_runs_every_few_hops_and_hops_allocate_little() -> None:
    """Per-hop cost sanity without timing: the MLP runs once per MODEL_EVERY hops after the
    two-second warm-up; a typical hop allocates next to nothing, and no hop more than a few
    long-window spectra (the chroma FFT's scratch, every CHROMA_EVERY hops)."""
    spec = AnalysisSpec.for_rate(SR)
    an = Analyzer(spec, ["mood"])
    mood = an.chain[0]
    assert isinstance(mood, MoodAnalyzer)
    calls: list[int] = []
    real = mood.model

    class Counting(MoodMLP):
        def __init__(self) -> None:
            pass

        def __call__(self, x: np.ndarray) -> np.ndarray:
            calls.append(1)
            return real(x)

    mood.model = Counting()
    x = song("major", 2, 0, VERSE, 6.0)
    h = spec.hop_length
    n = x.shape[0] // h
    peaks = []
    tracemalloc.start()
    mono = x.mean(axis=1).astype(np.float32)
    for i in range(n):
        an.frontend.push(an.ctx, mono[i * h : (i + 1) * h])  # the chain's FFT, not mood's
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        mood.process(an.ctx, an.vec)
        if i >= 300:
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
    tracemalloc.stop()
    warm = int(round(2.0 * spec.frame_rate_hz))
    expected = sum(1 for k in range(1, n + 1) if k % MODEL_EVERY == 0 and k > warm)
    assert abs(len(calls) - expected) <= 1, (len(calls), expected)
    assert np.median(peaks) < 4096, np.median(peaks)
    assert max(peaks) < 6 * mood.stats.n_long * 8, max(peaks)
