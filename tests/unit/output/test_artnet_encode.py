"""Byte-level tests of lumen's Art-Net 4 encoder and parser against the Art-Net 4 specification.

Offsets and values here are written from the specification (ArtDmx, ArtSync, ArtPoll and
ArtPollReply packet definitions), not imported from the encoder.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from lumen.errors import OutputError
from lumen.output.encode.artnet import (
    ArtnetEncoder,
    encode_artpoll,
    encode_poll_reply,
    node_report,
    parse_artpoll,
    parse_opcode,
    port_address,
    reply_pages,
    split_port_address,
)
from lumen.rt.realtime import lint

ID = b"Art-Net\x00"

# (field, first octet, expected bytes) of the first ArtDmx of Port-Address 0x0123 (net 1,
# subnet 2, universe 3).
DMX_FIELDS: list[tuple[str, int, bytes]] = [
    ("ID", 0, ID),
    ("OpCode OpDmx 0x5000, low byte first", 8, b"\x00\x50"),
    ("ProtVerHi", 10, b"\x00"),
    ("ProtVerLo 14", 11, b"\x0e"),
    ("Sequence starts at 1", 12, b"\x01"),
    ("Physical", 13, b"\x00"),
    ("SubUni: Port-Address bits 7..0", 14, b"\x23"),
    ("Net: Port-Address bits 14..8", 15, b"\x01"),
    ("LengthHi", 16, b"\x02"),
    ("Length lo (512)", 17, b"\x00"),
]


@pytest.fixture()
def dmx_packet() -> bytes:
    enc = ArtnetEncoder(1, start_universe=0x0123)
    return bytes(enc.encode(0, (np.arange(512) % 256).astype(np.uint8)))


@pytest.mark.parametrize(("field", "offset", "expected"), DMX_FIELDS, ids=[f[0] for f in DMX_FIELDS])
def test_artdmx_field(dmx_packet: bytes, field: str, offset: int, expected: bytes) -> None:
    assert dmx_packet[offset : offset + len(expected)] == expected, field


def test_artdmx_length_and_slots(dmx_packet: bytes) -> None:
    assert len(dmx_packet) == 18 + 512
    assert dmx_packet[18:] == bytes(i % 256 for i in range(512))


@pytest.mark.parametrize(
    ("address", "subuni", "net"),
    [(0, 0x00, 0x00), (15, 0x0F, 0x00), (16, 0x10, 0x00), (256, 0x00, 0x01), (0x7FFF, 0xFF, 0x7F)],
)
def test_artdmx_port_address_octets(address: int, subuni: int, net: int) -> None:
    pkt = ArtnetEncoder(1, start_universe=address).encode(0, np.zeros(512, np.uint8))
    assert (pkt[14], pkt[15]) == (subuni, net)


def test_consecutive_universes_get_consecutive_port_addresses() -> None:
    enc = ArtnetEncoder(3, start_universe=0x00FE)
    views = enc.encode_frame(np.zeros((3, 512), np.uint8))
    assert [v[14] | v[15] << 8 for v in views] == [0x00FE, 0x00FF, 0x0100]
    assert enc.universes == (0x00FE, 0x00FF, 0x0100)


def test_sequence_runs_1_to_255_and_never_0() -> None:
    enc = ArtnetEncoder(1)
    dmx = np.zeros(512, np.uint8)
    seen = [enc.encode(0, dmx)[12] for _ in range(600)]
    assert seen == [i % 255 + 1 for i in range(600)]
    assert 0 not in seen


def test_encode_frame_sequence_matches_encode() -> None:
    enc = ArtnetEncoder(2)
    dmx = np.zeros((2, 512), np.uint8)
    for i in range(520):
        views = enc.encode_frame(dmx)
        assert (views[0][12], views[1][12]) == (i % 255 + 1, i % 255 + 1)
    assert enc.encode(1, dmx[1])[12] == 520 % 255 + 1
    assert enc.sequence(0) == 519 % 255 + 1


def test_sequencing_off_sends_zero() -> None:
    enc = ArtnetEncoder(2, sequencing=False)
    for _ in range(3):
        views = enc.encode_frame(np.zeros((2, 512), np.uint8))
        assert [v[12] for v in views] == [0, 0]


def test_only_sequence_and_slots_change_between_packets() -> None:
    enc = ArtnetEncoder(1, start_universe=77)
    a = bytes(enc.encode(0, np.zeros(512, np.uint8)))
    b = bytes(enc.encode(0, np.full(512, 255, np.uint8)))
    assert {i for i in range(len(a)) if a[i] != b[i]} == {12} | set(range(18, 530))


ARTSYNC = ID + b"\x00\x52" + b"\x00\x0e" + b"\x00\x00"  # OpSync, ProtVer 14, Aux1, Aux2


def test_artsync_bytes() -> None:
    assert bytes(ArtnetEncoder(1).sync_packet()) == ARTSYNC


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_universes": 0}, "n_universes"),
        ({"n_universes": 1, "start_universe": -1}, "start_universe"),
        ({"n_universes": 1, "start_universe": 0x8000}, "start_universe"),
        ({"n_universes": 2, "start_universe": 0x7FFF}, "last universe"),
        ({"n_universes": 1, "physical": 256}, "physical"),
    ],
)
def test_out_of_range_parameters_raise(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(OutputError, match=match):
        ArtnetEncoder(**kwargs)  # type: ignore[arg-type]


def test_wrong_dmx_dtype_raises_and_keeps_sequence() -> None:
    enc = ArtnetEncoder(1)
    with pytest.raises(TypeError):
        enc.encode(0, np.zeros(512, np.float32))
    assert enc.sequence(0) == 0


@pytest.mark.parametrize(
    ("net", "sub", "uni", "pa"), [(0, 0, 0, 0), (0, 0, 3, 3), (0, 1, 0, 16), (1, 2, 3, 0x123), (127, 15, 15, 0x7FFF)]
)
def test_port_address_round_trip(net: int, sub: int, uni: int, pa: int) -> None:
    assert port_address(net, sub, uni) == pa
    assert split_port_address(pa) == (net, sub, uni)


@pytest.mark.parametrize("args", [(128, 0, 0), (0, 16, 0), (0, 0, 16), (-1, 0, 0)])
def test_port_address_out_of_range(args: tuple[int, int, int]) -> None:
    with pytest.raises(OutputError):
        port_address(*args)


# -- ArtPoll ------------------------------------------------------------------------------------

POLL_22 = ID + b"\x00\x20" + b"\x00\x0e" + b"\x06" + b"\x10" + b"\x00\x05" + b"\x00\x02" + b"\x12\x34" + b"\x56\x78"


def test_parse_artpoll_art_net_4() -> None:
    poll = parse_artpoll(POLL_22)
    assert (poll.protocol_version, poll.flags, poll.diag_priority) == (14, 0x06, 0x10)
    assert (poll.target_top, poll.target_bottom, poll.esta_manufacturer, poll.oem) == (5, 2, 0x1234, 0x5678)
    assert not poll.targeted
    assert poll.wants([1000])


def test_parse_artpoll_minimum_14_octets() -> None:
    poll = parse_artpoll(POLL_22[:14])
    assert (poll.flags, poll.target_top, poll.target_bottom) == (0x06, 0, 0)


def test_targeted_poll_filters_by_port_address() -> None:
    poll = parse_artpoll(encode_artpoll(flags=0x20, target_top=20, target_bottom=10))
    assert poll.targeted
    assert poll.wants([5, 10]) and poll.wants([20]) and not poll.wants([0, 21])


def test_encode_artpoll_bytes() -> None:
    assert encode_artpoll(flags=0x02, diag_priority=0x10) == ID + b"\x00\x20\x00\x0e\x02\x10" + bytes(8)


MALFORMED_POLLS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("short ID", b"Art-Ne"),
    ("wrong ID", b"Art-Nex\x00\x00\x20\x00\x0e\x00\x00"),
    ("no NUL in ID", b"Art-Net!\x00\x20\x00\x0e\x00\x00"),
    ("ArtDmx, not ArtPoll", ID + b"\x00\x50\x00\x0e\x00\x00"),
    ("OpCode big-endian by mistake", ID + b"\x20\x00\x00\x0e\x00\x00"),
    ("13 octets", POLL_22[:13]),
    ("12 octets (no flags)", POLL_22[:12]),
    ("protocol version 13", ID + b"\x00\x20\x00\x0d\x00\x00"),
]


@pytest.mark.parametrize("packet", [m[1] for m in MALFORMED_POLLS], ids=[m[0] for m in MALFORMED_POLLS])
def test_malformed_artpoll_raises(packet: bytes) -> None:
    with pytest.raises(OutputError):
        parse_artpoll(packet)


def test_parse_opcode() -> None:
    assert parse_opcode(ID + b"\x00\x21") == 0x2100
    with pytest.raises(OutputError):
        parse_opcode(b"Art-Net\x00\x00")


# -- ArtPollReply -------------------------------------------------------------------------------


def _u16le(v: int) -> bytes:
    return struct.pack("<H", v)


# (field, first octet, expected bytes) of a reply for 10.231.0.1 with Port-Addresses 0x0121..0x0123.
REPLY_FIELDS: list[tuple[str, int, bytes]] = [
    ("ID", 0, ID),
    ("OpCode OpPollReply 0x2100, low byte first", 8, b"\x00\x21"),
    ("IP address", 10, bytes([10, 231, 0, 1])),
    ("Port 0x1936, low byte first", 14, b"\x36\x19"),
    ("VersInfoH, VersInfoL", 16, b"\x00\x01"),
    ("NetSwitch: bits 14..8", 18, b"\x01"),
    ("SubSwitch: bits 7..4", 19, b"\x02"),
    ("OemHi, Oem: OemUnknown", 20, b"\x00\xff"),
    ("Ubea version", 22, b"\x00"),
    ("Status1: indicators normal, addresses set locally", 23, b"\xd0"),
    ("EstaMan lo, hi", 24, b"\x00\x00"),
    ("ShortName", 26, b"lumen" + bytes(13)),
    ("LongName", 44, b"lumen test rig" + bytes(50)),
    ("NodeReport", 108, b"#0001 [0007] lumen ok" + bytes(43)),
    ("NumPortsHi, NumPortsLo", 172, b"\x00\x03"),
    ("PortTypes: input onto Art-Net, DMX512", 174, b"\x40\x40\x40\x00"),
    ("GoodInput: data received", 178, b"\x80\x80\x80\x00"),
    ("GoodOutputA", 182, b"\x00\x00\x00\x00"),
    ("SwIn: bits 3..0", 186, b"\x01\x02\x03\x00"),
    ("SwOut", 190, b"\x00\x00\x00\x00"),
    ("AcnPriority, SwMacro, SwRemote, Spare x3", 194, bytes(6)),
    ("Style StController", 200, b"\x01"),
    ("MAC", 201, bytes(6)),
    ("BindIp", 207, bytes([10, 231, 0, 1])),
    ("BindIndex", 211, b"\x02"),
    ("Status2: 15-bit Port-Address", 212, b"\x08"),
    ("GoodOutputB .. Filler", 213, bytes(239 - 213)),
]


@pytest.fixture()
def reply() -> bytes:
    return encode_poll_reply(
        "10.231.0.1", [0x121, 0x122, 0x123], long_name="lumen test rig", report=node_report(7), bind_index=2
    )


@pytest.mark.parametrize(("field", "offset", "expected"), REPLY_FIELDS, ids=[f[0] for f in REPLY_FIELDS])
def test_poll_reply_field(reply: bytes, field: str, offset: int, expected: bytes) -> None:
    assert len(reply) == 239
    assert reply[offset : offset + len(expected)] == expected, field


def test_poll_reply_output_direction_and_node_style() -> None:
    r = encode_poll_reply("127.0.0.1", [5], direction="output", style=0x00)
    assert (r[174], r[178], r[182], r[186], r[190], r[200]) == (0x80, 0, 0x80, 0, 5, 0x00)


def test_poll_reply_names_are_cut_and_nul_terminated() -> None:
    r = encode_poll_reply("127.0.0.1", [0], short_name="s" * 40, long_name="l" * 100)
    assert r[26:44] == b"s" * 17 + b"\x00"
    assert r[44:108] == b"l" * 63 + b"\x00"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"port_addresses": []}, "1..4"),
        ({"port_addresses": [0, 1, 2, 3, 4]}, "1..4"),
        ({"port_addresses": [15, 16]}, "share"),
        ({"port_addresses": [0x8000]}, "Port-Address"),
        ({"bind_index": 0}, "bind_index"),
        ({"short_name": "lümen"}, "ASCII"),
        ({"ip": "not-an-ip"}, "IPv4"),
        ({"mac": b"\x00"}, "mac"),
        ({"direction": "both"}, "direction"),
    ],
)
def test_poll_reply_rejects_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"ip": "127.0.0.1", "port_addresses": [0]}
    args.update(kwargs)
    ip = args.pop("ip")
    pas = args.pop("port_addresses")
    with pytest.raises(OutputError, match=match):
        encode_poll_reply(ip, pas, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("addresses", "pages"),
    [
        ([0], ((0,),)),
        ([3, 2, 1, 0], ((0, 1, 2, 3),)),
        (list(range(6)), ((0, 1, 2, 3), (4, 5))),
        ([14, 15, 16, 17], ((14, 15), (16, 17))),  # 15 -> 16 crosses a subnet
        ([0, 2], ((0,), (2,))),  # not consecutive
    ],
)
def test_reply_pages(addresses: list[int], pages: tuple[tuple[int, ...], ...]) -> None:
    assert reply_pages(addresses) == pages


def test_reply_pages_limit() -> None:
    assert len(reply_pages(range(255 * 4))) == 255
    with pytest.raises(OutputError, match="BindIndex"):
        reply_pages(range(255 * 4 + 1))


def test_encode_paths_pass_the_realtime_lint() -> None:
    for func in (ArtnetEncoder.encode, ArtnetEncoder.encode_frame, ArtnetEncoder.sync_packet):
        assert lint(func) == []
