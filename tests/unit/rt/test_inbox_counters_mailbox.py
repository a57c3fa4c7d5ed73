"""Inbox, counters and mailbox basics (concurrency lives in tests/property)."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.rt.counters import Counters
from lumen.rt.inbox import Inbox
from lumen.rt.mailbox import Mailbox


def test_inbox_keeps_order_and_counts_drops() -> None:
    box: Inbox[int] = Inbox(maxlen=3)
    for i in range(5):
        box.post(i)
    assert box.drain() == [2, 3, 4]
    assert (box.posted, box.dropped) == (5, 2)
    assert box.drain() == []


def test_inbox_drain_limit() -> None:
    box: Inbox[int] = Inbox()
    for i in range(10):
        box.post(i)
    assert box.drain(limit=4) == [0, 1, 2, 3]
    assert len(box) == 6


def test_shared_counters_are_seen_by_a_second_attachment() -> None:
    a = Counters(["x", "y"], create=True)
    try:
        b = Counters(["x", "y"], shm_name=a.shm_name)
        a.bump(a.slot("y"), 5)
        assert b["y"] == 5 and b.snapshot() == {"x": 0, "y": 5}
        b.close()
    finally:
        a.close()
        a.unlink()


def test_local_counters_have_no_shm_name() -> None:
    with pytest.raises(ValueError):
        _ = Counters(["a"]).shm_name


def test_mailbox_round_trip_and_sequence() -> None:
    box = Mailbox.create_shared(4)
    try:
        other = Mailbox(4, name=box.name)
        box.write(np.array([1.0, 2.0, 3.0, 4.0]))
        out = np.zeros(4)
        assert other.read(out)
        assert out.tolist() == [1.0, 2.0, 3.0, 4.0]
        assert box.sequence == 2 and other.publishes == 1
        other.close()
    finally:
        box.close()
        box.unlink()


def test_a_read_during_a_write_is_refused_not_torn() -> None:
    box = Mailbox(4)
    box.write(np.zeros(4))
    box.begin_write()
    box.write_slice(0, np.ones(2))
    out = np.full(4, -1.0)
    assert not box.try_read(out)
    assert not box.read(out, max_tries=3)
    box.write_slice(2, np.ones(2))
    box.end_write()
    assert box.read(out) and out.tolist() == [1.0] * 4
