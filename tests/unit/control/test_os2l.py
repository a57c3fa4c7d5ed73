"""The OS2L stream parser: concatenated JSON objects split anyhow, with garbage in between."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lumen.control.os2l import Os2lStreamParser

BEAT = {"evt": "beat", "change": False, "pos": 17, "bpm": 128.0, "strength": 0.75}
BTN = {"evt": "btn", "name": "strobe", "page": "lumen", "state": "on"}
CMD = {"evt": "cmd", "id": 3, "param": 50.0}
TRICKY = {"evt": "btn", "name": 'a "{quoted}" \\ name } {', "page": "Ünïcode ✓", "state": "off"}
NESTED = {"evt": "x", "data": {"a": [1, {"b": 2}], "c": {}}}
MESSAGES = [BEAT, BTN, CMD, TRICKY, NESTED]


def encode(*objs: object, sep: str = "") -> bytes:
    return sep.join(json.dumps(o, ensure_ascii=False) for o in objs).encode()


def feed_all(p: Os2lStreamParser, chunks: list[bytes]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for c in chunks:
        out.extend(p.feed(c))
    return out


def test_one_object_per_read() -> None:
    p = Os2lStreamParser()
    for m in MESSAGES:
        assert p.feed(encode(m)) == [m]
    assert p.n_bad == 0 and p.n_buffered == 0


def test_several_objects_in_one_read_with_and_without_whitespace() -> None:
    p = Os2lStreamParser()
    assert p.feed(encode(*MESSAGES)) == MESSAGES
    assert p.feed(encode(*MESSAGES, sep="\r\n ")) == MESSAGES
    assert p.n_bad == 0


def test_byte_by_byte() -> None:
    data = encode(*MESSAGES)
    p = Os2lStreamParser()
    assert feed_all(p, [data[i : i + 1] for i in range(len(data))]) == MESSAGES
    assert p.n_bad == 0 and p.n_buffered == 0


def test_random_splits(rng: np.random.Generator) -> None:
    data = encode(*(MESSAGES * 20), sep=" ")
    for _ in range(50):
        cuts = np.sort(rng.choice(np.arange(1, len(data)), size=int(rng.integers(1, 40)), replace=False))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
        p = Os2lStreamParser()
        assert feed_all(p, chunks) == MESSAGES * 20
        assert p.n_bad == 0


def test_an_unfinished_object_waits_and_is_buffered() -> None:
    p = Os2lStreamParser()
    head = b'{"evt":"btn","name":"a\\'
    assert p.feed(head) == []
    assert p.n_buffered == len(head)
    assert p.feed(b'"b","state":"on"}') == [{"evt": "btn", "name": 'a"b', "state": "on"}]
    assert p.n_buffered == 0


@pytest.mark.parametrize(
    ("garbage", "n_bad"),
    [
        (b"garbage", 1),
        (b"}}}", 1),
        (b"[1, 2, 3]", 1),
        (b'"a string"', 1),
        (b"\xff\xfe\x00", 1),
        (b"   \r\n\t", 0),
    ],
)
def test_garbage_between_objects_is_skipped_and_counted(garbage: bytes, n_bad: int) -> None:
    p = Os2lStreamParser()
    assert p.feed(encode(BEAT) + garbage + encode(BTN)) == [BEAT, BTN]
    assert p.n_bad == n_bad


def test_garbage_split_across_reads_counts_once() -> None:
    p = Os2lStreamParser()
    assert feed_all(p, [b"gar", b"bage", b" more", encode(BTN)]) == [BTN]
    assert p.n_bad == 1


def test_a_truncated_object_does_not_swallow_the_next() -> None:
    p = Os2lStreamParser()
    out = p.feed(b'{"evt":"beat","bpm":12' + encode(BTN) + b'{"evt":"btn"' + encode(CMD))
    assert out == [BTN, CMD]
    assert p.n_bad == 2


@pytest.mark.parametrize(
    "bad",
    [
        b'{"evt": tru}',
        b'{"evt":"beat",}',
        b"{'evt': 'beat'}",
        b'{"evt":"beat" "bpm":1}',
        b'{"evt":"\xff\xfe"}',
        b"{}}",  # the extra brace is garbage; {} itself is a (useless) object
    ],
)
def test_balanced_but_malformed_objects_are_skipped(bad: bytes) -> None:
    p = Os2lStreamParser()
    out = p.feed(bad + encode(BEAT))
    assert out[-1] == BEAT
    assert all(o == {} for o in out[:-1])
    assert p.n_bad >= 1


def test_a_malformed_object_with_a_good_one_nested_resyncs_inside_it() -> None:
    p = Os2lStreamParser()
    out = p.feed(b'{"x": bad, "y": ' + encode(BTN) + b"}" + encode(CMD))
    assert out == [BTN, CMD]
    assert p.n_bad == 2  # the broken outer object, then its closing brace


def test_a_never_ending_object_keeps_growing_for_the_caller_to_limit() -> None:
    p = Os2lStreamParser()
    p.feed(b'{"evt":"beat","pad":"')
    for _ in range(100):
        assert p.feed(b"x" * 1000) == []
    assert p.n_buffered > 100_000


def test_a_complete_object_taken_for_a_nested_value_is_recovered() -> None:
    # A sender cut off after "bpm": the next message looks like the missing value.
    p = Os2lStreamParser()
    out = p.feed(b'{"evt":"beat","bpm":' + encode(BEAT) + b"\n" + encode(BTN))
    assert out == [BEAT, BTN]
    assert p.n_bad == 1


def test_deep_or_hostile_nesting_is_cut_and_parsed_in_linear_time() -> None:
    from lumen.control.os2l import MAX_DEPTH

    p = Os2lStreamParser()
    deep = {"evt": "x"}
    for _ in range(MAX_DEPTH - 1):
        deep = {"evt": "x", "in": deep}
    assert p.feed(encode(deep)) == [deep]  # MAX_DEPTH levels are fine
    hostile = b'{"a":' * 12_000 + b"1" + b"x}" * 12_000  # ~100 KB, malformed at every level
    import time

    t0 = time.perf_counter()
    out = p.feed(hostile + encode(BEAT))
    took = time.perf_counter() - t0
    assert out[-1] == BEAT
    assert took < 2.0, f"{took:.2f} s"
