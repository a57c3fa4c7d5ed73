"""lumen's sACN and Art-Net outputs against a real receiver: olad (OLA 0.10.9) in a private
network namespace.

The namespace is created by ../shared/peers/ola_netns_up.sh and deleted by ola_netns_down.sh in
a fixture; the senders run inside it (tests/helpers/olad_scenarios.py), so the multicast
scenarios never reach a real network. Values are read back from olad's HTTP ``get_dmx``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]

PEERS = Path(os.environ.get("LUMEN_PEERS", Path(__file__).resolve().parents[3] / "shared" / "peers"))
UP = PEERS / "ola_netns_up.sh"
DOWN = PEERS / "ola_netns_down.sh"
HELPER = Path(__file__).resolve().parents[1] / "helpers" / "olad_scenarios.py"


def _unavailable() -> str:
    """Why the olad tests cannot run here ("" if they can)."""
    if shutil.which("olad") is None:
        return "olad is not installed (Debian package `ola`; scripts/setup.sh installs it)"
    if shutil.which("ip") is None or shutil.which("curl") is None:
        return "`ip` (iproute2) or `curl` is not installed"
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if not (UP.exists() and DOWN.exists()):
        return f"OLA namespace scripts not found in {PEERS} (set LUMEN_PEERS)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        return f"`ip netns` is unavailable: {probe.stderr.decode(errors='replace').strip()}"
    return ""


@pytest.fixture(scope="module")
def olad_netns() -> Iterator[str]:
    """A fresh namespace with olad receiving sACN universes 1..5 and Art-Net Port-Addresses 0..3
    (OLA universes 16..19); deleted afterwards."""
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    netns = f"lumen-t{os.getpid()}{secrets.token_hex(3)}"
    base = tempfile.mkdtemp(prefix="lumen-ola-")
    os.chmod(base, 0o755)  # olad runs as user `olad` and must traverse to its config
    conf = os.path.join(base, "ola-conf")
    try:
        up = subprocess.run([str(UP), netns, conf], capture_output=True, text=True, timeout=60)
        if up.returncode != 0:
            log = Path(conf, "olad.log")
            pytest.fail(
                f"ola_netns_up.sh failed ({up.returncode}): {up.stderr}\n"
                + (log.read_text(errors="replace") if log.exists() else "")
            )
        yield netns
    finally:
        subprocess.run([str(DOWN), netns, conf], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def run_scenario(netns: str, name: str) -> dict[str, Any]:
    """Run one helper scenario inside the namespace and return its JSON report."""
    res = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, str(HELPER), netns, name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, f"scenario {name} failed:\n{res.stderr}"
    report: dict[str, Any] = json.loads(res.stdout)
    return report


def test_unicast_universes_1_to_3_exact(olad_netns: str) -> None:
    report = run_scenario(olad_netns, "unicast")
    for u in ("1", "2", "3"):
        assert report["got"][u] == report["expected"][u], f"universe {u}"
    stats = report["stats"]
    assert stats["frames_sent"] == 1
    assert stats["send_errors"] == 0
    assert stats["packets"] == 3 + 3 * 3  # one frame, then three Stream_Terminated per universe


def test_multicast_group_address_239_255_0_1(olad_netns: str) -> None:
    report = run_scenario(olad_netns, "multicast_address")
    assert report["got"]["1"] == report["expected"]["1"]
    assert report["errors"] == 0


def test_multicast_one_group_per_universe(olad_netns: str) -> None:
    report = run_scenario(olad_netns, "multicast_groups")
    assert report["destinations"] == [["239.255.0.1", 5568], ["239.255.0.2", 5568], ["239.255.0.3", 5568]]
    for u in ("1", "2", "3"):
        assert report["got"][u] == report["expected"][u], f"universe {u}"


def test_higher_priority_wins_until_stream_terminated(olad_netns: str) -> None:
    s = run_scenario(olad_netns, "priority")
    assert s["low_alone"] == s["low"]
    assert s["both"] == s["high"]
    assert s["barrier_1"] and s["barrier_2"], "olad did not process the marker packets"
    # Silent but not terminated: olad still holds the high-priority source.
    assert s["high_silent"] == s["high"]
    # Stream_Terminated: olad dropped it at once, the low-priority source took over.
    assert s["terminate_ok"] == 3
    assert s["high_terminated"] == s["low"]


def test_keepalives_outlive_the_source_timeout(olad_netns: str) -> None:
    s = run_scenario(olad_netns, "keepalive")
    assert s["hi4_seen"] and s["hi5_seen"] and s["barrier"]
    assert s["u4"] == s["hi4"], "the kept-alive source was dropped by olad"
    assert s["u5"] == s["lo5"], "the silent source should have timed out (control)"
    assert s["stats"]["keepalives"] >= 5
    assert s["stats"]["frames_sent"] == 1


# -- Art-Net --------------------------------------------------------------------------------


def test_artnet_unicast_port_addresses_0_and_1_exact(olad_netns: str) -> None:
    report = run_scenario(olad_netns, "artnet_unicast")
    for pa in ("0", "1"):
        assert report["got"][pa] == report["expected"][pa], f"Port-Address {pa}"
    stats = report["stats"]
    assert stats["frames_sent"] == 1
    assert stats["send_errors"] == 0
    assert stats["packets"] == 2  # one frame; Art-Net has no termination packets


def test_artnet_broadcast_with_artsync_inside_the_namespace(olad_netns: str) -> None:
    report = run_scenario(olad_netns, "artnet_broadcast")
    for pa in ("2", "3"):
        assert report["got"][pa] == report["expected"][pa], f"Port-Address {pa}"
    assert report["errors"] == 0
    assert report["packets"] % 3 == 0  # two ArtDmx and an ArtSync per frame


def decode_poll_reply(pkt: bytes) -> dict[str, Any]:
    """Parse an ArtPollReply from the Art-Net 4 packet definition; raise ValueError if malformed."""
    if len(pkt) < 207 or pkt[:8] != b"Art-Net\x00" or pkt[8:10] != b"\x00\x21":
        raise ValueError("not an ArtPollReply")
    if pkt[14:16] != b"\x36\x19":
        raise ValueError("port is not 0x1936")
    n_ports = pkt[173]
    if pkt[172] != 0 or n_ports > 4:
        raise ValueError("bad NumPorts")
    net, sub = pkt[18], pkt[19]
    inputs = [net << 8 | sub << 4 | (pkt[186 + i] & 0xF) for i in range(n_ports) if pkt[174 + i] & 0x40]
    outputs = [net << 8 | sub << 4 | (pkt[190 + i] & 0xF) for i in range(n_ports) if pkt[174 + i] & 0x80]
    return {
        "ip": str(ipaddress.IPv4Address(pkt[10:14])),
        "short_name": pkt[26:44].split(b"\x00")[0].decode("ascii"),
        "long_name": pkt[44:108].split(b"\x00")[0].decode("ascii"),
        "report": pkt[108:172].split(b"\x00")[0].decode("ascii"),
        "inputs": inputs,
        "outputs": outputs,
        "style": pkt[200],
        "bind_ip": str(ipaddress.IPv4Address(pkt[207:211])) if len(pkt) >= 211 else "",
        "bind_index": pkt[211] if len(pkt) >= 212 else 0,
    }


def test_artpoll_gets_a_decodable_reply_from_olad(olad_netns: str) -> None:
    """Our decoder reads a real node's reply: olad publishes input ports 0..3 (it receives them)."""
    report = run_scenario(olad_netns, "artpoll_olad")
    packets = [bytes.fromhex(p) for p in report["packets"]]
    replies = [decode_poll_reply(p) for p in packets if p[8:10] == b"\x00\x21"]
    assert replies, f"no ArtPollReply among {len(packets)} packets"
    ola = [r for r in replies if r["short_name"].startswith("OLA")]
    assert ola
    assert ola[0]["ip"] == "10.231.0.1"


def test_lumen_artpoll_responder_answers_in_the_namespace(olad_netns: str) -> None:
    report = run_scenario(olad_netns, "artpoll_lumen")
    replies = [decode_poll_reply(bytes.fromhex(p)) for p in report["packets"]]
    assert len(replies) == 2  # Port-Addresses 0..3 on one page, 16 on another
    assert all(len(bytes.fromhex(p)) == 239 for p in report["packets"])
    assert [r["bind_index"] for r in replies] == [1, 2]
    assert [r["inputs"] for r in replies] == [[0, 1, 2, 3], [16]]
    assert all(r["outputs"] == [] for r in replies)
    for r in replies:
        assert (r["ip"], r["bind_ip"], r["style"]) == ("10.231.0.1", "10.231.0.1", 0x01)
        assert (r["short_name"], r["long_name"]) == ("lumen-netns", "lumen in a private namespace")
        assert r["report"].startswith("#0001 [0001]")
    assert all(src[1] == 6454 for src in report["sources"])  # replies leave from the Art-Net port
    assert (report["polls"], report["replies"], report["send_errors"]) == (1, 2, 0)


SOLID_SHADER = """/*{"DESCRIPTION": "a flat color for exact-value checks", "INPUTS": []}*/
void main() {
    gl_FragColor = vec4(0.2, 0.4, 0.6, 1.0);
}
"""


@pytest.mark.gpu
def test_lumen_demo_end_to_end_reaches_olad_with_exact_values(olad_netns: str, tmp_path: Path) -> None:
    """The whole chain (listen process, GL render, patch, paced sACN) into olad: a flat color
    on a 64x32 serpentine wall is 170 pixels of (51, 102, 153) in each full universe."""
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "solid.fs").write_text(SOLID_SHADER)
    show = (repo / "presets" / "demo.yaml").read_text().replace("shader: pulse.fs", "shader: solid.fs")
    (tmp_path / "show.yaml").write_text(show)
    os.chmod(tmp_path, 0o755)
    demo = subprocess.Popen(
        ["ip", "netns", "exec", olad_netns, sys.executable, "-m", "lumen.cli", "demo", "--seconds", "6",
         "--out", str(tmp_path / "out"), "--show", str(tmp_path / "show.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    expected = [51, 102, 153] * 170 + [0, 0]
    seen: dict[int, list[int]] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(seen) < 5 and demo.poll() is None:
            for u in (1, 2, 3, 4, 5):
                got = subprocess.run(
                    ["ip", "netns", "exec", olad_netns, "curl", "-s", f"http://127.0.0.1:9090/get_dmx?u={u}"],
                    capture_output=True, text=True, timeout=10,
                )
                dmx = json.loads(got.stdout)["dmx"]
                if dmx == expected:
                    seen[u] = dmx
            time.sleep(0.2)
    finally:
        out, err = demo.communicate(timeout=60)
    assert demo.returncode == 0, err
    assert sorted(seen) == [1, 2, 3, 4, 5]
    # On a clean exit lumen sends a black frame, then Stream_Terminated.
    for u in (1, 2, 3, 4, 5):
        got = subprocess.run(
            ["ip", "netns", "exec", olad_netns, "curl", "-s", f"http://127.0.0.1:9090/get_dmx?u={u}"],
            capture_output=True, text=True, timeout=10,
        )
        assert max(json.loads(got.stdout)["dmx"]) == 0, f"universe {u} not blacked out"
