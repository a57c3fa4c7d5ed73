"""The "structure" analyzer: sections, novelty and build/drop/break events on songs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.analysis.analyzer import Analyzer
from lumen.analysis.base import AnalysisSpec
from lumen.analysis.offline import analyze_signal
from lumen.analysis.structure import StructureAnalyzer
from lumen.audio.music import MusicGenerator, MusicParams, Section
from lumen.features import IDX, N_FIELDS, SECTIONS, from_vector

SR = 22050
CHAIN = ("levels", "onset", "beat", "structure")
BPM = 126.0
BAR_S = 4 * 60.0 / BPM
BEAT_S = 60.0 / BPM
ARRANGEMENT = (
    Section("intro", 4),
    Section("build", 4),
    Section("drop", 4),
    Section("break", 4),
    Section("build", 4),
    Section("drop", 4),
)


@pytest.fixture(scope="module")
def song() -> tuple[MusicGenerator, np.ndarray, np.ndarray]:
    """A short generated song through the full causal chain: (generator, times, features)."""
    gen = MusicGenerator(MusicParams(bpm=BPM, seed=11, arrangement=ARRANGEMENT, loop=False), sr=SR)
    x = gen.render_seconds(gen.song_duration_s + 0.5)
    res = analyze_signal(x, SR, CHAIN)
    return gen, res.times, res.features


def _events(times: np.ndarray, feats: np.ndarray, name: str) -> np.ndarray:
    return times[feats[:, IDX[name]] >= 0.5]


def _label_at(times: np.ndarray, feats: np.ndarray, t: float) -> str:
    k = int(np.searchsorted(times, t))
    return SECTIONS[int(feats[k, IDX["section"]])]


def test_drops_fire_on_the_beat_they_land_on(song: tuple[MusicGenerator, np.ndarray, np.ndarray]) -> None:
    gen, times, feats = song
    truth = [t for t, lab in gen.sections(1e9) if lab == "drop"]
    drops = _events(times, feats, "drop")
    assert drops.size == len(truth), (drops, truth)
    for d, t in zip(drops, truth):
        # live: the drop fires in the landing beat, a few hops after its first sample
        assert -0.02 <= d - t < min(0.12, BEAT_S / 2), (d, t)


def test_build_is_flagged_bars_before_each_drop(song: tuple[MusicGenerator, np.ndarray, np.ndarray]) -> None:
    gen, times, feats = song
    builds = _events(times, feats, "build_start")
    for t in (t for t, lab in gen.sections(1e9) if lab == "drop"):
        before = builds[(builds < t - BAR_S) & (builds > t - 4 * BAR_S)]
        assert before.size >= 1, (t, builds)
        assert _label_at(times, feats, t - 0.5 * BAR_S) == "build"


def test_sections_follow_the_arrangement(song: tuple[MusicGenerator, np.ndarray, np.ndarray]) -> None:
    gen, times, feats = song
    secs = gen.sections(1e9)
    changes = _events(times, feats, "section_change")
    # every true boundary (after the intro starts) has a section change within a bar after it
    for t, _lab in secs[1:]:
        assert np.any((changes >= t - 0.25 * BAR_S) & (changes <= t + BAR_S)), (t, changes)
    # the middles of the sections carry the right label (the first, intro, needs 2 bars to lock)
    bounds = [s for s, _ in secs] + [gen.song_duration_s]
    for (s0, lab), s1 in zip(secs, bounds[1:]):
        if lab in ("drop", "break"):
            assert _label_at(times, feats, 0.5 * (s0 + s1)) == lab
    # before the first build: none while the tracker locks (no kick in an intro), then intro
    assert _label_at(times, feats, 3.5 * BAR_S) in ("none", "intro")
    assert {SECTIONS[int(c)] for c in feats[times < 4 * BAR_S, IDX["section"]]} <= {"none", "intro"}
    breaks = _events(times, feats, "break_start")
    t_break = next(t for t, lab in secs if lab == "break")
    assert np.any(np.abs(breaks - t_break) <= BAR_S)


def test_outputs_are_in_range(song: tuple[MusicGenerator, np.ndarray, np.ndarray]) -> None:
    _gen, _times, feats = song
    assert np.all(np.isfinite(feats))
    nov = feats[:, IDX["novelty"]]
    assert nov.min() >= 0.0 and nov.max() <= 1.0 and nov.max() > 0.5
    codes = feats[:, IDX["section"]]
    assert set(np.unique(codes)) <= set(range(len(SECTIONS)))
    # events are one-hop pulses and each change of label raises section_change
    ch = feats[:, IDX["section_change"]] >= 0.5
    np.testing.assert_array_equal(ch[1:], np.diff(codes) != 0)
    assert from_vector(feats[-1]).section == SECTIONS[int(codes[-1])]


def _bad_inputs(rng: np.random.Generator, seconds: float) -> dict[str, np.ndarray]:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = np.zeros(n)
    pos = 0
    while pos < n:  # speech-like: 80-300 ms bursts with random gaps
        on = min(int(rng.uniform(0.08, 0.3) * SR), n - pos)
        env[pos : pos + on] = np.hanning(2 * on)[:on]
        pos += on + int(rng.uniform(0.05, 0.6) * SR)
    voiced = np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 0.7 * t)) * t) + 0.3 * rng.standard_normal(n)
    return {
        "silence": np.zeros(n),
        "noise": 0.3 * rng.standard_normal(n),
        "bursts": 0.4 * env * voiced,
        "tone": 0.3 * np.sin(2 * np.pi * 220.0 * t),
    }


def test_bad_input_gives_no_drops_no_sections_no_nan(rng: np.random.Generator) -> None:
    for name, x in _bad_inputs(rng, 15.0).items():
        feats = analyze_signal(x.astype(np.float32), SR, CHAIN).features
        assert np.all(np.isfinite(feats)), name
        assert not np.any(feats[:, IDX["drop"]] >= 0.5), name
        assert not np.any(feats[:, IDX["build_start"]] >= 0.5), name
        assert np.all(feats[:, IDX["section"]] == 0), name


def test_silence_after_music_returns_to_none() -> None:
    gen = MusicGenerator(MusicParams(bpm=BPM, seed=12, arrangement=(Section("verse", 6),), loop=False), sr=SR)
    x = np.concatenate([gen.render_seconds(gen.song_duration_s), np.zeros((4 * SR, 2), np.float32)])
    res = analyze_signal(x, SR, CHAIN)
    sec = res.column("section")
    assert SECTIONS[int(sec[int(0.9 * gen.song_duration_s / res.hop_s)])] == "verse"
    assert sec[-1] == 0
    assert not np.any(res.column("drop") >= 0.5)


def test_deterministic_and_reset_restores() -> None:
    gen = MusicGenerator(MusicParams(bpm=BPM, seed=13, arrangement=(Section("break", 2), Section("drop", 2))), sr=SR)
    x = gen.render_seconds(12.0)
    an = Analyzer(AnalysisSpec.for_rate(SR), CHAIN)
    h = an.spec.hop_length

    def run() -> np.ndarray:
        return np.stack([an.process(x[i * h : (i + 1) * h], (i + 1) * h / SR).copy() for i in range(x.shape[0] // h)])

    first = run()
    an.reset()
    np.testing.assert_array_equal(first, run())
    np.testing.assert_array_equal(first, analyze_signal(x, SR, CHAIN, tempo_min_bpm=70.0, tempo_max_bpm=180.0).features)


def test_runs_alone_without_a_beat_tracker(rng: np.random.Generator) -> None:
    """Chained alone (no beat, no onset fields), it keeps its own clock and stays finite."""
    spec = AnalysisSpec.for_rate(48000)
    an = Analyzer(spec, ["structure"])
    st = an.chain[0]
    assert isinstance(st, StructureAnalyzer)
    noise = rng.uniform(-0.3, 0.3, (300 * spec.hop_length, 2)).astype(np.float32)
    out = np.zeros((300, N_FIELDS))
    for i in range(300):
        out[i] = an.process(noise[i * spec.hop_length : (i + 1) * spec.hop_length], i * 0.01)
    assert np.all(np.isfinite(out))
    assert st.n_beats >= 4  # its own clock, about 2 beats per second
    assert np.all(out[:, IDX["section"]] == 0) and not np.any(out[:, IDX["drop"]])
