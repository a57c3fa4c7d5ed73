"""The OSC address map: incoming OSC messages to `Command` values, and feedback back out.

Layer: control. Threads: any; every function here is pure (no sockets, no shared state). The
OSC server (`lumen.control.osc`) calls `parse` on its own thread.

Every address lives under ``/lumen``. A number is accepted as an int (``i``, ``h``), a float
(``f``, ``d``), a bool (``T`` = 1, ``F`` = 0) or a numeric string (``s "0.5"``); NaN and
infinities are refused. Argument-less buttons follow one press/release rule: no argument, or a
number of at least 0.5 (``1``, ``1.0``, ``T``, ``127``), is a press and fires the command; a
number below 0.5 (``0``, ``0.0``, ``F``) is the release a TouchOSC push button sends when the
finger lifts, and does nothing (`parse` returns None). Switches (blackout, strobe, auto) use
the same threshold: at least 0.5 is on, below is off, no argument is on.

- ``/lumen/scene/<name>`` [press]: ``scene``, arg = name.
- ``/lumen/scene s:<name>``: ``scene``, arg = name.
- ``/lumen/cue/go``, ``/lumen/cue/back`` [press]: ``cue_go``, ``cue_back``.
- ``/lumen/cue/goto <n>`` (i, f or s): ``cue_goto``, arg = the cue number as text (``"2.5"``).
- ``/lumen/cue/<n>`` [press], e.g. ``/lumen/cue/2.5``: ``cue_goto``, arg = n.
- ``/lumen/tap`` [press]: ``tap``.
- ``/lumen/tempo <bpm>`` (20..400; outside is an error): ``tempo``.
- ``/lumen/tempo/release`` [press]: ``tempo_release``.
- ``/lumen/master <0..1>`` (clamped): ``master``.
- ``/lumen/blackout``, ``/lumen/strobe``, ``/lumen/auto`` [on/off, no argument = on]:
  ``blackout``, ``strobe`` (momentary: on while held), ``auto`` with value 1 or 0.
- ``/lumen/release`` [press]: ``release``.
- ``/lumen/param/<scene>/<node>/<param> <value>``: ``param``, arg = ``scene/node/param``.
- ``/lumen/param/<scene>/<node>/<param>/release`` [press]: ``param`` with value NaN, which
  releases the override (the only way to send NaN: non-finite numbers are refused).
- ``/lumen/ping`` (any arguments): no command; the server answers ``/lumen/pong`` with the
  same arguments to the sender.

`address_map` lists the same rows for a given show (its scene names and parameters) and
`markdown` renders them.

Address patterns with wildcards (``*?[]{}``) are refused: send the full address. Bundles are
unpacked by the server and their time tags ignored (messages act when they arrive).

Feedback: after a command that carries a value, `feedback` gives the message that reports the
new state (``/lumen/master f``, ``/lumen/blackout i``, ``/lumen/strobe i``, ``/lumen/auto i``,
``/lumen/tempo f``, ``/lumen/scene s``, ``/lumen/param/<scene>/<node>/<param> f``), so faders,
toggles and labels on a controller follow what the show does.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from lumen.control.commands import COMMANDS, Command
from lumen.errors import did_you_mean
from lumen.output.encode.osc import OscArg

__all__ = [
    "NAMESPACE",
    "PING",
    "PONG",
    "TEMPO_MIN_BPM",
    "TEMPO_MAX_BPM",
    "AddressDoc",
    "OscMapError",
    "address_map",
    "feedback",
    "markdown",
    "parse",
]

#: Prefix of every lumen address.
NAMESPACE: Final[str] = "/lumen"
#: A client asks "are you there?"; not a command (`parse` returns None).
PING: Final[str] = "/lumen/ping"
#: The server's answer to `PING`, sent to the asking address with the ping's arguments.
PONG: Final[str] = "/lumen/pong"
#: Tempo range accepted by ``/lumen/tempo``, beats per minute.
TEMPO_MIN_BPM: Final[float] = 20.0
TEMPO_MAX_BPM: Final[float] = 400.0
#: Numbers at or above this are "on" / "pressed"; below are "off" / "released".
ON_THRESHOLD: Final[float] = 0.5

# A name segment: what show files allow in scene names (letters, digits, '_', '-', '.').
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_.\-]+")
_CUE_NUMBER: Final = re.compile(r"(\d+)(?:\.(\d+))?")
_PATTERN_CHARS: Final[frozenset[str]] = frozenset("*?[]{}")
# Every fixed address, for "did you mean" hints.
_FIXED: Final[tuple[str, ...]] = (
    "/lumen/scene",
    "/lumen/cue/go",
    "/lumen/cue/back",
    "/lumen/cue/goto",
    "/lumen/tap",
    "/lumen/tempo",
    "/lumen/tempo/release",
    "/lumen/master",
    "/lumen/blackout",
    "/lumen/strobe",
    "/lumen/auto",
    "/lumen/release",
    "/lumen/ping",
)


class OscMapError(ValueError):
    """An OSC message lumen does not understand: unknown address, or wrong arguments.

    Attributes
    ----------
    address : str
        The message's address.
    unknown : bool
        True when the address itself is unknown; False when the address is known but its
        arguments are wrong (the server counts the two separately).
    """

    def __init__(self, address: str, message: str, *, unknown: bool = False) -> None:
        self.address = address
        self.unknown = unknown
        super().__init__(f"{address}: {message}")


@dataclass(frozen=True, slots=True)
class AddressDoc:
    """One row of the address map, for documentation.

    Attributes
    ----------
    address : str
        The OSC address, e.g. ``/lumen/master``.
    args : str
        Accepted arguments, e.g. ``f 0..1`` or ``[press]``.
    command : str
        The `Command` name it becomes ("" for ``/lumen/ping``).
    meaning : str
        What it does (from `lumen.control.commands.COMMANDS`, plus OSC-specific notes).
    """

    address: str
    args: str
    command: str
    meaning: str


# --------------------------------------------------------------------------- arguments


def _describe(a: object) -> str:
    """A short, type-tagged rendering of an argument for error messages."""
    if a is True:
        return "T"
    if a is False:
        return "F"
    if a is None:
        return "N"
    if isinstance(a, int):
        return f"i {a}"
    if isinstance(a, float):
        return f"f {a!r}"
    if isinstance(a, str):
        return f"s {a[:40]!r}"
    if isinstance(a, (bytes, bytearray)):
        return f"b ({len(a)} bytes)"
    return type(a).__name__


def _number(address: str, a: object) -> float:
    """``a`` as a finite float (int, float, bool or numeric string), else `OscMapError`."""
    if isinstance(a, bool):
        return 1.0 if a else 0.0
    value: float
    if isinstance(a, (int, float)):
        try:
            value = float(a)
        except OverflowError:
            raise OscMapError(address, f"number out of range: {_describe(a)}") from None
    elif isinstance(a, str):
        try:
            value = float(a.strip())
        except ValueError:
            raise OscMapError(address, f"expected a number, got {_describe(a)}") from None
    else:
        raise OscMapError(address, f"expected a number (i, f, T/F or a numeric string), got {_describe(a)}")
    if not math.isfinite(value):
        raise OscMapError(address, f"expected a finite number, got {_describe(a)}")
    return value


def _at_most(address: str, args: tuple[object, ...], n: int) -> None:
    if len(args) > n:
        what = "no arguments" if n == 0 else f"at most {n} argument" + ("s" if n > 1 else "")
        got = ", ".join(_describe(a) for a in args)
        raise OscMapError(address, f"takes {what}, got {len(args)} ({got})")


def _one_number(address: str, args: tuple[object, ...], what: str) -> float:
    if not args:
        raise OscMapError(address, f"needs one argument: {what}")
    _at_most(address, args, 1)
    return _number(address, args[0])


def _switch(address: str, args: tuple[object, ...]) -> bool:
    """On/press (True) or off/release (False); no argument is on."""
    _at_most(address, args, 1)
    if not args:
        return True
    return _number(address, args[0]) >= ON_THRESHOLD


def _float32_text(x: float) -> str:
    """Shortest fixed-point text that reads back as the same float32 (cue numbers arrive as f).

    >>> _float32_text(2.0999999046325684), _float32_text(3.0), _float32_text(1e6)
    ('2.1', '3', '1000000')
    """
    target = struct.pack(">f", x)
    for decimals in range(10):
        text = f"{x:.{decimals}f}"
        if struct.pack(">f", float(text)) == target:
            break
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _cue_number(address: str, a: object) -> str:
    """A cue number as canonical text: ``"3"``, ``"2.5"`` (no leading or trailing zeros)."""
    if isinstance(a, str):
        m = _CUE_NUMBER.fullmatch(a.strip())
        if m is None:
            raise OscMapError(address, f"expected a cue number like 3 or 2.5, got {_describe(a)}")
        whole = m.group(1).lstrip("0") or "0"
        frac = (m.group(2) or "").rstrip("0")
        return f"{whole}.{frac}" if frac else whole
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        raise OscMapError(address, f"expected a cue number (i, f or s), got {_describe(a)}")
    value = _number(address, a)
    if value < 0:
        raise OscMapError(address, f"cue numbers are not negative, got {_describe(a)}")
    if isinstance(a, int):
        return str(a)
    return _float32_text(value)


def _name(address: str, what: str, name: str, known: Collection[str] | None) -> str:
    if _SEGMENT.fullmatch(name) is None:
        raise OscMapError(address, f"{what} {name[:40]!r} is not a name (letters, digits, '_', '-', '.')")
    if known is not None and name not in known:
        listing = ", ".join(sorted(known)) or "none"
        raise OscMapError(address, f"no {what} named {name!r}{did_you_mean(name, known)}; known: {listing}")
    return name


def _check_param(address: str, scene: str, node: str, param: str, entries: Collection[str]) -> None:
    """Refuse ``node/param`` unless ``entries`` (node names or ``node/param`` paths) allow it."""
    nodes = sorted({e.split("/", 1)[0] for e in entries})
    if node not in nodes:
        listing = ", ".join(nodes) or "none"
        raise OscMapError(address, f"scene {scene!r} has no node {node!r}{did_you_mean(node, nodes)}; nodes: {listing}")
    if node in entries or f"{node}/{param}" in entries:
        return
    known = sorted(e.split("/", 1)[1] for e in entries if e.startswith(node + "/"))
    listing = ", ".join(known)
    raise OscMapError(
        address, f"node {node!r} of scene {scene!r} has no parameter {param!r}{did_you_mean(param, known)}; known: {listing}"
    )


# --------------------------------------------------------------------------- parse


def parse(
    address: str,
    args: Sequence[object] = (),
    *,
    scenes: Collection[str] | None = None,
    params: Mapping[str, Collection[str]] | None = None,
) -> Command | None:
    """Turn one OSC message into a `Command`.

    Parameters
    ----------
    address : str
        The message's address, e.g. ``/lumen/master``.
    args : sequence
        Its arguments as python-osc decodes them (int, float, str, bool, None, bytes, ...).
    scenes : collection of str, optional
        The show's scene names; when given, other names are refused (with a hint).
    params : mapping of str to collection of str, optional
        Scene name -> what may be overridden in it: node names (any parameter of the node)
        and/or ``node/param`` paths. When given, other scenes, nodes and parameters are refused.

    Returns
    -------
    Command or None
        The command (``t`` = 0 and ``source`` = ""; the caller stamps both), or None for a
        message that is valid but asks for nothing: a button release, or ``/lumen/ping``
        (which the server answers itself).

    Raises
    ------
    OscMapError
        Unknown address (``unknown`` = True, with a "did you mean" hint) or wrong arguments.

    Examples
    --------
    >>> parse("/lumen/master", (0.25,))
    Command(name='master', value=0.25, arg='', t=0.0, source='')
    >>> parse("/lumen/master", (1.5,)).value
    1.0
    >>> parse("/lumen/scene/drop", (1.0,))
    Command(name='scene', value=0.0, arg='drop', t=0.0, source='')
    >>> parse("/lumen/scene/drop", (0.0,)) is None
    True
    >>> parse("/lumen/cue/2.5")
    Command(name='cue_goto', value=0.0, arg='2.5', t=0.0, source='')
    >>> parse("/lumen/param/drop/tunnel/speed", ("0.7",)).arg
    'drop/tunnel/speed'
    >>> parse("/lumen/tempo", (500,))
    Traceback (most recent call last):
    ...
    lumen.control.oscmap.OscMapError: /lumen/tempo: tempo 500.0 bpm is outside 20..400
    >>> parse("/lumen/mastr", (0.5,))
    Traceback (most recent call last):
    ...
    lumen.control.oscmap.OscMapError: /lumen/mastr: unknown address (did you mean '/lumen/master'?)
    """
    a = tuple(args)
    if not address.startswith(NAMESPACE + "/"):
        raise OscMapError(address, f"unknown address; lumen listens under {NAMESPACE}/", unknown=True)
    if any(c in _PATTERN_CHARS for c in address):
        raise OscMapError(address, "address patterns (wildcards) are not supported; send the full address", unknown=True)
    parts = address[len(NAMESPACE) + 1 :].split("/")
    head, rest = parts[0], parts[1:]

    if head == "scene":
        if not rest:
            if not a:
                raise OscMapError(address, "needs one argument: s scene name")
            _at_most(address, a, 1)
            if not isinstance(a[0], str):
                raise OscMapError(address, f"expected s scene name, got {_describe(a[0])}")
            return Command("scene", arg=_name(address, "scene", a[0].strip(), scenes))
        if len(rest) == 1:
            name = _name(address, "scene", rest[0], scenes)
            return Command("scene", arg=name) if _switch(address, a) else None
    elif head == "cue":
        if rest == ["go"]:
            return Command("cue_go") if _switch(address, a) else None
        if rest == ["back"]:
            return Command("cue_back") if _switch(address, a) else None
        if rest == ["goto"]:
            if not a:
                raise OscMapError(address, "needs one argument: the cue number (i, f or s)")
            _at_most(address, a, 1)
            return Command("cue_goto", arg=_cue_number(address, a[0]))
        if len(rest) == 1 and _CUE_NUMBER.fullmatch(rest[0]):
            number = _cue_number(address, rest[0])
            return Command("cue_goto", arg=number) if _switch(address, a) else None
    elif head == "tap" and not rest:
        return Command("tap") if _switch(address, a) else None
    elif head == "tempo":
        if not rest:
            bpm = _one_number(address, a, "f tempo in bpm")
            if not TEMPO_MIN_BPM <= bpm <= TEMPO_MAX_BPM:
                raise OscMapError(address, f"tempo {bpm} bpm is outside {TEMPO_MIN_BPM:g}..{TEMPO_MAX_BPM:g}")
            return Command("tempo", bpm)
        if rest == ["release"]:
            return Command("tempo_release") if _switch(address, a) else None
    elif head == "master" and not rest:
        level = _one_number(address, a, "f level 0..1")
        return Command("master", min(max(level, 0.0), 1.0))
    elif head in ("blackout", "strobe", "auto") and not rest:
        return Command(head, 1.0 if _switch(address, a) else 0.0)
    elif head == "release" and not rest:
        return Command("release") if _switch(address, a) else None
    elif head == "ping" and not rest:
        return None
    elif head == "param" and len(rest) in (3, 4) and (len(rest) == 3 or rest[3] == "release"):
        scene, node, param = rest[:3]
        _name(address, "scene", scene, scenes if params is None else params.keys())
        _name(address, "node", node, None)
        _name(address, "parameter", param, None)
        if params is not None:
            _check_param(address, scene, node, param, params[scene])
        path = f"{scene}/{node}/{param}"
        if len(rest) == 4:
            return Command("param", math.nan, arg=path) if _switch(address, a) else None
        return Command("param", _one_number(address, a, "f value"), arg=path)

    known = list(_FIXED)
    if scenes is not None:
        known += [f"{NAMESPACE}/scene/{s}" for s in scenes]
    raise OscMapError(address, f"unknown address{did_you_mean(address, known)}", unknown=True)


# --------------------------------------------------------------------------- feedback


def feedback(cmd: Command) -> tuple[str, tuple[OscArg, ...]] | None:
    """The OSC message reporting the state ``cmd`` sets, or None for commands without one.

    Sent back to controllers so their faders, toggles and labels follow the show.

    Examples
    --------
    >>> feedback(Command("master", 0.25))
    ('/lumen/master', (0.25,))
    >>> feedback(Command("blackout", 1.0))
    ('/lumen/blackout', (1,))
    >>> feedback(Command("scene", arg="drop"))
    ('/lumen/scene', ('drop',))
    >>> feedback(Command("cue_go")) is None
    True
    """
    name = cmd.name
    if name in ("master", "tempo"):
        return (f"{NAMESPACE}/{name}", (float(cmd.value),))
    if name in ("blackout", "strobe", "auto"):
        return (f"{NAMESPACE}/{name}", (1 if cmd.value >= ON_THRESHOLD else 0,))
    if name == "scene":
        return (f"{NAMESPACE}/scene", (cmd.arg,))
    if name == "param" and math.isfinite(cmd.value):
        return (f"{NAMESPACE}/param/{cmd.arg}", (float(cmd.value),))
    return None


# --------------------------------------------------------------------------- documentation


def _meaning(command: str, note: str = "") -> str:
    base = COMMANDS[command]
    return f"{base}; {note}" if note else base


def address_map(
    scene_names: Sequence[str] = (),
    params: Mapping[str, Sequence[str]] | None = None,
) -> list[AddressDoc]:
    """The address map as documentation rows, for a show's scenes and parameters.

    Parameters
    ----------
    scene_names : sequence of str
        The show's scene names; one ``/lumen/scene/<name>`` row each (a generic row if empty).
    params : mapping of str to sequence of str, optional
        Scene name -> its node names (a ``.../<node>/<param>`` row each) and/or ``node/param``
        paths (a row each); a generic row if None or empty.

    Returns
    -------
    list of AddressDoc
        Rows in a stable order: scenes, cues, tempo, master and switches, parameters, ping.

    Examples
    --------
    >>> rows = address_map(["intro", "drop"])
    >>> [r.address for r in rows[:3]]
    ['/lumen/scene/intro', '/lumen/scene/drop', '/lumen/scene']
    >>> rows[0].command, rows[0].args
    ('scene', '[press]')
    """
    press = "[press]"
    switch = "[on/off]"
    press_note = "a button: acts on press (no argument or >= 0.5), a release (< 0.5) is ignored"
    rows: list[AddressDoc] = []
    for s in scene_names or ("<name>",):
        rows.append(AddressDoc(f"{NAMESPACE}/scene/{s}", press, "scene", _meaning("scene", f"arg = {s!r}; {press_note}")))
    rows += [
        AddressDoc(f"{NAMESPACE}/scene", "s name", "scene", _meaning("scene", "the name is the argument")),
        AddressDoc(f"{NAMESPACE}/cue/go", press, "cue_go", _meaning("cue_go", press_note)),
        AddressDoc(f"{NAMESPACE}/cue/back", press, "cue_back", _meaning("cue_back", press_note)),
        AddressDoc(f"{NAMESPACE}/cue/goto", "i, f or s number", "cue_goto", _meaning("cue_goto")),
        AddressDoc(f"{NAMESPACE}/cue/<n>", press, "cue_goto", _meaning("cue_goto", f"n in the address, e.g. /lumen/cue/2.5; {press_note}")),
        AddressDoc(f"{NAMESPACE}/tap", press, "tap", _meaning("tap", press_note)),
        AddressDoc(
            f"{NAMESPACE}/tempo",
            f"f bpm {TEMPO_MIN_BPM:g}..{TEMPO_MAX_BPM:g}",
            "tempo",
            _meaning("tempo", "outside the range is refused"),
        ),
        AddressDoc(f"{NAMESPACE}/tempo/release", press, "tempo_release", _meaning("tempo_release", press_note)),
        AddressDoc(f"{NAMESPACE}/master", "f 0..1", "master", _meaning("master", "clamped to 0..1")),
        AddressDoc(
            f"{NAMESPACE}/blackout", switch, "blackout", _meaning("blackout", ">= 0.5 or T = on, < 0.5 or F = off, no argument = on")
        ),
        AddressDoc(f"{NAMESPACE}/strobe", switch, "strobe", _meaning("strobe", "a momentary button; no argument = on")),
        AddressDoc(f"{NAMESPACE}/auto", switch, "auto", _meaning("auto", "no argument = on")),
        AddressDoc(f"{NAMESPACE}/release", press, "release", _meaning("release", press_note)),
    ]
    paths = [
        f"{scene}/{entry}" if "/" in entry else f"{scene}/{entry}/<param>" for scene, entries in (params or {}).items() for entry in entries
    ] or ["<scene>/<node>/<param>"]
    for path in paths:
        rows.append(AddressDoc(f"{NAMESPACE}/param/{path}", "f value", "param", _meaning("param", "NaN and infinities are refused")))
        rows.append(
            AddressDoc(f"{NAMESPACE}/param/{path}/release", press, "param", "release the override of this parameter (value NaN)")
        )
    rows.append(AddressDoc(PING, "any", "", f"no command: the server answers {PONG} with the same arguments to the sender"))
    return rows


def markdown(rows: Sequence[AddressDoc]) -> str:
    """Render rows of `address_map` as a Markdown table.

    Examples
    --------
    >>> print(markdown([AddressDoc("/lumen/tap", "[press]", "tap", "a | b")]))
    | address | arguments | command | meaning |
    |---|---|---|---|
    | `/lumen/tap` | [press] | `tap` | a \\| b |
    """

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| address | arguments | command | meaning |", "|---|---|---|---|"]
    for r in rows:
        command = f"`{r.command}`" if r.command else ""
        lines.append(f"| `{cell(r.address)}` | {cell(r.args)} | {command} | {cell(r.meaning)} |")
    return "\n".join(lines)
