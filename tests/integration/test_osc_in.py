"""OscServer on 127.0.0.1 (ephemeral ports) driven by python-osc and by liblo's oscsend, with
feedback received by liblo's oscdump.

Every destination is 127.0.0.1; every wait is bounded in time and every loop in count.
"""

from __future__ import annotations

import queue
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from lumen.control.commands import Command
from lumen.control.osc import (
    CLIENT_TTL_S,
    MAX_CLIENTS,
    OSC_COUNTERS,
    OscServer,
    RecentClients,
)
from lumen.errors import DeviceError
from lumen.output.encode.osc import Double, osc_bundle, osc_message
from lumen.rt.counters import Counters

LOCAL = "127.0.0.1"


class FakeSink:
    """Collects posted commands (thread-safe)."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self._lock = threading.Lock()

    def post(self, cmd: Command) -> None:
        with self._lock:
            self.commands.append(cmd)

    def wait(self, n: int, timeout_s: float = 5.0) -> list[Command]:
        """The first ``n`` commands, waiting up to ``timeout_s`` for them."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            with self._lock:
                if len(self.commands) >= n:
                    return list(self.commands[:n])
            time.sleep(0.005)
        with self._lock:
            return list(self.commands)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def plain(cmds: list[Command]) -> list[tuple[str, float, str]]:
    return [(c.name, c.value, c.arg) for c in cmds]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def recv_messages(sock: socket.socket, n: int, timeout_s: float = 3.0) -> list[tuple[str, list[object]]]:
    """Up to ``n`` OSC messages from ``sock`` within ``timeout_s``."""
    out: list[tuple[str, list[object]]] = []
    deadline = time.perf_counter() + timeout_s
    while len(out) < n and time.perf_counter() < deadline:
        sock.settimeout(max(0.01, deadline - time.perf_counter()))
        try:
            data, _ = sock.recvfrom(65535)
        except TimeoutError:
            break
        msg = OscMessage(data)
        out.append((msg.address, list(msg.params)))
    return out


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
def server(sink: FakeSink) -> Iterator[OscServer]:
    srv = OscServer(sink, port=0)
    srv.start()
    yield srv
    srv.stop()
    assert not srv.is_alive()


@pytest.fixture
def client_sock() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOCAL, 0))
    yield s
    s.close()


# -- python-osc as the controller ------------------------------------------------------------------


@pytest.mark.network
def test_python_osc_client_drives_commands(server: OscServer, sink: FakeSink) -> None:
    assert server.name == "lumen-osc" and server.daemon and server.port > 0
    client = SimpleUDPClient(LOCAL, server.port)
    t0 = time.perf_counter()
    client.send_message("/lumen/master", 0.25)
    client.send_message("/lumen/scene/drop", 1.0)  # press
    client.send_message("/lumen/scene/drop", 0.0)  # release: nothing
    client.send_message("/lumen/cue/goto", 2.5)
    client.send_message("/lumen/cue/go", [])
    client.send_message("/lumen/blackout", True)
    client.send_message("/lumen/tempo", 128)
    client.send_message("/lumen/param/drop/tunnel/speed", "0.5")
    client.send_message("/lumen/param/drop/tunnel/speed/release", 1.0)
    got = sink.wait(8)
    t1 = time.perf_counter()
    assert plain(got[:7]) == [
        ("master", 0.25, ""),
        ("scene", 0.0, "drop"),
        ("cue_goto", 0.0, "2.5"),
        ("cue_go", 0.0, ""),
        ("blackout", 1.0, ""),
        ("tempo", 128.0, ""),
        ("param", 0.5, "drop/tunnel/speed"),
    ]
    assert got[7].name == "param" and got[7].arg == "drop/tunnel/speed" and got[7].value != got[7].value  # NaN
    assert all(c.source == "osc" and t0 <= c.t <= t1 for c in got)
    assert [c.t for c in got] == sorted(c.t for c in got)
    assert wait_for(lambda: server.counters["osc_messages"] == 9)
    snap = server.counters.snapshot()
    assert snap["osc_packets"] == 9 and snap["osc_bad"] == snap["osc_unknown"] == snap["osc_denied"] == 0


@pytest.mark.network
def test_bundles_are_unpacked_in_order(server: OscServer, sink: FakeSink, client_sock: socket.socket) -> None:
    inner = osc_bundle([osc_message("/lumen/cue/back"), osc_message("/lumen/strobe", [0])])
    pkt = osc_bundle([osc_message("/lumen/master", [0.5]), inner, osc_message("/lumen/nope", [1])])
    client_sock.sendto(pkt, (LOCAL, server.port))
    assert plain(sink.wait(3)) == [("master", 0.5, ""), ("cue_back", 0.0, ""), ("strobe", 0.0, "")]
    assert wait_for(lambda: server.counters["osc_unknown"] == 1)
    assert server.counters["osc_packets"] == 1 and server.counters["osc_messages"] == 4


# -- liblo's oscsend as the controller --------------------------------------------------------------


@pytest.mark.network
def test_liblo_oscsend_drives_commands(server: OscServer, sink: FakeSink) -> None:
    oscsend = shutil.which("oscsend")
    assert oscsend is not None, "liblo-tools is not installed: run scripts/setup.sh"
    sends = [
        (["/lumen/scene", "s", "drop"], ("scene", 0.0, "drop")),
        (["/lumen/blackout", "T"], ("blackout", 1.0, "")),
        (["/lumen/blackout", "F"], ("blackout", 0.0, "")),
        (["/lumen/cue/goto", "d", "2.5"], ("cue_goto", 0.0, "2.5")),
        (["/lumen/tempo", "i", "128"], ("tempo", 128.0, "")),
        (["/lumen/master", "h", "7"], ("master", 1.0, "")),
        (["/lumen/tap"], ("tap", 0.0, "")),
    ]
    for args, _ in sends:
        subprocess.run([oscsend, LOCAL, str(server.port), *args], check=True, timeout=5, capture_output=True)
    assert plain(sink.wait(len(sends))) == [want for _, want in sends]
    # Types python-osc would drop silently (char, symbol, infinitum) are refused, not misread:
    # without the check, "/lumen/blackout c" would arrive argument-less and mean "blackout on".
    for args in (["/lumen/blackout", "c", "A"], ["/lumen/scene", "S", "drop"], ["/lumen/master", "I"]):
        subprocess.run([oscsend, LOCAL, str(server.port), *args], check=True, timeout=5, capture_output=True)
    assert wait_for(lambda: server.counters["osc_bad"] == 3)
    time.sleep(0.05)
    assert len(sink.commands) == len(sends)
    assert "unsupported type tag" in server.last_error


# -- feedback received by liblo's oscdump ------------------------------------------------------------


class OscDump:
    """liblo's oscdump on 127.0.0.1:``port``, its lines collected by a reader thread."""

    def __init__(self, port: int) -> None:
        oscdump = shutil.which("oscdump")
        assert oscdump is not None, "liblo-tools is not installed: run scripts/setup.sh"
        self.port = port
        self.proc = subprocess.Popen([oscdump, "-L", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert wait_for(self._bound, 5.0), "oscdump did not bind its port"

    def _bound(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((LOCAL, self.port))
            except OSError:
                return True
        return False

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, text: str, timeout_s: float = 5.0, max_lines: int = 50) -> list[str]:
        """Lines read until one ends with ``text`` (oscdump prefixes a time tag)."""
        seen: list[str] = []
        deadline = time.perf_counter() + timeout_s
        while len(seen) < max_lines:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.perf_counter()))
            except queue.Empty:
                break
            seen.append(line)
            if line.endswith(text):
                return seen
        raise AssertionError(f"oscdump never printed {text!r}; got {seen}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


@pytest.fixture
def oscdump() -> Iterator[OscDump]:
    dump = OscDump(free_port())
    yield dump
    dump.close()


@pytest.mark.network
def test_feedback_reaches_oscdump(sink: FakeSink, oscdump: OscDump) -> None:
    with OscServer(sink, port=0, feedback_port=oscdump.port) as srv:
        client = SimpleUDPClient(LOCAL, srv.port)
        client.send_message("/lumen/master", 0.25)
        assert oscdump.expect("/lumen/master f 0.250000")[-1].split(" ", 1)[1] == "/lumen/master f 0.250000"
        client.send_message("/lumen/master", 3.0)  # clamped, and the fader is told so
        oscdump.expect("/lumen/master f 1.000000")
        client.send_message("/lumen/blackout", [])
        oscdump.expect("/lumen/blackout i 1")
        client.send_message("/lumen/scene", "drop")
        oscdump.expect('/lumen/scene s "drop"')
        client.send_message("/lumen/cue/go", 1.0)  # no state to report
        # state changed elsewhere (automation, a cue): the engine pushes it
        assert srv.send_state([("/lumen/tempo", [128.0]), ("/lumen/scene", ["intro"])]) == 2
        lines = oscdump.expect('/lumen/scene s "intro"')
        assert any(line.endswith("/lumen/tempo f 128.000000") for line in lines)
        assert not any("/lumen/cue" in line for line in lines)
        assert wait_for(lambda: srv.counters["osc_feedback"] == 6)
        assert srv.counters["osc_send_errors"] == 0


# -- ping, feedback targets, state ------------------------------------------------------------------


@pytest.mark.network
def test_ping_answers_pong_and_replays_state(server: OscServer, client_sock: socket.socket, sink: FakeSink) -> None:
    target = (LOCAL, server.port)
    client_sock.sendto(osc_message("/lumen/master", [0.5]), target)
    assert recv_messages(client_sock, 1) == [("/lumen/master", [0.5])]  # the echo
    client_sock.sendto(osc_message("/lumen/ping", ["hello", 7]), target)
    got = recv_messages(client_sock, 2)
    assert got == [("/lumen/pong", ["hello", 7]), ("/lumen/master", [0.5])]
    assert sink.commands[-1].name == "master"  # ping itself posted nothing
    assert len(sink.commands) == 1


@pytest.mark.network
def test_on_ping_hook_and_its_faults_are_counted(sink: FakeSink, client_sock: socket.socket) -> None:
    calls: list[tuple[str, int]] = []

    def hook(addr: tuple[str, int]) -> None:
        calls.append(addr)
        raise RuntimeError("engine busy")

    with OscServer(sink, port=0, on_ping=hook) as srv:
        client_sock.sendto(osc_message("/lumen/ping"), (LOCAL, srv.port))
        assert recv_messages(client_sock, 1) == [("/lumen/pong", [])]
        assert wait_for(lambda: srv.counters["osc_errors"] == 1)
        assert calls == [client_sock.getsockname()]
        assert srv.is_alive()


@pytest.mark.network
def test_echo_goes_to_all_recent_clients_or_only_the_sender(sink: FakeSink) -> None:
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        a.bind((LOCAL, 0))
        b.bind((LOCAL, 0))
        modes: tuple[tuple[Literal["all", "sender"], bool], ...] = (("all", True), ("sender", False))
        for echo, b_gets in modes:
            with OscServer(sink, port=0, echo=echo) as srv:
                b.sendto(osc_message("/lumen/tap"), (LOCAL, srv.port))  # b becomes a client
                assert wait_for(lambda: len(srv.clients()) == 1)
                a.sendto(osc_message("/lumen/master", [0.75]), (LOCAL, srv.port))
                assert recv_messages(a, 1) == [("/lumen/master", [0.75])]
                assert recv_messages(b, 1, timeout_s=0.3) == ([("/lumen/master", [0.75])] if b_gets else [])
                assert sorted(srv.clients()) == sorted([a.getsockname(), b.getsockname()])
                # send_state reaches every client either way
                assert srv.send_state([("/lumen/auto", [1])]) == 2
                assert recv_messages(a, 1) == [("/lumen/auto", [1])]
                assert recv_messages(b, 1) == [("/lumen/auto", [1])]
    finally:
        a.close()
        b.close()


@pytest.mark.network
def test_invalid_senders_get_no_feedback(server: OscServer, client_sock: socket.socket) -> None:
    client_sock.sendto(b"garbage", (LOCAL, server.port))
    client_sock.sendto(osc_message("/lumen/nothing", [1.0]), (LOCAL, server.port))
    assert wait_for(lambda: server.counters["osc_packets"] == 2)
    assert server.clients() == []
    assert server.send_state([("/lumen/master", [0.1])]) == 0
    assert recv_messages(client_sock, 1, timeout_s=0.2) == []


@pytest.mark.network
def test_send_state_counts_unencodable_messages(server: OscServer) -> None:
    assert server.send_state([("no-slash", [1.0]), ("/lumen/x", [object()])], to=(LOCAL, 9)) == 0  # type: ignore[list-item]
    assert server.counters["osc_send_errors"] == 2
    assert "cannot encode" in server.last_error


# -- allowlist ----------------------------------------------------------------------------------------


@pytest.mark.network
def test_allowlist_denies_other_senders(sink: FakeSink, client_sock: socket.socket) -> None:
    with OscServer(sink, port=0, allow=["10.0.0.0/8"]) as srv:
        for _ in range(3):
            client_sock.sendto(osc_message("/lumen/blackout", [1]), (LOCAL, srv.port))
        assert wait_for(lambda: srv.counters["osc_denied"] == 3)
        assert srv.counters["osc_packets"] == 3 and srv.counters["osc_messages"] == 0
        assert sink.commands == [] and srv.clients() == []
        assert recv_messages(client_sock, 1, timeout_s=0.2) == []
    with OscServer(sink, port=0, allow=["10.0.0.0/8", "127.0.0.1"]) as srv:
        client_sock.sendto(osc_message("/lumen/blackout", [1]), (LOCAL, srv.port))
        assert plain(sink.wait(1)) == [("blackout", 1.0, "")]
        assert srv.counters["osc_denied"] == 0


def test_bad_allow_entries_are_refused(sink: FakeSink) -> None:
    with pytest.raises(ValueError, match="'192.168.1.300/24' is not an IPv4 address or network"):
        OscServer(sink, port=0, allow=["192.168.1.300/24"])
    with pytest.raises(ValueError, match="IPv6"):
        OscServer(sink, port=0, allow=["::1"])


# -- robustness -----------------------------------------------------------------------------------------


@pytest.mark.network
def test_garbage_is_counted_and_the_server_survives(server: OscServer, sink: FakeSink, client_sock: socket.socket) -> None:
    target = (LOCAL, server.port)
    bad = [
        b"",
        b"hello",
        b"/lumen/master",  # unterminated
        b"/lumen/master\x00\x00\x00,f\x00\x00",  # float missing
        b"#bundle\x00" + bytes(8) + struct.pack(">i", -4),  # hangs python-osc 1.10 unchecked
        b"#bundle\x00" + bytes(8) + struct.pack(">i", 0x7FFFFFFF),
        b"#bundle\x00" + bytes(4),
        osc_message("/lumen/scene", [b"\xff\xfe\xfd\xfc\xfb"])[:-4],  # blob cut short
        b"/lumen/scene\x00\x00\x00\x00,s\x00\x00\xff\xfe\x00\x00",  # not UTF-8
        b"\x00" * 60000,
    ]
    for pkt in bad:
        client_sock.sendto(pkt, target)
    client_sock.sendto(osc_message("/lumen/master", [Double(0.125)]), target)  # then a good one
    assert plain(sink.wait(1)) == [("master", 0.125, "")]
    assert wait_for(lambda: server.counters["osc_packets"] == len(bad) + 1)
    assert server.counters["osc_bad"] == len(bad)
    assert server.counters["osc_messages"] == 1
    assert server.is_alive()


@pytest.mark.network
def test_a_failing_sink_is_counted(client_sock: socket.socket) -> None:
    class Broken:
        def post(self, cmd: Command) -> None:
            raise RuntimeError("inbox full")

    with OscServer(Broken(), port=0) as srv:
        client_sock.sendto(osc_message("/lumen/master", [0.5]), (LOCAL, srv.port))
        assert wait_for(lambda: srv.counters["osc_errors"] == 1)
        assert "inbox full" in srv.last_error and srv.is_alive()


@pytest.mark.network
def test_stop_is_prompt_and_idempotent(sink: FakeSink) -> None:
    srv = OscServer(sink, port=0)
    srv.start()
    t0 = time.perf_counter()
    srv.stop()
    assert time.perf_counter() - t0 < 1.0
    assert not srv.is_alive()
    srv.stop()
    # after stop, sends fail quietly and are counted
    assert srv.send_state([("/lumen/master", [0.5])], to=(LOCAL, 9)) == 0
    assert srv.counters["osc_send_errors"] == 1


# -- construction errors ------------------------------------------------------------------------------


@pytest.mark.network
def test_port_in_use_is_a_clear_device_error(sink: FakeSink) -> None:
    with OscServer(sink, port=0) as first:
        with pytest.raises(DeviceError, match=rf"cannot listen for OSC on 127.0.0.1:{first.port}: UDP port {first.port} is already in use"):
            OscServer(sink, port=first.port)


def test_bind_to_a_foreign_address_is_a_device_error(sink: FakeSink) -> None:
    with pytest.raises(DeviceError, match="192.0.2.1 is not an address of this machine"):
        OscServer(sink, bind="192.0.2.1", port=0)


def test_bad_arguments_are_refused(sink: FakeSink) -> None:
    with pytest.raises(ValueError, match="outside 0..65535"):
        OscServer(sink, port=70000)
    with pytest.raises(ValueError, match="feedback port"):
        OscServer(sink, port=0, feedback_port=0)
    with pytest.raises(ValueError, match="lack osc_denied"):
        OscServer(sink, port=0, counters=Counters(["osc_packets", "osc_messages", "osc_bad", "osc_unknown"]))


@pytest.mark.network
def test_shared_counters_are_used(sink: FakeSink, client_sock: socket.socket) -> None:
    counters = Counters(("xruns", *OSC_COUNTERS))
    with OscServer(sink, port=0, counters=counters) as srv:
        client_sock.sendto(osc_message("/lumen/tap"), (LOCAL, srv.port))
        assert wait_for(lambda: counters["osc_messages"] == 1)
        assert counters["xruns"] == 0 and srv.counters is counters


@pytest.mark.network
def test_known_scene_names_are_enforced_and_replaceable(sink: FakeSink, client_sock: socket.socket) -> None:
    with OscServer(sink, port=0, scenes=["intro"]) as srv:
        client_sock.sendto(osc_message("/lumen/scene/drop"), (LOCAL, srv.port))
        assert wait_for(lambda: srv.counters["osc_bad"] == 1)
        assert "did you mean" not in srv.last_error and "no scene named 'drop'" in srv.last_error
        srv.set_names(["intro", "drop"])
        client_sock.sendto(osc_message("/lumen/scene/drop"), (LOCAL, srv.port))
        assert plain(sink.wait(1)) == [("scene", 0.0, "drop")]


# -- recent clients (pure) -------------------------------------------------------------------------------


def test_recent_clients_are_bounded_and_expire() -> None:
    clients = RecentClients()
    assert clients.max_clients == MAX_CLIENTS == 16 and clients.ttl_s == CLIENT_TTL_S == 600.0
    for i in range(20):
        clients.touch((f"10.0.0.{i}", 9000), now=float(i))
    active = clients.active(now=20.0)
    assert active == [(f"10.0.0.{i}", 9000) for i in range(4, 20)]
    clients.touch(("10.0.0.4", 9000), now=21.0)  # heard again: now the most recent
    assert clients.active(now=21.0)[-1] == ("10.0.0.4", 9000)
    assert clients.active(now=5.0 + CLIENT_TTL_S) == [(f"10.0.0.{i}", 9000) for i in [*range(5, 20), 4]]
    assert clients.active(now=21.0 + CLIENT_TTL_S + 0.001) == []
    assert len(clients) == 0
    with pytest.raises(ValueError):
        RecentClients(max_clients=0)
