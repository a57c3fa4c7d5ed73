"""Byte-level tests of lumen's DDP encoder against the DDP specification (3waylabs.com/ddp).

Header octets here are written from the specification: flags V V x T S R Q P (version 1 =
0x40, push = 0x01), sequence in the low nibble (1..15), data type C R TTT SSS (RGB, 8 bits =
0x0B), destination id (1 = default output), 32-bit offset and 16-bit length, MSB first.
"""

from __future__ import annotations

import numpy as np
import pytest

from lumen.errors import OutputError
from lumen.output.encode.ddp import DdpEncoder
from lumen.rt.realtime import lint


def pixels(n: int, salt: int = 0) -> np.ndarray:
    return ((np.arange(3 * n) * 7 + salt) % 256).astype(np.uint8).reshape(n, 3)


# (n_pixels, expected headers as bytes) for the first frame.
HEADERS: list[tuple[int, list[bytes]]] = [
    (1, [b"\x41\x01\x0b\x01\x00\x00\x00\x00\x00\x03"]),
    (170, [b"\x41\x01\x0b\x01\x00\x00\x00\x00\x01\xfe"]),  # 510 octets
    (480, [b"\x41\x01\x0b\x01\x00\x00\x00\x00\x05\xa0"]),  # exactly 1440: one packet
    (481, [b"\x40\x01\x0b\x01\x00\x00\x00\x00\x05\xa0", b"\x41\x02\x0b\x01\x00\x00\x05\xa0\x00\x03"]),
    (
        1000,
        [
            b"\x40\x01\x0b\x01\x00\x00\x00\x00\x05\xa0",
            b"\x40\x02\x0b\x01\x00\x00\x05\xa0\x05\xa0",
            b"\x41\x03\x0b\x01\x00\x00\x0b\x40\x00\x78",  # offset 2880, 40 pixels = 120 octets
        ],
    ),
]


@pytest.mark.parametrize(("n_pixels", "headers"), HEADERS, ids=[str(h[0]) for h in HEADERS])
def test_headers(n_pixels: int, headers: list[bytes]) -> None:
    rgb = pixels(n_pixels)
    pkts = [bytes(p) for p in DdpEncoder(n_pixels).encode(rgb)]
    assert [p[:10] for p in pkts] == headers
    assert b"".join(p[10:] for p in pkts) == rgb.tobytes()
    assert all(len(p) <= 10 + 1440 for p in pkts)


def test_sequence_increments_per_packet_and_wraps_to_1() -> None:
    enc = DdpEncoder(1000)  # 3 packets per frame
    seqs: list[int] = []
    for k in range(7):
        seqs += [p[1] for p in enc.encode(pixels(1000, k))]
    assert seqs == [i % 15 + 1 for i in range(21)]
    assert 0 not in seqs
    assert enc.sequence == 20 % 15 + 1


def test_sequencing_off_writes_zero() -> None:
    enc = DdpEncoder(600, sequencing=False)
    assert [p[1] for p in enc.encode(pixels(600))] == [0, 0]


def test_legacy_data_type_and_destination_id() -> None:
    pkt = DdpEncoder(2, data_type=0x01, destination_id=7).encode(pixels(2))[0]
    assert (pkt[2], pkt[3]) == (0x01, 7)


def test_encode_bytes_matches_encode() -> None:
    a = DdpEncoder(700)
    b = DdpEncoder(700)
    rgb = pixels(700, 3)
    assert [bytes(p) for p in a.encode(rgb)] == [bytes(p) for p in b.encode_bytes(rgb.reshape(-1))]


def test_smaller_packets_never_split_a_pixel() -> None:
    enc = DdpEncoder(10, max_data_len=9)
    pkts = [bytes(p) for p in enc.encode(pixels(10))]
    assert [len(p) - 10 for p in pkts] == [9, 9, 9, 3]
    assert [int.from_bytes(p[4:8], "big") for p in pkts] == [0, 9, 18, 27]
    assert [p[0] for p in pkts] == [0x40, 0x40, 0x40, 0x41]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_pixels": 0}, "n_pixels"),
        ({"n_pixels": 1, "data_type": 256}, "data_type"),
        ({"n_pixels": 1, "destination_id": 0}, "destination_id"),
        ({"n_pixels": 1, "max_data_len": 1441}, "max_data_len"),
        ({"n_pixels": 1, "max_data_len": 100}, "max_data_len"),
    ],
)
def test_out_of_range_parameters_raise(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(OutputError, match=match):
        DdpEncoder(**kwargs)  # type: ignore[arg-type]


def test_wrong_shape_raises_and_keeps_sequence() -> None:
    enc = DdpEncoder(10)
    with pytest.raises(ValueError):
        enc.encode(np.zeros((11, 3), np.uint8))
    assert enc.sequence == 0


def test_encode_paths_pass_the_realtime_lint() -> None:
    for func in (DdpEncoder.encode, DdpEncoder.encode_bytes):
        assert lint(func) == []
