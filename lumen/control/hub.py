"""The control hub: one door for every control surface, and the tempo arbiter.

Layer: control. Threads: `ControlHub.post`, `report` and `lost` are called from any control
thread (OSC, MIDI, OS2L, Link, the main thread); `TempoArbiter.poll` from the engine's
control pump thread. Nothing here runs on the audio or frame thread, so a short lock is fine.

Commands go two ways:

- tempo commands (``tap``, ``tempo``, ``tempo_release``) go to the `TempoArbiter`;
- everything else goes to the frame thread's inbox, applied at the next frame boundary.

Tempo precedence
----------------
Several sources may speak at once. The arbiter lets the strongest *live* one steer the beat
tracker, in the order of ``control.tempo.precedence`` (default, strongest first)::

    link > midi_clock > os2l > osc > tap > audio

- ``link``, ``midi_clock``, ``os2l`` are live while they report (a source silent for
  ``timeout_s`` or that says it stopped drops out); they *override* the tracker's tempo and
  phase (the DJ's clock is the truth).
- ``osc`` (``/lumen/tempo <bpm>``) and ``tap`` are manual: live from the command until
  ``/lumen/tempo/release`` (or ``manual_hold_s`` when that is not 0). An OSC tempo overrides
  the tempo and keeps the tracker's phase; taps *nudge* the tracker hard (tempo and phase),
  so the audio keeps refining the grid.
- ``audio`` (lumen's own tracker) is always live: the fallback.

The winner is published as `lumen.features.Features.tempo_source` by the listen process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from lumen.analysis.beat.neural import TapTempo
from lumen.control.commands import TEMPO_SOURCES, Command

__all__ = ["TEMPO_COMMANDS", "ControlHub", "HintSink", "TempoArbiter"]

log = logging.getLogger("lumen.control")

#: Commands the tempo arbiter handles (the rest go to the frame thread).
TEMPO_COMMANDS: Final[frozenset[str]] = frozenset({"tap", "tempo", "tempo_release"})
#: External sources (they report; the others are manual or lumen's own).
EXTERNAL: Final[frozenset[str]] = frozenset({"link", "midi_clock", "os2l"})
#: An external source's hint is re-sent at least this often, s (keeps the phase fresh).
REFRESH_S: Final[float] = 0.5


class HintSink(Protocol):
    """Where the arbiter's decisions go: the listen process's tempo-hint mailbox."""

    def __call__(self, mode: str, bpm: float, beat_t: float, weight: float, source: str) -> None:
        """Send one hint (mode "override", "nudge" or "clear")."""


class _Inbox(Protocol):
    def post(self, cmd: Command) -> None: ...


@dataclass
class _Source:
    bpm: float = 0.0
    beat_t: float = 0.0
    t_last: float = -math.inf
    live: bool = False
    changed: bool = False


class TempoArbiter:
    """Chooses which tempo source steers the beat tracker (module docstring).

    Parameters
    ----------
    send_hint : HintSink
        Called (from `poll` and the manual methods) with each hint to publish.
    precedence : sequence of str
        Sources, strongest first; must include ``"audio"``.
    manual_hold_s : float, s
        Manual tempo (OSC, tap) holds this long; 0 = until released.
    timeout_s : float, s
        An external source silent this long drops out.
    clock : callable
        perf_counter-like clock (tests inject one).

    Attributes
    ----------
    current : str
        The source steering now.
    n_switches : int
        Source changes so far.
    """

    def __init__(
        self,
        send_hint: HintSink,
        precedence: Sequence[str] = TEMPO_SOURCES,
        *,
        manual_hold_s: float = 0.0,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        bad = [s for s in precedence if s not in TEMPO_SOURCES]
        if bad or "audio" not in precedence:
            raise ValueError(f"precedence must name sources of {TEMPO_SOURCES} and include 'audio'; got {tuple(precedence)}")
        self.send_hint = send_hint
        self.precedence = tuple(precedence)
        self.manual_hold_s = manual_hold_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.current = "audio"
        self.n_switches = 0
        self._lock = threading.Lock()
        self._src = {s: _Source() for s in TEMPO_SOURCES}
        self._src["audio"].live = True
        self._tap = TapTempo()
        self._last_sent = -math.inf

    # ------------------------------------------------------------- inputs (any thread)

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        """An external source's tempo (and a beat time); see `lumen.control.commands.TempoSink`."""
        if source not in EXTERNAL or not (20.0 <= bpm <= 400.0):
            return
        now = self.clock() if t is None else t
        with self._lock:
            s = self._src[source]
            s.changed = s.changed or not s.live or abs(s.bpm - bpm) > 0.01
            s.bpm, s.t_last, s.live = bpm, now, True
            if beat_t is not None:
                s.beat_t = beat_t
        self.poll(now)

    def lost(self, source: str) -> None:
        """An external source stopped."""
        if source in self._src and source != "audio":
            with self._lock:
                self._src[source].live = False
            self.poll()

    def tap(self, t: float | None = None) -> float:
        """One tap; returns the tapped bpm (0 until two taps)."""
        now = self.clock() if t is None else t
        with self._lock:
            self._tap.tap(now)
            bpm = self._tap.bpm
            if bpm > 0.0:
                s = self._src["tap"]
                s.bpm, s.beat_t, s.t_last, s.live, s.changed = bpm, self._tap.last_tap_t, now, True, True
        self.poll(now)
        return bpm

    def manual(self, bpm: float, t: float | None = None) -> None:
        """A manual tempo (``/lumen/tempo``); raises ValueError outside 20..400 bpm."""
        if not (20.0 <= bpm <= 400.0) or not math.isfinite(bpm):
            raise ValueError(f"bpm must be in 20..400, got {bpm!r}")
        now = self.clock() if t is None else t
        with self._lock:
            s = self._src["osc"]
            s.bpm, s.beat_t, s.t_last, s.live, s.changed = bpm, 0.0, now, True, True
        self.poll(now)

    def release(self) -> None:
        """Drop manual tempo (OSC and tap)."""
        with self._lock:
            self._src["osc"].live = False
            self._src["tap"].live = False
        self.poll()

    # ------------------------------------------------------------- decision

    def poll(self, t: float | None = None) -> str:
        """Expire silent sources, pick the winner, send the hint it needs; returns the winner."""
        now = self.clock() if t is None else t
        with self._lock:
            for name, s in self._src.items():
                if not s.live or name == "audio":
                    continue
                if name in EXTERNAL and now - s.t_last > self.timeout_s:
                    s.live = False
                elif name in ("osc", "tap") and self.manual_hold_s > 0.0 and now - s.t_last > self.manual_hold_s:
                    s.live = False
            winner = next(n for n in self.precedence if self._src[n].live)
            w = self._src[winner]
            switched = winner != self.current
            if switched:
                self.n_switches += 1
                log.info("tempo source: %s -> %s", self.current, winner)
                self.current = winner
            hint: tuple[str, float, float, float, str] | None = None
            if winner == "audio":
                if switched:
                    hint = ("clear", 0.0, 0.0, 0.0, "audio")
            elif switched or w.changed or (winner in EXTERNAL and now - self._last_sent >= REFRESH_S):
                if winner == "tap":
                    hint = ("nudge", w.bpm, w.beat_t, 0.9, "tap")
                else:
                    hint = ("override", w.bpm, w.beat_t, 1.0, winner)
            w.changed = False
            if hint is not None:
                self._last_sent = now
        if hint is not None:
            try:
                self.send_hint(*hint)
            except ValueError:
                log.warning("tempo hint rejected: %s", hint)
        return winner

    def state(self) -> dict[str, float | str]:
        """The winner and its tempo (for feedback and the dashboard)."""
        with self._lock:
            w = self._src[self.current]
            return {"source": self.current, "bpm": w.bpm if self.current != "audio" else 0.0}


class ControlHub:
    """The `CommandSink` and `TempoSink` every control surface is given.

    Parameters
    ----------
    inbox : object with ``post(Command)``
        The frame thread's inbox.
    arbiter : TempoArbiter

    Attributes
    ----------
    n_commands : dict of str to int
        Commands received per source (``osc``, ``midi``…).
    n_rejected : int
        Commands the hub refused (a tempo out of range).
    """

    def __init__(self, inbox: _Inbox, arbiter: TempoArbiter) -> None:
        self.inbox = inbox
        self.arbiter = arbiter
        self.n_commands: dict[str, int] = {}
        self.n_rejected = 0
        self._lock = threading.Lock()

    def post(self, cmd: Command) -> None:
        """Deliver a command (thread-safe, never blocks for long)."""
        with self._lock:
            self.n_commands[cmd.source] = self.n_commands.get(cmd.source, 0) + 1
        t = cmd.t or None
        if cmd.name == "tap":
            self.arbiter.tap(t)
        elif cmd.name == "tempo":
            try:
                self.arbiter.manual(cmd.value, t)
            except ValueError:
                with self._lock:
                    self.n_rejected += 1
        elif cmd.name == "tempo_release":
            self.arbiter.release()
        else:
            self.inbox.post(cmd)

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        """External tempo (`lumen.control.commands.TempoSink`)."""
        self.arbiter.report(source, bpm, beat_t, t)

    def lost(self, source: str) -> None:
        """An external tempo source stopped."""
        self.arbiter.lost(source)
