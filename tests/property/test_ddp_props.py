"""Hypothesis properties of lumen's DDP encoder and of E1.31 universe discovery, checked with
decoders written from the specifications (3waylabs.com/ddp; ANSI E1.31-2018 table 4-3)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lumen.output.encode.ddp import DdpEncoder
from lumen.output.encode.sacn import SacnEncoder


def decode_ddp(pkt: bytes) -> dict[str, Any]:
    """Parse one DDP data packet; raise ValueError on what the spec does not allow."""
    if len(pkt) < 10:
        raise ValueError("shorter than the header")
    flags, seq, dtype, dest, offset, length = struct.unpack_from(">BBBBIH", pkt, 0)
    if flags & 0xC0 != 0x40:
        raise ValueError("not version 1")
    if flags & 0x1E:
        raise ValueError("timecode/storage/reply/query set on a write")
    if seq & 0xF0:
        raise ValueError("reserved sequence bits set")
    if len(pkt) != 10 + length or length > 1440:
        raise ValueError("bad length")
    return {"push": bool(flags & 1), "seq": seq, "type": dtype, "id": dest, "offset": offset, "data": pkt[10:]}


def reassemble(packets: list[bytes], n_bytes: int) -> tuple[bytes, list[dict[str, Any]]]:
    """What a display's frame buffer holds after these packets, plus the decoded headers."""
    buf = bytearray(n_bytes)
    heads = [decode_ddp(p) for p in packets]
    for h in heads:
        buf[h["offset"] : h["offset"] + len(h["data"])] = h["data"]
    return bytes(buf), heads


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n_pixels=st.integers(1, 2000))
def test_frame_round_trips_through_a_display_buffer(data: st.DataObject, n_pixels: int) -> None:
    rgb = data.draw(hnp.arrays(np.uint8, (n_pixels, 3), elements=st.integers(0, 255)))
    packets = [bytes(p) for p in DdpEncoder(n_pixels).encode(rgb)]
    frame, heads = reassemble(packets, 3 * n_pixels)
    assert frame == rgb.tobytes()
    assert [h["push"] for h in heads] == [False] * (len(heads) - 1) + [True]  # push on the last only
    assert all(h["type"] == 0x0B and h["id"] == 1 for h in heads)
    assert all(len(h["data"]) % 3 == 0 for h in heads)  # never a split pixel
    offsets = [h["offset"] for h in heads]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert len(heads) == -(-3 * n_pixels // 1440)


@settings(max_examples=50, deadline=None)
@given(n_pixels=st.integers(1, 1500), n_frames=st.integers(1, 12))
def test_sequence_is_1_to_15_and_increments_per_packet(n_pixels: int, n_frames: int) -> None:
    enc = DdpEncoder(n_pixels)
    seqs: list[int] = []
    for _ in range(n_frames):
        seqs += [decode_ddp(bytes(p))["seq"] for p in enc.encode(np.zeros((n_pixels, 3), np.uint8))]
    assert seqs == [i % 15 + 1 for i in range(len(seqs))]


def decode_discovery(pkt: bytes) -> dict[str, Any]:
    """Parse an E1.31 universe discovery packet; raise ValueError on a malformed one."""
    if pkt[:16] != b"\x00\x10\x00\x00ASC-E1.17\x00\x00\x00":
        raise ValueError("bad preamble")
    for flags_at, vector_at, vector, fmt in ((16, 18, 8, ">I"), (38, 40, 2, ">I"), (112, 114, 1, ">I")):
        (fl,) = struct.unpack_from(">H", pkt, flags_at)
        if fl >> 12 != 7 or flags_at + (fl & 0xFFF) != len(pkt):
            raise ValueError("bad PDU length")
        if struct.unpack_from(fmt, pkt, vector_at)[0] != vector:
            raise ValueError("bad vector")
    n = (len(pkt) - 120) // 2
    if len(pkt) != 120 + 2 * n or not 0 <= n <= 512:
        raise ValueError("bad universe list")
    universes = list(struct.unpack_from(f">{n}H", pkt, 120))
    if universes != sorted(universes):
        raise ValueError("universes not sorted")
    return {"page": pkt[118], "last": pkt[119], "universes": universes, "cid": pkt[22:38]}


@settings(max_examples=50, deadline=None)
@given(n_universes=st.integers(1, 2000), start=st.integers(1, 60000))
def test_discovery_pages_list_every_universe_once(n_universes: int, start: int) -> None:
    enc = SacnEncoder(n_universes, start_universe=start, cid=bytes(16))
    got = [decode_discovery(p) for p in enc.discovery_packets()]
    assert [g["page"] for g in got] == list(range(len(got)))
    assert all(g["last"] == len(got) - 1 for g in got)
    assert [u for g in got for u in g["universes"]] == list(range(start, start + n_universes))
