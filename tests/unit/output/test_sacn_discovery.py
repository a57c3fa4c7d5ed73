"""E1.31 universe discovery packets (ANSI E1.31-2018 section 4.3, table 4-3), byte by byte.

Offsets and values are written from the standard, not imported from the encoder.
"""

from __future__ import annotations

import struct

import pytest

from lumen.output.encode.sacn import SacnEncoder, multicast_address

CID = bytes(range(0x30, 0x40))


def _u16(v: int) -> bytes:
    return struct.pack(">H", v)


def _u32(v: int) -> bytes:
    return struct.pack(">I", v)


# Three universes 300..302: 120 + 6 = 126 octets.
FIELDS: list[tuple[str, int, bytes]] = [
    ("preamble size", 0, b"\x00\x10"),
    ("postamble size", 2, b"\x00\x00"),
    ("ACN packet identifier", 4, b"ASC-E1.17\x00\x00\x00"),
    ("root flags and length", 16, _u16(0x7000 | 110)),
    ("root vector VECTOR_ROOT_E131_EXTENDED", 18, _u32(0x00000008)),
    ("CID", 22, CID),
    ("framing flags and length", 38, _u16(0x7000 | 88)),
    ("framing vector VECTOR_E131_EXTENDED_DISCOVERY", 40, _u32(0x00000002)),
    ("source name", 44, b"disco" + bytes(59)),
    ("reserved", 108, bytes(4)),
    ("discovery flags and length", 112, _u16(0x7000 | 14)),
    ("discovery vector VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST", 114, _u32(0x00000001)),
    ("page", 118, b"\x00"),
    ("last page", 119, b"\x00"),
    ("universes", 120, _u16(300) + _u16(301) + _u16(302)),
]


@pytest.mark.parametrize(("field", "offset", "expected"), FIELDS, ids=[f[0] for f in FIELDS])
def test_discovery_field(field: str, offset: int, expected: bytes) -> None:
    (pkt,) = SacnEncoder(3, start_universe=300, source_name="disco", cid=CID).discovery_packets()
    assert len(pkt) == 126
    assert pkt[offset : offset + len(expected)] == expected, field


def test_discovery_pages_of_512_sorted() -> None:
    enc = SacnEncoder(1100, start_universe=10, cid=CID)
    pages = enc.discovery_packets()
    assert [len(p) for p in pages] == [120 + 1024, 120 + 1024, 120 + 2 * 76]
    assert [(p[118], p[119]) for p in pages] == [(0, 2), (1, 2), (2, 2)]
    listed: list[int] = []
    for p in pages:
        n = (len(p) - 120) // 2
        listed += list(struct.unpack_from(f">{n}H", p, 120))
        for flags_at in (16, 38, 112):  # every PDU reaches exactly the end of its packet
            (word,) = struct.unpack_from(">H", p, flags_at)
            assert flags_at + (word & 0x0FFF) == len(p)
    assert listed == list(range(10, 1110))


def test_discovery_group_address() -> None:
    assert multicast_address(64214) == "239.255.250.214"
