"""Hypothesis properties of lumen's E1.31 encoder, checked with a decoder written from the spec.

The decoder below is independent of the encoder: it parses every field of ANSI E1.31-2018
table 4-1 and rejects anything the standard does not allow.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lumen.output.encode.sacn import SacnEncoder


def decode_e131_data(pkt: bytes) -> dict[str, Any]:
    """Parse an E1.31 data packet; raise ValueError on any field the standard forbids."""
    if len(pkt) < 126:
        raise ValueError("shorter than the fixed headers")
    pre, post = struct.unpack_from(">HH", pkt, 0)
    if (pre, post) != (0x0010, 0x0000):
        raise ValueError("bad preamble/postamble")
    if pkt[4:16] != b"ASC-E1.17\x00\x00\x00":
        raise ValueError("bad ACN packet identifier")
    root_fl, root_vec = struct.unpack_from(">HI", pkt, 16)
    if root_fl >> 12 != 7 or 16 + (root_fl & 0xFFF) != len(pkt) or root_vec != 4:
        raise ValueError("bad root layer")
    cid = pkt[22:38]
    fr_fl, fr_vec = struct.unpack_from(">HI", pkt, 38)
    if fr_fl >> 12 != 7 or 38 + (fr_fl & 0xFFF) != len(pkt) or fr_vec != 2:
        raise ValueError("bad framing layer")
    name_field = pkt[44:108]
    if 0 not in name_field:
        raise ValueError("source name not NUL-terminated")
    name = name_field[: name_field.index(0)].decode("utf-8")
    priority, sync, seq, options, universe = struct.unpack_from(">BHBBH", pkt, 108)
    if priority > 200 or not 1 <= universe <= 63999:
        raise ValueError("priority or universe out of range")
    dmp_fl, dmp_vec, addr_type, first, incr, count = struct.unpack_from(">HBBHHH", pkt, 115)
    if dmp_fl >> 12 != 7 or 115 + (dmp_fl & 0xFFF) != len(pkt):
        raise ValueError("bad DMP length")
    if (dmp_vec, addr_type, first, incr) != (0x02, 0xA1, 0, 1):
        raise ValueError("bad DMP header")
    if not 1 <= count <= 513 or 125 + count != len(pkt):
        raise ValueError("bad property value count")
    return {
        "cid": cid,
        "source_name": name,
        "priority": priority,
        "sync_address": sync,
        "sequence": seq,
        "preview": bool(options & 0x80),
        "terminated": bool(options & 0x40),
        "force_sync": bool(options & 0x20),
        "universe": universe,
        "start_code": pkt[125],
        "slots": pkt[126:],
    }


dmx_rows = hnp.arrays(np.uint8, (512,), elements=st.integers(0, 255))


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(1, 63999),
    priority=st.integers(0, 200),
    sync=st.one_of(st.just(0), st.integers(1, 63999)),
    name=st.text(max_size=80),
    cid=st.binary(min_size=16, max_size=16),
    dmx=dmx_rows,
)
def test_round_trip(start: int, priority: int, sync: int, name: str, cid: bytes, dmx: np.ndarray) -> None:
    enc = SacnEncoder(1, start_universe=start, priority=priority, source_name=name, cid=cid, sync_universe=sync)
    pkt = bytes(enc.encode(0, dmx))
    got = decode_e131_data(pkt)
    assert len(pkt) == 638
    assert got["universe"] == start
    assert got["priority"] == priority
    assert got["sync_address"] == sync
    assert got["cid"] == cid
    assert name.startswith(got["source_name"])
    assert len(got["source_name"].encode("utf-8")) <= 63
    assert got["start_code"] == 0
    assert not (got["preview"] or got["terminated"] or got["force_sync"])
    assert np.array_equal(np.frombuffer(got["slots"], np.uint8), dmx)


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    n_universes=st.integers(1, 8),
    start=st.integers(1, 63990),
)
def test_frames_round_trip_per_universe(data: st.DataObject, n_universes: int, start: int) -> None:
    enc = SacnEncoder(n_universes, start_universe=start, cid=bytes(16))
    frame = data.draw(hnp.arrays(np.uint8, (n_universes, 512), elements=st.integers(0, 255)))
    views = enc.encode_frame(frame)
    assert len(views) == n_universes
    for i, view in enumerate(views):
        got = decode_e131_data(bytes(view))
        assert len(view) == 638
        assert got["universe"] == start + i
        assert np.array_equal(np.frombuffer(got["slots"], np.uint8), frame[i])


@settings(max_examples=100, deadline=None)
@given(
    n_universes=st.integers(1, 6),
    ops=st.lists(
        st.tuples(st.sampled_from(["one", "frame", "terminate"]), st.integers(0, 5)), min_size=1, max_size=700
    ),
)
def test_sequences_increment_mod_256_per_universe_independently(
    n_universes: int, ops: list[tuple[str, int]]
) -> None:
    enc = SacnEncoder(n_universes, cid=bytes(16))
    expected = [0] * n_universes  # sequence the next packet of each universe must carry
    zeros = np.zeros((n_universes, 512), np.uint8)
    for kind, u in ops:
        u %= n_universes
        if kind == "frame":
            views = enc.encode_frame(zeros)
            for i, view in enumerate(views):
                got = decode_e131_data(bytes(view))
                assert got["sequence"] == expected[i]
                assert not got["terminated"]
                expected[i] = (expected[i] + 1) % 256
        else:
            view = enc.encode(u, zeros[u]) if kind == "one" else enc.terminate(u)
            got = decode_e131_data(bytes(view))
            assert len(view) == 638
            assert got["sequence"] == expected[u]
            assert got["terminated"] == (kind == "terminate")
            expected[u] = (expected[u] + 1) % 256
    assert [enc.sequence(i) for i in range(n_universes)] == [(e - 1) % 256 for e in expected]
