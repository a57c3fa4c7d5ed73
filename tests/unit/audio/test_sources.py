"""File and signal sources deliver exactly their audio, in blocks, stamped and counted."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from lumen.audio.music import MusicGenerator, MusicParams
from lumen.audio.sources import AUDIO_COUNTERS, FileSource, SignalSource, read_audio_file
from lumen.errors import DeviceError
from lumen.rt.counters import Counters


def drain(source: FileSource | SignalSource, hop: int, timeout_s: float = 20.0) -> np.ndarray:
    ring = source.make_ring(seconds=0.5)
    counters = Counters(AUDIO_COUNTERS)
    out: list[np.ndarray] = []
    buf = np.zeros((hop, source.n_channels), np.float32)
    source.start(ring, counters)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ring.read(buf):
            out.append(buf.copy())
        elif source.finished and ring.available() < hop:
            break
        else:
            time.sleep(0.0005)
    source.stop()
    assert ring.lost == 0
    assert counters["frames"] == counters["callbacks"] * source.blocksize
    return np.concatenate(out)


def test_file_source_flat_out_is_bit_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.uniform(-0.9, 0.9, (48000 * 3, 2)).astype(np.float32)
    path = tmp_path / "x.wav"
    soundfile.write(path, data, 48000, subtype="FLOAT")
    src = FileSource(path, blocksize=256, realtime_pace=False)
    got = drain(src, 480)
    n = got.shape[0]
    assert n >= data.shape[0] - 480
    np.testing.assert_array_equal(got, data[:n])


def test_file_source_mixes_down_and_reads_flac(tmp_path: Path, rng: np.random.Generator) -> None:
    data = (rng.integers(-20000, 20000, (22050, 2)) / 32768.0).astype(np.float32)
    path = tmp_path / "x.flac"
    soundfile.write(path, data, 22050)
    src = FileSource(path, blocksize=128, n_channels=1, realtime_pace=False)
    assert src.sr == 22050 and src.n_channels == 1
    got = drain(src, 220)
    np.testing.assert_allclose(got[:, 0], data[: got.shape[0]].mean(axis=1), atol=1e-6)


def test_unreadable_files_are_device_errors(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="not found"):
        read_audio_file(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(DeviceError, match="cannot read"):
        read_audio_file(bad)


def test_signal_source_streams_the_generator() -> None:
    params = MusicParams(bpm=120.0, seed=5)
    src = SignalSource(params, seconds=2.0, realtime_pace=False)
    got = drain(src, 480)
    ref = MusicGenerator(params).render_seconds(2.0)
    np.testing.assert_array_equal(got, ref[: got.shape[0]])
    assert got.shape[0] >= ref.shape[0] - 480


def test_real_time_pace_stamps_blocks_on_a_steady_clock() -> None:
    src = SignalSource(MusicParams(), seconds=0.5, realtime_pace=True)
    ring = src.make_ring()
    counters = Counters(AUDIO_COUNTERS)
    t0 = time.perf_counter()
    src.start(ring, counters)
    while not src.finished and time.perf_counter() - t0 < 5:
        time.sleep(0.01)
    src.stop()
    # Stamps are exactly one block apart, whatever the thread's wake-up jitter. Exactly up to
    # float64 rounding of clock readings: on a machine up for half a day `perf_counter()` is
    # ~4e4 s, where adjacent doubles are 7e-12 s apart, so compare to the nanosecond.
    stamps = [ring.time_of(i * 256) for i in range(counters["callbacks"])]
    np.testing.assert_allclose(np.diff(stamps), 256 / 48000, rtol=0, atol=1e-9)
    assert stamps[0] >= t0 - 0.01
