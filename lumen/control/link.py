"""Ableton Link: share tempo and beat phase with DJ software, DAWs and other lumen machines.

Layer: control. Threads: `LinkSession` runs its own ``lumen-link`` thread (an asyncio loop,
because aalink needs a running loop to exist); `LinkSession.publish` is called from the
engine (any one thread); the read-only properties (`LinkSession.num_peers`,
`LinkSession.tempo`, `LinkSession.beat_at`, `LinkSession.phase_at`) may be called from any
thread. The pure helpers (`LinkSample`, `bracket_read`, `phase_error_beats`) run anywhere.

Modes
-----
``"follow"``
    Every ~10 ms the Link thread reads the session tempo and beat and, while at least one
    other peer is in the session, reports them to the `TempoSink` as
    ``report("link", bpm, beat_t, t)``. When the last peer leaves it calls ``lost("link")``.
``"lead"``
    lumen's own tracker drives the session: the engine calls `LinkSession.publish` a few
    times a second. When the estimate is confident, a tempo that differs from the session's
    by more than `TEMPO_DEADBAND_BPM` is set as the session tempo, and when the session's
    beat grid is more than ``phase_tolerance_s`` away from lumen's, the session is moved onto
    it with Link's ``forceBeatAtTime`` (see `LinkSession.publish` for why *force*).

Clock
-----
Link keeps time on its own microsecond clock (on Linux ``CLOCK_MONOTONIC_RAW``, which is
offset from, and may be slewed against, ``perf_counter``'s ``CLOCK_MONOTONIC``). aalink
evaluates ``beat`` at Link's *now* inside the call, so lumen never converts a Link time:
each read brackets ``link.beat`` between two ``perf_counter()`` calls and takes the midpoint
as the beat's perf_counter time (uncertainty: half the bracket, typically < 1 µs; a bracket
wider than `MAX_BRACKET_S`, e.g. a preempted read, is retried). The offset between the two
clocks is measured the same way (bracketing ``link.time``) once per read and exposed as
`LinkSession.clock_offset_s` for diagnostics.

Peers are discovered by UDP multicast to 224.76.78.75:20808 on every interface: test Link
only inside a private network namespace (see tests/integration/test_link.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeVar

from lumen.control.commands import TempoSink
from lumen.rt.counters import Counters

__all__ = [
    "LINK_COUNTERS",
    "LINK_MODES",
    "LinkMode",
    "LinkSample",
    "LinkSession",
    "TEMPO_DEADBAND_BPM",
    "bracket_read",
    "phase_error_beats",
]

log = logging.getLogger("lumen")

#: Counters a `LinkSession` keeps.
LINK_COUNTERS: Final[tuple[str, ...]] = (
    "link_reports",        # follow mode: tempo/phase reports handed to the TempoSink
    "link_peers_changes",  # the number of peers changed
    "link_errors",         # exceptions from aalink (or the sink), caught
    "link_tempo_sets",     # lead mode: session tempo set from lumen's tracker
    "link_beat_forces",    # lead mode: session beat grid moved onto lumen's
)

#: Link's modes of operation.
LinkMode = Literal["follow", "lead"]
LINK_MODES: Final[tuple[str, ...]] = ("follow", "lead")

#: Lead mode: a tempo differing from the session's by more than this is published, bpm.
TEMPO_DEADBAND_BPM: Final[float] = 0.05
#: A clock bracket wider than this (the thread was preempted mid-read) is retried, s.
MAX_BRACKET_S: Final[float] = 200e-6
#: Link's tempo range, bpm.
LINK_MIN_BPM: Final[float] = 20.0
LINK_MAX_BPM: Final[float] = 999.0

_T = TypeVar("_T")


class _LinkApi(Protocol):
    """The part of ``aalink.Link`` lumen uses (aalink ships no type hints)."""

    enabled: bool
    quantum: float
    tempo: float

    @property
    def num_peers(self) -> int: ...

    @property
    def beat(self) -> float: ...

    @property
    def time(self) -> object: ...

    def force_beat(self, beat: float) -> None: ...


@dataclass(frozen=True, slots=True)
class LinkSample:
    """One reading of the Link session, on the perf_counter clock.

    Attributes
    ----------
    t : float, s
        perf_counter time at which ``beat`` held.
    beat : float, beats
        Session beat at ``t`` (Link's beat count for the quantum; may be negative).
    bpm : float, beats per minute, 20..999
        Session tempo.
    n_peers : int
        Other peers in the session.
    quantum : float, beats
        Link quantum (beats per bar for phase purposes).

    Examples
    --------
    >>> s = LinkSample(t=10.0, beat=8.25, bpm=120.0, n_peers=1, quantum=4.0)
    >>> s.beat_at(10.5), s.phase_at(10.5), s.last_beat_t()
    (9.25, 1.25, 9.875)
    """

    t: float
    beat: float
    bpm: float
    n_peers: int
    quantum: float

    def beat_at(self, t: float) -> float:
        """Session beat at perf_counter time ``t`` (extrapolated at the sample's tempo)."""
        return self.beat + (t - self.t) * self.bpm / 60.0

    def phase_at(self, t: float) -> float:
        """Position within the quantum at ``t``, beats in ``[0, quantum)`` (Link's phase)."""
        return math.fmod(self.beat_at(t), self.quantum) % self.quantum

    def last_beat_t(self) -> float:
        """perf_counter time of the last beat boundary at or before ``t``, s."""
        return self.t - (self.beat - math.floor(self.beat)) * 60.0 / self.bpm


def bracket_read(read: Callable[[], _T], clock: Callable[[], float] = time.perf_counter,
                 *, max_width_s: float = MAX_BRACKET_S, attempts: int = 4) -> tuple[float, float, _T]:
    """Call ``read()`` between two ``clock()`` calls; return ``(midpoint, half_width, value)``.

    The value is taken to hold at the midpoint, within ``half_width`` seconds. A bracket
    wider than ``max_width_s`` (the thread was preempted) is retried up to ``attempts``
    times; the narrowest one is returned.

    Examples
    --------
    >>> ticks = iter([1.0, 3.0, 5.0, 5.5])  # the first bracket is too wide: read again
    >>> bracket_read(lambda: "x", lambda: next(ticks), max_width_s=1.0)
    (5.25, 0.25, 'x')
    """
    best: tuple[float, float, _T] | None = None
    for _ in range(max(1, attempts)):
        t0 = clock()
        value = read()
        t1 = clock()
        cand = (0.5 * (t0 + t1), 0.5 * (t1 - t0), value)
        if best is None or cand[1] < best[1]:
            best = cand
        if t1 - t0 <= max_width_s:
            break
    assert best is not None
    return best


def phase_error_beats(session_beat: float, lumen_beats: float, period: float = 1.0) -> float:
    """How far lumen's grid is ahead of the session's, in beats, wrapped to ``[-period/2, period/2)``.

    Parameters
    ----------
    session_beat : float, beats
        Session beat at some time t.
    lumen_beats : float, beats
        Beats elapsed at the same t since one of lumen's beats (``period=1``) or downbeats
        (``period=quantum``); only its position modulo ``period`` matters.
    period : float, beats
        1 to align beats only; the quantum to align bars too.

    Returns
    -------
    float, beats
        Add it to the session beat to put the session on lumen's grid.

    Examples
    --------
    >>> phase_error_beats(8.0, 3.25)
    0.25
    >>> phase_error_beats(8.9, 0.0)
    0.1
    >>> phase_error_beats(6.0, 0.0, period=4.0)
    -2.0
    """
    err = math.fmod(lumen_beats - session_beat, period) % period
    if err >= 0.5 * period:
        err -= period
    return round(err, 12)


@dataclass(frozen=True, slots=True)
class _Published:
    bpm: float
    beat_t: float
    confidence: float
    downbeat_t: float | None
    t: float


class LinkSession:
    """Membership in an Ableton Link session, on its own thread.

    Parameters
    ----------
    sink : TempoSink
        Where follow mode reports the session tempo and phase (and ``lost("link")``).
    mode : {"follow", "lead"}
        Initial mode; `mode` may be changed while running.
    quantum : float, beats, > 0
        Link quantum: the bar length phase is aligned to (4 for 4/4).
    initial_bpm : float, bpm, 20..999
        Tempo proposed when lumen starts a session alone (joining adopts the session's).
    period_s : float, s
        Interval of the Link thread's reads (~10 ms).
    min_confidence : float, 0..1
        Lead mode: `publish` calls less confident than this are ignored.
    phase_tolerance_s : float, s
        Lead mode: the session's beat grid is forced onto lumen's only when they differ by
        more than this (lumen's beat times jitter by a few ms from hop to hop; forcing on
        every publish would make every peer's phase jitter with them).
    min_force_interval_s : float, s
        Lead mode: at least this long between two forced beat-grid moves.
    counters : Counters, optional
        Counters holding at least `LINK_COUNTERS` (a private set if None).

    Raises
    ------
    ValueError
        An unknown mode, a quantum <= 0, a tempo outside Link's range, or ``counters``
        lacking some of `LINK_COUNTERS`.

    Notes
    -----
    Nothing multicasts until `start`; `stop` disables Link (peers see lumen leave at once)
    and joins the thread within about one period.
    """

    def __init__(self, sink: TempoSink, *, mode: LinkMode = "follow", quantum: float = 4.0,
                 initial_bpm: float = 120.0, period_s: float = 0.01, min_confidence: float = 0.5,
                 phase_tolerance_s: float = 0.010, min_force_interval_s: float = 1.0,
                 counters: Counters | None = None) -> None:
        if mode not in LINK_MODES:
            raise ValueError(f"Link mode must be one of {LINK_MODES}, not {mode!r}")
        if not quantum > 0:
            raise ValueError(f"Link quantum must be > 0 beats, not {quantum}")
        if not LINK_MIN_BPM <= initial_bpm <= LINK_MAX_BPM:
            raise ValueError(f"initial tempo must be {LINK_MIN_BPM:g}..{LINK_MAX_BPM:g} bpm, not {initial_bpm}")
        self.sink = sink
        self.mode: LinkMode = mode
        self.quantum = float(quantum)
        self.initial_bpm = float(initial_bpm)
        self.period_s = float(period_s)
        self.min_confidence = float(min_confidence)
        self.phase_tolerance_s = float(phase_tolerance_s)
        self.min_force_interval_s = float(min_force_interval_s)
        self.counters = counters if counters is not None else Counters(LINK_COUNTERS)
        missing = [n for n in LINK_COUNTERS if n not in self.counters.index]
        if missing:
            raise ValueError(f"the counters lack {', '.join(missing)}; include lumen.control.link.LINK_COUNTERS")
        self._slot = {name: self.counters.slot(name) for name in LINK_COUNTERS}
        self._sample: LinkSample | None = None
        self._published: _Published | None = None
        self._clock_offset_s = math.nan
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error_logged = False
        # Link-thread state.
        self._last_peers = 0
        self._reporting = False
        self._applied: _Published | None = None
        self._last_force_t = -math.inf

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, timeout_s: float = 2.0) -> None:
        """Start the Link thread and join (or start) a session; returns once Link is enabled."""
        if self._thread is not None:
            raise RuntimeError("LinkSession already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="lumen-link", daemon=True)
        self._thread.start()
        self._ready.wait(timeout_s)

    def stop(self, timeout_s: float = 1.0) -> None:
        """Leave the session and join the Link thread (within ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("Link thread did not stop within %.1f s", timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        """The Link thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- reading the session (any thread) -----------------------------------------------------

    @property
    def sample(self) -> LinkSample:
        """The latest reading of the session (at most one period old).

        Raises
        ------
        RuntimeError
            Before the first reading (the session is not started yet).
        """
        s = self._sample
        if s is None:
            raise RuntimeError("no Link reading yet: start() the session first")
        return s

    @property
    def num_peers(self) -> int:
        """Other peers in the session (0 before the first reading)."""
        s = self._sample
        return 0 if s is None else s.n_peers

    @property
    def tempo(self) -> float:
        """Session tempo, bpm (raises `RuntimeError` before the first reading)."""
        return self.sample.bpm

    @property
    def clock_offset_s(self) -> float:
        """Link clock minus perf_counter, s, measured at the latest reading (NaN before)."""
        return self._clock_offset_s

    def beat_at(self, t_perf: float) -> float:
        """Session beat at perf_counter time ``t_perf``, beats.

        Extrapolated from the latest reading at the session tempo: exact unless the tempo
        changes between the reading and ``t_perf``.
        """
        return self.sample.beat_at(t_perf)

    def phase_at(self, t_perf: float) -> float:
        """Position within the quantum at ``t_perf``, beats in ``[0, quantum)``."""
        return self.sample.phase_at(t_perf)

    # -- lead mode (engine thread) ------------------------------------------------------------

    def publish(self, bpm: float, beat_t: float, confidence: float, *, downbeat_t: float | None = None) -> None:
        """Offer lumen's tempo and beat grid to the session (lead mode; ignored in follow).

        Call a few times a second. The Link thread applies the latest offer: if
        ``confidence >= min_confidence`` it sets the session tempo when it differs by more
        than `TEMPO_DEADBAND_BPM`, then moves the session's beat grid onto lumen's if they
        are more than ``phase_tolerance_s`` apart.

        The move uses Link's ``forceBeatAtTime`` (aalink ``force_beat``) rather than
        ``requestBeatAtTime``: with other peers present, a *request* only renumbers lumen's
        local beats to fit the session's existing phase (it never changes the session), so a
        leader could not move the grid with it. The forced beat is the session beat nearest
        to the current one that lies on lumen's grid, so the bar position (quantum) moves by
        less than half a beat; with ``downbeat_t`` it is the nearest one on lumen's bar grid
        instead, so lumen's downbeats become the session's bar starts.

        Parameters
        ----------
        bpm : float, bpm
            lumen's tempo estimate.
        beat_t : float, s
            perf_counter time of one of lumen's beats (past or predicted).
        confidence : float, 0..1
            Confidence of the estimate.
        downbeat_t : float, optional, s
            perf_counter time of a downbeat (bar start), to align bars as well.
        """
        if not (math.isfinite(bpm) and math.isfinite(beat_t) and math.isfinite(confidence)):
            return
        if downbeat_t is not None and not math.isfinite(downbeat_t):
            downbeat_t = None
        self._published = _Published(bpm, beat_t, confidence, downbeat_t, time.perf_counter())

    # -- the Link thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # noqa: BLE001 - the thread must end cleanly and say why
            self._error(exc)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        import aalink  # imported here: the module loads without it (e.g. docs, type checks)

        link: _LinkApi = aalink.Link(self.initial_bpm)
        link.quantum = self.quantum
        link.enabled = True
        self._ready.set()
        try:
            next_t = time.perf_counter()
            while not self._stop.is_set():
                self._step(link)
                next_t += self.period_s
                delay = next_t - time.perf_counter()
                if delay < 0:  # fell behind (e.g. suspended): do not try to catch up
                    next_t = time.perf_counter()
                    delay = 0.0
                await asyncio.sleep(delay)
        finally:
            try:
                link.enabled = False  # says goodbye: peers drop lumen at once
            except Exception as exc:  # noqa: BLE001
                self._error(exc)
            if self._reporting:
                self._reporting = False
                self._lost()

    def _step(self, link: _LinkApi) -> None:
        """One read (and, leading, one publish); an exception is counted and logged once."""
        try:
            self._tick(link)
        except Exception as exc:  # noqa: BLE001 - count, log once, keep going
            self._error(exc)

    def _error(self, exc: BaseException) -> None:
        self.counters.bump(self._slot["link_errors"])
        if not self._error_logged:
            self._error_logged = True
            log.warning("Ableton Link: %s: %s (further errors are only counted)", type(exc).__name__, exc)

    def _lost(self) -> None:
        try:
            self.sink.lost("link")
        except Exception as exc:  # noqa: BLE001
            self._error(exc)

    def _read(self, link: _LinkApi) -> LinkSample:
        t_beat, _, beat = bracket_read(lambda: float(link.beat))
        t_time, _, link_time = bracket_read(lambda: link.time)
        total_seconds = getattr(link_time, "total_seconds", None)
        if callable(total_seconds):
            self._clock_offset_s = float(total_seconds()) - t_time
        return LinkSample(t=t_beat, beat=beat, bpm=float(link.tempo), n_peers=int(link.num_peers),
                          quantum=self.quantum)

    def _tick(self, link: _LinkApi) -> None:
        if link.quantum != self.quantum:
            link.quantum = self.quantum
        if self.mode == "lead":
            self._lead(link)
        sample = self._read(link)
        self._sample = sample
        if sample.n_peers != self._last_peers:
            self.counters.bump(self._slot["link_peers_changes"])
            self._last_peers = sample.n_peers
        follow = self.mode == "follow" and sample.n_peers > 0
        if follow:
            self._reporting = True
            try:
                self.sink.report("link", sample.bpm, sample.last_beat_t(), sample.t)
            except Exception as exc:  # noqa: BLE001
                self._error(exc)
            else:
                self.counters.bump(self._slot["link_reports"])
        elif self._reporting:
            # The last peer left, or lumen now leads: Link is no longer a tempo source.
            self._reporting = False
            self._lost()

    def _lead(self, link: _LinkApi) -> None:
        pub = self._published
        if pub is None or pub is self._applied or pub.confidence < self.min_confidence:
            return
        self._applied = pub
        bpm = min(max(pub.bpm, LINK_MIN_BPM), LINK_MAX_BPM)
        if abs(float(link.tempo) - bpm) > TEMPO_DEADBAND_BPM:
            link.tempo = bpm
            self.counters.bump(self._slot["link_tempo_sets"])
        t, _, beat = bracket_read(lambda: float(link.beat))
        session_bpm = float(link.tempo)
        if pub.downbeat_t is not None:
            err = phase_error_beats(beat, (t - pub.downbeat_t) * bpm / 60.0, self.quantum)
        else:
            err = phase_error_beats(beat, (t - pub.beat_t) * bpm / 60.0, 1.0)
        now = time.perf_counter()
        if abs(err) * 60.0 / session_bpm <= self.phase_tolerance_s:
            return
        if now - self._last_force_t < self.min_force_interval_s:
            return
        # force_beat maps the beat to Link's *now*: advance the target from t to the call.
        target = beat + err + (time.perf_counter() - t) * session_bpm / 60.0
        link.force_beat(target)
        self._last_force_t = now
        self.counters.bump(self._slot["link_beat_forces"])
