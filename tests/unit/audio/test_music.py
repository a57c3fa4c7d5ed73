"""Tests for the generated test music (`lumen.audio.music`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile
from scipy import signal

from lumen.audio.music import (
    _PROGRESSIONS,
    INSTRUMENTS,
    SECTION_INTENSITY,
    MusicGenerator,
    MusicParams,
    Section,
    write_wav,
)

SR = 48000
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def _only(*keep: str) -> tuple[str, ...]:
    """A `MusicParams.mute` value that leaves only ``keep`` audible."""
    return tuple(i for i in INSTRUMENTS if i not in keep)


def _sample(t_s: float) -> int:
    return int(np.floor(t_s * SR + 0.5))


def _low_energy_cumsum(x: F32, cutoff_hz: float) -> F64:
    """Cumulative energy of the zero-phase low-passed mono mix (index i = energy before i)."""
    sos = signal.butter(2, cutoff_hz, btype="low", fs=SR, output="sos")
    y = signal.sosfiltfilt(sos, x.mean(axis=1).astype(np.float64))
    return np.concatenate([[0.0], np.cumsum(y * y)])


def _rise_onset(energy: F64, center: int, half_ms: float = 25.0) -> int:
    """Sample within ``center ± half_ms`` where the low band's energy rises the most.

    The rise at n is the mean energy of the 2 ms after n over the mean energy of the 10 ms
    before it; a kick's attack makes it jump by one to two orders of magnitude.
    """
    pre, post, half = int(0.010 * SR), int(0.002 * SR), int(half_ms / 1000 * SR)
    n = np.arange(center - half, center + half)
    rise = ((energy[n + post] - energy[n]) / post) / ((energy[n] - energy[n - pre]) / pre + 1e-15)
    return int(n[np.argmax(rise)])


def _section_spans(gen: MusicGenerator, until_s: float) -> list[tuple[float, float, str]]:
    starts = gen.sections(until_s)
    ends = [t for t, _ in starts[1:]] + [until_s]
    return [(t0, t1, label) for (t0, label), t1 in zip(starts, ends, strict=True)]


def _beats_in(gen: MusicGenerator, until_s: float, label: str) -> F64:
    beats = gen.beat_times(until_s)
    keep = np.zeros(beats.shape, bool)
    for t0, t1, lab in _section_spans(gen, until_s):
        if lab == label:
            keep |= (beats >= t0) & (beats < t1)
    return beats[keep]


# -- streaming and determinism -----------------------------------------------------------------


def test_streaming_in_odd_chunks_equals_render_seconds() -> None:
    rng = np.random.default_rng(11)
    params = MusicParams(seed=4, swing=0.12, tempo_changes=((3, 131.0),))
    gen = MusicGenerator(params)
    n_total = 25 * SR
    sizes = [1, 2, 3, 7, 100_000, 1, 4801]
    while sum(sizes) < n_total:
        sizes.append(int(rng.integers(1, 6000)))
    chunks = []
    for size in sizes:
        block = np.full((size, 2), np.nan, np.float32)
        gen.render(block)
        chunks.append(block)
    streamed = np.concatenate(chunks)[:n_total]
    one_shot = MusicGenerator(params).render_seconds(n_total / SR)
    assert one_shot.dtype == np.float32 and one_shot.shape == (n_total, 2)
    np.testing.assert_array_equal(streamed, one_shot)


def test_render_seconds_ignores_the_stream_position_and_reset_restarts() -> None:
    gen = MusicGenerator(MusicParams(seed=2))
    first = np.empty((3 * SR, 2), np.float32)
    gen.render(first)
    np.testing.assert_array_equal(gen.render_seconds(3.0), first)  # fresh, from the start
    gen.reset()
    again = np.empty((3 * SR, 2), np.float32)
    gen.render(again)
    np.testing.assert_array_equal(again, first)


def test_zero_frames_is_a_no_op() -> None:
    gen = MusicGenerator()
    gen.render(np.empty((0, 2), np.float32))
    block = np.empty((SR, 2), np.float32)
    gen.render(block)
    np.testing.assert_array_equal(block, gen.render_seconds(1.0))


def test_same_seed_same_samples_other_seed_other_song() -> None:
    a = MusicGenerator(MusicParams(seed=5)).render_seconds(20.0)
    b = MusicGenerator(MusicParams(seed=5)).render_seconds(20.0)
    c = MusicGenerator(MusicParams(seed=6)).render_seconds(20.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    corr = np.corrcoef(a[:, 0], c[:, 0])[0, 1]
    assert abs(corr) < 0.9  # a different song, not a copy with a small change


def test_seed_does_not_move_the_grid() -> None:
    a, b = MusicGenerator(MusicParams(seed=1)), MusicGenerator(MusicParams(seed=9))
    np.testing.assert_array_equal(a.beat_times(60.0), b.beat_times(60.0))


@pytest.mark.parametrize(
    ("gain_db", "n_channels"), [(-6.0, 2), (24.0, 2), (0.0, 1), (-6.0, 3)]
)
def test_output_is_finite_and_never_clips(gain_db: float, n_channels: int) -> None:
    gen = MusicGenerator(MusicParams(gain_db=gain_db, seed=3), n_channels=n_channels)
    x = gen.render_seconds(gen.song_duration_s)
    assert x.shape == (round(gen.song_duration_s * SR), n_channels)
    assert np.all(np.isfinite(x))
    assert float(np.max(np.abs(x))) <= 1.0
    assert float(np.sqrt(np.mean(x**2))) > 0.01  # and it is not silent
    if n_channels == 3:
        np.testing.assert_array_equal(x[:, 2], x[:, 0])


def test_default_gain_leaves_headroom() -> None:
    x = MusicGenerator().render_seconds(50.0)
    assert 0.3 < float(np.max(np.abs(x))) < 0.95


# -- grid ----------------------------------------------------------------------------------------


def test_beat_spacing_is_60_over_bpm() -> None:
    gen = MusicGenerator(MusicParams(bpm=128.0))
    beats = gen.beat_times(30.0)
    assert beats[0] == 0.0
    np.testing.assert_allclose(np.diff(beats), 60.0 / 128.0, rtol=0, atol=1e-9)
    assert beats[-1] < 30.0 <= beats[-1] + 60.0 / 128.0
    assert gen.tempo_at(0.0) == gen.tempo_at(29.9) == 128.0


def test_beats_follow_tempo_changes() -> None:
    params = MusicParams(bpm=120.0, tempo_changes=((2, 150.0), (5, 90.0)))
    gen = MusicGenerator(params)
    change_1 = 2 * 4 * 60.0 / 120.0  # bars 0-1 at 120 bpm
    change_2 = change_1 + 3 * 4 * 60.0 / 150.0  # bars 2-4 at 150 bpm
    beats = gen.beat_times(change_2 + 10.0)
    gaps = np.diff(beats)
    for t, gap in zip(beats[:-1], gaps, strict=True):
        expected = 60.0 / (120.0 if t < change_1 - 1e-9 else 150.0 if t < change_2 - 1e-9 else 90.0)
        assert gap == pytest.approx(expected, abs=1e-9)
    assert change_1 in beats.tolist() or np.min(np.abs(beats - change_1)) < 1e-9
    downbeats = gen.downbeat_times(change_2 + 10.0)
    assert np.min(np.abs(downbeats - change_2)) < 1e-9  # the change lands on a downbeat
    assert gen.tempo_at(change_1 - 0.01) == 120.0
    assert gen.tempo_at(change_1 + 0.01) == 150.0
    assert gen.tempo_at(change_2 + 0.01) == 90.0


def test_downbeats_are_the_first_beat_of_every_bar() -> None:
    gen = MusicGenerator(MusicParams(beats_per_bar=3, tempo_changes=((4, 100.0),)))
    beats, downbeats = gen.beat_times(40.0), gen.downbeat_times(40.0)
    np.testing.assert_array_equal(downbeats, beats[::3])


def test_sections_match_the_arrangement() -> None:
    arrangement = (
        Section("intro", 2), Section("verse", 3), Section("drop", 4), Section("outro", 1)
    )
    gen = MusicGenerator(MusicParams(bpm=125.0, arrangement=arrangement))
    bar_s = 4 * 60.0 / 125.0
    assert gen.song_duration_s == pytest.approx(10 * bar_s)
    got = gen.sections(gen.song_duration_s)
    assert [label for _, label in got] == ["intro", "verse", "drop", "outro"]
    np.testing.assert_allclose([t for t, _ in got], np.array([0, 2, 5, 9]) * bar_s, atol=1e-9)
    assert gen.section_at(2.5 * bar_s) == "verse"
    assert gen.section_at(9.5 * bar_s) == "outro"
    assert gen.sections(2 * bar_s) == got[:1]  # the window end is exclusive


def test_intensity_is_flat_per_section_and_a_build_rises_to_the_drop() -> None:
    arrangement = (Section("intro", 2), Section("build", 4), Section("drop", 2), Section("break", 2))
    gen = MusicGenerator(MusicParams(bpm=120.0, arrangement=arrangement, loop=False))
    bar_s = 2.0
    got = gen.intensity_at(np.array([0.5, 1.9, 2.0, 3.0, 4.0, 5.0, 5.9, 6.0, 8.5, 15.0]) * bar_s)
    want = [1.0, 1.0, 2.0, 2.25, 2.5, 2.75, 2.975, 3.0, 1.0, 1.0]
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert SECTION_INTENSITY["drop"] > SECTION_INTENSITY["build"] > SECTION_INTENSITY["verse"] > SECTION_INTENSITY["break"]
    looped = MusicGenerator(MusicParams(bpm=120.0, arrangement=arrangement, loop=True))
    np.testing.assert_allclose(looped.intensity_at(np.array([20.5, 24.0]) * bar_s), [1.0, 2.5], atol=1e-9)


def _rotations(loop: tuple[int, ...]) -> set[tuple[int, ...]]:
    return {loop[k:] + loop[:k] for k in range(len(loop))}


def test_every_chord_loop_states_its_mode() -> None:
    # Each loop starts on the tonic, and no loop sounds the same chords, in the same cyclic
    # order, as a loop of the other mode (major degree d is minor degree d - 5 of its relative
    # minor), which would make the song's mode unknowable.
    assert all(loop[0] == 0 for mode in _PROGRESSIONS.values() for loop in mode)
    as_minor = {tuple((d + 2) % 7 for d in loop) for loop in _PROGRESSIONS["major"]}
    for minor_loop in _PROGRESSIONS["minor"]:
        assert not _rotations(minor_loop) & as_minor, minor_loop


def test_looping_continues_the_grid() -> None:
    arrangement = (Section("drop", 2), Section("break", 1))
    params = MusicParams(bpm=124.0, arrangement=arrangement, tempo_changes=((1, 140.0),))
    gen = MusicGenerator(params)
    period = gen.song_duration_s
    assert period == pytest.approx(4 * 60 / 124 + 8 * 60 / 140)
    beats = gen.beat_times(3 * period)
    assert beats.shape == (36,)  # 12 beats per pass, no beat lost or doubled at the seams
    gaps = np.diff(beats)
    expected = np.tile([60 / 124] * 4 + [60 / 140] * 8, 3)[:-1]  # each pass restarts at 124
    np.testing.assert_allclose(gaps, expected, atol=1e-9)
    assert gen.tempo_at(period + 0.1) == 124.0
    assert [label for _, label in gen.sections(2 * period)] == ["drop", "break"] * 2
    # The kicks keep landing on the beats after the loop point.
    kick_times = gen.onset_times("kick", 3 * period)
    drop_beats = _beats_in(gen, 3 * period, "drop")
    np.testing.assert_array_equal(
        np.round(kick_times * SR), [_sample(t) for t in drop_beats]
    )


def test_without_loop_the_song_ends() -> None:
    arrangement = (Section("drop", 2),)
    gen = MusicGenerator(MusicParams(arrangement=arrangement, loop=False))
    end = gen.song_duration_s
    assert gen.beat_times(end + 10.0).shape == (8,)
    assert len(gen.sections(end + 10.0)) == 1
    x = gen.render_seconds(end + 4.0)
    assert np.max(np.abs(x[: _sample(end)])) > 0.1
    np.testing.assert_array_equal(x[_sample(end + 3.0) :], 0.0)  # tails rang out, then silence


# -- what the audio contains -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        MusicParams(seed=0),
        MusicParams(seed=7, swing=0.15, tempo_changes=((12, 132.0),)),
        MusicParams(seed=13, bpm=100.0, swing=0.3),
    ],
    ids=["default", "swing-tempo-change", "slow-swung"],
)
def test_kick_onsets_in_the_mix_align_with_beats_in_drops(params: MusicParams) -> None:
    gen = MusicGenerator(params)
    until = gen.song_duration_s
    energy = _low_energy_cumsum(gen.render_seconds(until), cutoff_hz=500.0)
    beats = _beats_in(gen, until, "drop")
    assert beats.shape == (64,)  # two 8-bar drops
    errors_ms = [(_rise_onset(energy, _sample(t)) - t * SR) / SR * 1000 for t in beats]
    assert max(abs(e) for e in errors_ms) < 1.0, errors_ms


def test_kick_stem_starts_exactly_on_the_beat_sample() -> None:
    params = MusicParams(seed=3, mute=_only("kick"))
    gen = MusicGenerator(params)
    until = gen.song_duration_s
    x = np.abs(gen.render_seconds(until)[:, 0])
    for t in _beats_in(gen, until, "drop"):
        n = _sample(t)
        assert np.all(x[n - 48 : n] == 0.0)  # the previous kick has ended...
        assert np.flatnonzero(x[n : n + 48])[0] <= 1  # ...and this one starts on the beat


def test_kick_onsets_are_the_drop_beats() -> None:
    gen = MusicGenerator()
    until = gen.song_duration_s
    kicks = gen.onset_times("kick", until)
    drop_beats = _beats_in(gen, until, "drop")
    assert set(np.round(drop_beats * SR).astype(int)) <= set(np.round(kicks * SR).astype(int))


def test_swing_moves_off_beat_hats_but_not_beats() -> None:
    straight = MusicParams(seed=1, swing=0.0, mute=_only("hat"))
    swung = MusicParams(seed=1, swing=0.3, mute=_only("hat"))
    g0, g1 = MusicGenerator(straight), MusicGenerator(swung)
    until = g0.song_duration_s
    np.testing.assert_array_equal(g0.beat_times(until), g1.beat_times(until))
    # The kick is untouched, sample for sample.
    kick0 = MusicGenerator(MusicParams(seed=1, swing=0.0, mute=_only("kick"))).render_seconds(30)
    kick1 = MusicGenerator(MusicParams(seed=1, swing=0.3, mute=_only("kick"))).render_seconds(30)
    np.testing.assert_array_equal(kick0, kick1)

    sixteenth_s = 60.0 / 124.0 / 4
    t0, t1 = g0.onset_times("hat", until), g1.onset_times("hat", until)
    assert t0.shape == t1.shape
    step = np.round(t0 / sixteenth_s).astype(int)
    np.testing.assert_allclose(t0, step * sixteenth_s, atol=1 / SR)  # straight hats on the grid
    odd = step % 2 == 1
    assert odd.sum() > 50 and (~odd).sum() > 50
    np.testing.assert_allclose(t1[~odd], t0[~odd], atol=0)
    np.testing.assert_allclose(t1[odd], t0[odd] + 0.3 * sixteenth_s, atol=1 / SR)

    # The audio agrees: the hat's high-band energy rises at the swung times.
    x1 = g1.render_seconds(until)
    sos = signal.butter(4, 5000.0, btype="high", fs=SR, output="sos")
    hp = signal.sosfiltfilt(sos, x1.mean(axis=1).astype(np.float64))
    energy = np.concatenate([[0.0], np.cumsum(hp * hp)])
    drop_start = g1.sections(until)[2][0]
    picks = [t for t in t1[odd] if drop_start < t < drop_start + 8.0]
    for t in picks:
        grid = t - 0.3 * sixteenth_s
        # Search from before the straight position to after the swung one.
        found = _rise_onset(energy, _sample(grid + 0.15 * sixteenth_s), half_ms=30.0)
        assert abs(found - t * SR) < 0.001 * SR


def test_break_is_quieter_than_the_drop_and_has_no_kick() -> None:
    gen = MusicGenerator(MusicParams(seed=2))
    until = gen.song_duration_s
    x = gen.render_seconds(until)
    rms: dict[str, list[float]] = {"drop": [], "break": []}
    for t0, t1, label in _section_spans(gen, until):
        if label in rms:
            seg = x[_sample(t0) : _sample(t1)]
            rms[label].append(float(np.sqrt(np.mean(seg**2))))
    assert max(rms["break"]) < 0.5 * min(rms["drop"])  # at least 6 dB quieter

    kicks = np.round(gen.onset_times("kick", until) * SR)
    for t0, t1, label in _section_spans(gen, until):
        if label == "break":
            assert not np.any((kicks >= _sample(t0)) & (kicks < _sample(t1)))
    # A kick is a thump: low-band energy jumps at the beat. Compare 50 ms after each beat with
    # the 50 ms before it (the break's held bass and pads are steady across the beat).
    energy = _low_energy_cumsum(x, cutoff_hz=150.0)
    win = int(0.05 * SR)

    def rise(label: str) -> F64:
        n = np.array([_sample(t) for t in _beats_in(gen, until, label)])
        ratio: F64 = (energy[n + win] - energy[n]) / (energy[n] - energy[n - win])
        return ratio

    assert np.median(rise("drop")) > 10.0
    assert np.max(rise("break")) < 1.5


def test_listen_check_sections_have_the_right_spectra() -> None:
    gen = MusicGenerator(MusicParams(seed=0))
    until = gen.song_duration_s
    x = gen.render_seconds(until).mean(axis=1)

    def band_db(label: str, lo_hz: float, hi_hz: float) -> float:
        t0, t1, _ = next(s for s in _section_spans(gen, until) if s[2] == label)
        seg = x[_sample(t0) : _sample(t1)].astype(np.float64)
        power = np.abs(np.fft.rfft(seg)) ** 2
        f_hz = np.fft.rfftfreq(seg.shape[0], 1 / SR)
        return float(10 * np.log10(power[(f_hz >= lo_hz) & (f_hz < hi_hz)].sum() / power.sum()))

    assert band_db("drop", 20, 250) > -3.0  # kick and bass carry the drop
    assert band_db("drop", 6000, 20000) > -30.0  # hats are there
    assert band_db("intro", 6000, 20000) > -20.0  # the intro is hats and pads
    assert band_db("break", 6000, 20000) < -35.0  # no drums in the break


# -- parameters and files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bpm": 5.0}, "bpm"),
        ({"swing": 0.6}, "swing"),
        ({"key": 12}, "key"),
        ({"mode": "dorian"}, "mode"),
        ({"arrangement": ()}, "arrangement"),
        ({"tempo_changes": ((40, 130.0),)}, "outside"),
        ({"tempo_changes": ((2, 130.0), (2, 128.0))}, "two tempo changes"),
        ({"mute": ("kik",)}, "did you mean 'kick'"),
    ],
)
def test_bad_params_are_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MusicParams(**kwargs)  # type: ignore[arg-type]


def test_bad_section_label_suggests_the_right_one() -> None:
    with pytest.raises(ValueError, match="did you mean 'drop'"):
        Section("drpo", 4)
    with pytest.raises(ValueError, match="bars"):
        Section("drop", 0)


def test_render_rejects_a_wrong_buffer() -> None:
    gen = MusicGenerator()
    with pytest.raises(ValueError, match="float32"):
        gen.render(np.empty((10, 2), np.float64))
    with pytest.raises(ValueError, match="shape"):
        gen.render(np.empty((10, 1), np.float32))


def test_onset_times_rejects_continuous_instruments() -> None:
    with pytest.raises(ValueError, match="pad"):
        MusicGenerator().onset_times("pad", 10.0)


def test_write_wav_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    params = MusicParams(seed=8)
    write_wav(path, 2.5, params, sr=SR)
    data, sr = soundfile.read(path, dtype="float32")
    assert sr == SR and data.shape == (int(2.5 * SR), 2)
    expected = MusicGenerator(params).render_seconds(2.5)
    np.testing.assert_allclose(data, expected, atol=1.5 / 32768)

    float_path = tmp_path / "song_float.wav"
    write_wav(float_path, 1.0, params, sr=SR, subtype="FLOAT")
    data32, _ = soundfile.read(float_path, dtype="float32")
    np.testing.assert_array_equal(data32, expected[:SR])
