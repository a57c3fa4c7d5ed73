"""A real console: lumen's OSC cue fires a QLC+ 4.12 virtual-console button, whose scene QLC+
sends as sACN to olad, where the scene's channel values are read back.

    OscCueSender (10.231.0.2) --OSC /lumen/scene/drop 1.0, 0.0--> QLC+ (10.231.0.1:7700)
        --button "drop" toggles scene "lumen drop"--> E1.31 unicast 10.231.0.1:5568 --> olad

Everything runs in a private network namespace made by ../shared/peers/ola_netns_up.sh (olad,
address 10.231.0.1 on a veth) and removed by ola_netns_down.sh, even when the test fails.
QLC+ drops OSC whose source address is its own line address, so the namespace gets a second
address, 10.231.0.2, and lumen's sender binds to it (``ConsoleTarget.bind``). The workspace is
tests/helpers/qlcplus/show.qxw; its button listens on input channel
``qlcplus_channel("/lumen/scene/drop")``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lumen.output.osc import qlcplus_channel

pytestmark = [pytest.mark.network, pytest.mark.slow]

PEERS = Path(os.environ.get("LUMEN_PEERS", Path(__file__).resolve().parents[3] / "shared" / "peers"))
UP = PEERS / "ola_netns_up.sh"
DOWN = PEERS / "ola_netns_down.sh"
QLC_DIR = Path(__file__).resolve().parents[1] / "helpers" / "qlcplus"
WORKSPACE = QLC_DIR / "show.qxw"
HELPER = QLC_DIR / "send_cue.py"
#: The namespace's addresses: QLC+'s and olad's line (ola_netns_up.sh), and lumen's source.
QLC_IP = "10.231.0.1"
SOURCE_IP = "10.231.0.2"
#: What the workspace's scene "lumen drop" sets on DMX 1..4.
SCENE_VALUES = [11, 22, 33, 44]


def _unavailable() -> str:
    """Why this test cannot run here ("" if it can)."""
    for tool, pkg in (("qlcplus", "qlcplus"), ("olad", "ola"), ("ip", "iproute2"), ("curl", "curl"), ("ss", "iproute2")):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian package {pkg}; scripts/setup.sh installs it)"
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if not (UP.exists() and DOWN.exists()):
        return f"OLA namespace scripts not found in {PEERS} (set LUMEN_PEERS)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        return f"`ip netns` is unavailable: {probe.stderr.decode(errors='replace').strip()}"
    return ""


def netns_run(netns: str, *cmd: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *cmd], capture_output=True, text=True, timeout=timeout)


def get_dmx(netns: str, universe: int = 1) -> list[int]:
    res = netns_run(netns, "curl", "-s", "--max-time", "2", f"http://127.0.0.1:9090/get_dmx?u={universe}")
    dmx: list[int] = json.loads(res.stdout)["dmx"] if res.stdout.strip() else []
    return dmx


@pytest.fixture()
def qlcplus_netns() -> Iterator[str]:
    """A namespace with olad (sACN universe 1) and QLC+ running show.qxw; torn down afterwards."""
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    netns = f"lumen-q{os.getpid()}{secrets.token_hex(3)}"
    base = tempfile.mkdtemp(prefix="lumen-qlc-")
    os.chmod(base, 0o755)  # olad runs as user `olad` and must traverse to its config
    conf = os.path.join(base, "ola-conf")
    home = Path(base, "home")  # QLC+ keeps its settings under $HOME: not the real one
    home.mkdir()
    log_path = Path(base, "qlcplus.log")
    qlc: subprocess.Popen[bytes] | None = None
    try:
        up = subprocess.run([str(UP), netns, conf], capture_output=True, text=True, timeout=60)
        if up.returncode != 0:
            pytest.fail(f"ola_netns_up.sh failed ({up.returncode}): {up.stderr}")
        added = netns_run(netns, "ip", "addr", "add", f"{SOURCE_IP}/24", "dev", "dmx0")
        assert added.returncode == 0, added.stderr
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(home),
            "QT_QPA_PLATFORM": "offscreen",
        }
        with open(log_path, "wb") as log:
            qlc = subprocess.Popen(
                ["ip", "netns", "exec", netns, "qlcplus", "--nogui", "--nowm", "--operate", "--web",
                 "--open", str(WORKSPACE)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )
        # Ready when QLC+ listens for OSC on its line and its E1.31 output has reached olad.
        deadline = time.monotonic() + 30.0
        ready = False
        while time.monotonic() < deadline and qlc.poll() is None:
            listening = f"{QLC_IP}:7700" in netns_run(netns, "ss", "-lun").stdout
            if listening and len(get_dmx(netns)) == 512:
                ready = True
                break
            time.sleep(0.2)
        if not ready:
            pytest.fail(f"QLC+ did not come up within 30 s:\n{log_path.read_text(errors='replace')[-3000:]}")
        yield netns
    finally:
        if qlc is not None and qlc.poll() is None:
            qlc.terminate()
            try:
                qlc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                qlc.kill()
                qlc.wait(10)
        subprocess.run([str(DOWN), netns, conf], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
        assert netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_workspace_button_listens_on_the_paths_channel() -> None:
    """The .qxw's input channel is QLC+'s hash of the path lumen sends."""
    text = WORKSPACE.read_text()
    channels = re.findall(r'<Input Universe="0" Channel="(\d+)"/>', text)
    assert channels == [str(qlcplus_channel("/lumen/scene/drop"))]


def test_osc_cue_fires_a_qlcplus_scene_that_reaches_olad(qlcplus_netns: str) -> None:
    before = get_dmx(qlcplus_netns)
    assert before[:4] == [0, 0, 0, 0], "the scene is on before any cue"
    res = subprocess.run(
        ["ip", "netns", "exec", qlcplus_netns, sys.executable, str(HELPER), qlcplus_netns, "drop", QLC_IP, SOURCE_IP],
        capture_output=True, text=True, timeout=60,
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    print("qlcplus chain:", json.dumps(report))  # shown with -s or -rP
    assert report["before"][:4] == [0, 0, 0, 0]
    assert report["after"][:4] == SCENE_VALUES, report
    assert report["after"][4:] == [0, 0, 0, 0]
    # Press and release reached QLC+; the target with no route counted one error (its press;
    # no release follows a failed press) and raised nothing.
    assert report["stats"]["osc_out_sent"] == 2, report
    assert report["stats"]["osc_out_errors"] == 1, report
    assert "unreachable" in report["last_error"].lower(), report
    # A toggle button: the scene stays on after the release.
    time.sleep(0.5)
    assert get_dmx(qlcplus_netns)[:4] == SCENE_VALUES
