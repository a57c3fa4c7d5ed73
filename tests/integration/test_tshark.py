"""lumen's sACN packets as Wireshark's ACN dissector (tshark) sees them, captured on lo.

Sends only to 127.0.0.1 (an ephemeral receiver port); the capture is bounded by packet count
and duration. Universe synchronization packets are not dissected by this tshark version, so
they are checked against the standard's octets instead.
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

from lumen.output import SacnOutput

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


def start_capture(port: int, path: Path) -> subprocess.Popen[bytes]:
    """Start tshark on lo and return once it reports that the capture has started."""
    proc = subprocess.Popen(
        ["tshark", "-q", "-i", "lo", "-f", f"udp port {port}", "-a", "duration:20", "-c", str(N_PACKETS),
         "-w", str(path)],
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
