"""Byte-level tests of lumen's E1.31 encoder against ANSI E1.31-2018 (tables 4-1 and 4-3).

Offsets and values here are written from the standard, not imported from the encoder.
"""

from __future__ import annotations

import struct
import uuid

import numpy as np
import pytest

from lumen.errors import OutputError
from lumen.output.encode.sacn import SacnEncoder, encode_source_name, multicast_address
from lumen.rt.realtime import lint

CID = bytes(range(0xA0, 0xB0))


def _u16(v: int) -> bytes:
    return struct.pack(">H", v)


def _u32(v: int) -> bytes:
    return struct.pack(">I", v)


def _encoder(**kw: object) -> SacnEncoder:
    args: dict[str, object] = {"n_universes": 1, "start_universe": 1, "cid": CID}
    args.update(kw)
    return SacnEncoder(**args)  # type: ignore[arg-type]


# (field, first octet, expected bytes) for universe 300, priority 150, sync 7000, first packet.
DATA_FIELDS: list[tuple[str, int, bytes]] = [
    ("preamble size", 0, b"\x00\x10"),
    ("postamble size", 2, b"\x00\x00"),
    ("ACN packet identifier", 4, b"ASC-E1.17\x00\x00\x00"),
    ("root flags and length", 16, _u16(0x7000 | 622)),
    ("root vector VECTOR_ROOT_E131_DATA", 18, _u32(0x00000004)),
    ("CID", 22, CID),
    ("framing flags and length", 38, _u16(0x7000 | 600)),
    ("framing vector VECTOR_E131_DATA_PACKET", 40, _u32(0x00000002)),
    ("source name", 44, b"show one" + bytes(56)),
    ("priority", 108, bytes([150])),
    ("synchronization address", 109, _u16(7000)),
    ("sequence number", 111, b"\x00"),
    ("options", 112, b"\x00"),
    ("universe", 113, _u16(300)),
    ("DMP flags and length", 115, _u16(0x7000 | 523)),
    ("DMP vector VECTOR_DMP_SET_PROPERTY", 117, b"\x02"),
    ("address type and data type", 118, b"\xa1"),
    ("first property address", 119, b"\x00\x00"),
    ("address increment", 121, b"\x00\x01"),
    ("property value count", 123, _u16(513)),
    ("DMX start code", 125, b"\x00"),
]


@pytest.fixture()
def packet() -> bytes:
    enc = _encoder(start_universe=300, priority=150, source_name="show one", sync_universe=7000)
    dmx = (np.arange(512) % 256).astype(np.uint8)
    return bytes(enc.encode(0, dmx))


@pytest.mark.parametrize(("field", "offset", "expected"), DATA_FIELDS, ids=[f[0] for f in DATA_FIELDS])
def test_data_packet_field(packet: bytes, field: str, offset: int, expected: bytes) -> None:
    assert packet[offset : offset + len(expected)] == expected, field


def test_data_packet_length_and_slots(packet: bytes) -> None:
    assert len(packet) == 638
    assert packet[126:] == bytes(i % 256 for i in range(512))


def test_layers_tile_the_packet_exactly() -> None:
    """Each PDU length, counted from its own flags octet, reaches exactly the packet's end."""
    pkt = bytes(_encoder().encode(0, np.zeros(512, np.uint8)))
    for flags_at in (16, 38, 115):
        (word,) = struct.unpack_from(">H", pkt, flags_at)
        assert word >> 12 == 0x7
        assert flags_at + (word & 0x0FFF) == len(pkt)


def test_sync_address_zero_without_synchronization() -> None:
    pkt = _encoder().encode(0, np.zeros(512, np.uint8))
    assert bytes(pkt[109:111]) == b"\x00\x00"


def test_universe_numbers_of_consecutive_packets() -> None:
    enc = _encoder(n_universes=3, start_universe=63997)
    dmx = np.zeros((3, 512), np.uint8)
    views = enc.encode_frame(dmx)
    assert [struct.unpack_from(">H", v, 113)[0] for v in views] == [63997, 63998, 63999]
    assert enc.universes == (63997, 63998, 63999)


def test_sequence_wraps_at_256() -> None:
    enc = _encoder()
    dmx = np.zeros(512, np.uint8)
    seen = [enc.encode(0, dmx)[111] for _ in range(600)]
    assert seen == [i % 256 for i in range(600)]
    assert enc.sequence(0) == 599 % 256


def test_encode_frame_sequence_wraps_and_matches_encode() -> None:
    enc = _encoder(n_universes=2)
    dmx = np.zeros((2, 512), np.uint8)
    for i in range(300):
        views = enc.encode_frame(dmx)
        assert (views[0][111], views[1][111]) == (i % 256, i % 256)
    assert enc.encode(1, dmx[1])[111] == 300 % 256
    assert enc.sequence(0) == 299 % 256


def test_only_sequence_options_and_slots_change_between_packets() -> None:
    enc = _encoder(start_universe=5, priority=10, sync_universe=6)
    a = bytes(enc.encode(0, np.zeros(512, np.uint8)))
    b = bytes(enc.encode(0, np.full(512, 255, np.uint8)))
    changed = {i for i in range(638) if a[i] != b[i]}
    assert changed == {111} | set(range(126, 638))


def test_terminate_sets_stream_terminated_and_next_sequence() -> None:
    enc = _encoder()
    enc.encode(0, np.full(512, 7, np.uint8))
    term = bytes(enc.terminate(0))
    assert term[112] == 0x40  # Stream_Terminated is bit 6
    assert term[111] == 1
    assert term[126:] == bytes([7]) * 512
    # A later data packet clears the option again (the stream restarts).
    assert enc.encode(0, np.zeros(512, np.uint8))[112] == 0


# (field, first octet, expected) of a synchronization packet (E1.31-2018 table 4-2).
SYNC_FIELDS: list[tuple[str, int, bytes]] = [
    ("preamble size", 0, b"\x00\x10"),
    ("postamble size", 2, b"\x00\x00"),
    ("ACN packet identifier", 4, b"ASC-E1.17\x00\x00\x00"),
    ("root flags and length", 16, _u16(0x7000 | 33)),
    ("root vector VECTOR_ROOT_E131_EXTENDED", 18, _u32(0x00000008)),
    ("CID", 22, CID),
    ("framing flags and length", 38, _u16(0x7000 | 11)),
    ("framing vector VECTOR_E131_EXTENDED_SYNCHRONIZATION", 40, _u32(0x00000001)),
    ("sequence number", 44, b"\x2a"),
    ("synchronization address", 45, _u16(4242)),
    ("reserved", 47, b"\x00\x00"),
]


@pytest.mark.parametrize(("field", "offset", "expected"), SYNC_FIELDS, ids=[f[0] for f in SYNC_FIELDS])
def test_sync_packet_field(field: str, offset: int, expected: bytes) -> None:
    pkt = bytes(_encoder(sync_universe=4242).sync_packet(42))
    assert len(pkt) == 49
    assert pkt[offset : offset + len(expected)] == expected, field


def test_sync_packet_own_sequence_wraps() -> None:
    enc = _encoder(sync_universe=1)
    dmx = np.zeros(512, np.uint8)
    seqs = []
    for _ in range(258):
        enc.encode(0, dmx)
        seqs.append(enc.sync_packet()[44])
    assert seqs == [i % 256 for i in range(258)]


def test_sync_packet_needs_sync_universe() -> None:
    with pytest.raises(OutputError, match="sync"):
        _encoder().sync_packet(0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_universe": 0}, "start_universe"),
        ({"start_universe": 64000}, "start_universe"),
        ({"start_universe": 63999, "n_universes": 2}, "last universe"),
        ({"n_universes": 0}, "n_universes"),
        ({"priority": 201}, "priority"),
        ({"priority": -1}, "priority"),
        ({"sync_universe": 64000}, "sync_universe"),
        ({"cid": b"short"}, "cid"),
    ],
)
def test_out_of_range_parameters_raise(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(OutputError, match=match):
        _encoder(**kwargs)


@pytest.mark.parametrize("universe", [1, 63999])
def test_universe_bounds_accepted(universe: int) -> None:
    pkt = _encoder(start_universe=universe).encode(0, np.zeros(512, np.uint8))
    assert struct.unpack_from(">H", pkt, 113)[0] == universe


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lumen", b"lumen"),
        ("", b""),
        ("x" * 63, b"x" * 63),
        ("x" * 64, b"x" * 63),  # truncated so the NUL terminator fits
        ("y" * 200, b"y" * 63),
        ("Lichtspiel ä", "Lichtspiel ä".encode()),
        # 31 two-byte characters = 62 bytes; the 32nd would straddle the limit and is dropped
        ("é" * 40, ("é" * 31).encode()),
        ("a" + "€" * 30, ("a" + "€" * 20).encode()),  # 1 + 20 * 3 = 61 bytes; the next is 64
    ],
)
def test_source_name_truncated_padded_nul_terminated(name: str, expected: bytes) -> None:
    field = encode_source_name(name)
    assert len(field) == 64
    assert field[: len(expected)] == expected
    assert field[len(expected) :] == bytes(64 - len(expected))
    assert field.rstrip(b"\x00").decode("utf-8") == expected.decode("utf-8")
    pkt = bytes(_encoder(source_name=name).encode(0, np.zeros(512, np.uint8)))
    assert pkt[44:108] == field
    assert pkt[107] == 0


def test_random_cid_is_a_uuid4() -> None:
    a = _encoder(cid=None)
    b = _encoder(cid=None)
    assert a.cid != b.cid
    assert uuid.UUID(bytes=a.cid).version == 4
    assert bytes(a.encode(0, np.zeros(512, np.uint8))[22:38]) == a.cid


def test_wrong_dmx_dtype_raises_and_keeps_sequence() -> None:
    enc = _encoder()
    with pytest.raises(TypeError):
        enc.encode(0, np.zeros(512, np.float32))
    assert enc.sequence(0) == 255  # nothing was sent, the first packet will still carry 0


@pytest.mark.parametrize(("universe", "group"), [(1, "239.255.0.1"), (256, "239.255.1.0"), (63999, "239.255.249.255")])
def test_multicast_address(universe: int, group: str) -> None:
    assert multicast_address(universe) == group


def test_encode_paths_pass_the_realtime_lint() -> None:
    for func in (SacnEncoder.encode, SacnEncoder.encode_frame, SacnEncoder.terminate):
        assert lint(func) == []
