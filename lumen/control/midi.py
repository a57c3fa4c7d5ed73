"""MIDI control for DJs: notes, CCs and program changes to commands; MIDI clock to tempo.

Layer: control. Threads: `MidiMapper` and `MidiClock` are pure and single-threaded (called by
whoever owns them; in lumen, the `MidiInput` thread). `MidiInput` is the MIDI control thread:
python-rtmidi's own thread (JACK process thread or ALSA input thread) only stamps each message
with ``perf_counter()`` and queues it; the `MidiInput` thread maps it, posts commands to the
`CommandSink`, feeds the clock, reports to the `TempoSink` and bumps the counters (their only
writer). `list_ports` and `learn` are for the main thread of the CLI.

A DJ controller's buttons, pads and faders arrive as notes and control changes; a mixer or a
DJ program sends MIDI clock (24 pulses per quarter note) with start, stop, continue and song
position pointer. `MidiBinding` says what a message means, `MidiMapper` turns messages into
`lumen.control.commands.Command` values, `MidiClock` turns clock pulses into a robust tempo
and beat time, and `MidiInput` connects both to a port opened through mido's rtmidi backend
(JACK or ALSA on Linux, CoreMIDI, WinMM), surviving the port going away.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import queue
import re
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import mido
import numpy as np
import rtmidi

from lumen.control.commands import COMMAND_NAMES, Command, CommandSink, TempoSink
from lumen.errors import DeviceError, did_you_mean
from lumen.rt.counters import Counters

__all__ = [
    "MIDI_COUNTERS",
    "MidiBinding",
    "MidiClock",
    "MidiInput",
    "MidiKind",
    "MidiMapper",
    "NoteMode",
    "binding_from_message",
    "binding_snippet",
    "learn",
    "list_ports",
    "resolve_api",
]

log = logging.getLogger("lumen.midi")

#: Counters a `MidiInput` keeps (read by the health thread).
MIDI_COUNTERS: Final[tuple[str, ...]] = (
    "midi_messages",     # every message received (clock included)
    "midi_unmapped",     # notes, CCs, program changes no binding matched; other channel messages
    "midi_clock_ticks",  # timing clock pulses (0xF8)
    "midi_errors",       # a message that could not be handled or a command the sink refused
    "midi_port_lost",    # the input port disappeared (device unplugged, peer or server gone)
)

MidiKind = Literal["note", "cc", "program"]
NoteMode = Literal["press", "hold", "toggle"]
_KINDS: Final[frozenset[str]] = frozenset(get_args(MidiKind))
_MODES: Final[frozenset[str]] = frozenset(get_args(NoteMode))

#: Commands whose value means nothing: a CC bound to one of them fires once when its button
#: goes down (value crossing 64 upwards) instead of on every value.
TRIGGER_COMMANDS: Final[frozenset[str]] = frozenset(
    {"scene", "cue_go", "cue_back", "cue_goto", "tap", "tempo_release", "release"}
)
#: Commands that need ``arg``.
_ARG_COMMANDS: Final[frozenset[str]] = frozenset({"scene", "cue_goto", "param"})

#: mido's rtmidi backend module.
_BACKEND: Final[str] = "mido.backends.rtmidi"
#: Friendly names of the MIDI systems (the show file's ``midi.api``) → rtmidi API names.
_API_ALIASES: Final[dict[str, str | None]] = {
    "default": None,
    "jack": "UNIX_JACK",
    "alsa": "LINUX_ALSA",
    "coremidi": "MACOSX_CORE",
    "winmm": "WINDOWS_MM",
}
_API_NAMES: Final[frozenset[str]] = frozenset(
    {"UNIX_JACK", "LINUX_ALSA", "MACOSX_CORE", "WINDOWS_MM", "RTMIDI_DUMMY", "WEB_MIDI_API", "WINDOWS_UWP", "ANDROID"}
)
#: What rtmidi and mido raise when a MIDI system or port cannot be used.
_MIDI_ERRORS: Final = (rtmidi.RtMidiError, OSError, RuntimeError, ValueError)

#: Virtual port lumen creates by default (JACK: ``lumen:midi_in``; ALSA: ``lumen:midi_in 128:0``).
DEFAULT_CLIENT_NAME: Final[str] = "lumen"
DEFAULT_VIRTUAL_PORT: Final[str] = "midi_in"


# --------------------------------------------------------------------------- bindings


@dataclass(frozen=True, slots=True)
class MidiBinding:
    """What one MIDI note, controller or program change means.

    Attributes
    ----------
    kind : {"note", "cc", "program"}
        Message kind: a note (key, pad), a control change (fader, knob, some buttons) or a
        program change.
    channel : int or None, 1..16
        MIDI channel as printed on devices (1-based); None matches any channel.
    number : int, 0..127
        Note number, controller number or program number.
    command : str
        One of `lumen.control.commands.COMMAND_NAMES`.
    arg : str
        The command's argument: a scene name, a cue number, a ``scene/node/param`` path.
        Required by ``scene``, ``cue_goto`` and ``param``.
    low, high : float
        Values sent at CC 0 and CC 127 (linear in between); a note or button sends ``high``
        when it goes down and ``low`` when it is released (``hold``) or toggled off.
    mode : {"press", "hold", "toggle"}
        ``press``: fire on note-on only (velocity > 0). ``hold``: ``high`` on note-on,
        ``low`` on note-off (momentary strobe or blackout). ``toggle``: each press flips
        between ``high`` and ``low``. For a CC, ``hold`` and ``toggle`` treat the controller
        as a button (down at value >= 64); ``press`` sends every value scaled to
        ``low..high``, except for commands without a value (`TRIGGER_COMMANDS`), which fire
        once as the button goes down.

    Raises
    ------
    ValueError
        A field out of range, an unknown command, or a missing ``arg``.

    Examples
    --------
    >>> MidiBinding("cc", 1, 7, "master")
    MidiBinding(kind='cc', channel=1, number=7, command='master', arg='', low=0.0, high=1.0, mode='press')
    """

    kind: MidiKind
    channel: int | None
    number: int
    command: str
    arg: str = ""
    low: float = 0.0
    high: float = 1.0
    mode: NoteMode = "press"

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"MIDI binding kind {self.kind!r} is not one of {sorted(_KINDS)}")
        if self.channel is not None and not 1 <= self.channel <= 16:
            raise ValueError(f"MIDI channel {self.channel} is not in 1..16 (or None for any)")
        if not 0 <= self.number <= 127:
            raise ValueError(f"MIDI {self.kind} number {self.number} is not in 0..127")
        if self.command not in COMMAND_NAMES:
            raise ValueError(f"unknown command {self.command!r}{did_you_mean(self.command, COMMAND_NAMES)}")
        if self.command in _ARG_COMMANDS and not self.arg:
            raise ValueError(f"command {self.command!r} needs an arg (scene name, cue number or scene/node/param)")
        if self.mode not in _MODES:
            raise ValueError(f"MIDI binding mode {self.mode!r} is not one of {sorted(_MODES)}")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("MIDI binding low and high must be finite")

    def matches_channel(self, channel_0: int) -> bool:
        """True if a message on 0-based ``channel_0`` (mido's numbering) is for this binding."""
        return self.channel is None or self.channel == channel_0 + 1

    def scale(self, value: int) -> float:
        """``value`` (0..127) mapped linearly to ``low..high``.

        Examples
        --------
        >>> MidiBinding("cc", None, 1, "tempo", low=60.0, high=187.0).scale(64)
        124.0
        """
        return self.low + (self.high - self.low) * (min(max(value, 0), 127) / 127.0)


def _kind_number(msg: mido.Message) -> tuple[MidiKind, int] | None:
    """(kind, note/controller/program number) of a note, CC or program change; None otherwise."""
    mtype = str(msg.type)
    if mtype in ("note_on", "note_off"):
        return "note", int(msg.note)
    if mtype == "control_change":
        return "cc", int(msg.control)
    if mtype == "program_change":
        return "program", int(msg.program)
    return None


class MidiMapper:
    """Turns MIDI channel messages into commands according to bindings (pure).

    Parameters
    ----------
    bindings : sequence of MidiBinding
        Every binding matching a message fires, in order.

    Notes
    -----
    Keeps the state that ``toggle`` bindings and CC buttons need (one entry per binding), so
    one mapper should see every message of its port, in order.
    """

    def __init__(self, bindings: Sequence[MidiBinding]) -> None:
        self.bindings: tuple[MidiBinding, ...] = tuple(bindings)
        self._by_key: dict[tuple[str, int], list[int]] = {}
        for i, b in enumerate(self.bindings):
            self._by_key.setdefault((b.kind, b.number), []).append(i)
        self._toggled: list[bool] = [False] * len(self.bindings)
        self._down: list[bool] = [False] * len(self.bindings)

    def reset(self) -> None:
        """Forget toggle states and held buttons."""
        self._toggled = [False] * len(self.bindings)
        self._down = [False] * len(self.bindings)

    def _matching(self, msg: mido.Message) -> tuple[str, int, list[int]]:
        """(kind, number, indices of the matching bindings) of ``msg``."""
        key = _kind_number(msg)
        if key is None:
            return "", -1, []
        kind, number = key
        channel_0 = int(msg.channel)
        found = [i for i in self._by_key.get((kind, number), ()) if self.bindings[i].matches_channel(channel_0)]
        return kind, number, found

    def matches(self, msg: mido.Message) -> bool:
        """True if any binding is for ``msg`` (even if this message fires nothing, e.g. a note-off)."""
        return bool(self._matching(msg)[2])

    def handle(self, msg: mido.Message, t: float) -> list[Command]:
        """Commands for one MIDI message.

        Parameters
        ----------
        msg : mido.Message
            Any message; only note-on/off, control change and program change can match. A
            note-on with velocity 0 is a note-off.
        t : float, s
            perf_counter time the message arrived; stamped on the commands.

        Returns
        -------
        list of Command
            Possibly empty; ``source`` is ``"midi"``.

        Examples
        --------
        >>> m = MidiMapper([MidiBinding("note", None, 36, "strobe", mode="hold")])
        >>> [c.value for c in m.handle(mido.Message("note_on", note=36, velocity=99), 1.0)]
        [1.0]
        >>> [c.value for c in m.handle(mido.Message("note_on", note=36, velocity=0), 1.2)]
        [0.0]
        """
        kind, _, indices = self._matching(msg)
        if not indices:
            return []
        out: list[Command] = []
        for i in indices:
            value = self._value(i, kind, msg)
            if value is not None:
                b = self.bindings[i]
                out.append(Command(b.command, value=value, arg=b.arg, t=t, source="midi"))
        return out

    def _value(self, i: int, kind: str, msg: mido.Message) -> float | None:
        """The value binding ``i`` sends for ``msg``, or None if it sends nothing."""
        b = self.bindings[i]
        if kind == "note":
            down = str(msg.type) == "note_on" and int(msg.velocity) > 0
            return self._button(i, down)
        if kind == "program":
            if b.mode == "toggle":
                self._toggled[i] = not self._toggled[i]
                return b.high if self._toggled[i] else b.low
            return b.high
        value = int(msg.value)
        if b.mode == "press" and b.command not in TRIGGER_COMMANDS:
            return b.scale(value)
        # A CC used as a button: act on its edges only, so a controller that repeats 127
        # while held does not fire again.
        down = value >= 64
        was_down = self._down[i]
        self._down[i] = down
        if down == was_down:
            return None
        return self._button(i, down)

    def _button(self, i: int, down: bool) -> float | None:
        """The value of button-like binding ``i`` going down (True) or up (False)."""
        b = self.bindings[i]
        if b.mode == "hold":
            return b.high if down else b.low
        if not down:
            return None
        if b.mode == "toggle":
            self._toggled[i] = not self._toggled[i]
            return b.high if self._toggled[i] else b.low
        return b.high


# --------------------------------------------------------------------------- clock


class MidiClock:
    """Tempo and beat time from MIDI clock (24 pulses per quarter note), reported to a tempo sink.

    Pure: feed it the messages with their arrival times (`feed`, or the typed methods) and
    call `poll` now and then; it calls ``sink.report("midi_clock", bpm, beat_t, t)`` at most
    once per beat and ``sink.lost("midi_clock")`` on stop or when the pulses stop.

    Parameters
    ----------
    sink : TempoSink or None
        Where estimates go; None keeps them in `bpm` and `beat_t` only.
    window_beats : int
        Beats of pulses the tempo is fitted over (default 8: ±1 ms jitter gives ±0.03 bpm at
        174 bpm). A tempo change larger than the noise shrinks the window to the last beat,
        so the estimate follows a DJ's tempo change within a beat or two.
    timeout_s : float, s
        Pulses missing for longer than this mean the clock is gone.
    min_ticks : int
        Pulses needed before the first estimate (default one beat).

    Notes
    -----
    The estimate is a line fitted to (pulse number, arrival time): a robust first guess
    (the median one-beat interval), pulses further than 4 robust standard deviations from it
    rejected (a late pulse after a scheduling hiccup), then least squares over the rest. Beat
    time is the fitted arrival time of the last quarter-note pulse, which removes most of the
    transport jitter (JACK delivers MIDI once per period, ~5 ms here). Quarter notes are
    counted from Start (the first pulse after Start is beat 0) or from a Song Position Pointer;
    without either the phase is unknown and ``beat_t`` is None. After Stop, pulses still update
    the estimate but nothing is reported until Start or Continue.

    Examples
    --------
    >>> clock = MidiClock(None)
    >>> clock.start(0.0)
    >>> for i in range(49):
    ...     clock.tick(0.01 + i * 60 / (120 * 24))
    >>> round(clock.bpm, 3), round(clock.beat_t, 3)
    (120.0, 1.01)
    """

    PPQN: Final[int] = 24

    def __init__(
        self, sink: TempoSink | None, *, window_beats: int = 8, timeout_s: float = 0.5, min_ticks: int = 24
    ) -> None:
        if window_beats < 1 or min_ticks < 2 or timeout_s <= 0:
            raise ValueError("MidiClock needs window_beats >= 1, min_ticks >= 2, timeout_s > 0")
        self.sink = sink
        self.timeout_s = timeout_s
        self.min_ticks = min_ticks
        self._ticks: deque[tuple[int, float]] = deque(maxlen=window_beats * self.PPQN)
        self._n = 0                       # pulses received since the window was last reset
        self._pos: int | None = None      # song position (pulses) of the next pulse; None = unknown
        self._stopped = False
        self._live = False                # reported since the last lost()
        self._last_tick_t: float | None = None
        self._since_report = 0
        #: Latest tempo estimate, beats per minute (nan before the first).
        self.bpm: float = math.nan
        #: perf_counter time of the latest quarter-note pulse (fitted); None if phase unknown.
        self.beat_t: float | None = None

    @property
    def running(self) -> bool:
        """True while pulses arrive and the transport is not stopped."""
        return self._last_tick_t is not None and not self._stopped

    @property
    def song_position(self) -> int | None:
        """Song position of the next pulse, in pulses (6 per sixteenth); None if unknown."""
        return self._pos

    def feed(self, msg: mido.Message, t: float) -> bool:
        """Handle a clock, start, continue, stop or song position message; False for others."""
        mtype = str(msg.type)
        if mtype == "clock":
            self.tick(t)
        elif mtype == "start":
            self.start(t)
        elif mtype == "continue":
            self.resume(t)
        elif mtype == "stop":
            self.stop(t)
        elif mtype == "songpos":
            self.song_position_pointer(int(msg.pos), t)
        else:
            return False
        return True

    def start(self, t: float) -> None:
        """MIDI Start (0xFA): play from the top; the next pulse is beat 0."""
        self.poll(t)
        self._pos = 0
        self._stopped = False

    def resume(self, t: float) -> None:
        """MIDI Continue (0xFB): play on from the current song position."""
        self.poll(t)
        self._stopped = False

    def stop(self, t: float) -> None:
        """MIDI Stop (0xFC): report the source lost; keep the song position."""
        self.poll(t)
        self._stopped = True
        self._set_lost()

    def song_position_pointer(self, sixteenths: int, t: float) -> None:
        """Song Position Pointer (0xF2): the next pulse is at ``sixteenths`` × 6 pulses."""
        self.poll(t)
        self._pos = max(0, sixteenths) * (self.PPQN // 4)

    def poll(self, t: float) -> None:
        """Call now and then (and on every message): declares the clock lost after silence."""
        if self._last_tick_t is not None and t - self._last_tick_t > self.timeout_s:
            self._ticks.clear()
            self._n = 0
            self._last_tick_t = None
            self._set_lost()

    def tick(self, t: float) -> None:
        """One timing clock pulse (0xF8) that arrived at perf_counter time ``t``."""
        self.poll(t)
        self._ticks.append((self._n, t))
        self._last_tick_t = t
        pos = self._pos
        if pos is None:
            on_beat = self._n % self.PPQN == 0
        else:
            on_beat = pos % self.PPQN == 0
            self._pos = pos + 1
        self._n += 1
        self._since_report += 1
        if not on_beat or len(self._ticks) < self.min_ticks:
            return
        est = self._estimate()
        if est is None:
            return
        slope, t_now = est
        self.bpm = 60.0 / (self.PPQN * slope)
        self.beat_t = t_now if pos is not None else None
        if self._stopped or (self._live and self._since_report < self.PPQN):
            return
        if self.sink is not None and 10.0 <= self.bpm <= 1000.0:
            self.sink.report("midi_clock", self.bpm, self.beat_t, t)
            self._live = True
            self._since_report = 0

    def _set_lost(self) -> None:
        if self._live and self.sink is not None:
            self.sink.lost("midi_clock")
        self._live = False

    def _estimate(self) -> tuple[float, float] | None:
        """(seconds per pulse, fitted time of the newest pulse), or None if the fit fails."""
        ticks = np.asarray(self._ticks, dtype=np.float64)
        n, ts = ticks[:, 0] - ticks[-1, 0], ticks[:, 1]
        fit = _robust_line(n, ts)
        if fit is None:
            return None
        slope, icpt, sigma = fit
        k = self.PPQN
        if len(n) >= 2 * k:
            # Has the tempo changed? Compare the last beat's own fit with the long one.
            short = _robust_line(n[-k:], ts[-k:])
            if short is not None:
                s_slope, s_icpt, _ = short
                sxx = float(np.sum((n[-k:] - n[-k:].mean()) ** 2))
                se = max(sigma, 1e-4) / math.sqrt(sxx)
                if abs(s_slope - slope) > 4.0 * se + 0.002 * slope:
                    for _ in range(len(self._ticks) - k):
                        self._ticks.popleft()
                    slope, icpt = s_slope, s_icpt
        if not slope > 0:
            return None
        return slope, icpt


def _robust_line(n: np.ndarray[Any, np.dtype[np.float64]], ts: np.ndarray[Any, np.dtype[np.float64]]) -> tuple[float, float, float] | None:
    """Fit ``ts ≈ icpt + slope * n`` rejecting outliers: (slope, icpt, residual sigma) or None."""
    m = len(n)
    if m < 2:
        return None
    lag = min(MidiClock.PPQN, m - 1)
    slope0 = float(np.median((ts[lag:] - ts[:-lag]) / (n[lag:] - n[:-lag])))
    resid = ts - slope0 * n
    icpt0 = float(np.median(resid))
    resid -= icpt0
    mad_sigma = 1.4826 * float(np.median(np.abs(resid)))
    keep = np.abs(resid) <= 4.0 * max(mad_sigma, 2e-4)
    if int(keep.sum()) < 2:
        return None
    nk, tk = n[keep], ts[keep]
    n_mean, t_mean = float(nk.mean()), float(tk.mean())
    dn = nk - n_mean
    sxx = float(np.dot(dn, dn))
    if sxx <= 0.0:
        return None
    slope = float(np.dot(dn, tk - t_mean)) / sxx
    icpt = t_mean - slope * n_mean
    r = tk - (icpt + slope * nk)
    sigma = math.sqrt(float(np.dot(r, r)) / max(len(nk) - 2, 1))
    return slope, icpt, sigma


# --------------------------------------------------------------------------- ports


def _jack_server_id() -> tuple[int, int] | None:
    """Identity (device, inode) of the configured JACK server's socket; None if none runs.

    The server is ``$JACK_DEFAULT_SERVER`` (or ``default``). A new identity means the server
    was restarted, and clients of the old one are dead even though they still list ports.
    """
    server = os.environ.get("JACK_DEFAULT_SERVER") or "default"
    uid = os.getuid() if hasattr(os, "getuid") else 0
    tmp = os.environ.get("JACK_TMPDIR", "/dev/shm")
    for path in (f"{tmp}/jack_{server}_{uid}_0", f"{tmp}/jack-{uid}/{server}/jack_0"):
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISSOCK(st.st_mode):
            return st.st_dev, st.st_ino
    return None


def _jack_running() -> bool:
    """True if the socket of the configured JACK server exists."""
    return _jack_server_id() is not None


def resolve_api(api: str | None) -> str | None:
    """The rtmidi API name to use for ``api``.

    Parameters
    ----------
    api : str or None
        ``None`` or ``"default"``: JACK (``"UNIX_JACK"``) when a JACK server is running for
        ``$JACK_DEFAULT_SERVER`` (or ``default``) and rtmidi has JACK support, else None (the
        platform default: ALSA on Linux, CoreMIDI, WinMM). ``"jack"``, ``"alsa"``,
        ``"coremidi"``, ``"winmm"``, or an rtmidi name such as ``"UNIX_JACK"``: that API.

    Returns
    -------
    str or None
        An rtmidi API name, or None for rtmidi's default.

    Raises
    ------
    ValueError
        An unknown API name.
    DeviceError
        This python-rtmidi was built without that API.
    """
    compiled = {str(rtmidi.get_api_name(a)).lower() for a in rtmidi.get_compiled_api()}
    if api is None or api.lower() == "default":
        return "UNIX_JACK" if "jack" in compiled and _jack_running() else None
    name = _API_ALIASES.get(api.lower(), api.upper())
    if name is None:
        return None
    if name not in _API_NAMES:
        raise ValueError(f"unknown MIDI API {api!r}; use default, jack, alsa, coremidi or winmm")
    api_id = getattr(rtmidi, f"API_{name}", None)
    if api_id is None or api_id not in rtmidi.get_compiled_api():
        raise DeviceError(f"this python-rtmidi has no {name} support (it has: {', '.join(sorted(compiled)) or 'none'})")
    return name


def _backend(api: str | None) -> Any:
    """mido's rtmidi backend for rtmidi API name ``api`` (None = default)."""
    return mido.Backend(_BACKEND, api=api, load=True)


def _api_label(api: str | None) -> str:
    return api or "default MIDI system"


def _abandon(*objs: Any) -> None:
    """Leak MIDI clients of a JACK server that died, so that nothing ever closes them.

    Closing (or finalizing) a client of a dead JACK server makes libjack unregister ports of
    the *new* server that reuse the same ids, and later crash the process (measured with
    jackd 2 and python-rtmidi 1.5: a segfault in ``close_port``, also from garbage collection
    at exit). One leaked client per server restart is the lesser evil.
    """
    for obj in objs:
        if obj is None:
            continue
        if hasattr(obj, "closed"):
            obj.closed = True  # a mido port: its __del__ then does not close it
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))  # never freed, so never finalized


class _PortLister:
    """One rtmidi input client kept open to list source ports cheaply (a new JACK client per
    listing costs ~50 ms and churns the JACK graph)."""

    def __init__(self, api: str | None) -> None:
        api_id = rtmidi.API_UNSPECIFIED if api is None else getattr(rtmidi, f"API_{api}")
        try:
            self._rt: Any = rtmidi.MidiIn(rtapi=api_id, name="lumen-ports")
        except _MIDI_ERRORS as e:
            raise DeviceError(f"cannot use {_api_label(api)} for MIDI: {e}") from None

    def ports(self) -> list[str]:
        return [str(p) for p in self._rt.get_ports()]

    def close(self) -> None:
        self._rt.delete()


def list_ports(api: str | None = None) -> list[str]:
    """Names of the MIDI input ports lumen could open.

    Parameters
    ----------
    api : str or None
        MIDI system, as for `resolve_api` (None: JACK if running, else the platform default).

    Returns
    -------
    list of str
        Port names (JACK: ``client:port``; ALSA: ``client:port 20:0``), possibly empty.

    Raises
    ------
    DeviceError
        The MIDI system cannot be used (no JACK server, no ALSA sequencer, ...).
    """
    lister = _PortLister(resolve_api(api))
    try:
        return lister.ports()
    finally:
        lister.close()


def _match_port(names: Sequence[str], wanted: str | None) -> str | None:
    """First of ``names`` containing ``wanted`` (case-insensitive); the first name if None."""
    if wanted is None:
        return names[0] if names else None
    low = wanted.lower()
    return next((n for n in names if low in n.lower()), None)


def _no_port_error(wanted: str | None, names: Sequence[str], api: str | None) -> DeviceError:
    listing = ", ".join(repr(n) for n in names) if names else "none"
    what = f"matching {wanted!r}" if wanted is not None else "at all"
    return DeviceError(f"no MIDI input port {what} on {_api_label(api)}; available: {listing}")


def _open_input(
    api: str | None,
    port: str | None,
    *,
    virtual: bool,
    client_name: str,
    callback: Callable[[Any], None] | None,
    lister: _PortLister | None = None,
) -> tuple[Any, str]:
    """Open an input (mido port, full name); raise `DeviceError` listing the ports if none fits."""
    backend = _backend(api)
    try:
        if virtual:
            name = port or DEFAULT_VIRTUAL_PORT
            return backend.open_input(name, client_name=client_name, callback=callback), f"{client_name}:{name}"
        own = lister is None
        lister = lister or _PortLister(api)
        try:
            names = lister.ports()
        finally:
            if own:
                lister.close()
        match = _match_port(names, port)
        if match is None:
            raise _no_port_error(port, names, api)
        return backend.open_input(match, callback=callback), match
    except _MIDI_ERRORS as e:
        raise DeviceError(f"cannot open MIDI input {port or '(first port)'} on {_api_label(api)}: {e}") from None


# --------------------------------------------------------------------------- input thread


class MidiInput(threading.Thread):
    """The MIDI control thread: one input port → commands and MIDI clock tempo.

    Parameters
    ----------
    sink : CommandSink
        Receives the commands of the bindings (``post`` must not block).
    bindings : sequence of MidiBinding
        Message meanings (see `MidiMapper`).
    tempo : TempoSink or None
        Receives MIDI clock tempo (``"midi_clock"``); None ignores the clock.
    port : str or None
        A part of the input port's name (case-insensitive); None = the first port. With
        ``virtual=True``, the name of the virtual port (default ``"midi_in"``).
    api : str or None
        MIDI system, as for `resolve_api`: None = JACK when a JACK server runs, else the
        platform default; ``"jack"`` / ``"UNIX_JACK"``, ``"alsa"``, ...
    virtual : bool
        Create a virtual input port (``lumen:midi_in``) that controllers and DJ software
        connect to, instead of opening an existing port.
    client_name : str
        MIDI client name of the virtual port.
    counters : Counters or None
        Counters with at least `MIDI_COUNTERS`; a private set if None.
    retry_s : float, s
        After the port disappears, try to reopen it this often.
    check_s : float, s
        How often to check that the port still exists.

    Notes
    -----
    `start` opens the port before the thread starts, so a missing port raises `DeviceError`
    in the caller. Messages are stamped with ``perf_counter()`` on rtmidi's thread and handled
    on this one; `stop` returns within ~0.1 s. A port that disappears is counted
    (``midi_port_lost``), logged once, and reopened (found again by name) every ``retry_s``.
    On JACK, a server that dies or restarts counts as a lost port too (the server socket's
    identity is checked); the dead clients are leaked rather than closed (see `_abandon`).
    """

    def __init__(
        self,
        sink: CommandSink,
        bindings: Sequence[MidiBinding] = (),
        *,
        tempo: TempoSink | None = None,
        port: str | None = None,
        api: str | None = None,
        virtual: bool = False,
        client_name: str = DEFAULT_CLIENT_NAME,
        counters: Counters | None = None,
        retry_s: float = 2.0,
        check_s: float = 0.5,
    ) -> None:
        super().__init__(name="lumen-midi", daemon=True)
        self.sink = sink
        self.mapper = MidiMapper(bindings)
        self.clock: MidiClock | None = MidiClock(tempo) if tempo is not None else None
        self.wanted = port
        self.api = resolve_api(api)
        self.virtual = virtual
        self.client_name = client_name
        self.counters = counters if counters is not None else Counters(MIDI_COUNTERS)
        missing = [n for n in MIDI_COUNTERS if n not in self.counters.index]
        if missing:
            raise ValueError(f"counters lack {missing}")
        self.retry_s = retry_s
        self.check_s = check_s
        self._slots = {n: self.counters.slot(n) for n in MIDI_COUNTERS}
        self._queue: queue.SimpleQueue[tuple[float, Any]] = queue.SimpleQueue()
        self._stop_event = threading.Event()
        self._port: Any = None
        self._lister: _PortLister | None = None
        self._server_id: tuple[int, int] | None = None
        #: Full name of the open port (``client:port``), or None while it is lost.
        self.port_name: str | None = None

    # -- lifecycle

    def start(self) -> None:
        """Open the port, then start the thread.

        Raises
        ------
        DeviceError
            The MIDI system cannot be used, or no port matches (the message lists them).
        """
        self._open()
        super().start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread and close the port (returns within ~0.1 s)."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout_s)
        self._close()

    def _callback(self, msg: Any) -> None:
        """rtmidi's thread: stamp and queue; nothing else (never blocks)."""
        self._queue.put((time.perf_counter(), msg))

    def _open(self) -> None:
        self._server_id = _jack_server_id() if self.api == "UNIX_JACK" else None
        if not self.virtual and self._lister is None:
            self._lister = _PortLister(self.api)
        self._port, self.port_name = _open_input(
            self.api, self.wanted, virtual=self.virtual, client_name=self.client_name,
            callback=self._callback, lister=self._lister,
        )

    def _close(self) -> None:
        port, self._port = self._port, None
        self.port_name = None
        if port is not None:
            try:
                port.close()
            except _MIDI_ERRORS as e:
                log.debug("closing MIDI port: %s", e)
        if self._lister is not None:
            self._lister.close()
            self._lister = None

    # -- the thread

    def run(self) -> None:
        next_check = time.perf_counter() + self.check_s
        while not self._stop_event.is_set():
            try:
                t, msg = self._queue.get(timeout=0.02)
            except queue.Empty:
                pass
            else:
                self._dispatch(msg, t)
                for _ in range(10_000):  # drain what queued meanwhile, bounded
                    try:
                        t, msg = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    self._dispatch(msg, t)
            now = time.perf_counter()
            if self.clock is not None:
                self.clock.poll(now)
            if now >= next_check:
                next_check = now + (self.check_s if self._port is not None else self.retry_s)
                self._supervise()

    def _bump(self, name: str) -> None:
        self.counters.bump(self._slots[name])

    def _dispatch(self, msg: Any, t: float) -> None:
        """Handle one message (this thread only)."""
        self._bump("midi_messages")
        try:
            mtype = str(msg.type)
            if mtype == "clock":
                self._bump("midi_clock_ticks")
            if mtype in ("clock", "start", "continue", "stop", "songpos"):
                if self.clock is not None:
                    self.clock.feed(msg, t)
                return
            if not self.mapper.matches(msg):
                if mtype not in ("active_sensing", "sysex", "reset"):
                    self._bump("midi_unmapped")
                return
            for cmd in self.mapper.handle(msg, t):
                self.sink.post(cmd)
        except Exception:  # noqa: BLE001 - a control thread counts faults and goes on
            self._bump("midi_errors")
            log.debug("MIDI message %r could not be handled", msg, exc_info=True)

    def _supervise(self) -> None:
        """Detect a vanished port; reopen a lost one."""
        if self._port is not None:
            if self.api == "UNIX_JACK" and _jack_server_id() != self._server_id:
                present = False  # the JACK server died or restarted: our clients are dead
            elif self.virtual or self._lister is None:
                return
            else:
                try:
                    present = self.port_name in self._lister.ports()
                except _MIDI_ERRORS:
                    present = False
            if present:
                return
            log.warning("MIDI input %r disappeared; retrying every %g s", self.port_name, self.retry_s)
            port, self._port = self._port, None
            self.port_name = None
            self._bump("midi_port_lost")  # after the state changed: a reader of the counter sees it
            if self.api == "UNIX_JACK" and _jack_server_id() != self._server_id:
                # Closing a client of a dead JACK server unregisters ports of the *new* server
                # with the same ids (libjack reuses them) and later crashes: keep it, unclosed.
                _abandon(port, self._lister)
                self._lister = None
            else:
                try:
                    port.close()
                except _MIDI_ERRORS:
                    log.debug("closing the lost MIDI port failed", exc_info=True)
            self.mapper.reset()
            return
        if self._server_id is not None and _jack_server_id() is None:
            # The JACK server is gone: creating a client now would only make libjack print
            # errors (or try to start a server) every retry.
            return
        try:
            if self._lister is not None and self.api == "UNIX_JACK" and _jack_server_id() != self._server_id:
                # The JACK server restarted: the old lister still lists the dead graph.
                _abandon(self._lister)
                self._lister = None
            self._open()
        except DeviceError:
            return  # still gone; logged once when it was lost
        log.warning("MIDI input %r is back", self.port_name)


# --------------------------------------------------------------------------- learn

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_YAML_WORDS: Final[frozenset[str]] = frozenset(
    {"y", "yes", "n", "no", "true", "false", "on", "off", "null", "nan", "inf"}
)
#: Command a learned binding gets when none is given.
_DEFAULT_COMMAND: Final[dict[str, str]] = {"note": "cue_go", "cc": "master", "program": "cue_go"}


def _yaml_scalar(s: str) -> str:
    """``s`` as a YAML flow scalar: plain if unambiguous, else double-quoted (JSON is YAML)."""
    if _PLAIN.fullmatch(s) and s.lower() not in _YAML_WORDS:
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _yaml_float(x: float) -> str:
    return repr(float(x))


def binding_from_message(
    msg: mido.Message, command: str | None = None, arg: str = "", *, mode: NoteMode = "press"
) -> MidiBinding:
    """A binding for the control that sent ``msg`` (a note-on, control change or program change).

    Parameters
    ----------
    msg : mido.Message
        The learned message.
    command : str or None
        Command to bind; None: ``master`` for a CC, ``cue_go`` for a note or program change.
    arg : str
        The command's argument.
    mode : {"press", "hold", "toggle"}
        Binding mode.

    Raises
    ------
    ValueError
        ``msg`` is not a note, CC or program change, or the binding is invalid.
    """
    key = _kind_number(msg)
    if key is None:
        raise ValueError(f"cannot bind a {msg.type} message")
    kind, number = key
    return MidiBinding(kind, int(msg.channel) + 1, number, command or _DEFAULT_COMMAND[kind], arg, mode=mode)


def binding_snippet(binding: MidiBinding) -> str:
    """One YAML list item for ``binding``, for ``control.midi.bindings`` in a show file.

    Fields at their defaults are left out.

    Examples
    --------
    >>> binding_snippet(MidiBinding("cc", 1, 7, "master"))
    '- {kind: cc, channel: 1, number: 7, command: master}'
    >>> binding_snippet(MidiBinding("note", None, 36, "cue_goto", arg="3", mode="toggle"))
    '- {kind: note, number: 36, command: cue_goto, arg: "3", mode: toggle}'
    """
    parts = [f"kind: {binding.kind}"]
    if binding.channel is not None:
        parts.append(f"channel: {binding.channel}")
    parts += [f"number: {binding.number}", f"command: {binding.command}"]
    if binding.arg:
        parts.append(f"arg: {_yaml_scalar(binding.arg)}")
    if binding.low != 0.0:
        parts.append(f"low: {_yaml_float(binding.low)}")
    if binding.high != 1.0:
        parts.append(f"high: {_yaml_float(binding.high)}")
    if binding.mode != "press":
        parts.append(f"mode: {binding.mode}")
    return "- {" + ", ".join(parts) + "}"


def _learnable(msg: Any) -> bool:
    """Notes going down, CCs and program changes; never clock, sensing, note-offs or sysex."""
    mtype = str(msg.type)
    if mtype == "note_on":
        return int(msg.velocity) > 0
    return mtype in ("control_change", "program_change")


def learn(
    api: str | None,
    port: str | None,
    timeout_s: float,
    *,
    command: str | None = None,
    arg: str = "",
    mode: NoteMode = "press",
    virtual: bool = False,
    client_name: str = DEFAULT_CLIENT_NAME,
    messages: Iterable[Any] | None = None,
) -> str | None:
    """Wait for the next note, CC or program change and return a binding for it as YAML.

    Parameters
    ----------
    api : str or None
        MIDI system, as for `resolve_api`.
    port : str or None
        A part of the input port's name; None = the first port (with ``virtual``: the name
        of the virtual port to create).
    timeout_s : float, s
        How long to wait.
    command, arg, mode
        What the binding does (see `binding_from_message`).
    virtual : bool
        Create a virtual input port to learn from instead of opening one.
    client_name : str
        Client name of the virtual port.
    messages : iterable of mido.Message, optional
        Learn from these instead of a port (tests, or a port the caller already has open).

    Returns
    -------
    str or None
        A snippet such as ``- {kind: cc, channel: 1, number: 7, command: master}``, or None
        if nothing learnable arrived within ``timeout_s`` (clock, active sensing, note-offs
        and sysex are ignored).

    Raises
    ------
    DeviceError
        The MIDI system or port cannot be used (the message lists the ports).
    ValueError
        ``command``/``arg`` make an invalid binding.
    """
    if command is not None and command not in COMMAND_NAMES:
        raise ValueError(f"unknown command {command!r}{did_you_mean(command, COMMAND_NAMES)}")
    if messages is not None:
        for msg in messages:
            if _learnable(msg):
                return binding_snippet(binding_from_message(msg, command, arg, mode=mode))
        return None
    inp, _ = _open_input(resolve_api(api), port, virtual=virtual, client_name=client_name, callback=None)
    try:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            for msg in inp.iter_pending():
                if _learnable(msg):
                    return binding_snippet(binding_from_message(msg, command, arg, mode=mode))
            time.sleep(0.005)
        return None
    finally:
        inp.close()
