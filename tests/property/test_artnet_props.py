"""Hypothesis properties of lumen's Art-Net 4 encoder, checked with decoders written from the spec.

The decoders below are independent of the encoder: they parse every field of the Art-Net 4
ArtDmx and ArtPollReply definitions and reject anything the specification does not allow.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lumen.errors import OutputError
from lumen.output.encode.artnet import ArtnetEncoder, encode_artpoll, encode_poll_reply, parse_artpoll, reply_pages

ID = b"Art-Net\x00"


def decode_artdmx(pkt: bytes) -> dict[str, Any]:
    """Parse an ArtDmx; raise ValueError on any field Art-Net 4 forbids."""
    if len(pkt) < 20 or pkt[:8] != ID:
        raise ValueError("not Art-Net")
    (opcode,) = struct.unpack_from("<H", pkt, 8)
    (version,) = struct.unpack_from(">H", pkt, 10)
    if opcode != 0x5000 or version < 14:
        raise ValueError("not ArtDmx v14")
    seq, physical, subuni, net = pkt[12], pkt[13], pkt[14], pkt[15]
    if net & 0x80:
        raise ValueError("Net bit 7 must be 0 (15-bit Port-Address)")
    (length,) = struct.unpack_from(">H", pkt, 16)
    if not 2 <= length <= 512 or length % 2 or len(pkt) != 18 + length:
        raise ValueError("bad length")
    return {"sequence": seq, "physical": physical, "port_address": net << 8 | subuni, "data": pkt[18:]}


def decode_poll_reply(pkt: bytes) -> dict[str, Any]:
    """Parse an ArtPollReply; raise ValueError on a malformed one."""
    if len(pkt) < 207 or pkt[:8] != ID or struct.unpack_from("<H", pkt, 8)[0] != 0x2100:
        raise ValueError("not an ArtPollReply")
    if struct.unpack_from("<H", pkt, 14)[0] != 6454:
        raise ValueError("port must be 0x1936")
    n_ports = struct.unpack_from(">H", pkt, 172)[0]
    if not 0 <= n_ports <= 4:
        raise ValueError("NumPorts > 4")
    net, sub = pkt[18], pkt[19]
    if net & 0x80 or sub & 0xF0:
        raise ValueError("NetSwitch/SubSwitch out of range")
    ports = []
    for i in range(n_ports):
        ptype = pkt[174 + i]
        if ptype & 0x40:
            ports.append(("input", net << 8 | sub << 4 | (pkt[186 + i] & 0xF)))
        if ptype & 0x80:
            ports.append(("output", net << 8 | sub << 4 | (pkt[190 + i] & 0xF)))
    for name_at, size in ((26, 18), (44, 64), (108, 64)):
        if 0 not in pkt[name_at : name_at + size]:
            raise ValueError("name not NUL-terminated")
    return {
        "ip": str(ipaddress.IPv4Address(pkt[10:14])),
        "short_name": pkt[26:44].split(b"\x00")[0].decode("ascii"),
        "long_name": pkt[44:108].split(b"\x00")[0].decode("ascii"),
        "ports": ports,
        "style": pkt[200],
        "bind_ip": str(ipaddress.IPv4Address(pkt[207:211])),
        "bind_index": pkt[211],
    }


dmx_rows = hnp.arrays(np.uint8, (512,), elements=st.integers(0, 255))


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 0x7FFF), dmx=dmx_rows)
def test_round_trip(start: int, dmx: np.ndarray) -> None:
    pkt = bytes(ArtnetEncoder(1, start_universe=start).encode(0, dmx))
    got = decode_artdmx(pkt)
    assert got["port_address"] == start
    assert got["sequence"] == 1
    assert np.array_equal(np.frombuffer(got["data"], np.uint8), dmx)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n_universes=st.integers(1, 8), start=st.integers(0, 0x7FFF - 8))
def test_frames_round_trip_per_universe(data: st.DataObject, n_universes: int, start: int) -> None:
    enc = ArtnetEncoder(n_universes, start_universe=start)
    frame = data.draw(hnp.arrays(np.uint8, (n_universes, 512), elements=st.integers(0, 255)))
    for i, view in enumerate(enc.encode_frame(frame)):
        got = decode_artdmx(bytes(view))
        assert got["port_address"] == start + i
        assert np.array_equal(np.frombuffer(got["data"], np.uint8), frame[i])


@settings(max_examples=100, deadline=None)
@given(
    n_universes=st.integers(1, 5),
    ops=st.lists(st.tuples(st.sampled_from(["one", "frame"]), st.integers(0, 4)), min_size=1, max_size=700),
)
def test_sequences_run_1_to_255_per_universe_independently(n_universes: int, ops: list[tuple[str, int]]) -> None:
    enc = ArtnetEncoder(n_universes)
    sent = [0] * n_universes
    zeros = np.zeros((n_universes, 512), np.uint8)
    for kind, u in ops:
        u %= n_universes
        if kind == "frame":
            for i, view in enumerate(enc.encode_frame(zeros)):
                assert decode_artdmx(bytes(view))["sequence"] == sent[i] % 255 + 1
                sent[i] += 1
        else:
            assert decode_artdmx(bytes(enc.encode(u, zeros[u])))["sequence"] == sent[u] % 255 + 1
            sent[u] += 1
    # 0 only for a universe that never sent: a sent packet is never numbered 0.
    assert [enc.sequence(i) for i in range(n_universes)] == [(n - 1) % 255 + 1 if n else 0 for n in sent]


@settings(max_examples=100, deadline=None)
@given(
    ip=st.ip_addresses(v=4).map(str),
    addresses=st.lists(st.integers(0, 0x7FFF), min_size=1, max_size=40, unique=True),
    short=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    style=st.sampled_from([0, 1]),
)
def test_poll_replies_describe_every_port_address(ip: str, addresses: list[int], short: str, style: int) -> None:
    seen: list[int] = []
    for i, page in enumerate(reply_pages(addresses)):
        got = decode_poll_reply(encode_poll_reply(ip, page, short_name=short, style=style, bind_index=i + 1))
        assert got["ip"] == got["bind_ip"] == ip
        assert got["bind_index"] == i + 1
        assert got["style"] == style
        assert short.startswith(got["short_name"]) and len(got["short_name"]) <= 17
        assert all(direction == "input" for direction, _ in got["ports"])
        seen += [a for _, a in got["ports"]]
    assert seen == sorted(addresses)


@settings(max_examples=200, deadline=None)
@given(packet=st.binary(max_size=40))
def test_parse_artpoll_never_crashes_on_garbage(packet: bytes) -> None:
    try:
        parse_artpoll(packet)
    except OutputError:
        return
    assert packet[:8] == ID and len(packet) >= 14


@settings(max_examples=100, deadline=None)
@given(flags=st.integers(0, 255), top=st.integers(0, 0x7FFF), bottom=st.integers(0, 0x7FFF))
def test_artpoll_round_trip(flags: int, top: int, bottom: int) -> None:
    poll = parse_artpoll(encode_artpoll(flags=flags, target_top=top, target_bottom=bottom))
    assert (poll.flags, poll.target_top, poll.target_bottom, poll.protocol_version) == (flags, top, bottom, 14)
