"""OSC out (`lumen.output.osc`): templates per console type, rate limiting, press/release and
beat scheduling, refusal of broadcast, error counting.

No network and no timing: the sender's `process(now)` is driven with made-up times and a
recording transport, so nothing here depends on how loaded the machine is.
"""

from __future__ import annotations

import math

import pytest
from pythonosc.osc_message import OscMessage

from lumen.output.osc import (
    DEFAULT_TEMPLATES,
    EVENTS,
    OSC_OUT_COUNTERS,
    ConsoleTarget,
    OscCueSender,
    expand_template,
    qlcplus_channel,
)
from lumen.rt.counters import Counters


class Recorder:
    """A transport that keeps (time, target, decoded message) and can be told to fail."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, int, str, list[object]]] = []
        self.fail = False
        self.closed = False

    def send(self, target: int, packet: bytes) -> None:
        if self.fail:
            raise OSError(101, "Network is unreachable")
        msg = OscMessage(packet)
        self.sent.append((self.clock.t, target, msg.address, list(msg.params)))

    def close(self) -> None:
        self.closed = True

    def messages(self) -> list[tuple[str, list[object]]]:
        return [(a, p) for _, _, a, p in self.sent]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(*targets: ConsoleTarget, **kw: object) -> tuple[OscCueSender, Recorder, Clock]:
    clock = Clock()
    rec = Recorder(clock)
    sender = OscCueSender(list(targets), clock=clock, transport=rec, **kw)  # type: ignore[arg-type]
    return sender, rec, clock


def step(sender: OscCueSender, clock: Clock, dt: float) -> None:
    """Advance the clock by ``dt`` and let the sender do what is due."""
    clock.t += dt
    sender.process(clock.t)


# -- templates ------------------------------------------------------------------------------


def test_eos_scene_fires_the_mapped_cue_in_the_cue_list() -> None:
    eos = ConsoleTarget(name="eos", type="eos", port=8000, cue_list=3, cue_map={"drop": "12.5"})
    sender, rec, clock = make(eos)
    sender.post("scene", clock.t, scene="drop", cue="7")
    sender.process(clock.t)
    clock.t += 0.2
    sender.post("scene", clock.t, scene="intro", cue="7")  # unmapped: the event's cue
    sender.post("cue", clock.t, cue=9, list=4)
    sender.process(clock.t)
    assert rec.messages() == [
        ("/eos/cue/3/12.5/fire", []),
        ("/eos/cue/3/7/fire", []),
        ("/eos/cue/4/9/fire", []),
    ]
    assert sender.stats()["osc_out_sent"] == 3


def test_eos_ignores_events_it_has_no_template_for() -> None:
    eos = ConsoleTarget(name="eos", type="eos", port=8000)
    assert eos.resolved_events() == {"scene", "cue"}
    sender, rec, clock = make(eos)
    for ev in ("drop", "beat", "section", "blackout"):
        sender.post(ev, clock.t, beat=1, section="drop")
    sender.process(clock.t)
    assert rec.sent == []
    assert sender.stats() == dict.fromkeys(OSC_OUT_COUNTERS, 0)


def test_qlab_starts_the_cue() -> None:
    sender, rec, clock = make(ConsoleTarget(name="qlab", type="qlab", port=53000, cue_map={"drop": "D1"}))
    sender.post("scene", clock.t, scene="drop")
    sender.process(clock.t)
    assert rec.messages() == [("/cue/D1/start", [])]


def test_generic_templates_and_argument_types() -> None:
    sender, rec, clock = make(ConsoleTarget(name="ma", type="generic", port=8001))
    fields = {"scene": "drop", "cue": "12", "section": "build", "beat": 3, "bar": 17, "bpm": 128.0}
    for ev in EVENTS:
        sender.post(ev, clock.t, **fields)
    sender.process(clock.t)
    got = dict(rec.messages())
    assert got == {
        "/lumen/scene": ["drop"],
        "/lumen/cue": [12.0],
        "/lumen/section": ["build"],
        "/lumen/drop": [],
        "/lumen/break": [],
        "/lumen/build": [],
        "/lumen/beat": [3],
        "/lumen/downbeat": [17],
        "/lumen/blackout": [1],
    }
    assert isinstance(got["/lumen/beat"][0], int) and isinstance(got["/lumen/cue"][0], float)


def test_template_override_and_number_detection() -> None:
    t = ConsoleTarget(
        name="custom", type="generic", port=9000,
        templates={"scene": ("/show/{scene}/go", ("{bpm}", "1", "s:{cue}", "{scene}", "nan"))},
    )
    sender, rec, clock = make(t)
    sender.post("scene", clock.t, scene="drop", cue="5", bpm=127.5)
    sender.process(clock.t)
    assert rec.messages() == [("/show/drop/go", [127.5, 1.0, "5", "drop", "nan"])]


def test_expand_template_is_pure_and_typed() -> None:
    assert expand_template(("/a/{cue}", ("f:{cue}", "i:{beat}", "s:{bpm}")), {"cue": 5.0, "beat": 2.0, "bpm": 120.0}) == (
        "/a/5", [5.0, 2, "120"],
    )
    with pytest.raises(KeyError):
        expand_template(("/a/{cue}", ()), {})
    with pytest.raises(ValueError, match="not a valid OSC address"):
        expand_template(("/lumen/scene/{scene}", ()), {"scene": "big drop"})


def test_qlcplus_press_then_release_50_ms_later() -> None:
    sender, rec, clock = make(ConsoleTarget(name="qlc", type="qlcplus", address="10.231.0.1", port=7700))
    t0 = clock.t
    sender.post("scene", clock.t, scene="drop")
    nxt = sender.process(clock.t)
    assert rec.sent == [(t0, 0, "/lumen/scene/drop", [1.0])]
    assert nxt == pytest.approx(t0 + 0.05)  # the release is scheduled, not slept on
    step(sender, clock, 0.049)
    assert len(rec.sent) == 1
    step(sender, clock, 0.002)
    assert rec.sent[1][2:] == ("/lumen/scene/drop", [0.0])
    assert sender.stats()["osc_out_sent"] == 2


def test_qlcplus_event_paths() -> None:
    sender, rec, clock = make(ConsoleTarget(name="qlc", type="qlcplus", port=7700, rate_limit_hz=1000.0))
    for ev in EVENTS:
        sender.post(ev, clock.t, scene="drop", cue="3", section="break")
    sender.process(clock.t)
    presses = [a for a, p in rec.messages() if p == [1.0]]
    assert presses == [
        "/lumen/scene/drop", "/lumen/cue/3", "/lumen/section/break", "/lumen/drop", "/lumen/break",
        "/lumen/build", "/lumen/beat", "/lumen/downbeat", "/lumen/blackout",
    ]


def test_qlcplus_channel_is_crc16_x25_of_the_path() -> None:
    assert qlcplus_channel("123456789") == 0x906E  # the CRC-16/X-25 check value
    assert qlcplus_channel("/lumen/scene/drop") == 32328  # used by tests/helpers/qlcplus/show.qxw


def test_missing_field_is_counted_not_raised() -> None:
    sender, rec, clock = make(ConsoleTarget(name="ma", type="generic", port=8000))
    sender.post("beat", clock.t, bar=3)  # no beat count for i:{beat}
    sender.process(clock.t)
    assert rec.sent == []
    assert sender.stats()["osc_out_errors"] == 1
    assert "'beat'" in sender.last_error


def test_an_unmapped_scene_fires_no_cue_and_is_no_fault() -> None:
    sender, rec, clock = make(ConsoleTarget(name="eos", type="eos", port=8000, cue_map={"drop": "12"}))
    sender.post("scene", clock.t, scene="intro")  # no cue, no cue_map entry
    sender.process(clock.t)
    assert rec.sent == []
    assert sender.stats() == dict.fromkeys(OSC_OUT_COUNTERS, 0)


# -- features -------------------------------------------------------------------------------


def test_feature_stream_at_features_hz_only_when_new() -> None:
    sender, rec, clock = make(ConsoleTarget(name="vj", type="features", port=7000, features_hz=8.0))
    values: dict[str, float | str | tuple[float, ...]] = {"section": "drop", "bpm": 128.0, "bands": (0.1, 0.2, 0.3, 0.4), "energy": 0.5, "beat_phase": 0.25}
    sender.publish_features(values, clock.t)
    nxt = sender.process(clock.t)
    assert rec.messages() == [
        ("/lumen/features/bpm", [128.0]),
        ("/lumen/features/beat_phase", [0.25]),
        ("/lumen/features/energy", [0.5]),
        ("/lumen/features/bands", [pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.3), pytest.approx(0.4)]),
        ("/lumen/features/section", ["drop"]),
    ]
    assert nxt == clock.t + 0.125  # times are exact binary fractions here
    sender.publish_features({"energy": 0.75}, clock.t)
    step(sender, clock, 0.0625)  # before the next tick: nothing
    assert len(rec.sent) == 5
    step(sender, clock, 0.0625)
    assert rec.messages()[5:] == [("/lumen/features/energy", [0.75])]
    step(sender, clock, 0.125)  # nothing new published: nothing sent
    assert len(rec.sent) == 6


def test_feature_publish_is_a_mailbox_not_a_queue() -> None:
    sender, rec, clock = make(ConsoleTarget(name="vj", type="features", port=7000))
    for k in range(1000):
        sender.publish_features({"energy": k / 1000.0}, clock.t)
    sender.process(clock.t)
    assert rec.messages() == [("/lumen/features/energy", [pytest.approx(0.999)])]


def test_features_beat_message_on_beat_events() -> None:
    sender, rec, clock = make(ConsoleTarget(name="vj", type="features", port=7000))
    sender.post("beat", clock.t, beat=1)
    sender.post("scene", clock.t, scene="drop")  # not a features event
    sender.process(clock.t)
    assert rec.messages() == [("/lumen/features/beat", [1.0])]


# -- rate limiting and scheduling ----------------------------------------------------------


def test_beats_over_the_rate_limit_are_dropped() -> None:
    sender, rec, clock = make(ConsoleTarget(name="ma", type="generic", port=8001, rate_limit_hz=10.0))
    for k in range(20):  # 20 beats at 50 Hz for 0.4 s: one per 0.1 s gets through
        sender.post("beat", clock.t, beat=k % 4 + 1)
        sender.process(clock.t)
        clock.t += 0.02
    assert len(rec.sent) == 4
    times = [s[0] for s in rec.sent]
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(times, times[1:]))
    assert sender.stats()["osc_out_rate_limited"] == 16


def test_scene_over_the_rate_limit_waits_and_the_newest_wins() -> None:
    sender, rec, clock = make(ConsoleTarget(name="ma", type="generic", port=8001, rate_limit_hz=10.0))
    t0 = clock.t
    sender.post("scene", clock.t, scene="a")
    sender.process(clock.t)
    step(sender, clock, 0.01)
    sender.post("scene", clock.t, scene="b")
    sender.post("scene", clock.t, scene="c")
    nxt = sender.process(clock.t)
    assert nxt == pytest.approx(t0 + 0.1)
    step(sender, clock, 0.05)
    assert rec.messages() == [("/lumen/scene", ["a"])]
    clock.t = t0 + 0.1
    sender.process(clock.t)
    assert rec.messages() == [("/lumen/scene", ["a"]), ("/lumen/scene", ["c"])]
    assert sender.stats()["osc_out_rate_limited"] == 1  # "b" was superseded
    step(sender, clock, 1.0)
    assert len(rec.sent) == 2


def test_rate_limit_is_per_event_kind_and_per_target() -> None:
    a = ConsoleTarget(name="a", type="generic", port=8001, rate_limit_hz=1.0)
    b = ConsoleTarget(name="b", type="generic", port=8002, rate_limit_hz=1.0)
    sender, rec, clock = make(a, b)
    sender.post("beat", clock.t, beat=1)
    sender.post("downbeat", clock.t, bar=1)
    sender.post("drop", clock.t)
    sender.process(clock.t)
    assert len(rec.sent) == 6
    assert sender.stats()["osc_out_rate_limited"] == 0


def test_beat_locked_event_leaves_latency_before_the_predicted_beat() -> None:
    t = ConsoleTarget(name="qlc", type="qlcplus", port=7700, events={"beat"}, latency_ms=30.0, release_ms=20.0)
    sender, rec, clock = make(t)
    beat_t = clock.t + 0.5
    sender.post("beat", clock.t, beat=1, beat_t=beat_t)
    assert sender.process(clock.t) == pytest.approx(beat_t - 0.03)
    clock.t = beat_t - 0.031
    sender.process(clock.t)
    assert rec.sent == []
    clock.t = beat_t - 0.03
    sender.process(clock.t)
    assert rec.sent == [(beat_t - 0.03, 0, "/lumen/beat", [1.0])]
    clock.t = beat_t - 0.01
    sender.process(clock.t)
    assert rec.sent[1][2:] == ("/lumen/beat", [0.0])


def test_a_predicted_beat_already_past_goes_out_at_once() -> None:
    sender, rec, clock = make(ConsoleTarget(name="ma", type="generic", port=8001, latency_ms=100.0))
    sender.post("beat", clock.t, beat=2, beat_t=clock.t + 0.05)
    sender.process(clock.t)
    assert rec.messages() == [("/lumen/beat", [2])]


def test_queue_overflow_drops_the_oldest_and_counts() -> None:
    sender, rec, clock = make(ConsoleTarget(name="ma", type="generic", port=8001, rate_limit_hz=1e6), max_pending=4)
    for k in range(10):
        sender.post(EVENTS[k % len(EVENTS)], clock.t, scene="s", cue=1, section="x", beat=1, bar=k)
    assert sender.stats()["osc_out_dropped"] == 6
    sender.process(clock.t)
    assert rec.messages() == [
        ("/lumen/beat", [1]), ("/lumen/downbeat", [7]), ("/lumen/blackout", [1]), ("/lumen/scene", ["s"]),
    ]


def test_send_errors_are_counted_never_raised() -> None:
    sender, rec, clock = make(ConsoleTarget(name="ma", type="generic", port=8001))
    rec.fail = True
    sender.post("drop", clock.t)
    sender.process(clock.t)
    assert sender.stats()["osc_out_errors"] == 1
    assert sender.stats()["osc_out_sent"] == 0
    assert "unreachable" in sender.last_error


def test_unknown_event_is_a_programming_error() -> None:
    sender, _, clock = make(ConsoleTarget(name="ma", type="generic", port=8001))
    with pytest.raises(ValueError, match="unknown OSC event 'drops'"):
        sender.post("drops", clock.t)


def test_shared_counters_must_hold_the_osc_names() -> None:
    shared = Counters(("xruns", *OSC_OUT_COUNTERS))
    sender, rec, clock = make(ConsoleTarget(name="ma", type="generic", port=8001), counters=shared)
    sender.post("drop", clock.t)
    sender.process(clock.t)
    assert shared["osc_out_sent"] == 1
    with pytest.raises(ValueError, match="OSC_OUT_COUNTERS"):
        make(ConsoleTarget(name="ma", type="generic", port=8001), counters=Counters(("xruns",)))


def test_stop_without_start_closes_the_transport() -> None:
    sender, rec, _ = make(ConsoleTarget(name="ma", type="generic", port=8001))
    sender.stop()
    assert rec.closed


# -- validation and safety ------------------------------------------------------------------


@pytest.mark.parametrize("address", ["255.255.255.255", "239.255.0.1", "224.0.0.1"])
def test_broadcast_and_multicast_are_refused_without_allow_broadcast(address: str) -> None:
    with pytest.raises(ValueError, match="multicast/broadcast"):
        ConsoleTarget(name="x", type="generic", address=address, port=8000)
    ok = ConsoleTarget(name="x", type="generic", address=address, port=8000, allow_broadcast=True)
    assert ok.allow_broadcast


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"type": "grandma"}, "unknown type"),
        ({"port": 0}, "port"),
        ({"address": "localhost"}, "dotted IPv4"),
        ({"address": "0.0.0.0"}, "not a destination"),
        ({"events": {"scene", "bop"}}, "unknown events"),
        ({"templates": {"bop": ("/a", ())}}, "unknown event"),
        ({"templates": {"scene": ("/a/{nope}", ())}}, "placeholders"),
        ({"templates": {"scene": ("a", ())}}, "start with '/'"),
        ({"templates": {"scene": ("/a/{cue:>3}", ())}}, "format spec"),
        ({"rate_limit_hz": 0.0}, "rate_limit_hz"),
        ({"features_hz": math.inf}, "features_hz"),
        ({"latency_ms": -1.0}, "latency_ms"),
        ({"bind": "239.1.1.1"}, "bind"),
    ],
)
def test_invalid_targets_raise(kw: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"name": "x", "type": "generic", "port": 8000}
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        ConsoleTarget(**args)  # type: ignore[arg-type]


def test_every_default_template_uses_known_placeholders() -> None:
    for kind, templates in DEFAULT_TEMPLATES.items():
        ConsoleTarget(name=kind, type=kind, port=9000, templates=dict(templates))  # type: ignore[arg-type]


def test_target_is_immutable() -> None:
    t = ConsoleTarget(name="x", type="eos", port=8000, cue_map={"a": "1"})
    with pytest.raises(AttributeError):
        t.port = 9000  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.cue_map["b"] = "2"  # type: ignore[index]


def test_the_thread_sends_what_is_posted_and_stops() -> None:
    """The real loop on the real clock (bounded wait, no timing assertion)."""
    import time

    rec = Recorder(Clock())
    sender = OscCueSender([ConsoleTarget(name="qlc", type="qlcplus", port=7700)], transport=rec)
    sender.start()
    try:
        sender.post("drop", time.perf_counter())
        deadline = time.monotonic() + 10.0
        while len(rec.sent) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        sender.stop()
    assert not sender.is_alive()
    assert rec.closed
    assert rec.messages() == [("/lumen/drop", [1.0]), ("/lumen/drop", [0.0])]
