"""UdpSender, SacnOutput and OutputThread against UDP receivers on 127.0.0.1 (ephemeral ports).

Nothing here leaves the machine: every destination is 127.0.0.1, multicast/broadcast
addresses are only used to check that they are refused. Every wait is bounded.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from lumen.errors import OutputError, UnknownPluginError
from lumen.output import OutputThread, SacnOutput, UdpSender, outputs
from lumen.output.encode.sacn import SacnEncoder

pytestmark = pytest.mark.network

CID = bytes(range(16))


def fields(pkt: bytes) -> dict[str, Any]:
    """The per-send fields of an E1.31 data packet (offsets from the standard)."""
    assert len(pkt) == 638
    assert pkt[4:16] == b"ASC-E1.17\x00\x00\x00"
    priority, sync, seq, options, universe = struct.unpack_from(">BHBBH", pkt, 108)
    return {
        "priority": priority,
        "sync": sync,
        "seq": seq,
        "options": options,
        "universe": universe,
        "slots": np.frombuffer(pkt, np.uint8, 512, 126),
    }


def frame(n_universes: int, value: int) -> npt.NDArray[np.uint8]:
    """Frame whose universe ``i`` slot ``j`` holds ``(value + 7 * i + j) % 256``."""
    i = np.arange(n_universes)[:, None]
    j = np.arange(512)[None, :]
    return ((value + 7 * i + j) % 256).astype(np.uint8)


# -- UdpSender --------------------------------------------------------------------------------


def test_udp_sender_delivers_exact_bytes_from_an_ephemeral_port(receiver: Receiver) -> None:
    payload = bytes(range(256)) * 2
    with UdpSender("127.0.0.1", receiver.port) as sender:
        assert sender.local_address[1] not in (0, 5568)
        assert sender.send(payload)
        assert sender.send(memoryview(b"second"))
        assert receiver.collect(2) == [payload, b"second"]
        assert (sender.packets, sender.errors, sender.last_error) == (2, 0, "")


def test_udp_sender_resolves_localhost(receiver: Receiver) -> None:
    with UdpSender("localhost", receiver.port) as sender:
        assert sender.address == "127.0.0.1"
        assert sender.send(b"x")
        assert receiver.collect(1) == [b"x"]


@pytest.mark.parametrize("address", ["239.255.0.1", "224.0.0.1", "255.255.255.255", "0.0.0.0"])
def test_udp_sender_refuses_group_and_unspecified_addresses(address: str) -> None:
    with pytest.raises(OutputError):
        UdpSender(address, 5568)


def test_udp_sender_allows_multicast_only_when_asked() -> None:
    # Construction only: nothing is sent to the group here.
    sender = UdpSender("239.255.0.1", 5568, allow_multicast=True)
    assert sender.destination == ("239.255.0.1", 5568)
    sender.close()


@pytest.mark.parametrize("port", [0, 65536])
def test_udp_sender_refuses_bad_ports(port: int) -> None:
    with pytest.raises(OutputError, match="port"):
        UdpSender("127.0.0.1", port)


def test_udp_sender_unknown_host_raises_output_error() -> None:
    with pytest.raises(OutputError, match="resolve"):
        UdpSender("no-such-host.invalid", 5568)


def test_send_to_a_closed_port_never_raises() -> None:
    # An unconnected UDP socket gets no ECONNREFUSED on Linux; whatever the kernel reports is
    # counted, and every attempt is accounted for.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    with UdpSender("127.0.0.1", closed_port) as sender:
        results = [sender.send(b"nobody home") for _ in range(20)]
        assert sender.packets + sender.errors == 20
        assert sender.packets == sum(results)


def test_oversized_packet_is_counted_not_raised(receiver: Receiver) -> None:
    with UdpSender("127.0.0.1", receiver.port) as sender:
        assert sender.send(bytes(70_000)) is False
        assert sender.errors == 1
        assert "too long" in sender.last_error.lower()
        assert sender.send(b"still works")  # the socket is fine afterwards
        assert receiver.collect(1) == [b"still works"]
        assert (sender.packets, sender.errors) == (1, 1)


def test_send_on_a_closed_socket_is_counted_not_raised(receiver: Receiver) -> None:
    sender = UdpSender("127.0.0.1", receiver.port)
    sender.close()
    assert sender.send(b"x") is False
    assert sender.send(b"y") is False
    assert (sender.packets, sender.errors) == (0, 2)
    assert "Errno" in sender.last_error


# -- SacnOutput -------------------------------------------------------------------------------


def test_sacn_output_sends_exact_packets(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port, start_universe=10, n_universes=3, priority=120, cid=CID)
    reference = SacnEncoder(3, start_universe=10, priority=120, cid=CID)
    try:
        for k in range(3):
            dmx = frame(3, k)
            assert out.send_frame(dmx) == 3
            got = receiver.collect(3)
            expected = [bytes(v) for v in reference.encode_frame(dmx)]
            assert got == expected
            for i, pkt in enumerate(got):
                f = fields(pkt)
                assert (f["universe"], f["priority"], f["seq"], f["options"]) == (10 + i, 120, k, 0)
                assert np.array_equal(f["slots"], dmx[i])
        assert (out.packets, out.errors) == (9, 0)
    finally:
        out.close()


def test_sacn_output_terminate_sends_three_per_universe(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port, n_universes=2, cid=CID)
    try:
        out.send_frame(frame(2, 1))
        receiver.collect(2)
        assert out.terminate() == 6
        got = [fields(p) for p in receiver.collect(6)]
        assert [(f["universe"], f["seq"], f["options"]) for f in got] == [
            (1, 1, 0x40), (2, 1, 0x40), (1, 2, 0x40), (2, 2, 0x40), (1, 3, 0x40), (2, 3, 0x40),
        ]
    finally:
        out.close()


def test_sacn_output_with_sync_universe_ends_each_frame_with_a_sync_packet(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port, n_universes=2, sync_universe=5, cid=CID)
    try:
        for k in range(2):
            assert out.send_frame(frame(2, k)) == 3
            got = receiver.collect(3)
            assert [len(p) for p in got] == [638, 638, 49]
            assert [fields(p)["sync"] for p in got[:2]] == [5, 5]
            sync = got[2]
            assert struct.unpack_from(">I", sync, 18)[0] == 0x00000008
            assert struct.unpack_from(">I", sync, 40)[0] == 0x00000001
            assert (sync[44], struct.unpack_from(">H", sync, 45)[0]) == (k, 5)
    finally:
        out.close()


def test_sacn_output_counts_errors_and_never_raises(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port, n_universes=2)
    out.close()
    assert out.send_frame(frame(2, 0)) == 0
    assert out.terminate() == 0
    assert (out.packets, out.errors) == (0, 8)
    assert out.last_error


def test_sacn_output_refuses_multicast_unless_allowed() -> None:
    with pytest.raises(OutputError, match="allow_multicast"):
        SacnOutput(multicast=True)
    with pytest.raises(OutputError, match="multicast"):
        SacnOutput(address="239.255.0.1")


def test_sacn_output_multicast_groups_per_universe() -> None:
    # Construction only (no send): universe u goes to 239.255.hi.lo, the sync universe too.
    out = SacnOutput(start_universe=255, n_universes=2, sync_universe=7, multicast=True, allow_multicast=True)
    try:
        assert out.destinations == (("239.255.0.255", 5568), ("239.255.1.0", 5568), ("239.255.0.7", 5568))
    finally:
        out.close()


def test_registry_builds_sacn_output(receiver: Receiver) -> None:
    out = outputs.get("sacn")(port=receiver.port)
    try:
        assert isinstance(out, SacnOutput)
        assert out.send_frame(frame(1, 0)) == 1
        assert len(receiver.collect(1)) == 1
    finally:
        out.close()
    with pytest.raises(UnknownPluginError, match="did you mean 'sacn'"):
        outputs.get("sacm")


# -- OutputThread -----------------------------------------------------------------------------


def wait_for(predicate: Any, timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes (bounded)."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


def test_publish_never_needs_the_output_thread() -> None:
    # No thread started: a publisher must still never wait (the slots are simply overwritten).
    out = SacnOutput(port=9, n_universes=2)  # never sends: the thread is not started
    pacer = OutputThread([out], n_universes=2)
    for k in range(1000):
        pacer.publish(frame(2, k), time.perf_counter(), k)
    assert pacer.stats()["frames_published"] == 1000
    assert pacer.stats()["packets"] == 0
    out.close()


def test_output_thread_delivers_frames_and_terminates_on_stop(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port, n_universes=2, cid=CID)
    pacer = OutputThread([out], n_universes=2, rate_hz=1000.0, keepalive_s=10.0)
    pacer.start()
    try:
        for k in range(5):
            pacer.publish(frame(2, k), time.perf_counter(), k)
            got = [fields(p) for p in receiver.collect(2)]
            assert [f["universe"] for f in got] == [1, 2]
            assert np.array_equal(got[0]["slots"], frame(2, k)[0])
            assert np.array_equal(got[1]["slots"], frame(2, k)[1])
            assert [f["seq"] for f in got] == [k, k]
    finally:
        pacer.stop()
    assert not pacer.running
    term = [fields(p) for p in receiver.collect(6)]
    assert [f["options"] for f in term] == [0x40] * 6
    assert sorted(f["universe"] for f in term) == [1, 1, 1, 2, 2, 2]
    stats = pacer.stats()
    assert stats["frames_sent"] == 5
    assert stats["packets"] == 5 * 2 + 6
    assert stats["send_errors"] == 0
    out.close()


def test_output_thread_resends_keepalives_of_a_static_look(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port, n_universes=1, cid=CID)
    pacer = OutputThread([out], n_universes=1, rate_hz=44.0, keepalive_s=0.05)
    pacer.start()
    try:
        pacer.publish(frame(1, 42), time.perf_counter(), 0)
        assert wait_for(lambda: pacer.stats()["keepalives"] >= 3)
    finally:
        pacer.stop()
    got = [fields(p) for p in receiver.drain()]
    data = [f for f in got if f["options"] == 0]
    assert len(data) >= 4  # the frame once, then the keep-alives
    assert all(np.array_equal(f["slots"], frame(1, 42)[0]) for f in data)
    assert [f["seq"] for f in data] == list(range(len(data)))  # every re-send is a new packet
    assert pacer.stats()["frames_sent"] == 1


def test_output_thread_caps_rate_and_sends_latest_frame(receiver: Receiver) -> None:
    rate_hz = 20.0
    out = SacnOutput(port=receiver.port, n_universes=1, rate_hz=rate_hz, cid=CID)
    pacer = OutputThread([out], n_universes=1, rate_hz=1000.0, keepalive_s=10.0)
    pacer.start()
    t0 = time.perf_counter()
    n_published = 0
    try:
        while time.perf_counter() - t0 < 0.4 and n_published < 100_000:
            pacer.publish(frame(1, n_published), time.perf_counter(), n_published)
            n_published += 1
            time.sleep(0.0005)
        # Every published frame ends up either sent or replaced by a newer one.
        assert wait_for(lambda: sum(pacer.stats()[k] for k in ("frames_sent", "frames_coalesced")) == n_published)
        elapsed = time.perf_counter() - t0
    finally:
        pacer.stop()
    stats = pacer.stats()
    # An upper bound only (a slow machine sends fewer, never more): the output's own 20 Hz cap
    # wins over the thread's 1000 Hz.
    assert stats["frames_sent"] <= elapsed * rate_hz + 1
    assert stats["frames_coalesced"] > 0
    assert stats["frames_sent"] + stats["frames_coalesced"] == n_published
    data = [f for f in map(fields, receiver.drain()) if f["options"] == 0]
    assert len(data) == stats["frames_sent"]
    assert np.array_equal(data[-1]["slots"], frame(1, n_published - 1)[0])  # the latest frame won


def test_output_thread_records_latency_from_audio_time(receiver: Receiver) -> None:
    out = SacnOutput(port=receiver.port, n_universes=1)
    pacer = OutputThread([out], n_universes=1, rate_hz=1000.0, keepalive_s=10.0)
    assert pacer.latency_percentiles()["n"] == 0
    pacer.start()
    try:
        for k in range(10):
            # The audio for this frame was captured 20 ms before it was published.
            pacer.publish(frame(1, k), time.perf_counter() - 0.020, k)
            assert len(receiver.collect(1)) == 1
        assert wait_for(lambda: pacer.stats()["latency_samples"] >= 10)
    finally:
        pacer.stop()
    pct = pacer.latency_percentiles()
    assert pct["n"] == 10
    assert 20.0 <= pct["p50"] <= pct["p90"] <= pct["p99"]


def test_output_thread_frames_are_never_torn(receiver: Receiver) -> None:
    """Frames of one value each, published as fast as possible: every sent frame is uniform."""
    n_universes = 16
    out = SacnOutput(port=receiver.port, n_universes=n_universes, rate_hz=5000.0)
    pacer = OutputThread([out], n_universes=n_universes, rate_hz=5000.0, keepalive_s=10.0)
    uniform = np.zeros((n_universes, 512), np.uint8)
    receiver.start_background()
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke overlaps
    pacer.start()
    try:
        for k in range(3000):
            uniform.fill(k % 256)
            pacer.publish(uniform, time.perf_counter(), k)
            if k % 4 == 0:
                time.sleep(0)
        assert wait_for(lambda: pacer.stats()["frames_sent"] >= 1)
    finally:
        sys.setswitchinterval(old_interval)
        pacer.stop()
    data = [f for f in map(fields, receiver.stop_background()) if f["options"] == 0]
    assert data
    # Within a packet every slot has the frame's value ...
    values = [np.unique(f["slots"]) for f in data]
    assert all(len(v) == 1 for v in values), "torn universe"
    # ... and the universes of one send (same sequence number, in order) agree. Grouping by
    # sequence keeps the check valid if the receive buffer dropped some datagrams.
    for prev, cur, v_prev, v_cur in zip(data, data[1:], values, values[1:]):
        if cur["seq"] == prev["seq"] and cur["universe"] == prev["universe"] + 1:
            assert v_cur[0] == v_prev[0], "torn frame across universes"


class FailingOutput:
    """An output whose every send raises, to check that the others go on."""

    n_universes = 1
    rate_hz = 44.0
    packets = 0
    errors = 0

    def __init__(self) -> None:
        self.calls = 0

    def send_frame(self, dmx: npt.NDArray[np.uint8]) -> int:
        self.calls += 1
        raise RuntimeError("cable unplugged")

    def terminate(self) -> int:
        raise RuntimeError("still unplugged")

    def close(self) -> None:
        pass


def test_a_failing_output_never_stops_the_others(receiver: Receiver) -> None:
    bad = FailingOutput()
    closed = SacnOutput(port=receiver.port, n_universes=1)
    closed.close()  # every send fails with EBADF: counted as send errors
    good = SacnOutput(port=receiver.port, n_universes=1, cid=CID)
    pacer = OutputThread([bad, closed, good], n_universes=1, rate_hz=1000.0, keepalive_s=10.0)
    pacer.start()
    try:
        for k in range(3):
            pacer.publish(frame(1, k), time.perf_counter(), k)
            got = receiver.collect(1)
            assert len(got) == 1
            assert np.array_equal(fields(got[0])["slots"], frame(1, k)[0])
    finally:
        pacer.stop()
    stats = pacer.stats()
    assert bad.calls == 3
    assert stats["output_faults"] == 3 + 1  # three sends and the terminate
    assert "cable unplugged" in pacer.last_fault or "still unplugged" in pacer.last_fault
    assert stats["send_errors"] == 3 + 3  # the closed output: three frames, three terminates
    # the good output still terminated cleanly
    term = [fields(p) for p in receiver.collect(3)]
    assert [f["options"] for f in term] == [0x40] * 3
    good.close()


def test_output_thread_rejects_mismatched_outputs() -> None:
    out = SacnOutput(port=9, n_universes=2)
    with pytest.raises(OutputError, match="universes"):
        OutputThread([out], n_universes=3)
    out.close()
