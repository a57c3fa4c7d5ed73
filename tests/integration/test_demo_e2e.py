"""End to end: `lumen demo` and `lumen run` as a user runs them, checked from outside."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
LUMEN = [sys.executable, "-m", "lumen.cli"]

pytestmark = [pytest.mark.network, pytest.mark.gpu, pytest.mark.slow]


class SacnReceiver:
    """Collects E1.31 data packets arriving on a UDP port of 127.0.0.1 (decoded by hand)."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets: list[tuple[int, int, bytes]] = []  # (universe, sequence, slots)
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(1024)
            except TimeoutError:
                continue
            if len(data) >= 126 and data[4:16] == b"ASC-E1.17\x00\x00\x00" and data[18:22] == b"\x00\x00\x00\x04":
                universe = struct.unpack(">H", data[113:115])[0]
                self.packets.append((universe, data[111], data[126:]))

    def close(self) -> None:
        self._stop.set()
        self._th.join()
        self.sock.close()


def _show(tmp_path: Path, port: int, extra_outputs: str = "", **over: str) -> Path:
    text = (REPO / "presets" / "demo.yaml").read_text()
    text = text.replace("port: 5568", f"port: {port}")
    for k, v in over.items():
        text = text.replace(k, v)
    if extra_outputs:  # the outputs list ends where the safety section begins
        assert "\nsafety:" in text
        text = text.replace("\nsafety:", extra_outputs + "\nsafety:", 1)
    p = tmp_path / "show.yaml"
    p.write_text(text)
    return p


def test_demo_runs_the_chain_and_sacn_reaches_a_receiver(tmp_path: Path) -> None:
    rx = SacnReceiver()
    art = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    art.bind(("127.0.0.1", 0))
    art.settimeout(0.05)
    try:
        show = _show(tmp_path, rx.port, **{"port: 6454": f"port: {art.getsockname()[1]}"})
        out = tmp_path / "demo-out"
        r = subprocess.run(LUMEN + ["demo", "--seconds", "8", "--out", str(out), "--show", str(show)], capture_output=True, text=True, timeout=120)
        artdmx: list[tuple[int, bytes]] = []
        for _ in range(100000):  # drain what queued up (bounded)
            try:
                data = art.recv(1024)
            except OSError:
                break
            if data[:8] == b"Art-Net\x00" and data[8:10] == b"\x00\x50":
                artdmx.append((struct.unpack("<H", data[14:16])[0], data[18:]))
    finally:
        rx.close()
        art.close()
    # The demo also sends the same universes as Art-Net (Port-Addresses 0..12).
    assert {u for u, _ in artdmx} == set(range(13))
    assert max(max(d) for _, d in artdmx) > 100
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in ("seconds", "frames", "packets", "callbacks", "xruns", "late_frames", "latency_ms"):
        assert key in summary
    assert summary["frames"] > 100 and summary["callbacks"] > 1000
    assert summary["xruns"] == 0
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p99"] < 1000
    # 64x32 pixels = 2048 = 12 full universes of 170 pixels + 8 pixels.
    assert summary["universes"] == 13
    universes = {u for u, _, _ in rx.packets}
    assert universes == set(range(1, 14))
    assert summary["outputs"][0]["type"] == "sacn"
    assert len(rx.packets) >= summary["outputs"][0]["packets"] * 0.95
    # The wall is lit and changes with the music.
    u1 = [np.frombuffer(s, np.uint8) for u, _, s in rx.packets if u == 1]
    assert max(int(a.max()) for a in u1) > 100
    assert len({a.tobytes() for a in u1}) > 20
    # Sequence numbers of universe 1 increase by one (mod 256).
    seqs = [s for u, s, _ in rx.packets if u == 1]
    assert all((b - a) % 256 == 1 for a, b in zip(seqs, seqs[1:]))
    assert (out / "preview.gif").stat().st_size > 1000
    # The generated music is 124 bpm; the baseline tracker should have found it (or its octave).
    est = summary["tempo"]["estimated_bpm"]
    assert min(abs(est - 124), abs(est - 62), abs(est - 248)) < 3


def test_demo_default_show_sends_to_the_standard_sacn_port() -> None:
    text = (REPO / "presets" / "demo.yaml").read_text()
    assert "address: 127.0.0.1" in text and "port: 5568" in text


def test_show_with_a_typo_names_file_line_and_key(tmp_path: Path) -> None:
    show = _show(tmp_path, 5568, **{"serpentine: true": "serpentin: true"})
    r = subprocess.run(LUMEN + ["run", str(show), "--seconds", "1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    line = next(i for i, l in enumerate(show.read_text().splitlines(), 1) if "serpentin:" in l)
    assert f"{show}:{line}:" in r.stderr and "wall.serpentin" in r.stderr and "serpentine" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_audio_device_is_one_line_and_exit_3(tmp_path: Path) -> None:
    show = _show(tmp_path, 5568)
    r = subprocess.run(LUMEN + ["run", str(show), "--input", "no-such-device-xyz", "--seconds", "2"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "no-such-device-xyz" in r.stderr


def _netns(name: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", name, *cmd]


def test_unreachable_output_is_counted_and_the_show_runs_on(tmp_path: Path) -> None:
    """In a private network namespace with only loopback, one output points at an address
    with no route (ENETUNREACH at sendto, nothing leaves): its errors are counted while the
    loopback output keeps delivering."""
    ns = f"lumen-t{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(_netns(ns, "ip", "link", "set", "lo", "up"), check=True)
        extra = "\n  - type: sacn\n    address: 192.0.2.1\n    port: 5568\n    universe: 1\n"
        show = _show(tmp_path, 5569, extra_outputs=extra)
        out = tmp_path / "o"
        code = (
            "import socket,sys,subprocess,json;"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('127.0.0.1',5569));s.settimeout(0.5);"
            f"p=subprocess.Popen({LUMEN + ['demo', '--seconds', '5', '--out', str(out), '--show', str(show)]!r});"
            "n=0\n"
            "while p.poll() is None:\n"
            " try:\n  s.recv(1024); n+=1\n except OSError: pass\n"
            "print(json.dumps({'rc': p.returncode, 'received': n}))"
        )
        r = subprocess.run(_netns(ns, sys.executable, "-c", code), capture_output=True, text=True, timeout=120, env={**os.environ})
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        assert res["rc"] == 0, r.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert summary["send_errors"] > 0
        assert res["received"] > 100
        assert summary["frames"] > 100
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


SOLID = """/*{"DESCRIPTION": "flat color", "INPUTS": []}*/
void main() { gl_FragColor = vec4(0.2, 0.4, 0.6, 1.0); }
"""


def test_fixtures_are_patched_next_to_the_wall(tmp_path: Path) -> None:
    """A 16x8 wall on universe 1 and an OFL RGB par on universe 3 (nothing on 2): the par
    takes the frame's color at its position, at the intensity its binding gives."""
    ofl = REPO.parent / "shared" / "data" / "ofl" / "fixtures"
    (tmp_path / "solid.fs").write_text(SOLID)
    rx = SacnReceiver()
    show = tmp_path / "rig.yaml"
    show.write_text(
        "version: 1\n"
        "scene: {shader: solid.fs}\n"
        "wall: {width: 16, height: 8}\n"
        f"fixture_library: {ofl}\n"
        "fixtures:\n"
        "  - {name: par, profile: generic/rgb-fader, mode: 8bit, universe: 3, address: 10, position: [0.25, 0.5], intensity: 0.5}\n"
        "strips: {universe: 4, color_order: GRB, strips: [{points: [[0.1, 0.9], [0.9, 0.9]], n_pixels: 10}]}\n"
        f"outputs: [{{type: sacn, address: 127.0.0.1, port: {rx.port}}}]\n"
    )
    try:
        r = subprocess.run(LUMEN + ["demo", "--seconds", "3", "--out", str(tmp_path / "o"), "--show", str(show)], capture_output=True, text=True, timeout=120)
    finally:
        rx.close()
    assert r.returncode == 0, r.stderr
    # A packet from the middle of the run (the last ones are the black exit frame).
    by_u: dict[int, list[bytes]] = {}
    for u, _, data in rx.packets:
        by_u.setdefault(u, []).append(data)
    last = {u: np.frombuffer(p[len(p) // 2], np.uint8) for u, p in by_u.items()}
    assert all(np.frombuffer(p[-1], np.uint8).max() == 0 for p in by_u.values())  # blackout on exit
    assert set(last) == {1, 2, 3, 4}
    assert last[4][:30].tolist() == [102, 51, 153] * 10 and last[4][30:].max() == 0  # GRB strip
    assert last[1][:3].tolist() == [51, 102, 153] and last[1][384:].max() == 0  # 128 px = 384 slots
    assert last[2].max() == 0
    # rgb-fader has no dimmer: the color channels carry intensity (0.5 of 51, 102, 153).
    assert last[3][9:12].tolist() == [26, 51, 77] or last[3][9:12].tolist() == [25, 51, 76]
    assert last[3][:9].max() == 0 and last[3][12:].max() == 0


def test_sacn_sync_and_discovery_from_the_show_file(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    show = tmp_path / "sync.yaml"
    show.write_text(
        "version: 1\nwall: {width: 16, height: 8}\n"
        f"outputs: [{{type: sacn, port: {sock.getsockname()[1]}, sync_universe: 7, discovery: true}}]\n"
    )
    try:
        r = subprocess.run(LUMEN + ["demo", "--seconds", "2", "--out", str(tmp_path / "o"), "--show", str(show)], capture_output=True, text=True, timeout=120)
        kinds: dict[str, int] = {}
        for _ in range(100000):  # bounded drain
            try:
                data = sock.recv(1024)
            except OSError:
                break
            root = struct.unpack(">I", data[18:22])[0]
            framing = struct.unpack(">I", data[40:44])[0]
            kind = {(4, 2): "data", (8, 1): "sync", (8, 2): "discovery"}.get((root, framing), "other")
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "data":
                assert struct.unpack(">H", data[109:111])[0] == 7  # data packets name the sync universe
    finally:
        sock.close()
    assert r.returncode == 0, r.stderr
    assert kinds.get("data", 0) > 20 and kinds.get("sync", 0) > 20 and kinds.get("discovery", 0) >= 1
    assert "other" not in kinds
