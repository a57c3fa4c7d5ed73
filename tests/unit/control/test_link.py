"""Pure parts of lumen.control.link: beat/phase math, clock brackets, the follow/lead logic
against a fake Link timeline (no aalink, no network)."""

from __future__ import annotations

import datetime
import math
import time

import pytest

from lumen.control.link import (
    LINK_COUNTERS,
    TEMPO_DEADBAND_BPM,
    LinkSample,
    LinkSession,
    bracket_read,
    phase_error_beats,
)
from lumen.rt.counters import Counters


class FakeLink:
    """A Link session timeline on perf_counter: beat = beat0 + (now - t0) * tempo / 60."""

    def __init__(self, bpm: float = 120.0, beat0: float = 0.0) -> None:
        self.quantum = 4.0
        self.enabled = True
        self.num_peers = 0
        self._tempo = bpm
        self._t0 = time.perf_counter()
        self._beat0 = beat0
        self.forced: list[float] = []
        self.fail = False

    def _beat_now(self, t: float) -> float:
        return self._beat0 + (t - self._t0) * self._tempo / 60.0

    @property
    def beat(self) -> float:
        if self.fail:
            raise RuntimeError("aalink exploded")
        return self._beat_now(time.perf_counter())

    @property
    def time(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=time.perf_counter() + 0.25)

    @property
    def tempo(self) -> float:
        return self._tempo

    @tempo.setter
    def tempo(self, bpm: float) -> None:  # Link keeps the beat at "now" when the tempo changes
        t = time.perf_counter()
        self._beat0, self._t0, self._tempo = self._beat_now(t), t, bpm

    def force_beat(self, beat: float) -> None:
        self._t0, self._beat0 = time.perf_counter(), beat
        self.forced.append(beat)


class Sink:
    def __init__(self) -> None:
        self.reports: list[tuple[str, float, float | None, float | None]] = []
        self.lost_sources: list[str] = []

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        self.reports.append((source, bpm, beat_t, t))

    def lost(self, source: str) -> None:
        self.lost_sources.append(source)


# -- pure math -----------------------------------------------------------------------------


def test_sample_beat_and_phase_extrapolate_at_tempo() -> None:
    s = LinkSample(t=100.0, beat=7.5, bpm=90.0, n_peers=1, quantum=4.0)
    assert s.beat_at(100.0) == 7.5
    assert s.beat_at(102.0) == pytest.approx(10.5)
    assert s.phase_at(102.0) == pytest.approx(2.5)
    assert s.phase_at(100.0 - 60.0 / 90.0 * 8.0) == pytest.approx(3.5)  # beat -0.5 -> phase 3.5


@pytest.mark.parametrize("beat", [0.0, 0.25, 3.999, -0.25, -4.0, 1234.5])
def test_last_beat_t_is_a_beat_boundary_at_or_before_t(beat: float) -> None:
    s = LinkSample(t=50.0, beat=beat, bpm=128.0, n_peers=2, quantum=4.0)
    bt = s.last_beat_t()
    assert bt <= s.t
    assert s.t - bt < 60.0 / 128.0
    b = s.beat_at(bt)
    assert b == pytest.approx(round(b), abs=1e-9)


@pytest.mark.parametrize(
    ("session", "lumen", "period", "expected"),
    [
        (8.0, 3.0, 1.0, 0.0),
        (8.0, 3.25, 1.0, 0.25),
        (8.0, 3.75, 1.0, -0.25),
        (8.9, 0.0, 1.0, 0.1),
        (-0.1, 0.0, 1.0, 0.1),
        (8.0, 0.5, 1.0, -0.5),  # exactly half a beat: wraps to the negative side
        (6.0, 0.0, 4.0, -2.0),
        (5.0, 0.0, 4.0, -1.0),
        (7.0, 0.0, 4.0, 1.0),
    ],
)
def test_phase_error_is_the_shortest_move_onto_lumens_grid(session: float, lumen: float, period: float, expected: float) -> None:
    err = phase_error_beats(session, lumen, period)
    assert err == pytest.approx(expected, abs=1e-9)
    assert -period / 2 <= err < period / 2
    # After the move the session lies on lumen's grid.
    moved = session + err
    assert math.fmod(moved - lumen, period) % period == pytest.approx(0.0, abs=1e-9) or \
        math.fmod(moved - lumen, period) % period == pytest.approx(period, abs=1e-9)


def test_bracket_read_keeps_the_narrowest_bracket() -> None:
    ticks = iter([0.0, 1.0, 2.0, 2.5, 3.0, 3.9])
    mid, half, v = bracket_read(lambda: 42, lambda: next(ticks), max_width_s=0.1, attempts=3)
    assert (mid, half, v) == (2.25, 0.25, 42)


def test_bracket_read_on_perf_counter_is_narrow() -> None:
    mid, half, _ = bracket_read(time.perf_counter)
    assert half < 1e-3
    assert abs(mid - time.perf_counter()) < 0.1


# -- session logic against a fake Link -------------------------------------------------------


def make(mode: str = "follow", **kw: float) -> tuple[LinkSession, Sink]:
    sink = Sink()
    return LinkSession(sink, mode=mode, **kw), sink  # type: ignore[arg-type]


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError, match="mode"):
        LinkSession(Sink(), mode="solo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quantum"):
        LinkSession(Sink(), quantum=0.0)
    with pytest.raises(ValueError, match="tempo"):
        LinkSession(Sink(), initial_bpm=5.0)


def test_before_the_first_reading_properties_say_so() -> None:
    session, _ = make()
    assert session.num_peers == 0
    assert math.isnan(session.clock_offset_s)
    with pytest.raises(RuntimeError, match="start"):
        session.beat_at(0.0)


def test_follow_reports_only_with_peers_and_loses_the_last_one() -> None:
    session, sink = make()
    link = FakeLink(bpm=125.0, beat0=3.3)
    session._tick(link)
    assert sink.reports == [] and sink.lost_sources == []
    link.num_peers = 2
    session._tick(link)
    session._tick(link)
    assert len(sink.reports) == 2
    src, bpm, beat_t, t = sink.reports[-1]
    assert (src, bpm) == ("link", 125.0)
    assert beat_t is not None and t is not None and beat_t <= t
    b = link._beat_now(beat_t)
    assert b == pytest.approx(round(b), abs=1e-4)  # a beat boundary, within 0.5 ms
    assert session.beat_at(t) == pytest.approx(link._beat_now(t), abs=1e-4)
    assert session.clock_offset_s == pytest.approx(0.25, abs=1e-3)
    link.num_peers = 0
    session._tick(link)
    assert sink.lost_sources == ["link"]
    assert len(sink.reports) == 2
    c = session.counters
    assert (c["link_reports"], c["link_peers_changes"], c["link_errors"]) == (2, 2, 0)


def test_switching_to_lead_withdraws_link_as_a_tempo_source() -> None:
    session, sink = make()
    link = FakeLink()
    link.num_peers = 1
    session._tick(link)
    session.mode = "lead"
    session._tick(link)
    assert sink.lost_sources == ["link"]
    assert len(sink.reports) == 1


def test_lead_sets_tempo_outside_the_dead_band_when_confident() -> None:
    session, _ = make("lead")
    link = FakeLink(bpm=120.0)
    session.publish(120.0 + TEMPO_DEADBAND_BPM / 2, time.perf_counter(), 1.0)
    session._tick(link)
    assert link.tempo == 120.0
    session.publish(126.0, time.perf_counter(), 0.2)  # not confident
    session._tick(link)
    assert link.tempo == 120.0
    session.publish(126.0, time.perf_counter(), 0.8)
    session._tick(link)
    assert link.tempo == 126.0
    assert session.counters["link_tempo_sets"] == 1
    session.publish(float("nan"), time.perf_counter(), 1.0)  # ignored
    session._tick(link)
    assert link.tempo == 126.0


def test_lead_forces_the_session_onto_lumens_beat_grid() -> None:
    session, _ = make("lead", min_force_interval_s=0.0)
    link = FakeLink(bpm=120.0, beat0=10.0)
    grid_t = time.perf_counter() + 0.1  # lumen's beat, 0.2 beats after the session's (0.5 s per beat)
    session.publish(120.0, grid_t, 1.0)
    session._tick(link)
    assert len(link.forced) == 1
    b = link._beat_now(grid_t)
    assert b - round(b) == pytest.approx(0.0, abs=2e-4)  # 0.1 ms
    # The session bar position moved by less than half a beat.
    assert abs(link.forced[0] - link._beat_now(time.perf_counter())) < 1.0
    # Already aligned: no second force.
    session.publish(120.0, grid_t, 1.0)
    session._tick(link)
    assert len(link.forced) == 1


def test_lead_aligns_bars_with_a_downbeat_and_rate_limits_forces() -> None:
    session, _ = make("lead", min_force_interval_s=10.0)
    link = FakeLink(bpm=120.0, beat0=1.0)
    down_t = time.perf_counter()
    session.publish(120.0, down_t, 1.0, downbeat_t=down_t)
    session._tick(link)
    b = link._beat_now(down_t)
    assert b % 4.0 == pytest.approx(0.0, abs=1e-3) or b % 4.0 == pytest.approx(4.0, abs=1e-3)
    # A new misalignment within the interval waits.
    session.publish(120.0, down_t + 0.1, 1.0)
    session._tick(link)
    assert len(link.forced) == 1


def test_errors_from_link_are_counted_not_raised() -> None:
    session, _ = make()
    link = FakeLink()
    link.fail = True
    for _ in range(3):
        session._step(link)
    assert session.counters["link_errors"] == 3
    link.fail = False
    session._step(link)
    assert session.counters["link_errors"] == 3


def test_shared_counters_must_hold_link_counters() -> None:
    shared = Counters(("other", *LINK_COUNTERS))
    session = LinkSession(Sink(), counters=shared)
    assert session.counters is shared
    with pytest.raises(ValueError, match="LINK_COUNTERS"):
        LinkSession(Sink(), counters=Counters(("other",)))
