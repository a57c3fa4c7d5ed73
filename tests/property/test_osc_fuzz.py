"""Fuzz the running OSC server over loopback UDP: random bytes and near-valid packets.

For every datagram the test predicts what the server must do and then checks it exactly:
the counter deltas (packets, bad, messages, unknown) and the commands posted. Each datagram
is followed by a sentinel (a valid ``/lumen/cue/goto i <n>``); the server handles datagrams in
order on one thread, so once the sentinel's command arrives the fuzz datagram has been fully
handled, and a valid message still gets through.

The prediction composes the same stages the server does (`check_packet`, python-osc,
`oscmap.parse`), and the generator adds facts that hold by construction (a datagram that
starts with neither ``/`` nor ``#bundle`` is bad; a message cut inside its arguments is bad;
an unsupported type tag is bad; an unmutated ``/lumen/master`` arrives as that command), so
a server that drops, miscounts, mis-posts or dies fails here.

Only 127.0.0.1 is used; each wait is bounded (2 s) and the run is bounded (300 examples).
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_packet import OscPacket

from lumen.control import oscmap
from lumen.control.commands import Command
from lumen.control.osc import OscServer, check_packet
from lumen.output.encode.osc import OscArg, osc_bundle, osc_message

pytestmark = pytest.mark.network

LOCAL = "127.0.0.1"
MAX_UDP = 65507  # largest IPv4 UDP payload
KEYS = ("osc_packets", "osc_bad", "osc_messages", "osc_unknown", "osc_denied")

Key = tuple[str, object, str]


def key(cmd: Command) -> Key:
    value: object = "nan" if math.isnan(cmd.value) else cmd.value
    return (cmd.name, value, cmd.arg)


class Sink:
    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.lock = threading.Lock()

    def post(self, cmd: Command) -> None:
        with self.lock:
            self.commands.append(cmd)


@dataclass(frozen=True)
class Case:
    """A fuzz datagram and what is known about it by construction."""

    data: bytes
    must_be_bad: bool = False
    must_post: tuple[Key, ...] | None = None


@dataclass
class Expected:
    bad: int = 0
    messages: int = 0
    unknown: int = 0
    posted: tuple[Key, ...] = ()


def predict(data: bytes) -> Expected:
    """What the server must do with ``data`` (composing its stages, see the module doc)."""
    try:
        check_packet(data)
        timed = OscPacket(data).messages
    except Exception:
        return Expected(bad=1)
    exp = Expected(messages=len(timed))
    posted: list[Key] = []
    for tm in timed:
        try:
            cmd = oscmap.parse(tm.message.address, tuple(tm.message.params))
        except oscmap.OscMapError as exc:
            if exc.unknown:
                exp.unknown += 1
            else:
                exp.bad += 1
            continue
        if cmd is not None:
            posted.append(key(cmd))
    exp.posted = tuple(posted)
    return exp


# -- strategies ------------------------------------------------------------------------------------

ADDRESSES = [
    "/lumen/master",
    "/lumen/blackout",
    "/lumen/strobe",
    "/lumen/auto",
    "/lumen/tap",
    "/lumen/tempo",
    "/lumen/tempo/release",
    "/lumen/scene",
    "/lumen/scene/drop",
    "/lumen/cue/go",
    "/lumen/cue/back",
    "/lumen/cue/goto",
    "/lumen/cue/2.5",
    "/lumen/release",
    "/lumen/param/drop/tunnel/speed",
    "/lumen/param/drop/tunnel/speed/release",
    "/lumen/ping",
    "/lumen/nope",
    "/lumen/scene/*",
    "/other",
]

osc_args: st.SearchStrategy[OscArg] = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(width=32),  # NaN and infinities included
    st.booleans(),
    st.none(),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
    st.sampled_from(["0.5", "1", "drop", "2.5", "nan", "300"]),
    st.binary(max_size=16),
)


@st.composite
def valid_messages(draw: st.DrawFn) -> bytes:
    address = draw(st.sampled_from(ADDRESSES) | st.from_regex(r"/lumen/[a-z]{1,8}(/[a-z0-9.]{1,6}){0,3}", fullmatch=True))
    args = draw(st.lists(osc_args, max_size=3))
    return osc_message(address, args)


def _replace(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["random", "prefixed", "valid", "master", "flip", "truncate", "tag", "size", "bundle", "big"]))
    if kind == "random":
        data = draw(st.binary(max_size=256))
        starts_ok = data.startswith(b"/") or data.startswith(b"#bundle\x00")
        return Case(data, must_be_bad=not starts_ok)
    if kind == "prefixed":
        prefix = draw(st.sampled_from([b"/lumen/", b"#bundle\x00", b"/lumen/master\x00\x00\x00,"]))
        return Case(prefix + draw(st.binary(max_size=64)))
    if kind == "valid":
        return Case(draw(valid_messages()))
    if kind == "master":
        level = draw(st.floats(0.0, 1.0, width=32))
        return Case(osc_message("/lumen/master", [level]), must_post=(("master", level, ""),))
    msg = draw(valid_messages())
    if kind == "flip":
        at = draw(st.integers(0, len(msg) - 1))
        return Case(_replace(msg, at, bytes([draw(st.integers(0, 255))])))
    if kind == "truncate":
        # Cut inside the argument data (after the type tags) of a message that has fixed-size
        # arguments: it must be refused, never read as zeros.
        level = draw(st.floats(0.0, 1.0, width=32))
        full = osc_message("/lumen/master", [level])
        cut = draw(st.integers(len(full) - 3, len(full) - 1))
        return Case(full[:cut], must_be_bad=True)
    if kind == "tag":
        # Replace the first type tag by one python-osc does not decode.
        full = osc_message("/lumen/blackout", [draw(st.integers(0, 1))])
        tag_at = full.index(b",") + 1
        bad_tag = draw(st.sampled_from(b"cSIzX?\x01"))
        return Case(_replace(full, tag_at, bytes([bad_tag])), must_be_bad=True)
    if kind == "size":
        # A huge, negative or odd size where a blob or bundle element size goes.
        huge = draw(st.sampled_from([0x7FFFFFFF, -1, -4, 0x10000, 3]))
        if draw(st.booleans()):
            full = osc_message("/lumen/scene", [b"abcd"])
            at = len(full) - 8
            return Case(_replace(full, at, struct.pack(">i", huge)))
        bundle = osc_bundle([msg])
        return Case(_replace(bundle, 16, struct.pack(">i", huge)), must_be_bad=huge not in (len(msg),))
    if kind == "bundle":
        parts = draw(st.lists(valid_messages(), min_size=1, max_size=4))
        if draw(st.booleans()):
            parts = [osc_bundle(parts[:1]), *parts[1:]]
        return Case(osc_bundle(parts, timetag=draw(st.integers(0, 2**64 - 1))))
    # big: a datagram near the UDP maximum (a huge blob, or a long run of padding)
    n = draw(st.integers(1000, MAX_UDP - 64))
    if draw(st.booleans()):
        return Case(osc_message("/lumen/scene", [bytes(n)]))
    return Case(b"/lumen/master\x00\x00\x00" + bytes(n))


# -- the test --------------------------------------------------------------------------------------


def _wait(predicate: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if predicate():
            return True
        time.sleep(0.0005)
    return predicate()


def test_fuzzed_datagrams_are_counted_and_never_stop_the_server() -> None:
    sink = Sink()
    server = OscServer(sink, port=0)
    server.start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind((LOCAL, 0))
    target = (LOCAL, server.port)
    seq = [0]
    seen = {"bad": 0, "big": 0, "posted": 0}

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(case=cases())
    def run(case: Case) -> None:
        assert len(case.data) <= MAX_UDP
        exp = predict(case.data)
        if case.must_be_bad:
            assert exp.bad == 1 and exp.messages == 0, f"prediction says {exp} for a datagram bad by construction"
        if case.must_post is not None:
            assert exp.posted == case.must_post
        before = server.counters.snapshot()
        with sink.lock:
            n_before = len(sink.commands)
        seq[0] += 1
        sentinel = ("cue_goto", 0.0, str(seq[0]))
        client.sendto(case.data, target)
        client.sendto(osc_message("/lumen/cue/goto", [seq[0]]), target)

        def sentinel_arrived() -> bool:
            with sink.lock:
                return bool(sink.commands) and key(sink.commands[-1]) == sentinel

        assert _wait(sentinel_arrived), f"sentinel {seq[0]} never arrived; server alive: {server.is_alive()}"
        after = server.counters.snapshot()
        delta = {k: after[k] - before[k] for k in KEYS}
        assert delta == {
            "osc_packets": 2,
            "osc_bad": exp.bad,
            "osc_messages": exp.messages + 1,
            "osc_unknown": exp.unknown,
            "osc_denied": 0,
        }, f"{case.data[:80]!r}: {server.last_error}"
        with sink.lock:
            posted = sink.commands[n_before:]
        assert tuple(key(c) for c in posted[:-1]) == exp.posted
        assert all(c.source == "osc" for c in posted)
        assert after["osc_errors"] == 0, server.last_error
        seen["bad"] += exp.bad
        seen["big"] += len(case.data) > 1000
        seen["posted"] += len(exp.posted)

    try:
        run()
        assert server.is_alive()
        # The run explored all three outcomes (a fuzzer that never reaches the parser proves little).
        assert seen["bad"] > 0 and seen["big"] > 0 and seen["posted"] > 0, seen
        # And a plain valid message still gets through afterwards.
        client.sendto(osc_message("/lumen/master", [0.5]), target)
        assert _wait(lambda: bool(sink.commands) and key(sink.commands[-1]) == ("master", 0.5, ""))
    finally:
        client.close()
        server.stop()
    assert not server.is_alive()
