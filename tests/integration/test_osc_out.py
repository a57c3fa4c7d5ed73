"""OSC out against peers nobody on this team wrote: liblo's ``oscdump`` receives lumen's cues and
feature stream, python-osc decodes them, and Wireshark's OSC dissector (tshark) reads them off lo.

Everything is unicast to 127.0.0.1 on ephemeral ports; every wait is bounded in time.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from lumen.output.encode.osc import osc_message
from lumen.output.osc import ConsoleTarget, OscCueSender

pytestmark = [pytest.mark.network]

FEATURES: dict[str, float | str | tuple[float, ...]] = {
    "bpm": 128.0, "beat_phase": 0.25, "bar_phase": 0.5, "energy": 0.75, "bands": (0.125, 0.25, 0.375, 0.5),
    "onset": 1.0, "valence": 0.5, "arousal": 0.625, "confidence": 0.875, "section": "drop",
}


def free_udp_port() -> int:
    """A UDP port nobody is bound to right now on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class OscDump:
    """``oscdump -L PORT`` with its lines collected by a thread: ``(path, types, args text)``."""

    def __init__(self) -> None:
        self.port = free_udp_port()
        self.proc = subprocess.Popen(
            ["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        self.lines: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="oscdump-reader", daemon=True)
        self._thread.start()
        # Ready once a probe comes through (oscdump prints nothing when it starts).
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            ok = wait_for(lambda: probe.sendto(osc_message("/probe"), ("127.0.0.1", self.port)) > 0
                          and any(p == "/probe" for p, _, _ in self.snapshot()), timeout_s=10.0)
        finally:
            probe.close()
        if not ok:
            self.close()
            pytest.fail(f"oscdump did not start on port {self.port}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for n, line in enumerate(self.proc.stdout):
            if n > 100_000:
                break
            parts = line.rstrip("\n").split(" ", 3)  # timetag, path, types, args
            if len(parts) >= 2:
                with self._lock:
                    self.lines.append((parts[1], parts[2] if len(parts) > 2 else "", parts[3] if len(parts) > 3 else ""))

    def snapshot(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self.lines)

    def received(self) -> list[tuple[str, str, str]]:
        return [line for line in self.snapshot() if line[0] != "/probe"]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._thread.join(5)


@pytest.fixture()
def oscdump() -> Iterator[OscDump]:
    if shutil.which("oscdump") is None:
        pytest.skip("oscdump is not installed (Debian package liblo-tools; scripts/setup.sh installs it)")
    dump = OscDump()
    yield dump
    dump.close()


@pytest.fixture()
def sender_factory() -> Iterator[Callable[..., OscCueSender]]:
    """Builds started senders; stops every one after the test."""
    made: list[OscCueSender] = []

    def make(*targets: ConsoleTarget) -> OscCueSender:
        s = OscCueSender(list(targets))
        s.start()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def test_a_scene_cue_for_each_console_type_reaches_oscdump(
    oscdump: OscDump, sender_factory: Callable[..., OscCueSender]
) -> None:
    port = oscdump.port
    sender = sender_factory(
        ConsoleTarget(name="eos", type="eos", port=port, cue_list=2, cue_map={"drop": "12"}),
        ConsoleTarget(name="qlab", type="qlab", port=port, cue_map={"drop": "12"}),
        ConsoleTarget(name="qlc", type="qlcplus", port=port),
        ConsoleTarget(name="ma", type="generic", port=port, cue_map={"drop": "12"}),
    )
    sender.post("scene", time.perf_counter(), scene="drop")
    expected = {
        ("/eos/cue/2/12/fire", "", ""),
        ("/cue/12/start", "", ""),
        ("/lumen/scene/drop", "f", "1.000000"),
        ("/lumen/scene/drop", "f", "0.000000"),
        ("/lumen/scene", "s", '"drop"'),
    }
    assert wait_for(lambda: expected <= set(oscdump.received())), oscdump.received()
    got = oscdump.received()
    assert len(got) == 5, got
    qlc = [line for line in got if line[0] == "/lumen/scene/drop"]
    assert [a for _, _, a in qlc] == ["1.000000", "0.000000"]  # press, then release
    assert sender.stats() == {"osc_out_sent": 5, "osc_out_errors": 0, "osc_out_dropped": 0, "osc_out_rate_limited": 0}


def test_generic_events_with_typed_arguments_reach_oscdump(
    oscdump: OscDump, sender_factory: Callable[..., OscCueSender]
) -> None:
    sender = sender_factory(ConsoleTarget(name="ma", type="generic", port=oscdump.port))
    t = time.perf_counter()
    sender.post("cue", t, cue="7.5")
    sender.post("section", t, section="build")
    sender.post("beat", t, beat=3)
    sender.post("downbeat", t, bar=17)
    sender.post("drop", t)
    expected = [
        ("/lumen/cue", "f", "7.500000"),
        ("/lumen/section", "s", '"build"'),
        ("/lumen/beat", "i", "3"),
        ("/lumen/downbeat", "i", "17"),
        ("/lumen/drop", "", ""),
    ]
    assert wait_for(lambda: len(oscdump.received()) >= 5), oscdump.received()
    assert oscdump.received() == expected


def test_feature_stream_reaches_oscdump(oscdump: OscDump, sender_factory: Callable[..., OscCueSender]) -> None:
    sender = sender_factory(ConsoleTarget(name="vj", type="features", port=oscdump.port, features_hz=50.0))
    t0 = time.monotonic()
    sender.publish_features(FEATURES, time.perf_counter())
    sender.post("beat", time.perf_counter(), beat=1)
    assert wait_for(lambda: len(oscdump.received()) >= 11)
    # Keep publishing for a while: the stream must stay at or under features_hz.
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        sender.publish_features(FEATURES, time.perf_counter())
        time.sleep(0.002)
    sender.stop()
    elapsed = time.monotonic() - t0
    got = oscdump.received()
    by_path: dict[str, list[tuple[str, str]]] = {}
    for path, types, args in got:
        by_path.setdefault(path, []).append((types, args))
    assert by_path["/lumen/features/bpm"][0] == ("f", "128.000000")
    assert by_path["/lumen/features/bands"][0] == ("ffff", "0.125000 0.250000 0.375000 0.500000")
    assert by_path["/lumen/features/section"][0] == ("s", '"drop"')
    assert by_path["/lumen/features/beat"] == [("f", "1.000000")]
    for name in FEATURES:
        assert f"/lumen/features/{name}" in by_path, name
    ticks = len(by_path["/lumen/features/energy"])
    assert 1 <= ticks <= 50.0 * elapsed + 2  # an upper bound only: a loaded machine may send fewer


def test_python_osc_decodes_every_message_and_the_source_port_is_ephemeral(
    sender_factory: Callable[..., OscCueSender],
) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5.0)
    port = rx.getsockname()[1]
    try:
        sender = sender_factory(
            ConsoleTarget(name="ma", type="generic", port=port),
            ConsoleTarget(name="vj", type="features", port=port, features_hz=20.0),
        )
        sender.publish_features(FEATURES, time.perf_counter())
        sender.post("scene", time.perf_counter(), scene="drop")
        sender.post("beat", time.perf_counter(), beat=4)
        msgs: dict[str, list[object]] = {}
        sources = set()
        deadline = time.monotonic() + 5.0
        while len(msgs) < 13 and time.monotonic() < deadline:
            data, src = rx.recvfrom(4096)
            m = OscMessage(data)
            msgs[m.address] = list(m.params)
            sources.add(src)
    finally:
        rx.close()
    assert msgs["/lumen/scene"] == ["drop"]
    assert msgs["/lumen/beat"] == [4]
    assert msgs["/lumen/features/beat"] == [1.0]
    assert msgs["/lumen/features/section"] == ["drop"]
    assert msgs["/lumen/features/bands"] == [0.125, 0.25, 0.375, 0.5]
    assert msgs["/lumen/features/confidence"] == [0.875]
    assert all(host == "127.0.0.1" and p != port for host, p in sources)
    assert len(sources) == 2  # one socket per target, each on its own ephemeral port


def test_tshark_dissects_lumen_osc(sender_factory: Callable[..., OscCueSender], tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (scripts/setup.sh installs it)")
    if os.geteuid() != 0:
        pytest.skip("capturing on lo needs root")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never read: no ICMP port unreachable
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    cap = tmp_path / "osc.pcapng"
    n_packets = 5
    proc = subprocess.Popen(
        ["tshark", "-q", "-i", "lo", "-f", f"udp dst port {port}", "-a", "duration:20", "-c", str(n_packets),
         "-w", str(cap)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        seen = b""
        deadline = time.monotonic() + 15.0
        while b"Capturing on" not in seen and b"Capture started" not in seen:
            left = deadline - time.monotonic()
            assert left > 0 and proc.poll() is None, f"tshark did not start: {seen.decode(errors='replace')}"
            ready, _, _ = select.select([proc.stderr], [], [], left)
            if ready:
                seen += os.read(proc.stderr.fileno(), 4096)
        time.sleep(0.3)  # "Capturing on" is printed just before the capture loop starts
        sender = sender_factory(
            ConsoleTarget(name="ma", type="generic", port=port),
            ConsoleTarget(name="eos", type="eos", port=port, cue_map={"drop": "12"}),
            ConsoleTarget(name="qlc", type="qlcplus", port=port, events={"scene"}),
        )
        sender.post("scene", time.perf_counter(), scene="drop")
        sender.post("beat", time.perf_counter(), beat=2)
        proc.wait(timeout=25)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        rx.close()
    fields = ["_ws.malformed", "osc.message.header.path", "osc.message.header.format", "osc.message.float",
              "osc.message.int32", "osc.message.string"]
    cmd = ["tshark", "-r", str(cap), "--enable-heuristic", "osc_udp", "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    rows = [dict(zip(fields, line.split("|"))) for line in res.stdout.splitlines()]
    assert len(rows) == n_packets, res.stdout
    assert all(r["_ws.malformed"] == "" for r in rows), res.stdout
    got = sorted((r["osc.message.header.path"], r["osc.message.header.format"], r["osc.message.float"],
                  r["osc.message.int32"], r["osc.message.string"]) for r in rows)
    assert got == sorted([
        ("/lumen/scene", ",s", "", "", "drop"),
        ("/lumen/beat", ",i", "", "2", ""),
        ("/eos/cue/1/12/fire", ",", "", "", ""),
        ("/lumen/scene/drop", ",f", "1", "", ""),
        ("/lumen/scene/drop", ",f", "0", "", ""),
    ])
