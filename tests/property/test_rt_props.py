"""Property tests: the ring and the seqlock mailbox under interleavings and real concurrency."""

from __future__ import annotations

import multiprocessing as mp
import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lumen.rt.mailbox import Mailbox
from lumen.rt.ring import AudioRing


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(st.one_of(st.just(("w", 0)), st.tuples(st.just("r"), st.integers(1, 100))), min_size=1, max_size=120),
)
def test_ring_delivers_a_gapless_prefix_or_counts_the_gap(ops: list[tuple[str, int]]) -> None:
    """Whatever the interleaving: data read is exactly the data written, in order, minus
    counted losses; the reader never sees frames that were not yet written."""
    bs = 16
    ring = AudioRing(1, bs, 1000, n_blocks=4)
    written = 0
    expect_next = 0
    for op, n in ops:
        if op == "w":
            ring.write(np.arange(written, written + bs, dtype=np.float32)[:, None], float(written))
            written += bs
        else:
            out = np.zeros((n, 1), np.float32)
            before_lost = ring.lost
            got = ring.read(out)
            expect_next += ring.lost - before_lost  # an overrun skip counts even if the read then waits
            if got:
                assert out[:, 0].tolist() == list(range(expect_next, expect_next + n))
                expect_next += n
            assert ring.read_count <= written
    assert ring.read_count + ring.available() == written


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.integers(1, 8), min_size=1, max_size=6),
    reader_at=st.lists(st.integers(0, 20), max_size=10),
    value=st.floats(1, 1e6, allow_nan=False),
)
def test_mailbox_reader_never_returns_a_torn_value(chunks: list[int], reader_at: list[int], value: float) -> None:
    """A writer stores a new constant vector slice by slice; readers try at arbitrary steps.
    Any read that succeeds returns the old vector or the new one entirely, never a mix."""
    n = sum(chunks)
    box = Mailbox(n)
    box.write(np.zeros(n))
    steps = ["begin"] + [("slice", i) for i in range(len(chunks))] + ["end"]
    out = np.zeros(n)
    starts = np.cumsum([0] + chunks[:-1])
    for k, step in enumerate(steps):
        for r in reader_at:
            if r == k and box.try_read(out):
                assert np.all(out == out[0]) and out[0] in (0.0, value)
        if step == "begin":
            box.begin_write()
        elif step == "end":
            box.end_write()
        else:
            i = step[1]
            box.write_slice(int(starts[i]), np.full(chunks[i], value))
    assert box.read(out) and np.all(out == value)


def test_mailbox_threads_hammering_never_tear() -> None:
    box = Mailbox(64)
    stop = threading.Event()
    torn = []
    reads = [0]

    def reader() -> None:
        out = np.zeros(64)
        while not stop.is_set():
            if box.read(out):
                reads[0] += 1
                if not np.all(out == out[0]):
                    torn.append(out.copy())

    th = threading.Thread(target=reader)
    th.start()
    v = np.zeros(64)
    for i in range(20000):
        v.fill(float(i))
        box.write(v)
    stop.set()
    th.join()
    assert torn == [] and reads[0] > 0


def _writer(name: str, n_writes: int) -> None:
    box = Mailbox(256, name=name)
    v = np.zeros(256)
    for i in range(1, n_writes + 1):
        v.fill(float(i))
        box.write(v)
    box.close()


def test_mailbox_across_processes_never_tears_and_detects_in_progress_writes() -> None:
    box = Mailbox.create_shared(256)
    try:
        ctx = mp.get_context("spawn")
        p = ctx.Process(target=_writer, args=(box.name, 200000))
        p.start()
        out = np.zeros(256)
        ok = refused = 0
        last = 0.0
        while p.is_alive() or ok == 0:
            if box.try_read(out):
                ok += 1
                assert np.all(out == out[0]), "torn read returned"
                assert out[0] >= last  # values only move forward
                last = out[0]
            else:
                refused += 1
            if ok + refused > 5_000_000:
                break
        p.join(timeout=30)
        assert p.exitcode == 0
        assert box.read(out) and out[0] == 200000.0
        assert ok > 0
    finally:
        box.close()
        box.unlink()
