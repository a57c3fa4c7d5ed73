"""OSC out: cues to lighting consoles (Eos, QLab, QLC+, grandMA/Onyx-style) and a feature stream
for VJ software.

Layer: output (it gets plain values: event names, numbers, strings; it knows no scene, show or
engine). Threads: `OscCueSender.post` and `OscCueSender.publish_features` may be called from
any thread and never wait on the network (they hold a lock for a few instructions); the sender's
own thread (``start``) owns the sockets and is the only one that sends; ``start``/``stop`` run
on the thread that wires the engine; ``stats`` may be read from any thread.

Events. ``post(event, t, **fields)`` queues one of `EVENTS` with its fields (placeholders
below). For every target that listens to the event, the sender expands the target's template
for it into one OSC message. Events that carry ``beat_t`` (the predicted ``perf_counter`` time
of the beat they are locked to) are sent at ``beat_t - latency_ms / 1000``, so the console's
light lands on the beat; the others go out at once.

Templates. A template is ``(address, (arg, ...))``; both use ``{placeholder}`` fields:

============  ==========================================================================
placeholder   value
============  ==========================================================================
``scene``     scene name (a string)
``cue``       console cue number: ``cue_map[scene]`` if the scene is mapped, else the
              ``cue`` field of the event
``list``      cue list (``list`` field of the event, else the target's ``cue_list``)
``section``   section name (intro, build, drop, break, ...)
``bpm``       tempo, beats per minute
``beat``      beat count in the bar, 1-based
``bar``       bar number
``value``     a value carried by the event (default 1)
============  ==========================================================================

An argument template may start with a type prefix: ``s:`` (string), ``f:`` (float32), ``i:``
(int32). Without one, an expanded argument that looks like a number (``"1"``, ``"128.5"``)
is sent as a float32 and anything else as a string. A message whose template needs a field the
event does not carry is not sent; it is counted in ``osc_out_errors``. The exception is a scene
with no cue number (not in ``cue_map``, none in the event) for a template that needs ``{cue}``
(Eos, QLab): only mapped scenes fire cues, so it is skipped without counting.

Default templates per target type (`DEFAULT_TEMPLATES`):

* ``eos``: scene and cue fire ``/eos/cue/{list}/{cue}/fire`` (no arguments).
* ``qlab``: scene and cue start ``/cue/{cue}/start``.
* ``qlcplus``: virtual-console buttons. Each event is a press (one float argument, 1.0) then,
  ``release_ms`` later (default 50), a release (0.0) on the same path; QLC+ ignores bundles and
  T/F arguments, so both are plain messages. ``/lumen/scene/{scene}``, ``/lumen/cue/{cue}``,
  ``/lumen/section/{section}``, ``/lumen/drop``, ``/lumen/break``, ``/lumen/build``,
  ``/lumen/beat``, ``/lumen/downbeat``, ``/lumen/blackout``. QLC+ maps each path to an input
  channel by the CRC-16/X-25 checksum of the path (see `qlcplus_channel`).
* ``generic`` (grandMA/Onyx-style; map the addresses in the console): ``/lumen/scene s:{scene}``,
  ``/lumen/cue f:{cue}``, ``/lumen/section s:{section}``, ``/lumen/drop``, ``/lumen/break``,
  ``/lumen/build``, ``/lumen/beat i:{beat}``, ``/lumen/downbeat i:{bar}``,
  ``/lumen/blackout i:{value}``.
* ``features``: every ``1 / features_hz`` s, if `publish_features` delivered new values since
  the last tick, one message per value: ``/lumen/features/<name>`` with one float (or one
  string for ``section``; the four floats of ``bands`` in one message), in the order of
  `FEATURE_NAMES`, then any other names; and ``/lumen/features/beat 1.0`` on each beat event.

A target listens by default to every event its type has a template for (``events=None``).

Rate limit. Per target and event kind, messages are at least ``1 / rate_limit_hz`` apart.
A beat or downbeat that comes too soon is dropped (a late beat is worse than none); any other
event waits until the interval has passed, and a newer event of the same kind replaces it
(the newest scene is the one that matters). Both count ``osc_out_rate_limited``.

Sockets. Each target gets a UDP socket bound to port 0 (never the console's port, which would
steal its unicast on the same host), on the target's ``bind`` address if it has one (QLC+ drops
packets whose source address equals its own line address). Multicast and broadcast
destinations are refused unless ``allow_broadcast=True``; without it the socket never sets
``SO_BROADCAST``, so the kernel also refuses a subnet-directed broadcast (``EACCES``), counted
as an error. A failed ``sendto`` (no route, buffer full) is counted in ``osc_out_errors``,
never raised.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
import re
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, Protocol

from lumen.errors import OutputError
from lumen.output.encode.osc import OscArg, osc_message
from lumen.rt.counters import Counters

__all__ = [
    "CONSOLE_TYPES",
    "DEFAULT_TEMPLATES",
    "EVENTS",
    "FEATURE_NAMES",
    "OSC_OUT_COUNTERS",
    "ConsoleTarget",
    "ConsoleType",
    "OscCueSender",
    "Template",
    "Transport",
    "UdpTransport",
    "expand_template",
    "qlcplus_channel",
]

ConsoleType = Literal["eos", "qlab", "qlcplus", "generic", "features"]

#: Target types, as spelled in show files.
CONSOLE_TYPES: Final[tuple[str, ...]] = ("eos", "qlab", "qlcplus", "generic", "features")
#: Events lumen posts.
EVENTS: Final[tuple[str, ...]] = (
    "scene", "cue", "section", "drop", "break", "build", "beat", "downbeat", "blackout",
)
#: Events that are dropped, not delayed, when they come too soon for the rate limit.
BEAT_EVENTS: Final[frozenset[str]] = frozenset({"beat", "downbeat"})
#: Placeholders a template may use.
PLACEHOLDERS: Final[frozenset[str]] = frozenset(
    {"scene", "cue", "list", "section", "bpm", "beat", "bar", "value"}
)
#: Feature stream values, in the order they are sent.
FEATURE_NAMES: Final[tuple[str, ...]] = (
    "bpm", "beat_phase", "bar_phase", "energy", "bands", "onset", "valence", "arousal",
    "confidence", "section",
)
#: Counter names the sender bumps (pass a `Counters` holding them, or let it make one).
OSC_OUT_COUNTERS: Final[tuple[str, ...]] = (
    "osc_out_sent",
    "osc_out_errors",
    "osc_out_dropped",
    "osc_out_rate_limited",
)
#: Prefix of the feature stream's addresses.
FEATURES_PREFIX: Final[str] = "/lumen/features/"

#: ``(address template, (argument template, ...))``.
Template = tuple[str, tuple[str, ...]]


def _mp(d: dict[str, Template]) -> Mapping[str, Template]:
    return MappingProxyType(d)


_QLC_PRESS: Final[tuple[str, ...]] = ("1",)

#: Default templates by target type; a target's ``templates`` override them per event.
DEFAULT_TEMPLATES: Final[Mapping[str, Mapping[str, Template]]] = MappingProxyType({
    "eos": _mp({
        "scene": ("/eos/cue/{list}/{cue}/fire", ()),
        "cue": ("/eos/cue/{list}/{cue}/fire", ()),
    }),
    "qlab": _mp({
        "scene": ("/cue/{cue}/start", ()),
        "cue": ("/cue/{cue}/start", ()),
    }),
    "qlcplus": _mp({
        "scene": ("/lumen/scene/{scene}", _QLC_PRESS),
        "cue": ("/lumen/cue/{cue}", _QLC_PRESS),
        "section": ("/lumen/section/{section}", _QLC_PRESS),
        "drop": ("/lumen/drop", _QLC_PRESS),
        "break": ("/lumen/break", _QLC_PRESS),
        "build": ("/lumen/build", _QLC_PRESS),
        "beat": ("/lumen/beat", _QLC_PRESS),
        "downbeat": ("/lumen/downbeat", _QLC_PRESS),
        "blackout": ("/lumen/blackout", _QLC_PRESS),
    }),
    "generic": _mp({
        "scene": ("/lumen/scene", ("s:{scene}",)),
        "cue": ("/lumen/cue", ("f:{cue}",)),
        "section": ("/lumen/section", ("s:{section}",)),
        "drop": ("/lumen/drop", ()),
        "break": ("/lumen/break", ()),
        "build": ("/lumen/build", ()),
        "beat": ("/lumen/beat", ("i:{beat}",)),
        "downbeat": ("/lumen/downbeat", ("i:{bar}",)),
        "blackout": ("/lumen/blackout", ("i:{value}",)),
    }),
    "features": _mp({
        "beat": (FEATURES_PREFIX + "beat", ("1",)),
    }),
})

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: Characters OSC 1.0 forbids in an address (besides ``/`` as separator).
_BAD_ADDRESS_CHARS = re.compile(r"[\s#*,?\[\]{}]")
_FEATURE_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
#: Longest the sender thread sleeps before it looks at the stop flag again, s.
_IDLE_WAIT_S: Final[float] = 0.1


def qlcplus_channel(path: str) -> int:
    """The QLC+ input channel an OSC path maps to: CRC-16/X-25 of its UTF-8 octets.

    QLC+ 4 (``OSCController::getHash``) uses Qt 5's ``qChecksum`` (CRC-16/X-25: reflected
    polynomial 0x8408, initial value and final XOR 0xFFFF) over the path; put this number in
    the ``Channel`` of a virtual-console widget's ``<Input>`` to bind it to the path.

    Examples
    --------
    >>> hex(qlcplus_channel("123456789"))
    '0x906e'
    >>> qlcplus_channel("/lumen/scene/drop")
    32328
    """
    crc = 0xFFFF
    for octet in path.encode("utf-8"):
        crc ^= octet
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def _fields_of(template: str) -> set[str]:
    names: set[str] = set()
    for _, name, spec, conv in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conv:
            raise ValueError(f"template {template!r}: use plain {{name}} placeholders, no format spec")
        names.add(name)
    return names


def _needs_cue(template: Template) -> bool:
    return any("cue" in _fields_of(part) for part in (template[0], *template[1]))


def _text(value: object) -> str:
    """A placeholder value as text: integral floats without ``.0`` (cue 5, not 5.0)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return format(value, ".10g")
    return str(value)


def expand_template(template: Template, values: Mapping[str, object]) -> tuple[str, list[OscArg]]:
    """Fill a template's placeholders and type its arguments. Pure.

    Parameters
    ----------
    template : (str, tuple of str)
        Address template and argument templates.
    values : mapping
        Placeholder values (module table).

    Returns
    -------
    address : str
    args : list of float, int or str
        ``s:``/``f:``/``i:`` arguments as asked; unprefixed ones that look like a number as
        float, else str.

    Raises
    ------
    KeyError
        A placeholder has no value.
    ValueError
        The address is not a valid OSC address, or an ``f:``/``i:`` argument is not a number.

    Examples
    --------
    >>> expand_template(("/eos/cue/{list}/{cue}/fire", ()), {"list": 1, "cue": "5"})
    ('/eos/cue/1/5/fire', [])
    >>> expand_template(("/lumen/scene", ("s:{scene}", "{bpm}", "1")), {"scene": "drop", "bpm": 128.0})
    ('/lumen/scene', ['drop', 128.0, 1.0])
    >>> expand_template(("/lumen/beat", ("i:{beat}",)), {"beat": 3})
    ('/lumen/beat', [3])
    """
    text = {k: _text(v) for k, v in values.items()}
    address_t, arg_ts = template
    address = address_t.format_map(text)
    if not address.startswith("/") or _BAD_ADDRESS_CHARS.search(address):
        raise ValueError(f"{address!r} is not a valid OSC address")
    args: list[OscArg] = []
    for arg_t in arg_ts:
        kind = ""
        if len(arg_t) >= 2 and arg_t[1] == ":" and arg_t[0] in "sfi":
            kind, arg_t = arg_t[0], arg_t[2:]
        s = arg_t.format_map(text)
        if kind == "s":
            args.append(s)
        elif kind == "f":
            args.append(float(s))
        elif kind == "i":
            args.append(int(float(s)))
        elif _NUMBER.fullmatch(s):
            args.append(float(s))
        else:
            args.append(s)
    return address, args


def _check_destination(address: str, allow_broadcast: bool, what: str) -> ipaddress.IPv4Address:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError as exc:
        raise ValueError(f"{what} {address!r} is not a dotted IPv4 address") from exc
    if (ip.is_multicast or ip == _LIMITED_BROADCAST) and not allow_broadcast:
        raise ValueError(
            f"{what} {ip} is a multicast/broadcast address; it would leave this machine. "
            "Set allow_broadcast=True only on a show network or inside a private netns."
        )
    return ip


@dataclass(frozen=True, kw_only=True)
class ConsoleTarget:
    """One OSC destination: a lighting console or a VJ application.

    Parameters
    ----------
    name : str
        Label for logs and stats.
    type : {"eos", "qlab", "qlcplus", "generic", "features"}
        Picks the default templates (module docstring).
    port : int, 1..65535
        Destination UDP port (Eos 8000 or 3032, QLab 53000, QLC+ 7700 + universe index).
    address : str
        Destination IPv4 address (dotted; no name lookup).
    events : set of str, optional
        Events sent to this target, a subset of `EVENTS`; None: every event the type has a
        template for (after ``templates``).
    templates : mapping of str to (str, tuple of str)
        Per-event ``(address template, argument templates)`` overriding the type's defaults.
    rate_limit_hz : float, Hz, > 0
        Most messages per second per event kind (beats included).
    cue_list : int, >= 0
        Cue list for ``{list}`` when the event names none (Eos; default 1).
    cue_map : mapping of str to str
        Scene name -> console cue number for ``{cue}``; unmapped scenes use the event's cue.
    features_hz : float, Hz, > 0
        Feature stream rate ("features" type only).
    latency_ms : float, ms, 0..10000
        The console's own latency: beat-locked events leave this long before the beat.
    release_ms : float, ms, 0..1000
        Delay from press (1.0) to release (0.0) for "qlcplus" buttons.
    allow_broadcast : bool
        Permit a multicast or broadcast destination (show network or private netns only).
    bind : str, optional
        Local IPv4 address to send from (port 0 always), e.g. to differ from QLC+'s line address.

    Raises
    ------
    ValueError
        An unknown type or event, an out-of-range number, an invalid template, a destination
        that is not IPv4, or multicast/broadcast without ``allow_broadcast``.

    Examples
    --------
    >>> eos = ConsoleTarget(name="eos", type="eos", address="127.0.0.1", port=8000,
    ...                     cue_map={"drop": "12"}, latency_ms=20.0)
    >>> sorted(eos.resolved_events())
    ['cue', 'scene']
    """

    name: str
    type: ConsoleType
    port: int
    address: str = "127.0.0.1"
    events: Set[str] | None = None
    templates: Mapping[str, Template] = field(default_factory=dict)
    rate_limit_hz: float = 10.0
    cue_list: int = 1
    cue_map: Mapping[str, str] = field(default_factory=dict)
    features_hz: float = 30.0
    latency_ms: float = 0.0
    release_ms: float = 50.0
    allow_broadcast: bool = False
    bind: str | None = None

    def __post_init__(self) -> None:
        if self.type not in CONSOLE_TYPES:
            raise ValueError(f"target {self.name!r}: unknown type {self.type!r}; one of {CONSOLE_TYPES}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"target {self.name!r}: port {self.port} is outside 1..65535")
        ip = _check_destination(self.address, self.allow_broadcast, f"target {self.name!r}: address")
        if ip.is_unspecified:
            raise ValueError(f"target {self.name!r}: {ip} is not a destination address")
        if self.bind is not None:
            _check_destination(self.bind, False, f"target {self.name!r}: bind")
        if not (self.rate_limit_hz > 0.0 and math.isfinite(self.rate_limit_hz)):
            raise ValueError(f"target {self.name!r}: rate_limit_hz must be positive, got {self.rate_limit_hz}")
        if not (self.features_hz > 0.0 and math.isfinite(self.features_hz)):
            raise ValueError(f"target {self.name!r}: features_hz must be positive, got {self.features_hz}")
        if not 0.0 <= self.latency_ms <= 10_000.0:
            raise ValueError(f"target {self.name!r}: latency_ms {self.latency_ms} is outside 0..10000")
        if not 0.0 <= self.release_ms <= 1000.0:
            raise ValueError(f"target {self.name!r}: release_ms {self.release_ms} is outside 0..1000")
        if self.cue_list < 0:
            raise ValueError(f"target {self.name!r}: cue_list must be >= 0, got {self.cue_list}")
        for ev, tpl in self.templates.items():
            if ev not in EVENTS:
                raise ValueError(f"target {self.name!r}: template for unknown event {ev!r}; one of {EVENTS}")
            if not (isinstance(tpl, tuple) and len(tpl) == 2 and isinstance(tpl[0], str)
                    and isinstance(tpl[1], tuple) and all(isinstance(a, str) for a in tpl[1])):
                raise ValueError(f"target {self.name!r}: template for {ev!r} must be (str, tuple of str)")
            if not tpl[0].startswith("/"):
                raise ValueError(f"target {self.name!r}: template address {tpl[0]!r} must start with '/'")
            for part in (tpl[0], *tpl[1]):
                unknown = _fields_of(part) - PLACEHOLDERS
                if unknown:
                    raise ValueError(
                        f"target {self.name!r}: template {part!r} uses {sorted(unknown)}; "
                        f"placeholders are {sorted(PLACEHOLDERS)}"
                    )
        if self.events is not None:
            unknown_ev = set(self.events) - set(EVENTS)
            if unknown_ev:
                raise ValueError(f"target {self.name!r}: unknown events {sorted(unknown_ev)}; one of {EVENTS}")
            object.__setattr__(self, "events", frozenset(self.events))
        object.__setattr__(self, "templates", MappingProxyType(dict(self.templates)))
        object.__setattr__(self, "cue_map", MappingProxyType({str(k): str(v) for k, v in self.cue_map.items()}))

    def template_for(self, event: str) -> Template | None:
        """The template this target uses for ``event`` (override, else the type's), or None."""
        tpl = self.templates.get(event)
        if tpl is not None:
            return tpl
        return DEFAULT_TEMPLATES[self.type].get(event)

    def resolved_events(self) -> frozenset[str]:
        """Events this target is sent: ``events``, or every event it has a template for."""
        if self.events is not None:
            return frozenset(self.events)
        return frozenset(e for e in EVENTS if self.template_for(e) is not None)


class Transport(Protocol):
    """Where encoded messages go; `UdpTransport` by default, a recorder in unit tests."""

    def send(self, target: int, packet: bytes) -> None:
        """Send ``packet`` to target number ``target``; raise `OSError` on failure."""
        ...

    def close(self) -> None:
        """Release the sockets."""
        ...


class UdpTransport:
    """One non-blocking UDP socket per target, bound to ``(bind or any, 0)``.

    Parameters
    ----------
    targets : sequence of ConsoleTarget
        Destinations, in the order the sender numbers them.

    Raises
    ------
    OSError
        A socket cannot be created or bound (e.g. ``bind`` is not a local address).
    """

    def __init__(self, targets: Sequence[ConsoleTarget]) -> None:
        self._socks: list[socket.socket] = []
        self._dests: list[tuple[str, int]] = []
        try:
            for t in targets:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._socks.append(sock)
                sock.bind((t.bind or "0.0.0.0", 0))
                sock.setblocking(False)
                if t.allow_broadcast:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
                self._dests.append((t.address, t.port))
        except OSError:
            self.close()
            raise

    def local_address(self, target: int) -> tuple[str, int]:
        """The ``(address, port)`` the socket of target ``target`` is bound to."""
        host, port = self._socks[target].getsockname()
        return (str(host), int(port))

    def send(self, target: int, packet: bytes) -> None:
        """One ``sendto``; raises `OSError` (the sender counts it)."""
        self._socks[target].sendto(packet, self._dests[target])

    def close(self) -> None:
        """Close every socket."""
        for s in self._socks:
            s.close()


@dataclass(slots=True)
class _Due:
    """A message waiting for its time."""

    due: float
    target: int
    kind: str
    packet: bytes
    release: bytes | None  # qlcplus: the release message, sent release_s after the press
    limited: bool  # subject to the rate limit (a release is not)
    cancelled: bool = False


class OscCueSender(threading.Thread):
    """Sends lumen's events as OSC cues and a feature stream, from its own thread.

    Parameters
    ----------
    targets : sequence of ConsoleTarget
        Destinations.
    counters : Counters, optional
        Counters holding `OSC_OUT_COUNTERS` (e.g. the show process's); a private set if None.
    max_pending : int, >= 1
        Capacity of the event queue; when full, ``post`` drops the oldest event and counts
        ``osc_out_dropped``.
    clock : callable
        Time source in seconds on the ``perf_counter`` clock (tests pass their own).
    transport : Transport, optional
        Where packets go; one UDP socket per target if None.
    name : str
        Thread name.

    Raises
    ------
    ValueError
        No targets, a bad ``max_pending``, counters without the OSC names, or a target with a
        multicast/broadcast destination without ``allow_broadcast``.
    OSError
        A socket cannot be created or bound.

    Examples
    --------
    >>> sender = OscCueSender([ConsoleTarget(name="qlab", type="qlab", port=53000)])  # doctest: +SKIP
    >>> sender.start()  # doctest: +SKIP
    >>> sender.post("scene", time.perf_counter(), scene="drop", cue="12")  # doctest: +SKIP
    >>> sender.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        targets: Sequence[ConsoleTarget],
        counters: Counters | None = None,
        *,
        max_pending: int = 256,
        clock: Callable[[], float] = time.perf_counter,
        transport: Transport | None = None,
        name: str = "lumen-osc-out",
    ) -> None:
        super().__init__(name=name, daemon=True)
        if not targets:
            raise ValueError("OscCueSender needs at least one target")
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        for t in targets:  # a target built without __post_init__ checks must not slip through
            _check_destination(t.address, t.allow_broadcast, f"target {t.name!r}: address")
        if counters is None:
            counters = Counters(OSC_OUT_COUNTERS)
        missing = [n for n in OSC_OUT_COUNTERS if n not in counters.index]
        if missing:
            raise ValueError(f"counters lack {missing}; include OSC_OUT_COUNTERS")
        self.targets: tuple[ConsoleTarget, ...] = tuple(targets)
        self.counters: Counters = counters
        self.last_error: str = ""
        self._clock = clock
        self._c_sent = counters.slot("osc_out_sent")
        self._c_errors = counters.slot("osc_out_errors")
        self._c_dropped = counters.slot("osc_out_dropped")
        self._c_limited = counters.slot("osc_out_rate_limited")

        # Shared with posting threads, guarded by _lock (held for a few instructions only).
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, float, dict[str, object]]] = deque()
        self._max_pending = max_pending
        self._features: dict[str, float | str | tuple[float, ...]] = {}
        self._features_gen = 0
        self._features_t = 0.0
        self._wake = threading.Event()
        self._stop_requested = False

        # Owned by the sender thread (or by whoever calls `process` when it is not started).
        self._events = tuple(t.resolved_events() for t in self.targets)
        self._interval_s = tuple(1.0 / t.rate_limit_hz for t in self.targets)
        self._heap: list[tuple[float, int, _Due]] = []
        self._seq = 0
        self._last_sent: dict[tuple[int, str], float] = {}
        self._deferred: dict[tuple[int, str], _Due] = {}
        self._feature_targets = tuple(i for i, t in enumerate(self.targets) if t.type == "features")
        self._next_tick = [0.0] * len(self.targets)
        self._sent_gen = [0] * len(self.targets)
        self._transport: Transport = transport if transport is not None else UdpTransport(self.targets)

    # -- any thread ---------------------------------------------------------------------------

    def post(self, event: str, t: float, **fields: object) -> None:
        """Queue an event for every target that listens to it; never waits on the network.

        Parameters
        ----------
        event : str
            One of `EVENTS`.
        t : float, s
            When the event happened (``perf_counter`` clock), kept for diagnostics.
        **fields
            Placeholder values (``scene``, ``cue``, ``list``, ``section``, ``bpm``, ``beat``,
            ``bar``, ``value``) and optionally ``beat_t``: the predicted ``perf_counter`` time
            of the beat the event is locked to (it is then sent ``latency_ms`` before it).

        Raises
        ------
        ValueError
            ``event`` is not one of `EVENTS`.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown OSC event {event!r}; one of {EVENTS}")
        with self._lock:
            if len(self._queue) >= self._max_pending:
                self._queue.popleft()
                self.counters.bump(self._c_dropped)
            self._queue.append((event, t, fields))
        self._wake.set()

    def publish_features(self, values: Mapping[str, float | str | Sequence[float]], t: float) -> None:
        """Replace the feature values the stream sends next (a latest-value mailbox).

        Parameters
        ----------
        values : mapping
            Feature name -> float, str (``section``) or a sequence of floats (``bands``, 4).
            Sequences are copied, so the caller may reuse its arrays.
        t : float, s
            Audio time of the features (``perf_counter`` clock), kept for diagnostics.
        """
        snap: dict[str, float | str | tuple[float, ...]] = {}
        for k, v in values.items():
            if isinstance(v, str):
                snap[k] = v
            elif isinstance(v, (int, float)):
                snap[k] = float(v)
            else:
                snap[k] = tuple(float(x) for x in v)
        with self._lock:
            self._features = snap
            self._features_t = t
            self._features_gen += 1

    def stats(self) -> dict[str, int]:
        """The `OSC_OUT_COUNTERS` values."""
        return {n: self.counters[n] for n in OSC_OUT_COUNTERS}

    # -- the sender thread --------------------------------------------------------------------

    def process(self, now: float) -> float:
        """Do everything due at ``now``: take posted events, send due messages, stream features.

        Called by the sender thread in a loop; unit tests call it directly with their own
        times (without starting the thread).

        Parameters
        ----------
        now : float, s
            Current time on the sender's clock.

        Returns
        -------
        float, s
            When something is next due (``inf`` if nothing is scheduled).
        """
        self._take_posted(now)
        self._send_due(now)
        nxt = self._stream_features(now)
        if self._heap:
            nxt = min(nxt, self._heap[0][0])
        return nxt

    def _push(self, item: _Due) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (item.due, self._seq, item))

    def _error(self, text: str) -> None:
        self.counters.bump(self._c_errors)
        self.last_error = text

    def _take_posted(self, now: float) -> None:
        with self._lock:
            if not self._queue:
                return
            posted = list(self._queue)
            self._queue.clear()
        for event, _t, fields in posted:
            for i, target in enumerate(self.targets):
                if event in self._events[i]:
                    self._schedule(i, target, event, fields, now)

    def _schedule(self, i: int, target: ConsoleTarget, event: str, fields: Mapping[str, object], now: float) -> None:
        tpl = target.template_for(event)
        if tpl is None:
            return
        values: dict[str, object] = {"list": target.cue_list, "value": 1}
        values.update((k, v) for k, v in fields.items() if k in PLACEHOLDERS)
        scene = fields.get("scene")
        if scene is not None and str(scene) in target.cue_map:
            values["cue"] = target.cue_map[str(scene)]
        if event == "scene" and "cue" not in values and _needs_cue(tpl):
            return  # a scene with no console cue (unmapped): nothing to fire, not a fault
        try:
            address, args = expand_template(tpl, values)
            packet = osc_message(address, args)
            release = osc_message(address, [0.0] * len(args)) if target.type == "qlcplus" else None
        except KeyError as exc:
            self._error(f"{target.name}: {event} needs field {exc.args[0]!r} for {tpl[0]!r}")
            return
        except (ValueError, TypeError) as exc:
            self._error(f"{target.name}: {event}: {exc}")
            return
        due = now
        beat_t = fields.get("beat_t")
        if isinstance(beat_t, (int, float)) and not isinstance(beat_t, bool):
            due = max(now, float(beat_t) - target.latency_ms / 1000.0)
        self._push(_Due(due, i, event, packet, release, True))

    def _send_due(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, item = heapq.heappop(heap)
            if item.cancelled:
                continue
            if item.limited:
                key = (item.target, item.kind)
                earliest = self._last_sent.get(key, -math.inf) + self._interval_s[item.target]
                if now < earliest:
                    if item.kind in BEAT_EVENTS:
                        self.counters.bump(self._c_limited)
                        continue
                    waiting = self._deferred.get(key)
                    if waiting is not None and waiting is not item:
                        waiting.cancelled = True
                        self.counters.bump(self._c_limited)
                    item.due = earliest
                    self._deferred[key] = item
                    self._push(item)
                    continue
                if self._deferred.get(key) is item:
                    del self._deferred[key]
                else:
                    # A newer event of this kind supersedes one still waiting for its turn.
                    waiting = self._deferred.pop(key, None)
                    if waiting is not None:
                        waiting.cancelled = True
                        self.counters.bump(self._c_limited)
                self._last_sent[key] = now
            if self._send(item.target, item.packet) and item.release is not None:
                release_s = self.targets[item.target].release_ms / 1000.0
                self._push(_Due(now + release_s, item.target, item.kind, item.release, None, False))

    def _send(self, target: int, packet: bytes) -> bool:
        try:
            self._transport.send(target, packet)
        except OSError as exc:
            self._error(f"{self.targets[target].name}: {type(exc).__name__}: {exc}")
            return False
        self.counters.bump(self._c_sent)
        return True

    def _stream_features(self, now: float) -> float:
        nxt = math.inf
        if not self._feature_targets:
            return nxt
        with self._lock:
            gen = self._features_gen
            values = self._features
        packets: list[bytes] | None = None
        for i in self._feature_targets:
            if now >= self._next_tick[i]:
                period = 1.0 / self.targets[i].features_hz
                # Keep the grid, but never burst to catch up after a stall (or at the start).
                tick = self._next_tick[i] + period
                self._next_tick[i] = tick if tick > now else now + period
                if gen != self._sent_gen[i]:
                    self._sent_gen[i] = gen
                    if packets is None:
                        packets = self._feature_packets(values)
                    for p in packets:
                        self._send(i, p)
            nxt = min(nxt, self._next_tick[i])
        return nxt

    def _feature_packets(self, values: Mapping[str, float | str | tuple[float, ...]]) -> list[bytes]:
        order = [n for n in FEATURE_NAMES if n in values]
        order += sorted(n for n in values if n not in FEATURE_NAMES)
        packets: list[bytes] = []
        for n in order:
            v = values[n]
            if not _FEATURE_NAME.fullmatch(n):
                self._error(f"feature name {n!r} is not valid in an OSC address")
                continue
            args: list[OscArg] = list(v) if isinstance(v, tuple) else [v]
            try:
                packets.append(osc_message(FEATURES_PREFIX + n, args))
            except (ValueError, TypeError) as exc:
                self._error(f"feature {n!r}: {exc}")
        return packets

    def run(self) -> None:
        """The sender thread's loop (use `start`, not this)."""
        clock = self._clock
        while not self._stop_requested:
            self._wake.clear()
            now = clock()
            try:
                nxt = self.process(now)
            except Exception as exc:  # a bug here must not kill cue output silently
                self._error(f"sender fault: {type(exc).__name__}: {exc}")
                nxt = now + _IDLE_WAIT_S
            timeout = min(nxt - clock(), _IDLE_WAIT_S)
            if timeout > 0.0:
                self._wake.wait(timeout)

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop and join the thread (within ``timeout_s``), then close the sockets.

        Messages still scheduled (a pending release, a future beat) are not sent.

        Raises
        ------
        OutputError
            The thread did not stop in time (the sockets are then left open, because two
            threads must not use them).
        """
        self._stop_requested = True
        self._wake.set()
        if self.ident is not None:
            self.join(timeout_s)
            if self.is_alive():
                raise OutputError(f"OSC sender thread {self.name!r} did not stop within {timeout_s} s")
        self._transport.close()
