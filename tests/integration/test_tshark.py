"""lumen's sACN and Art-Net packets as Wireshark's dissectors (tshark) see them, captured on lo.

Sends only to 127.0.0.1 (ephemeral receiver ports, decoded as Art-Net with ``-d``); the captures
are bounded by packet count and duration. Universe synchronization packets are not dissected by
this tshark version, so they are checked against the standard's octets instead.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lumen.output import ArtnetOutput, ArtPollResponder, SacnOutput
from lumen.output.encode.artnet import encode_artpoll

pytestmark = [pytest.mark.network, pytest.mark.slow]

# The dissection command from PEERS.md.
FIELDS = [
    "_ws.malformed", "acn.dmx.universe", "acn.dmx.priority", "acn.dmx.seq_number", "acn.dmx.options",
    "acn.dmx.count", "artnet.header.opcode", "artnet.output.universe", "artnet.output.length",
    "dmx_chan.data_filter", "osc.message.header.path", "osc.message.header.format", "osc.message.float",
    "udp.payload", "acn.dmx.reserved",
]
START_UNIVERSE, N_UNIVERSES, PRIORITY, SYNC_UNIVERSE, N_FRAMES = 7, 3, 33, 9, 4
N_PACKETS = N_FRAMES * (N_UNIVERSES + 1) + 3 * N_UNIVERSES  # data + sync per frame, then terminates


@pytest.fixture()
def receiver_port() -> Iterator[int]:
    """An ephemeral UDP port on 127.0.0.1 with a bound (never read) socket behind it."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (scripts/setup.sh installs it)")
    if os.geteuid() != 0:
        pytest.skip("capturing on lo needs root")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def start_capture(port: int, path: Path, n_packets: int = N_PACKETS, extra_port: int = 0) -> subprocess.Popen[bytes]:
    """Start tshark on lo and return once it reports that the capture has started."""
    bpf = f"udp port {port}" + (f" or udp port {extra_port}" if extra_port else "")
    proc = subprocess.Popen(
        ["tshark", "-q", "-i", "lo", "-f", bpf, "-a", "duration:20", "-c", str(n_packets), "-w", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    seen = b""
    deadline = time.perf_counter() + 15.0
    while b"Capture started" not in seen and b"Capturing on" not in seen:
        left = deadline - time.perf_counter()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            proc.wait(5)
            pytest.fail(f"tshark did not start capturing: {seen.decode(errors='replace')}")
        ready, _, _ = select.select([proc.stderr], [], [], left)
        if ready:
            seen += os.read(proc.stderr.fileno(), 4096)
    time.sleep(0.2)  # "Capturing on" is printed just before the capture loop starts
    return proc


def frame_values(k: int) -> np.ndarray:
    i = np.arange(N_UNIVERSES)[:, None]
    j = np.arange(512)[None, :]
    return ((k * 53 + i * 17 + j * 3) % 256).astype(np.uint8)


def test_tshark_dissects_every_packet(receiver_port: int, tmp_path: Path) -> None:
    cap = tmp_path / "sacn.pcapng"
    proc = start_capture(receiver_port, cap)
    out = SacnOutput(
        port=receiver_port, start_universe=START_UNIVERSE, n_universes=N_UNIVERSES, priority=PRIORITY,
        sync_universe=SYNC_UNIVERSE,
    )
    try:
        for k in range(N_FRAMES):
            assert out.send_frame(frame_values(k)) == N_UNIVERSES + 1
        assert out.terminate() == 3 * N_UNIVERSES
    finally:
        out.close()
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0

    cmd = ["tshark", "-r", str(cap), "--enable-heuristic", "acn", "--enable-heuristic", "osc_udp",
           "-o", "acn.dmx_enable:TRUE", "-T", "fields"]
    for f in FIELDS:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    rows = [dict(zip(FIELDS, line.split("\t"))) for line in res.stdout.splitlines()]
    assert len(rows) == N_PACKETS

    data = [r for r in rows if len(r["udp.payload"]) == 2 * 638]
    syncs = [bytes.fromhex(r["udp.payload"]) for r in rows if len(r["udp.payload"]) == 2 * 49]
    assert len(data) == N_FRAMES * N_UNIVERSES + 3 * N_UNIVERSES
    assert len(syncs) == N_FRAMES

    for n, row in enumerate(data):
        assert row["_ws.malformed"] == "", f"packet {n} is malformed"
        payload = bytes.fromhex(row["udp.payload"])
        k, i = divmod(n, N_UNIVERSES)  # frames first, then the terminate rounds
        assert int(row["acn.dmx.universe"]) == START_UNIVERSE + i
        assert int(row["acn.dmx.priority"]) == PRIORITY
        assert int(row["acn.dmx.seq_number"]) == k
        assert int(row["acn.dmx.count"]) == 513
        assert int(row["acn.dmx.reserved"]) == SYNC_UNIVERSE  # the sync address
        terminated = k >= N_FRAMES
        assert int(row["acn.dmx.options"], 0) == (0x40 if terminated else 0)
        assert payload[125] == 0  # start code
        expected = frame_values(min(k, N_FRAMES - 1))[i]  # terminates repeat the last slots
        assert np.array_equal(np.frombuffer(payload[126:], np.uint8), expected)

    for k, pkt in enumerate(syncs):
        root_fl, root_vec = struct.unpack_from(">HI", pkt, 16)
        fr_fl, fr_vec, seq, sync_addr = struct.unpack_from(">HIBH", pkt, 38)
        assert (root_fl, root_vec, fr_fl, fr_vec) == (0x7000 | 33, 0x00000008, 0x7000 | 11, 0x00000001)
        assert (seq, sync_addr, pkt[47:49]) == (k, SYNC_UNIVERSE, b"\x00\x00")


ART_START, ART_UNIVERSES, ART_FRAMES = 0x0123, 3, 4
ART_FIELDS = [
    "_ws.malformed", "_ws.expert", "artnet.header.opcode", "artnet.header.protver", "artnet.output.sequence",
    "artnet.output.universe", "artnet.output.length", "dmx_chan.data_filter", "artnet.poll_reply.short_name",
    "artnet.poll_reply.num_ports", "artnet.poll_reply.swin_1_universe", "artnet.poll_reply.netswitch",
    "artnet.poll_reply.subswitch", "artnet.poll_reply.style", "artnet.poll_reply.bind_index", "udp.payload",
]


def test_tshark_dissects_artnet_dmx_sync_poll_and_poll_reply(receiver_port: int, tmp_path: Path) -> None:
    responder = ArtPollResponder(range(ART_START, ART_START + ART_UNIVERSES), port=0, short_name="lumen-tshark")
    resp_port = responder.local_address[1]
    n_replies = len(responder.pages)
    n_packets = ART_FRAMES * (ART_UNIVERSES + 1) + 1 + n_replies
    cap = tmp_path / "artnet.pcapng"
    proc = start_capture(receiver_port, cap, n_packets, extra_port=resp_port)
    out = ArtnetOutput(port=receiver_port, start_universe=ART_START, n_universes=ART_UNIVERSES, sync=True)
    poller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    poller.bind(("127.0.0.1", 0))
    responder.start()
    try:
        for k in range(ART_FRAMES):
            assert out.send_frame(frame_values(k)) == ART_UNIVERSES + 1
        poller.sendto(encode_artpoll(), ("127.0.0.1", resp_port))
        poller.settimeout(5.0)
        for _ in range(n_replies):
            assert len(poller.recv(2048)) == 239
    finally:
        responder.stop()
        poller.close()
        out.close()
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0

    cmd = ["tshark", "-r", str(cap), "-d", f"udp.port=={receiver_port},artnet", "-d", f"udp.port=={resp_port},artnet",
           "-T", "fields", "-E", "occurrence=f"]
    for f in ART_FIELDS:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    rows = [dict(zip(ART_FIELDS, line.split("\t"))) for line in res.stdout.splitlines()]
    assert len(rows) == n_packets
    assert all(r["_ws.malformed"] == "" for r in rows), "a malformed Art-Net packet"
    by_op: dict[int, list[dict[str, str]]] = {}
    for r in rows:
        by_op.setdefault(int(r["artnet.header.opcode"], 0), []).append(r)
    assert sorted(by_op) == [0x2000, 0x2100, 0x5000, 0x5200]
    dmx, syncs = by_op[0x5000], by_op[0x5200]
    assert len(dmx) == ART_FRAMES * ART_UNIVERSES and len(syncs) == ART_FRAMES
    for n, row in enumerate(dmx):
        k, i = divmod(n, ART_UNIVERSES)
        assert int(row["artnet.header.protver"]) == 14
        assert int(row["artnet.output.universe"], 0) == ART_START + i
        assert int(row["artnet.output.length"]) == 512
        assert int(row["artnet.output.sequence"]) == k + 1
        values = bytes.fromhex(row["dmx_chan.data_filter"].replace(":", ""))
        assert values == frame_values(k)[i].tobytes()
    assert all(bytes.fromhex(r["udp.payload"]) == b"Art-Net\x00\x00\x52\x00\x0e\x00\x00" for r in syncs)
    (poll,) = by_op[0x2000]
    assert int(poll["artnet.header.protver"]) == 14
    replies = by_op[0x2100]
    assert len(replies) == n_replies
    for bind_index, r in enumerate(replies, start=1):
        assert r["artnet.poll_reply.short_name"] == "lumen-tshark"
        assert int(r["artnet.poll_reply.style"], 0) == 0x01
        assert int(r["artnet.poll_reply.bind_index"], 0) == bind_index
        assert int(r["artnet.poll_reply.netswitch"], 0) == ART_START >> 8
        assert int(r["artnet.poll_reply.subswitch"], 0) == (ART_START >> 4) & 0xF
    assert int(replies[0]["artnet.poll_reply.num_ports"]) == ART_UNIVERSES
    assert int(replies[0]["artnet.poll_reply.swin_1_universe"]) == ART_START  # as tshark computes it
