"""The show-control subcommands and flags, run as a user runs them."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from lumen.output.encode.osc import osc_message
from lumen.show.load import load_show

REPO = Path(__file__).resolve().parents[2]
LUMEN = [sys.executable, "-m", "lumen.cli"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUMEN, *args], capture_output=True, text=True, timeout=timeout)


def test_osc_map_lists_the_shows_scenes_and_nodes() -> None:
    r = run("osc-map", str(REPO / "presets" / "neon_tunnel.yaml"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("|") and "address" in lines[0].lower()
    for needle in ("/lumen/scene/cruise", "/lumen/scene/surge", "/lumen/cue/go", "/lumen/tap", "/lumen/master", "/lumen/param/cruise/layer1/"):
        assert any(needle in line for line in lines), (needle, r.stdout)


def test_migrate_rewrites_a_version_1_show(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text("version: 1\nname: club\nscene:\n  shader: wash.fs\n  params: {hue: bar_phase}\n")
    before = load_show(old)
    r = run("migrate", str(old))
    assert r.returncode == 0, r.stderr
    assert "version 1 -> 2" in r.stdout
    assert (tmp_path / "old.yaml.bak").read_text().startswith("version: 1")
    assert old.read_text().startswith("# lumen show file (version 2)")
    assert load_show(old) == before
    again = run("migrate", str(old))
    assert "already version 2" in again.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nscene: {shadr: x}\n")
    r = run("migrate", str(bad))
    assert r.returncode == 2 and f"{bad}:2:9: scene.shadr" in r.stderr


@pytest.mark.hardware
def test_midi_list_on_jack(jack_server: str) -> None:
    r = run("midi", "list", "--api", "jack")
    assert r.returncode == 0, r.stderr


@pytest.mark.network
@pytest.mark.gpu
@pytest.mark.slow
def test_demo_takes_an_osc_port(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    proc = subprocess.Popen([*LUMEN, "demo", "--seconds", "6", "--osc-port", str(port), "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got: list[tuple[str, list[object]]] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.2)
            deadline = time.perf_counter() + 30.0
            while time.perf_counter() < deadline and not any(a == "/lumen/pong" for a, _ in got):
                s.sendto(osc_message("/lumen/ping", [7]), ("127.0.0.1", port))
                try:
                    data = s.recv(2048)
                except TimeoutError:
                    continue
                m = OscMessage(data)
                got.append((m.address, list(m.params)))
            s.sendto(osc_message("/lumen/master", [0.5]), ("127.0.0.1", port))
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert ("/lumen/pong", [7]) in got, got
