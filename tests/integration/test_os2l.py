"""`Os2lServer` with real TCP clients on 127.0.0.1 (an ephemeral port): what a DJ application
sends, split and glued anyhow, with garbage, floods and clients that leave."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from lumen.control.commands import Command
from lumen.control.os2l import OS2L_COUNTERS, Os2lServer
from lumen.errors import DeviceError

pytestmark = [pytest.mark.network]

BUTTONS = {"strobe": ("strobe", ""), "next": ("cue_go", ""), "drop": ("scene", "drop")}
COMMANDS = {1: ("master", ""), 7: ("param", "main/bloom/amount")}


class Sinks:
    """A CommandSink and a TempoSink that record what arrives (the server thread writes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.commands: list[Command] = []
        self.tempo: list[tuple[str, float, float | None, float | None]] = []
        self.lost: list[str] = []

    def post(self, cmd: Command) -> None:
        with self.lock:
            self.commands.append(cmd)

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        with self.lock:
            self.tempo.append((source, bpm, beat_t, t))

    def lost_source(self, source: str) -> None:
        with self.lock:
            self.lost.append(source)


class TempoView:
    def __init__(self, s: Sinks) -> None:
        self.s = s

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        self.s.report(source, bpm, beat_t, t)

    def lost(self, source: str) -> None:
        self.s.lost_source(source)


@pytest.fixture
def sinks() -> Sinks:
    return Sinks()


@pytest.fixture
def server(sinks: Sinks) -> Iterator[Os2lServer]:
    srv = Os2lServer(sinks, TempoView(sinks), port=0, buttons=BUTTONS, commands=COMMANDS, max_clients=4,
                     max_buffer=64 * 1024)
    srv.start()
    yield srv
    t0 = time.perf_counter()
    srv.stop()
    assert time.perf_counter() - t0 < 1.0
    assert not srv.is_alive()


@pytest.fixture
def connect(server: Os2lServer) -> Iterator[Callable[[], socket.socket]]:
    made: list[socket.socket] = []

    def make() -> socket.socket:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=2.0)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def wait_for(pred: Callable[[], bool], timeout_s: float = 2.0) -> float:
    t0 = time.perf_counter()
    while not pred():
        assert time.perf_counter() - t0 < timeout_s, "condition not met in time"
        time.sleep(0.002)
    return time.perf_counter() - t0


def msg(**kw: object) -> bytes:
    return json.dumps(kw).encode()


def test_bind_failure_is_a_device_error(server: Os2lServer, sinks: Sinks) -> None:
    with pytest.raises(DeviceError, match="cannot listen"):
        Os2lServer(sinks, TempoView(sinks), port=server.port)


def test_beats_report_the_bpm_to_the_tempo_sink(server: Os2lServer, sinks: Sinks, connect: Callable[[], socket.socket]) -> None:
    c = connect()
    t0 = time.perf_counter()
    c.sendall(msg(evt="beat", change=False, pos=1, bpm=126.5, strength=0.5))
    wait_for(lambda: len(sinks.tempo) == 1)
    source, bpm, beat_t, t = sinks.tempo[0]
    assert (source, bpm) == ("os2l", 126.5)
    assert beat_t is not None and t is not None and t0 <= beat_t == t <= time.perf_counter()
    c.sendall(msg(evt="beat", pos=2, bpm=-3) + msg(evt="beat", pos=3, bpm="fast") + msg(evt="beat", pos=4, bpm=127))
    wait_for(lambda: len(sinks.tempo) == 2)
    assert sinks.tempo[1][1] == 127.0
    assert server.counters["os2l_bad"] == 2
    assert server.counters["os2l_beats"] == 2


def test_buttons_post_commands_and_get_feedback(server: Os2lServer, sinks: Sinks, connect: Callable[[], socket.socket]) -> None:
    c = connect()
    for name, state in [("strobe", "on"), ("strobe", "off"), ("next", "on"), ("next", "off"), ("drop", "on"), ("nope", "on")]:
        c.sendall(msg(evt="btn", name=name, page="lumen", state=state))
    wait_for(lambda: server.counters["os2l_messages"] == 6)
    got = [(m.name, m.value, m.arg, m.source) for m in sinks.commands]
    assert got == [("strobe", 1.0, "", "os2l"), ("strobe", 0.0, "", "os2l"), ("cue_go", 1.0, "", "os2l"),
                   ("scene", 1.0, "drop", "os2l")]
    assert server.counters["os2l_unmapped"] == 1
    # Feedback for the 5 mapped button events, back to back on the stream.
    dec = json.JSONDecoder()
    buf = ""
    deadline = time.perf_counter() + 2.0
    feedback: list[dict[str, object]] = []
    while len(feedback) < 5 and time.perf_counter() < deadline:
        buf += c.recv(4096).decode()
        while buf:
            try:
                obj, end = dec.raw_decode(buf)
            except json.JSONDecodeError:
                break
            feedback.append(obj)
            buf = buf[end:]
    assert feedback[0] == {"evt": "feedback", "name": "strobe", "page": "lumen", "state": "on"}
    assert [f["state"] for f in feedback] == ["on", "off", "on", "off", "on"]


def test_cmd_maps_id_to_a_command_with_param_as_value(server: Os2lServer, sinks: Sinks, connect: Callable[[], socket.socket]) -> None:
    c = connect()
    c.sendall(msg(evt="cmd", id=1, param=0.25) + msg(evt="cmd", id=7, param=80) + msg(evt="cmd", id=99, param=1)
              + msg(evt="cmd", id="1", param=1) + msg(evt="hello") + msg(foo=1))
    wait_for(lambda: server.counters["os2l_messages"] == 6)
    assert [(m.name, m.value, m.arg) for m in sinks.commands] == [("master", 0.25, ""), ("param", 80.0, "main/bloom/amount")]
    snap = server.counters.snapshot()
    assert (snap["os2l_cmds"], snap["os2l_unmapped"], snap["os2l_bad"], snap["os2l_unknown"]) == (2, 1, 1, 2)


def test_split_messages_several_per_packet_and_garbage(server: Os2lServer, sinks: Sinks, connect: Callable[[], socket.socket]) -> None:
    c = connect()
    stream = (msg(evt="beat", pos=1, bpm=120.0) + b"  junk!! " + msg(evt="btn", name="next", page="", state="on")
              + b'{"evt":"beat","bpm":' + msg(evt="beat", pos=2, bpm=121.0) + b"\r\n"
              + msg(evt="beat", pos=3, bpm=122.0) + msg(evt="beat", pos=4, bpm=123.0))
    # Byte by byte for the first half (each byte its own segment), then the rest in one packet.
    half = len(stream) // 2
    for i in range(half):
        c.send(stream[i : i + 1])
        time.sleep(0.0005)
    c.sendall(stream[half:])
    wait_for(lambda: len(sinks.tempo) == 4)
    assert [bpm for _, bpm, _, _ in sinks.tempo] == [120.0, 121.0, 122.0, 123.0]
    assert [m.name for m in sinks.commands] == ["cue_go"]
    assert server.counters["os2l_bad"] == 2  # the junk and the truncated beat


def test_a_flood_is_processed_in_bounded_time(server: Os2lServer, sinks: Sinks, connect: Callable[[], socket.socket]) -> None:
    n = 20_000
    data = b"".join(msg(evt="beat", change=False, pos=i, bpm=100.0 + i % 50, strength=1.0) for i in range(n))
    c = connect()
    t0 = time.perf_counter()
    c.sendall(data)
    took = wait_for(lambda: server.counters["os2l_beats"] == n, timeout_s=10.0)
    assert len(sinks.tempo) == n
    assert server.counters["os2l_bad"] == 0
    rate = n / max(took, 1e-9)
    print(f"\nOS2L flood: {n} messages ({len(data) / 1e6:.2f} MB) in {took * 1000:.0f} ms ({rate:.0f}/s); "
          f"send took {(time.perf_counter() - t0) * 1000:.0f} ms")
    assert took < 5.0


def test_an_overlong_object_drops_the_client(server: Os2lServer, sinks: Sinks, connect: Callable[[], socket.socket]) -> None:
    good = connect()
    bad = connect()
    wait_for(lambda: server.n_clients == 2)
    bad.sendall(b'{"evt":"btn","name":"' + b"x" * 70_000)
    wait_for(lambda: server.counters["os2l_overflows"] == 1)
    bad.settimeout(2.0)
    try:
        assert bad.recv(10) == b""  # closed by the server
    except ConnectionResetError:
        pass
    assert server.n_clients == 1
    assert sinks.lost == []  # another client is still there
    good.sendall(msg(evt="beat", bpm=99.0))
    wait_for(lambda: len(sinks.tempo) == 1)


def test_lost_when_the_last_client_leaves(server: Os2lServer, sinks: Sinks, connect: Callable[[], socket.socket]) -> None:
    a, b = connect(), connect()
    wait_for(lambda: server.n_clients == 2)
    a.sendall(msg(evt="beat", bpm=128.0))
    wait_for(lambda: len(sinks.tempo) == 1)
    a.close()
    wait_for(lambda: server.n_clients == 1)
    assert sinks.lost == []
    b.sendall(b'{"evt":"beat","bpm":1')  # leaves in the middle of an object
    b.close()
    wait_for(lambda: sinks.lost == ["os2l"])
    assert server.n_clients == 0
    c = connect()  # a new client is welcome
    c.sendall(msg(evt="beat", bpm=130.0))
    wait_for(lambda: len(sinks.tempo) == 2)


def test_too_many_clients_are_refused(server: Os2lServer, connect: Callable[[], socket.socket]) -> None:
    clients = [connect() for _ in range(4)]
    wait_for(lambda: server.n_clients == 4)
    extra = connect()
    extra.settimeout(2.0)
    try:
        assert extra.recv(10) == b""
    except ConnectionResetError:
        pass
    assert server.counters["os2l_refused"] == 1
    assert server.n_clients == 4
    assert len(clients) == 4


def test_stop_closes_connected_clients_within_a_second(sinks: Sinks) -> None:
    srv = Os2lServer(sinks, TempoView(sinks), port=0)
    srv.start()
    cs = [socket.create_connection(("127.0.0.1", srv.port), timeout=2.0) for _ in range(3)]
    try:
        wait_for(lambda: srv.n_clients == 3)
        t0 = time.perf_counter()
        srv.stop()
        assert time.perf_counter() - t0 < 1.0
        assert not srv.is_alive()
        for c in cs:
            try:
                assert c.recv(10) == b""
            except ConnectionResetError:
                pass
        assert sinks.lost == ["os2l"]
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=1.0).close()
    finally:
        for c in cs:
            c.close()


def test_counters_can_be_shared() -> None:
    from lumen.rt.counters import Counters

    shared = Counters(("x", *OS2L_COUNTERS))
    s = Sinks()
    srv = Os2lServer(s, TempoView(s), port=0, counters=shared)
    assert srv.counters is shared
    srv.stop()  # never started: closes its sockets
    with pytest.raises(ValueError, match="OS2L_COUNTERS"):
        Os2lServer(s, TempoView(s), port=0, counters=Counters(("x",)))
