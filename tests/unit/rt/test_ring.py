"""The SPSC audio ring: order, timestamps, overruns."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.rt.ring import AudioRing


def test_blocks_come_out_in_order_across_the_wrap(rng: np.random.Generator) -> None:
    ring = AudioRing(2, 64, 48000, n_blocks=4)
    sent = rng.standard_normal((64 * 20, 2)).astype(np.float32)
    got = []
    out = np.zeros((48, 2), dtype=np.float32)
    for i in range(20):
        ring.write(sent[i * 64 : (i + 1) * 64], t_first=float(i))
        while ring.read(out):
            got.append(out.copy())
    flat = np.concatenate(got)
    np.testing.assert_array_equal(flat, sent[: flat.shape[0]])
    assert ring.lost == 0
    assert ring.available() == sent.shape[0] - flat.shape[0]


def test_read_waits_for_a_full_hop() -> None:
    ring = AudioRing(1, 32, 1000, n_blocks=4)
    out = np.zeros((40, 1), dtype=np.float32)
    ring.write(np.ones((32, 1), np.float32), 0.0)
    assert not ring.read(out)
    ring.write(np.ones((32, 1), np.float32), 0.032)
    assert ring.read(out)
    assert ring.available() == 24


def test_time_of_dates_frames_from_their_block() -> None:
    ring = AudioRing(1, 100, 1000.0, n_blocks=4)
    ring.write(np.zeros((100, 1), np.float32), 5.0)
    ring.write(np.zeros((100, 1), np.float32), 5.1)
    assert ring.time_of(0) == pytest.approx(5.0)
    assert ring.time_of(150) == pytest.approx(5.15)


def test_overrun_skips_to_fresh_data_and_counts_what_was_lost() -> None:
    ring = AudioRing(1, 10, 1000, n_blocks=4)
    for i in range(10):
        ring.write(np.full((10, 1), i, np.float32), float(i))
    out = np.zeros((10, 1), dtype=np.float32)
    assert ring.read(out)
    # 100 written, capacity 40 minus a one-block margin: frames 0..69 were skipped.
    assert ring.lost == 70
    assert out[0, 0] == 7.0


def test_odd_sized_writes_take_the_slow_path_correctly(rng: np.random.Generator) -> None:
    ring = AudioRing(1, 16, 1000, n_blocks=8)
    data = rng.standard_normal((100, 1)).astype(np.float32)
    pos = 0
    for n in (7, 16, 3, 30, 44):
        ring.write(data[pos : pos + n], float(pos))
        pos += n
    out = np.zeros((100, 1), np.float32)
    assert ring.read(out)
    np.testing.assert_array_equal(out, data)


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError):
        AudioRing(0, 16, 1000)
