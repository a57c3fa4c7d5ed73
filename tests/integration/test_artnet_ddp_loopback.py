"""ArtnetOutput, ArtPollResponder, DdpOutput and sACN sync/discovery against UDP sockets on
127.0.0.1 (ephemeral ports).

Nothing here leaves the machine: every destination is 127.0.0.1; broadcast and multicast
addresses are only used to check that they are refused (or, for construction only, accepted
when allowed). Every wait is bounded.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
import pytest

from lumen.errors import OutputError, UnknownPluginError
from lumen.output import ArtnetOutput, ArtPollResponder, DdpOutput, OutputThread, SacnOutput, outputs
from lumen.output.encode.artnet import ArtnetEncoder, encode_artpoll

pytestmark = pytest.mark.network

ID = b"Art-Net\x00"


def frame(n_universes: int, value: int) -> npt.NDArray[np.uint8]:
    i = np.arange(n_universes)[:, None]
    j = np.arange(512)[None, :]
    return ((value + 7 * i + j) % 256).astype(np.uint8)


def artdmx(pkt: bytes) -> tuple[int, int, bytes]:
    """(sequence, Port-Address, slots) of an ArtDmx, with the header checked from the spec."""
    assert pkt[:8] == ID and pkt[8:10] == b"\x00\x50" and pkt[10:12] == b"\x00\x0e"
    assert struct.unpack_from(">H", pkt, 16)[0] == 512 and len(pkt) == 530
    return pkt[12], pkt[14] | pkt[15] << 8, pkt[18:]


def wait_for(predicate: object, timeout_s: float = 5.0) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return bool(predicate())  # type: ignore[operator]


# -- ArtnetOutput -------------------------------------------------------------------------------


def test_artnet_output_sends_exact_packets(receiver: Receiver) -> None:
    out = ArtnetOutput(port=receiver.port, start_universe=0x10F, n_universes=3)
    reference = ArtnetEncoder(3, start_universe=0x10F)
    try:
        for k in range(3):
            dmx = frame(3, k)
            assert out.send_frame(dmx) == 3
            got = receiver.collect(3)
            assert got == [bytes(v) for v in reference.encode_frame(dmx)]
            for i, pkt in enumerate(got):
                seq, pa, slots = artdmx(pkt)
                assert (seq, pa) == (k + 1, 0x10F + i)
                assert slots == dmx[i].tobytes()
        assert (out.packets, out.errors) == (9, 0)
    finally:
        out.close()


def test_artnet_output_with_sync_ends_each_frame_with_artsync(receiver: Receiver) -> None:
    out = ArtnetOutput(port=receiver.port, n_universes=2, sync=True)
    try:
        for k in range(3):
            assert out.send_frame(frame(2, k)) == 3
            got = receiver.collect(3)
            assert [len(p) for p in got] == [530, 530, 14]
            assert got[2] == ID + b"\x00\x52\x00\x0e\x00\x00"
    finally:
        out.close()


def test_artnet_terminate_sends_nothing(receiver: Receiver) -> None:
    out = ArtnetOutput(port=receiver.port)
    try:
        out.send_frame(frame(1, 0))
        assert out.terminate() == 0
        assert len(receiver.collect(5, timeout_s=0.2)) == 1
        assert out.packets == 1
    finally:
        out.close()


@pytest.mark.parametrize("address", ["2.255.255.255", "10.255.255.255", "255.255.255.255", "192.168.1.255"])
def test_artnet_refuses_broadcast_unless_allowed(address: str) -> None:
    with pytest.raises(OutputError, match="allow_broadcast"):
        ArtnetOutput(address=address)
    out = ArtnetOutput(address=address, allow_broadcast=True)  # construction only: nothing is sent
    try:
        assert out.destination == (address, 6454)
        assert out.broadcast
    finally:
        out.close()


def test_artnet_refuses_multicast() -> None:
    with pytest.raises(OutputError, match="multicast"):
        ArtnetOutput(address="239.255.0.1", allow_broadcast=True)


def test_artnet_counts_errors_and_never_raises(receiver: Receiver) -> None:
    out = ArtnetOutput(port=receiver.port, n_universes=2, sync=True)
    out.close()
    assert out.send_frame(frame(2, 0)) == 0
    assert (out.packets, out.errors) == (0, 3)
    assert out.last_error


# -- ArtPollResponder ---------------------------------------------------------------------------


class Poller:
    """A controller's socket on 127.0.0.1:<ephemeral> that sends ArtPoll and reads replies."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def ask(self, dest: tuple[str, int], packet: bytes, n: int, timeout_s: float = 2.0) -> list[bytes]:
        self.sock.sendto(packet, dest)
        got: list[bytes] = []
        deadline = time.perf_counter() + timeout_s
        while len(got) < n:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                got.append(self.sock.recv(4096))
            except TimeoutError:
                break
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def poller() -> Iterator[Poller]:
    p = Poller()
    yield p
    p.close()


def test_responder_answers_artpoll_with_decodable_replies(poller: Poller) -> None:
    responder = ArtPollResponder(range(0, 6), port=0, short_name="lumen-test", long_name="lumen loopback test")
    responder.start()
    try:
        dest = responder.local_address
        replies = poller.ask(dest, encode_artpoll(), 2)
        assert len(replies) == 2
        ports: list[int] = []
        for bind_index, r in enumerate(replies, start=1):
            assert len(r) == 239 and r[:8] == ID and r[8:10] == b"\x00\x21"
            assert r[10:14] == bytes([127, 0, 0, 1]) and r[207:211] == bytes([127, 0, 0, 1])
            assert r[14:16] == b"\x36\x19"
            assert r[26:44].rstrip(b"\x00") == b"lumen-test"
            assert r[200] == 0x01  # StController
            assert r[211] == bind_index
            n_ports = r[173]
            ports += [r[18] << 8 | r[19] << 4 | r[186 + i] for i in range(n_ports) if r[174 + i] & 0x40]
            assert r[108:].startswith(b"#0001 [0001]")
        assert ports == [0, 1, 2, 3, 4, 5]
        # Malformed and foreign packets are counted, not answered.
        assert poller.ask(dest, b"hello", 1, timeout_s=0.2) == []
        assert poller.ask(dest, ID + b"\x00\x20\x00\x0d\x00\x00", 1, timeout_s=0.2) == []  # version 13
        assert poller.ask(dest, bytes(ArtnetEncoder(1).encode(0, np.zeros(512, np.uint8))), 1, timeout_s=0.2) == []
        # A targeted poll for other Port-Addresses gets no reply; one covering lumen's does.
        assert poller.ask(dest, encode_artpoll(flags=0x20, target_top=99, target_bottom=10), 1, timeout_s=0.2) == []
        (hit,) = poller.ask(dest, encode_artpoll(flags=0x20, target_top=5, target_bottom=5), 2, timeout_s=0.5)
        assert (hit[211], hit[173], hit[186:188]) == (2, 2, b"\x04\x05")  # only the page holding 5
        assert wait_for(lambda: responder.malformed == 2 and responder.ignored == 1 and responder.replies == 3)
        assert (responder.polls, responder.replies, responder.send_errors) == (3, 3, 0)
    finally:
        responder.stop()
    assert not responder.running


def test_responder_needs_reply_ip_for_wildcard_bind() -> None:
    with pytest.raises(OutputError, match="reply_ip"):
        ArtPollResponder([0], bind_address="0.0.0.0", port=0)


def test_responder_port_in_use_raises_output_error() -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(OutputError, match="bind"):
            ArtPollResponder([0], port=taken.getsockname()[1])
    finally:
        taken.close()


def test_responder_does_not_slow_the_output_thread(receiver: Receiver, poller: Poller) -> None:
    """Polls answered while frames flow: every frame still arrives, in order."""
    out = ArtnetOutput(port=receiver.port, n_universes=1)
    pacer = OutputThread([out], n_universes=1, rate_hz=1000.0, keepalive_s=10.0)
    responder = ArtPollResponder(out.encoder.universes, port=0)
    responder.start()
    pacer.start()
    try:
        for k in range(20):
            pacer.publish(frame(1, k), time.perf_counter(), k)
            assert len(poller.ask(responder.local_address, encode_artpoll(), 1)) == 1
            (pkt,) = receiver.collect(1)
            assert artdmx(pkt)[2] == frame(1, k)[0].tobytes()
    finally:
        pacer.stop()
        responder.stop()
        out.close()
    assert wait_for(lambda: responder.replies == 20)


# -- DdpOutput ----------------------------------------------------------------------------------


def ddp_frame(packets: list[bytes], n_bytes: int) -> bytes:
    buf = bytearray(n_bytes)
    for p in packets:
        offset, length = struct.unpack_from(">IH", p, 4)
        assert p[0] & 0xC0 == 0x40 and len(p) == 10 + length
        buf[offset : offset + length] = p[10:]
    return bytes(buf)


def test_ddp_send_pixels_exact(receiver: Receiver) -> None:
    n = 1000
    out = DdpOutput(port=receiver.port, n_pixels=n)
    rgb = ((np.arange(3 * n) * 5) % 256).astype(np.uint8).reshape(n, 3)
    try:
        assert out.send_pixels(rgb) == 3
        got = receiver.collect(3)
        assert [p[0] for p in got] == [0x40, 0x40, 0x41]
        assert ddp_frame(got, 3 * n) == rgb.tobytes()
        assert (out.packets, out.errors) == (3, 0)
    finally:
        out.close()


def test_ddp_send_frame_reads_170_pixels_per_universe_row(receiver: Receiver) -> None:
    n = 200  # two universe rows: 170 pixels, then 30
    out = DdpOutput(port=receiver.port, n_pixels=n)
    assert out.n_universes == 2
    dmx = frame(2, 3)
    try:
        assert out.send_frame(dmx) == 1
        (pkt,) = receiver.collect(1)
        strip = np.frombuffer(ddp_frame([pkt], 3 * n), np.uint8).reshape(n, 3)
        for p in (0, 169, 170, 199):
            row, col = divmod(p, 170)
            assert strip[p].tolist() == dmx[row, 3 * col : 3 * col + 3].tolist()
    finally:
        out.close()


def test_ddp_terminate_sends_nothing_and_errors_are_counted(receiver: Receiver) -> None:
    out = DdpOutput(port=receiver.port, n_pixels=10)
    assert out.terminate() == 0
    out.close()
    assert out.send_pixels(np.zeros((10, 3), np.uint8)) == 0
    assert (out.packets, out.errors) == (0, 1)


# -- all outputs on one OutputThread ------------------------------------------------------------


def test_one_output_thread_drives_sacn_artnet_and_ddp(make_receiver: Callable[[], Receiver]) -> None:
    rx = [make_receiver() for _ in range(3)]
    sacn = SacnOutput(port=rx[0].port, n_universes=2, sync_universe=9, cid=bytes(16))
    art = ArtnetOutput(port=rx[1].port, n_universes=2, sync=True)
    ddp = DdpOutput(port=rx[2].port, n_pixels=340)
    pacer = OutputThread([sacn, art, ddp], n_universes=2, rate_hz=1000.0, keepalive_s=10.0)
    pacer.start()
    try:
        for k in range(4):
            dmx = frame(2, k)
            pacer.publish(dmx, time.perf_counter(), k)
            s = rx[0].collect(3)
            a = rx[1].collect(3)
            d = rx[2].collect(1)
            assert [len(p) for p in s] == [638, 638, 49]  # a sync packet after every frame
            assert [p[126:] for p in s[:2]] == [dmx[0].tobytes(), dmx[1].tobytes()]
            assert [artdmx(p)[2] for p in a[:2]] == [dmx[0].tobytes(), dmx[1].tobytes()]
            assert len(a[2]) == 14
            assert ddp_frame(d, 1020) == dmx[0, :510].tobytes() + dmx[1, :510].tobytes()
    finally:
        pacer.stop()
        for o in (sacn, art, ddp):
            o.close()
        for r in rx:
            r.close()
    stats = pacer.stats()
    assert stats["frames_sent"] == 4 and stats["send_errors"] == 0 and stats["output_faults"] == 0
    # stop() terminated sACN (3 x 2 packets); Art-Net and DDP have nothing to send.
    assert stats["packets"] == 4 * (3 + 3 + 1) + 6


def test_registry_builds_artnet_and_ddp(receiver: Receiver) -> None:
    art = outputs.get("artnet")(port=receiver.port)
    ddp = outputs.get("ddp")(port=receiver.port, n_pixels=4)
    try:
        assert isinstance(art, ArtnetOutput) and isinstance(ddp, DdpOutput)
        assert art.send_frame(frame(1, 0)) == 1 and ddp.send_frame(frame(1, 0)) == 1
        assert len(receiver.collect(2)) == 2
    finally:
        art.close()
        ddp.close()
    with pytest.raises(UnknownPluginError, match="did you mean 'artnet'"):
        outputs.get("artnet4")


# -- sACN discovery -----------------------------------------------------------------------------


def test_sacn_unicast_discovery_goes_to_the_unicast_destination(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port, start_universe=5, n_universes=2, cid=bytes(16), discovery=True,
                     discovery_interval_s=3600.0)
    try:
        assert out.send_frame(frame(2, 0)) == 3  # the first frame starts a discovery round
        got = receiver.collect(3)
        assert [len(p) for p in got] == [638, 638, 124]
        disc = got[2]
        assert struct.unpack_from(">I", disc, 18)[0] == 0x00000008
        assert struct.unpack_from(">I", disc, 40)[0] == 0x00000002
        assert struct.unpack_from(">I", disc, 114)[0] == 0x00000001
        assert struct.unpack_from(">HH", disc, 120) == (5, 6)
        assert out.send_frame(frame(2, 1)) == 2  # not due again for an hour
        assert out.send_discovery() == 1
        assert [len(p) for p in receiver.collect(3)] == [638, 638, 124]
        assert out.discovery_rounds == 2
    finally:
        out.close()


def test_sacn_multicast_discovery_goes_to_239_255_250_214() -> None:
    # Construction only (no send).
    out = SacnOutput(n_universes=1, multicast=True, allow_multicast=True, discovery=True)
    try:
        assert out.destinations[-1] == ("239.255.250.214", 5568)
    finally:
        out.close()


def test_sacn_discovery_is_off_by_default(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port)
    try:
        assert out.send_frame(frame(1, 0)) == 1
        assert out.send_discovery() == 0
    finally:
        out.close()
