"""Fixture profiles from Open Fixture Library JSON, compiled DMX mappers, and a fixture patch.

Layer: patch. Threads: profiles are loaded and modes compiled on a control thread (show
load); `FixtureMode.render`, `FixtureMode.render_many` and `Patch.apply` run on the frame
thread, on buffers allocated when the mode was compiled or the fixture patched.

A profile is read from an OFL fixture file (the format of
https://github.com/OpenLightingProject/open-fixture-library, schema 12.x): channels,
template channels expanded over the matrix's pixels and pixel groups, fine channels,
switching channels, wheels and modes. Every capability type OFL defines is accepted; the
ones lumen drives are

- ``Intensity`` (dimmers), ``ColorIntensity`` (emitters), ``ShutterStrobe`` and
  ``StrobeSpeed`` (shutter and strobe), ``Pan``, ``Tilt``, ``Zoom``,
- ``WheelSlot`` on a color wheel and ``ColorPreset`` (nearest color, when the fixture
  cannot mix the color itself);

every other channel (``Generic``, ``Maintenance``, ``Effect``, ``Speed``, ``Focus``,
``Prism``, ...) keeps its ``defaultValue``. A capability type OFL does not define is a
`FixtureError` naming the file, the channel and the type.

A compiled `FixtureMode` turns a `FixtureState` (color, intensity, strobe, pan, tilt, zoom)
into the mode's channel bytes; a `Patch` places fixtures at DMX addresses and scene
positions and renders all of them from a frame in one vectorized pass per mode.

Conventions (documented because OFL leaves them open):

- Color is linear RGB 0..1. RGB emitters take it directly; white emitters take
  ``min(r, g, b)`` out of it; amber (taken as red + half green) takes ``min(r, 2 g)`` of what
  is left; UV, lime, indigo and the cyan/magenta/yellow emitters of additive fixtures stay at
  0. CMY fixtures use ``1 - rgb / max(rgb)`` with ``max(rgb)`` going to the dimmer. A
  fixture with emitters that cannot mix RGB (white, warm/cold white, UV only) gets the
  Rec. 709 luminance on each of them, as does a dimmer-only fixture.
- A fixture without a dimmer channel scales its emitters by the intensity.
- Strobe speeds given as words map ``slow`` to `STROBE_SLOW_HZ` and ``fast`` to
  `STROBE_FAST_HZ`; percentages are of `STROBE_FAST_HZ`; ``bpm`` is divided by 60.
- Fixed choices (shutter open, a wheel slot, a color preset) use the middle of the
  capability's DMX range; continuous ones interpolate linearly over it and round to nearest.
- A switching channel alias resolves with the switching channel at its ``defaultValue``.
- Pan and tilt in degrees are relative to the middle of the fixture's range.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from lumen.errors import LumenError, did_you_mean

__all__ = [
    "CAPABILITY_TYPES",
    "EMITTER_COLORS",
    "STATE_COLUMNS",
    "STROBE_FAST_HZ",
    "STROBE_SLOW_HZ",
    "Capability",
    "Channel",
    "FixtureError",
    "FixtureMode",
    "FixtureProfile",
    "FixtureState",
    "Patch",
    "PatchedFixture",
    "Wheel",
    "WheelSlot",
    "check_paths",
    "load_ofl",
]

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
_T = TypeVar("_T")

#: Every capability type of the OFL schema (capability.json, schema version 12.5.1).
CAPABILITY_TYPES: frozenset[str] = frozenset(
    {
        "NoFunction", "ShutterStrobe", "StrobeSpeed", "StrobeDuration", "Intensity", "ColorIntensity",
        "ColorPreset", "ColorTemperature", "Pan", "PanContinuous", "Tilt", "TiltContinuous", "PanTiltSpeed",
        "WheelSlot", "WheelShake", "WheelSlotRotation", "WheelRotation", "Effect", "EffectSpeed",
        "EffectDuration", "EffectParameter", "SoundSensitivity", "BeamAngle", "BeamPosition", "Focus", "Zoom",
        "Iris", "IrisEffect", "Frost", "FrostEffect", "Prism", "PrismRotation", "BladeInsertion",
        "BladeRotation", "BladeSystemRotation", "Fog", "FogOutput", "FogType", "Rotation", "Speed", "Time",
        "Maintenance", "Generic",
    }
)  # fmt: skip

#: Capability types lumen drives; the others keep the channel's default value.
SUPPORTED_TYPES: frozenset[str] = frozenset(
    {"Intensity", "ColorIntensity", "ShutterStrobe", "StrobeSpeed", "Pan", "Tilt", "Zoom", "WheelSlot", "ColorPreset"}
)

#: Emitter colors of ``ColorIntensity`` (OFL's list), in the column order of the mixer.
EMITTER_COLORS: tuple[str, ...] = (
    "Red", "Green", "Blue", "White", "Warm White", "Cold White", "Amber", "Lime", "UV", "Indigo",
    "Cyan", "Magenta", "Yellow",
)  # fmt: skip
_SHUTTER_EFFECTS = frozenset(
    {"Open", "Closed", "Strobe", "Pulse", "RampUp", "RampDown", "RampUpDown", "Lightning", "Spikes", "Burst"}
)
_WHITES = ("White", "Warm White", "Cold White")

#: Strobe rate taken for OFL's ``slow`` (Hz).
STROBE_SLOW_HZ = 1.0
#: Strobe rate taken for OFL's ``fast`` and for ``100%`` (Hz).
STROBE_FAST_HZ = 20.0

#: Columns of a state row for `FixtureMode.render_many` (NaN = not set, use the default).
STATE_COLUMNS: tuple[str, ...] = ("r", "g", "b", "intensity", "strobe_hz", "pan_deg", "tilt_deg", "pan", "tilt", "zoom")
_N_STATE = len(STATE_COLUMNS)

# Source columns the channel programs read (emitter levels first, then these).
_N_EMIT = len(EMITTER_COLORS)
_SRC_DIM = _N_EMIT
_SRC_HZ = _N_EMIT + 1
_SRC_PAN = _N_EMIT + 2
_SRC_TILT = _N_EMIT + 3
_SRC_ZOOM = _N_EMIT + 4
_N_SRC = _N_EMIT + 5

_LUMA = (0.2126, 0.7152, 0.0722)
_UNIVERSE_MAX = 63999
_SCHEMA_URL_PREFIXES = ("https://json-schema.org/", "http://json-schema.org/")


class FixtureError(LumenError):
    """A fixture file is invalid, or a fixture cannot be patched as asked.

    Attributes
    ----------
    path : str
        The fixture file ("" when the problem is not in a file, e.g. a patch overlap).
    channel : str
        The channel key the problem is in ("" when not about one channel).
    reason : str
        What is wrong.
    """

    def __init__(self, reason: str, *, path: str = "", channel: str = "") -> None:
        self.path = path
        self.channel = channel
        self.reason = reason
        parts = [p for p in (path, f"channel {channel!r}" if channel else "") if p]
        super().__init__(": ".join([*parts, reason]))


# --------------------------------------------------------------------------------------------
# Profile model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability:
    """One DMX range of a channel and what it does.

    Attributes
    ----------
    dmx_range : tuple of int
        ``(start, end)`` inclusive, at the channel's resolution.
    type : str
        OFL capability type, e.g. ``"ColorIntensity"``.
    props : mapping
        The capability's other OFL properties as written (``color``, ``speedStart``, ...).
    """

    dmx_range: tuple[int, int]
    type: str
    props: Mapping[str, Any]

    @property
    def supported(self) -> bool:
        """Whether lumen drives this type (others keep the channel's default value)."""
        return self.type in SUPPORTED_TYPES

    @property
    def middle(self) -> int:
        """The middle of the DMX range (rounded down)."""
        return (self.dmx_range[0] + self.dmx_range[1]) // 2


@dataclass(frozen=True, slots=True)
class Channel:
    """A coarse channel of a profile (template channels appear once per pixel and group).

    Attributes
    ----------
    key : str
        The channel key modes refer to.
    name : str
        Display name (the key unless the file names it).
    fine_aliases : tuple of str
        Keys of the fine bytes, most significant first (``Pan fine``, ``Pan fine^2``).
    resolution : int, 1..3
        Bytes the capabilities' DMX ranges are written in.
    default_value, highlight_value : int or str
        As in the file: a DMX value at ``resolution`` or a percentage like ``"50%"``.
    constant : bool
        The channel should stay at its default value.
    capabilities : tuple of Capability
    pixel_key : str or None
        The matrix pixel or pixel group a template channel was made for.
    """

    key: str
    name: str
    fine_aliases: tuple[str, ...]
    resolution: int
    default_value: int | str
    highlight_value: int | str | None
    constant: bool
    capabilities: tuple[Capability, ...]
    pixel_key: str | None = None

    def value_at(self, value: int | str, n_bytes: int) -> int:
        """A DMX value (int at the channel's resolution, or ``"p%"``) at ``n_bytes`` bytes."""
        top = (1 << (8 * n_bytes)) - 1
        if isinstance(value, str):
            return min(top, max(0, math.floor(float(value[:-1]) / 100.0 * top + 0.5)))
        shift = 8 * (n_bytes - self.resolution)
        return min(top, value << shift if shift >= 0 else value >> -shift)

    def range_at(self, cap: Capability, n_bytes: int) -> tuple[int, int]:
        """A capability's DMX range at ``n_bytes`` bytes (a wider range fills the low bytes)."""
        lo, hi = cap.dmx_range
        shift = 8 * (n_bytes - self.resolution)
        if shift >= 0:
            return lo << shift, (hi << shift) | ((1 << shift) - 1)
        return lo >> -shift, hi >> -shift


@dataclass(frozen=True, slots=True)
class WheelSlot:
    """A slot of a wheel: ``type`` is OFL's (Open, Color, Gobo, ...); ``colors`` are hex."""

    type: str
    name: str
    colors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Wheel:
    """A wheel and its slots (slot numbers are 1-based indices into ``slots``)."""

    name: str
    slots: tuple[WheelSlot, ...]


@dataclass(frozen=True, slots=True)
class _ModeSpec:
    name: str
    short_name: str
    # Resolved channel keys in DMX order (None for unused slots), before alias resolution.
    channels: tuple[str | None, ...]


@dataclass(slots=True)
class FixtureProfile:
    """A fixture type as read from an OFL file.

    Attributes
    ----------
    key : str
        ``manufacturer/fixture`` (from the file's folder and name).
    name, short_name, manufacturer : str
    categories : tuple of str
    channels : dict of str to Channel
        Every coarse channel, template channels expanded for each pixel and pixel group.
    wheels : dict of str to Wheel
    path : str
        The file it was read from.
    """

    key: str
    name: str
    short_name: str
    manufacturer: str
    categories: tuple[str, ...]
    channels: dict[str, Channel]
    wheels: dict[str, Wheel]
    path: str
    _modes: tuple[_ModeSpec, ...]
    _fine: dict[str, tuple[str, int]]
    _switch: dict[str, str]
    _compiled: dict[str, FixtureMode] = field(default_factory=dict)

    @property
    def mode_names(self) -> tuple[str, ...]:
        """Names of the modes, in file order."""
        return tuple(m.name for m in self._modes)

    def mode(self, name: str) -> FixtureMode:
        """The compiled mode called ``name`` (its name or its short name).

        Raises
        ------
        FixtureError
            No such mode (with the closest names), or a mode channel does not exist.
        """
        for spec in self._modes:
            if name in (spec.name, spec.short_name):
                if spec.name not in self._compiled:
                    self._compiled[spec.name] = FixtureMode(self, spec)
                return self._compiled[spec.name]
        names = [m.name for m in self._modes] + [m.short_name for m in self._modes]
        raise FixtureError(
            f"fixture {self.key!r} has no mode {name!r}{did_you_mean(name, names)}; modes: "
            + ", ".join(repr(m.name) for m in self._modes),
            path=self.path,
        )

    def resolve(self, key: str) -> tuple[str, int]:
        """``(coarse channel key, byte index)`` for a mode channel key (fine/switch aliases too)."""
        for _ in range(4):  # a switched alias may point at a fine alias
            if key in self.channels:
                return key, 0
            if key in self._fine:
                return self._fine[key]
            if key not in self._switch:
                break
            key = self._switch[key]
        known = [*self.channels, *self._fine, *self._switch]
        raise FixtureError(f"mode channel {key!r} is not defined{did_you_mean(key, known)}", path=self.path)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_ofl(path: str | Path) -> FixtureProfile:
    """Read an Open Fixture Library fixture file.

    Parameters
    ----------
    path : str or Path
        ``.../<manufacturer>/<fixture>.json``. A ``manufacturers.json`` in the folder above
        supplies the manufacturer's name (else the folder name is used). A redirect file
        (``fixture-redirect.json`` schema) is followed to its target in the same library.

    Returns
    -------
    FixtureProfile

    Raises
    ------
    FixtureError
        The file is missing, not JSON, or not a valid fixture (an unknown capability type
        is named with its channel).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise FixtureError(f"cannot read: {e.strerror or e}", path=str(p)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FixtureError(f"not JSON: {e}", path=str(p)) from None
    if not isinstance(data, dict):
        raise FixtureError("not an OFL fixture (top level is not an object)", path=str(p))
    if str(data.get("$schema", "")).endswith("fixture-redirect.json") or "redirectTo" in data:
        target = data.get("redirectTo")
        if not isinstance(target, str) or target.count("/") != 1:
            raise FixtureError("redirect without a valid 'redirectTo'", path=str(p))
        dest = p.parent.parent / f"{target}.json"
        if not dest.is_file():
            raise FixtureError(f"redirects to {target!r}, which is not in this library", path=str(p))
        return load_ofl(dest)
    try:
        return _parse_fixture(data, p)
    except FixtureError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise FixtureError(f"malformed fixture ({type(e).__name__}: {e})", path=str(p)) from None


def _manufacturer_name(p: Path) -> str:
    key = p.parent.name
    mf = p.parent.parent / "manufacturers.json"
    if mf.is_file():
        try:
            entry = json.loads(mf.read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError):
            entry = None
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            return str(entry["name"])
    return key


def _parse_fixture(data: dict[str, Any], p: Path) -> FixtureProfile:
    path = str(p)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise FixtureError("missing fixture 'name'", path=path)
    if not isinstance(data.get("modes"), list) or not data["modes"]:
        raise FixtureError("missing 'modes'", path=path)
    available = data.get("availableChannels", {}) or {}
    templates = data.get("templateChannels", {}) or {}
    if not available and not templates:
        raise FixtureError("no 'availableChannels' or 'templateChannels'", path=path)

    wheels: dict[str, Wheel] = {}
    for wname, w in (data.get("wheels") or {}).items():
        slots = tuple(
            WheelSlot(str(s["type"]), str(s.get("name", "")), tuple(str(c) for c in s.get("colors", ())))
            for s in w["slots"]
        )
        wheels[wname] = Wheel(wname, slots)

    matrix = _Matrix(data["matrix"], path) if "matrix" in data else None
    channels: dict[str, Channel] = {}
    fine: dict[str, tuple[str, int]] = {}
    switch: dict[str, tuple[str, dict[str, str]]] = {}

    def add(key: str, raw: Mapping[str, Any], pixel_key: str | None) -> None:
        def sub(s: str) -> str:
            return s if pixel_key is None else s.replace("$pixelKey", pixel_key)

        ch = _parse_channel(key, raw, path, wheels, pixel_key, sub)
        channels[key] = ch
        for i, alias in enumerate(ch.fine_aliases):
            fine[alias] = (key, i + 1)
        for cap in ch.capabilities:
            for alias, target in (cap.props.get("switchChannels") or {}).items():
                switch.setdefault(sub(alias), (key, {}))[1][str(cap.dmx_range)] = sub(target)

    for key, raw in available.items():
        add(key, raw, None)
    if templates:
        if matrix is None:
            raise FixtureError("'templateChannels' without a 'matrix'", path=path)
        for tkey, raw in templates.items():
            if "$pixelKey" not in tkey:
                raise FixtureError(f"template channel {tkey!r} has no $pixelKey", path=path)
            for pk in [*matrix.pixel_keys, *matrix.groups]:
                resolved = tkey.replace("$pixelKey", pk)
                if resolved not in channels:
                    add(resolved, raw, pk)

    # Switching aliases resolve through the switching channel's default value.
    switch_resolved: dict[str, str] = {}
    for alias, (switching, by_range) in switch.items():
        sch = channels[switching]
        dv = sch.value_at(sch.default_value, sch.resolution)
        target = None
        for cap in sch.capabilities:
            if cap.dmx_range[0] <= dv <= cap.dmx_range[1]:
                target = by_range.get(str(cap.dmx_range))
                break
        if target is None:
            target = next(iter(by_range.values()))
        switch_resolved[alias] = target

    modes: list[_ModeSpec] = []
    for m in data["modes"]:
        mname = str(m["name"])
        keys: list[str | None] = []
        for item in m["channels"]:
            if item is None or isinstance(item, str):
                keys.append(item)
            elif isinstance(item, dict) and item.get("insert") == "matrixChannels":
                if matrix is None:
                    raise FixtureError(f"mode {mname!r} inserts matrix channels but there is no matrix", path=path)
                keys.extend(matrix.insert(item, mname))
            else:
                raise FixtureError(f"mode {mname!r} has an invalid channel entry {item!r}", path=path)
        modes.append(_ModeSpec(mname, str(m.get("shortName", mname)), tuple(keys)))

    key = f"{p.parent.name}/{p.stem}"
    profile = FixtureProfile(
        key=key,
        name=name,
        short_name=str(data.get("shortName", name)),
        manufacturer=_manufacturer_name(p),
        categories=tuple(data.get("categories", ())),
        channels=channels,
        wheels=wheels,
        path=path,
        _modes=tuple(modes),
        _fine=fine,
        _switch=switch_resolved,
    )
    # Every mode must name existing channels; say so at load time, not at patch time.
    for spec in profile._modes:
        for k in spec.channels:
            if k is not None:
                try:
                    profile.resolve(k)
                except FixtureError as e:
                    raise FixtureError(f"mode {spec.name!r}: {e.reason}", path=path) from None
    return profile


def _parse_channel(
    key: str,
    raw: Mapping[str, Any],
    path: str,
    wheels: Mapping[str, Wheel],
    pixel_key: str | None,
    sub: Callable[[str], str],
) -> Channel:
    if not isinstance(raw, Mapping):
        raise FixtureError("channel is not an object", path=path, channel=key)
    fine_aliases = tuple(sub(str(a)) for a in raw.get("fineChannelAliases", ()))
    res_name = raw.get("dmxValueResolution")
    resolution = {"8bit": 1, "16bit": 2, "24bit": 3}[res_name] if res_name else 1 + len(fine_aliases)
    top = (1 << (8 * resolution)) - 1
    if "capability" in raw:
        caps_raw = [dict(raw["capability"], dmxRange=[0, top])]
    elif "capabilities" in raw:
        caps_raw = list(raw["capabilities"])
    else:
        raise FixtureError("no 'capability' or 'capabilities'", path=path, channel=key)
    caps: list[Capability] = []
    for c in caps_raw:
        ctype = c.get("type")
        if ctype not in CAPABILITY_TYPES:
            raise FixtureError(
                f"unknown capability type {ctype!r}{did_you_mean(str(ctype), CAPABILITY_TYPES)}",
                path=path,
                channel=key,
            )
        rng = c.get("dmxRange")
        if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, int) for v in rng)):
            raise FixtureError(f"{ctype} capability without a valid dmxRange", path=path, channel=key)
        lo, hi = int(rng[0]), int(rng[1])
        if not 0 <= lo <= hi <= top:
            raise FixtureError(f"dmxRange {rng} outside 0..{top} or reversed", path=path, channel=key)
        props = {k: v for k, v in c.items() if k not in ("type", "dmxRange")}
        if ctype == "ColorIntensity" and props.get("color") not in EMITTER_COLORS:
            raise FixtureError(f"unknown ColorIntensity color {props.get('color')!r}", path=path, channel=key)
        if ctype == "ShutterStrobe" and props.get("shutterEffect") not in _SHUTTER_EFFECTS:
            raise FixtureError(f"unknown shutterEffect {props.get('shutterEffect')!r}", path=path, channel=key)
        if ctype in ("WheelSlot", "WheelShake", "WheelSlotRotation", "WheelRotation"):
            wheel = props.get("wheel", str(raw.get("name", key)))
            if isinstance(wheel, str):
                props["wheel"] = sub(wheel)
                if ctype == "WheelSlot" and props["wheel"] not in wheels:
                    raise FixtureError(f"WheelSlot names wheel {props['wheel']!r}, which is not defined",
                                       path=path, channel=key)  # fmt: skip
        caps.append(Capability((lo, hi), str(ctype), props))
    default: int | str = raw.get("defaultValue", 0)
    highlight: int | str | None = raw.get("highlightValue")
    for what, v in (("defaultValue", default), ("highlightValue", highlight)):
        if v is None:
            continue
        if isinstance(v, str):
            if not re.fullmatch(r"(100|[1-9]?[0-9](\.[0-9]+)?)%", v):
                raise FixtureError(f"{what} {v!r} is not a DMX value or percentage", path=path, channel=key)
        elif not isinstance(v, int) or not 0 <= v <= top:
            raise FixtureError(f"{what} {v!r} outside 0..{top}", path=path, channel=key)
    return Channel(
        key=key,
        name=sub(str(raw.get("name", key))),
        fine_aliases=fine_aliases,
        resolution=resolution,
        default_value=default,
        highlight_value=highlight,
        constant=bool(raw.get("constant", False)),
        capabilities=tuple(caps),
        pixel_key=pixel_key,
    )


def _natural_key(s: str) -> list[Any]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", s) if t]


class _Matrix:
    """Pixel keys, their positions and pixel groups of an OFL ``matrix``."""

    def __init__(self, raw: Mapping[str, Any], path: str) -> None:
        self.path = path
        self.positions: dict[str, tuple[int, int, int]] = {}
        if "pixelKeys" in raw:
            for z, plane in enumerate(raw["pixelKeys"]):
                for y, row in enumerate(plane):
                    for x, k in enumerate(row):
                        if k is not None:
                            self.positions[str(k)] = (x + 1, y + 1, z + 1)
        elif "pixelCount" in raw:
            nx, ny, nz = (int(v) for v in raw["pixelCount"])
            axes = [n > 1 for n in (nx, ny, nz)]
            for z in range(1, nz + 1):
                for y in range(1, ny + 1):
                    for x in range(1, nx + 1):
                        self.positions[self._default_key(x, y, z, axes)] = (x, y, z)
        else:
            raise FixtureError("matrix needs 'pixelCount' or 'pixelKeys'", path=path)
        self.pixel_keys = sorted(self.positions, key=_natural_key)
        self.groups: dict[str, list[str]] = {}
        for gkey, g in (raw.get("pixelGroups") or {}).items():
            if g == "all":
                self.groups[gkey] = list(self.pixel_keys)
            elif isinstance(g, list):
                self.groups[gkey] = [str(k) for k in g]
            elif isinstance(g, dict):
                base = self.pixel_keys if "name" in g else self.by_order("X", "Y", "Z")
                self.groups[gkey] = [k for k in base if self._fulfills(k, g)]
            else:
                raise FixtureError(f"pixel group {gkey!r} is invalid", path=path)

    @staticmethod
    def _default_key(x: int, y: int, z: int, axes: list[bool]) -> str:
        n = sum(axes)
        if n <= 1:
            return str(max(x, y, z))
        if n == 2:
            first = x if axes[0] else y
            last = y if axes[1] else z
            return f"({first}, {last})"
        return f"({x}, {y}, {z})"

    def by_order(self, first: str, second: str, third: str) -> list[str]:
        """Pixel keys with ``first`` axis varying fastest (OFL's ``eachPixel<first><second><third>``)."""
        ix = {"X": 0, "Y": 1, "Z": 2}
        a, b, c = ix[first], ix[second], ix[third]
        return sorted(self.pixel_keys, key=lambda k: (self.positions[k][c], self.positions[k][b], self.positions[k][a]))

    def _fulfills(self, key: str, g: Mapping[str, Any]) -> bool:
        pos = self.positions[key]
        for i, axis in enumerate("xyz"):
            for cons in g.get(axis, ()):
                if not _constraint(str(cons), pos[i], self.path):
                    return False
        return all(re.search(str(pat), key) for pat in g.get("name", ()))

    def insert(self, item: Mapping[str, Any], mode: str) -> list[str | None]:
        rep = item["repeatFor"]
        if isinstance(rep, list):
            keys = [str(k) for k in rep]
        elif rep == "eachPixelABC":
            keys = list(self.pixel_keys)
        elif rep == "eachPixelGroup":
            keys = list(self.groups)
        elif isinstance(rep, str) and re.fullmatch(r"eachPixel[XYZ]{3}", rep) and len(set(rep[-3:])) == 3:
            keys = self.by_order(rep[-3], rep[-2], rep[-1])
        else:
            raise FixtureError(f"mode {mode!r}: unknown repeatFor {rep!r}", path=self.path)
        templates: list[str | None] = [None if t is None else str(t) for t in item["templateChannels"]]
        out: list[str | None] = []
        if item.get("channelOrder") == "perChannel":
            for t in templates:
                out.extend(None if t is None else t.replace("$pixelKey", k) for k in keys)
        else:
            for k in keys:
                out.extend(None if t is None else t.replace("$pixelKey", k) for t in templates)
        return out


def _constraint(cons: str, pos: int, path: str) -> bool:
    if cons.startswith(">="):
        return pos >= int(cons[2:])
    if cons.startswith("<="):
        return pos <= int(cons[2:])
    if cons.startswith("="):
        return pos == int(cons[1:])
    cons = {"even": "2n", "odd": "2n+1"}.get(cons, cons)
    m = re.fullmatch(r"(\d+)n(?:\+(\d+))?", cons)
    if m is None:
        raise FixtureError(f"invalid pixel constraint {cons!r}", path=path)
    return pos % int(m.group(1)) == int(m.group(2) or 0)


# --------------------------------------------------------------------------------------------
# Entity parsing
# --------------------------------------------------------------------------------------------

_NUM_RE = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)(Hz|bpm|%|deg|s|ms|lm|K|rpm|m)?$")


def _num(v: object) -> tuple[float, str] | None:
    if not isinstance(v, str):
        return None
    m = _NUM_RE.match(v)
    return (float(m.group(1)), m.group(2) or "") if m else None


def _speed_hz(v: object) -> float | None:
    words = {"slow": STROBE_SLOW_HZ, "fast": STROBE_FAST_HZ, "stop": 0.0,
             "slow reverse": STROBE_SLOW_HZ, "fast reverse": STROBE_FAST_HZ}  # fmt: skip
    if isinstance(v, str) and v in words:
        return words[v]
    n = _num(v)
    if n is None:
        return None
    value, unit = n
    return {"Hz": value, "bpm": value / 60.0, "%": value / 100.0 * STROBE_FAST_HZ}.get(unit)


def _brightness(v: object) -> float | None:
    if isinstance(v, str) and v in ("off", "dark", "bright"):
        return {"off": 0.0, "dark": 0.25, "bright": 1.0}[v]
    n = _num(v)
    return n[0] / 100.0 if n is not None and n[1] == "%" else None


def _start_end(
    props: Mapping[str, Any], name: str, parse: Callable[[object], _T | None]
) -> tuple[_T | None, _T | None]:
    if name in props:
        v = parse(props[name])
        return v, v
    return parse(props.get(name + "Start")), parse(props.get(name + "End"))


def _hex_to_linear(h: str) -> F64:
    c = np.array([int(h[i : i + 2], 16) / 255.0 for i in (1, 3, 5)], dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _oklab(rgb: F64) -> F64:
    """OKLab of linear sRGB, shape (..., 3) -> (..., 3)."""
    m1 = np.array(
        [[0.4122214708, 0.5363325363, 0.0514459929],
         [0.2119034982, 0.6806995451, 0.1073969566],
         [0.0883024619, 0.2817188376, 0.6299787005]]
    )  # fmt: skip
    m2 = np.array(
        [[0.2104542553, 0.7936177850, -0.0040720468],
         [1.9779984951, -2.4285922050, 0.4505937099],
         [0.0259040371, 0.7827717662, -0.8086757660]]
    )  # fmt: skip
    lms = np.cbrt(np.maximum(rgb @ m1.T, 0.0))
    out: F64 = lms @ m2.T
    return out


# --------------------------------------------------------------------------------------------
# Compiled modes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FixtureState:
    """What a fixture should do this frame (a hot-path value object).

    Attributes
    ----------
    rgb : tuple of 3 float, 0..1, linear
        Color; `Patch.apply` replaces it with the frame's color for fixtures with a position.
    intensity : float, 0..1
    strobe_hz : float, >= 0
        Flash rate; 0 opens the shutter.
    pan_deg, tilt_deg : float or None
        Degrees from the middle of the fixture's range (wins over ``pan``/``tilt``;
        ignored when the profile gives its range in percent, not degrees).
    pan, tilt : float or None, 0..1
        Position across the fixture's whole range.
    zoom : float or None, 0..1
        Narrow (0) to wide (1).

    ``None`` leaves the channel at its default value.
    """

    rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    strobe_hz: float = 0.0
    pan_deg: float | None = None
    tilt_deg: float | None = None
    pan: float | None = None
    tilt: float | None = None
    zoom: float | None = None

    def write_row(self, row: F64) -> None:
        """Write this state into a row laid out as `STATE_COLUMNS`."""
        nan = math.nan
        row[0], row[1], row[2] = self.rgb
        row[3] = self.intensity
        row[4] = self.strobe_hz
        row[5] = nan if self.pan_deg is None else self.pan_deg
        row[6] = nan if self.tilt_deg is None else self.tilt_deg
        row[7] = nan if self.pan is None else self.pan
        row[8] = nan if self.tilt is None else self.tilt
        row[9] = nan if self.zoom is None else self.zoom


@dataclass(slots=True)
class _Program:
    """How one logical channel of a mode gets its value."""

    index: int  # logical channel index in the mode
    role: str
    source: int = -1  # source column, -1 = constant
    segs: F64 = field(default_factory=lambda: np.zeros((0, 4)))  # (x0, x1, d0, d1) rows
    const: float = 0.0  # value when the source is constant or NaN
    strobe_segs: F64 | None = None  # used where strobe_hz > 0
    palette_lab: F64 | None = None  # (K, 3) OKLab of candidate colors
    palette_dmx: F64 | None = None  # (K,) DMX values


def _eval_segments(x: F64, segs: F64) -> F64:
    """Piecewise-linear map: the first segment containing x, else the nearest endpoint."""
    out = np.empty_like(x)
    done = np.zeros(x.shape, dtype=bool)
    best_d = np.full(x.shape, np.inf)
    best_v = np.zeros_like(x)
    for x0, x1, d0, d1 in segs:
        lo, hi = min(x0, x1), max(x0, x1)
        val = np.full_like(x, d0) if x1 == x0 else d0 + (x - x0) * ((d1 - d0) / (x1 - x0))
        inside = (x >= lo) & (x <= hi) & ~done
        out[inside] = val[inside]
        done |= inside
        dist = np.where(x < lo, lo - x, x - hi)
        if x1 == x0:
            end_v = np.full_like(x, d0)  # a fixed point is its range's start, as inside
        else:
            end_v = np.where(x < lo, d0 if x0 < x1 else d1, d1 if x0 < x1 else d0)
        better = dist < best_d
        best_d = np.where(better, dist, best_d)
        best_v = np.where(better, end_v, best_v)
    out[~done] = best_v[~done]
    return out


class FixtureMode:
    """A fixture mode compiled into a DMX mapper.

    Attributes
    ----------
    name, short_name : str
    n_channels : int
        DMX slots the mode takes.
    channel_keys : tuple of (str or None)
        The mode's channel keys in DMX order (``None`` for unused slots).
    roles : dict of str to str
        What lumen drives on each coarse channel: ``"emitter:Red"``, ``"dimmer"``,
        ``"strobe"``, ``"dimmer+strobe"``, ``"pan"``, ``"tilt"``, ``"zoom"``,
        ``"color-wheel"``, ``"color-preset"``; channels not listed keep their default.
    mixing : str
        ``"rgb"``, ``"cmy"``, ``"mono"`` (emitters that cannot mix RGB) or ``"none"``.
    has_dimmer : bool
    pan_range_deg, tilt_range_deg : tuple of float or None
        ``(min, max)`` of the pan/tilt capabilities when given in degrees.
    """

    def __init__(self, profile: FixtureProfile, spec: _ModeSpec) -> None:
        self.profile = profile
        self.name = spec.name
        self.short_name = spec.short_name
        self.channel_keys = spec.channels
        self.n_channels = len(spec.channels)

        # Logical channels: coarse key -> bytes used and the DMX positions of each byte.
        order: list[str] = []
        positions: dict[str, dict[int, list[int]]] = {}
        for pos, k in enumerate(spec.channels):
            if k is None:
                continue
            coarse, level = profile.resolve(k)
            if coarse not in positions:
                positions[coarse] = {}
                order.append(coarse)
            positions[coarse].setdefault(level, []).append(pos)
        self._logical = order
        self._n_bytes = np.array([max(positions[c]) + 1 for c in order], dtype=np.int64)
        self._max = (256.0**self._n_bytes - 1.0).astype(np.float64)
        writes: list[tuple[int, int, int]] = []  # (logical index, DMX position, shift in bits)
        for i, c in enumerate(order):
            nb = int(self._n_bytes[i])
            for level, plist in positions[c].items():
                writes.extend((i, p, 8 * (nb - 1 - level)) for p in plist)
        self._w_idx = np.array([w[0] for w in writes], dtype=np.int64)
        self._w_pos = np.array([w[1] for w in writes], dtype=np.int64)
        self._w_shift = np.array([w[2] for w in writes], dtype=np.int64)

        defaults = np.array(
            [profile.channels[c].value_at(profile.channels[c].default_value, int(self._n_bytes[i]))
             for i, c in enumerate(order)],
            dtype=np.float64,
        )  # fmt: skip
        self._defaults = defaults
        self._template = np.zeros(self.n_channels, dtype=np.uint8)
        d_int = defaults.astype(np.int64)
        self._template[self._w_pos] = ((d_int[self._w_idx] >> self._w_shift) & 255).astype(np.uint8)

        self.roles: dict[str, str] = {}
        self.pan_range_deg: tuple[float, float] | None = None
        self.tilt_range_deg: tuple[float, float] | None = None
        self._programs: list[_Program] = []
        self._compile()
        self._split_fast()
        self._one = np.zeros((1, _N_STATE), dtype=np.float64)

    # -- compile -------------------------------------------------------------------------------

    def _dominant(self, ch: Channel) -> str:
        weight: dict[str, int] = {}
        for cap in ch.capabilities:
            t = cap.type
            if t == "ColorIntensity":
                role = f"emitter:{cap.props['color']}"
            elif t == "Intensity":
                role = "dimmer"
            elif t in ("ShutterStrobe", "StrobeSpeed"):
                role = "strobe"
            elif t in ("Pan", "Tilt", "Zoom"):
                role = t.lower()
            elif t.startswith("Wheel") and self._is_color_wheel(str(cap.props.get("wheel", ""))):
                role = "color-wheel"
            elif t == "ColorPreset" and cap.props.get("colors"):
                role = "color-preset"
            else:
                role = "other"
            weight[role] = weight.get(role, 0) + cap.dmx_range[1] - cap.dmx_range[0] + 1
        return max(weight, key=lambda r: weight[r]) if weight else "other"

    def _is_color_wheel(self, name: str) -> bool:
        wheel = self.profile.wheels.get(name)
        return wheel is not None and any(s.type == "Color" and s.colors for s in wheel.slots)

    def _slot_color(self, cap: Capability) -> F64 | None:
        wheel = self.profile.wheels.get(str(cap.props.get("wheel", "")))
        n = cap.props.get("slotNumber")
        if wheel is None or not isinstance(n, int | float) or float(n) != int(n) or not 1 <= n <= len(wheel.slots):
            return None
        slot = wheel.slots[int(n) - 1]
        if slot.type == "Open":
            return np.ones(3)
        if slot.type == "Color" and slot.colors:
            return np.mean([_hex_to_linear(h) for h in slot.colors], axis=0)  # type: ignore[no-any-return]
        return None

    def _compile(self) -> None:
        prof = self.profile
        chans = [prof.channels[c] for c in self._logical]
        roles = [self._dominant(ch) for ch in chans]
        if any(ch.constant for ch in chans):
            roles = ["other" if ch.constant else r for ch, r in zip(chans, roles, strict=True)]
        has = {t: [any(cap.type in t for cap in ch.capabilities) for ch in chans] for t in ("Intensity", "Strobe")}
        dimmers = [i for i, r in enumerate(roles) if r == "dimmer"]
        strobes = [i for i, r in enumerate(roles) if r == "strobe"]
        use_dim = set(dimmers) or {i for i, r in enumerate(roles) if r == "strobe" and has["Intensity"][i]}
        use_strobe = set(strobes) or {i for i in dimmers if has["Strobe"][i]}
        self.has_dimmer = bool(use_dim)

        colors = {r.split(":", 1)[1] for r in roles if r.startswith("emitter:")}
        if {"Red", "Green", "Blue"} <= colors:
            self.mixing = "rgb"
        elif {"Cyan", "Magenta", "Yellow"} <= colors:
            self.mixing = "cmy"
        elif colors:
            self.mixing = "mono"
        else:
            self.mixing = "none"
        self._colors = frozenset(colors)
        palette_idx = [i for i, r in enumerate(roles) if r == "color-wheel"] or [
            i for i, r in enumerate(roles) if r == "color-preset"
        ]
        self._palette = self.mixing in ("mono", "none") and bool(palette_idx)

        for i, (ch, role) in enumerate(zip(chans, roles, strict=True)):
            nb = int(self._n_bytes[i])
            prog = _Program(index=i, role=role, const=float(self._defaults[i]))
            if role.startswith("emitter:"):
                prog.source = EMITTER_COLORS.index(role.split(":", 1)[1])
                prog.segs = self._level_segs(ch, nb, "ColorIntensity", role.split(":", 1)[1])
            elif i in use_dim:
                prog.role = "dimmer"
                prog.source = _SRC_DIM
                prog.segs = self._level_segs(ch, nb, "Intensity", None)
            elif role in ("pan", "tilt"):
                segs, rng = self._angle_segs(ch, nb, role.capitalize())
                prog.source = _SRC_PAN if role == "pan" else _SRC_TILT
                prog.segs = segs
                if role == "pan" and self.pan_range_deg is None:
                    self.pan_range_deg = rng
                if role == "tilt" and self.tilt_range_deg is None:
                    self.tilt_range_deg = rng
            elif role == "zoom":
                prog.source = _SRC_ZOOM
                prog.segs = self._zoom_segs(ch, nb)
            elif role in ("color-wheel", "color-preset") and self._palette and i == palette_idx[0]:
                lab, dmx = self._palette_table(ch, nb)
                prog.palette_lab, prog.palette_dmx = lab, dmx
            elif role == "strobe":
                opens = [c for c in ch.capabilities if c.type == "ShutterStrobe" and c.props["shutterEffect"] == "Open"]
                if opens:
                    prog.const = float(sum(ch.range_at(opens[0], nb)) // 2)
            else:
                continue
            if i in use_strobe:
                ss = self._strobe_segs(ch, nb)
                if len(ss):
                    prog.strobe_segs = ss
                    prog.role = "dimmer+strobe" if prog.source == _SRC_DIM else "strobe"
            if prog.source >= 0 or prog.palette_lab is not None or prog.strobe_segs is not None or role == "strobe":
                self._programs.append(prog)
                self.roles[ch.key] = prog.role

    @staticmethod
    def _level_segs(ch: Channel, nb: int, ctype: str, color: str | None) -> F64:
        rows = []
        for cap in ch.capabilities:
            if cap.type != ctype or (color is not None and cap.props.get("color") != color):
                continue
            b0, b1 = _start_end(cap.props, "brightness", _brightness)
            d0, d1 = ch.range_at(cap, nb)
            rows.append((0.0 if b0 is None else b0, 1.0 if b1 is None else b1, float(d0), float(d1)))
        # Varying ranges first, so a constant "off" point does not shadow a fade through it.
        rows.sort(key=lambda r: r[0] == r[1])
        return np.array(rows, dtype=np.float64).reshape(-1, 4)

    @staticmethod
    def _angle_segs(ch: Channel, nb: int, ctype: str) -> tuple[F64, tuple[float, float] | None]:
        caps = [c for c in ch.capabilities if c.type == ctype]
        ends = [_start_end(c.props, "angle", _num) for c in caps]
        degs = [v[0] for e in ends for v in e if v is not None and v[1] == "deg"]
        lo, hi = (min(degs), max(degs)) if degs else (0.0, 100.0)
        span = hi - lo if hi > lo else 1.0
        rows = []
        for cap, (a0, a1) in zip(caps, ends, strict=True):
            d0, d1 = ch.range_at(cap, nb)

            def u(a: tuple[float, str] | None, dflt: float) -> float:
                if a is None:
                    return dflt
                return (a[0] - lo) / span if a[1] == "deg" else a[0] / 100.0

            rows.append((u(a0, 0.0), u(a1, 1.0), float(d0), float(d1)))
        return np.array(rows, dtype=np.float64).reshape(-1, 4), ((lo, hi) if degs and hi > lo else None)

    @staticmethod
    def _zoom_segs(ch: Channel, nb: int) -> F64:
        caps = [c for c in ch.capabilities if c.type == "Zoom"]
        words = {"closed": ("u", 0.0), "narrow": ("u", 0.0), "wide": ("u", 1.0)}

        def parse(v: object) -> tuple[str, float] | None:
            if isinstance(v, str) and v in words:
                return words[v]
            n = _num(v)
            if n is None:
                return None
            return ("deg", n[0]) if n[1] == "deg" else ("u", n[0] / 100.0)

        ends = [_start_end(c.props, "angle", parse) for c in caps]
        degs = [v[1] for e in ends for v in e if v is not None and v[0] == "deg"]
        lo, hi = (min(degs), max(degs)) if degs else (0.0, 1.0)
        span = hi - lo if hi > lo else 1.0
        rows = []
        for cap, (a0, a1) in zip(caps, ends, strict=True):
            d0, d1 = ch.range_at(cap, nb)

            def u(a: tuple[str, float] | None, dflt: float) -> float:
                if a is None:
                    return dflt
                return (a[1] - lo) / span if a[0] == "deg" else a[1]

            rows.append((u(a0, 0.0), u(a1, 1.0), float(d0), float(d1)))
        rows.sort(key=lambda r: r[0] == r[1])
        return np.array(rows, dtype=np.float64).reshape(-1, 4)

    @staticmethod
    def _strobe_segs(ch: Channel, nb: int) -> F64:
        timed: list[tuple[float, float, float, float]] = []
        untimed: list[tuple[float, float, float, float]] = []
        for effect in ("Strobe", "Pulse"):
            for cap in ch.capabilities:
                p = cap.props
                if cap.type == "ShutterStrobe" and (
                    p["shutterEffect"] != effect or p.get("soundControlled") or p.get("randomTiming")
                ):
                    continue
                if cap.type not in ("ShutterStrobe", "StrobeSpeed"):
                    continue
                d0, d1 = ch.range_at(cap, nb)
                s0, s1 = _start_end(p, "speed", _speed_hz)
                if s0 is not None and s1 is not None:
                    timed.append((s0, s1, float(d0), float(d1)))
                else:
                    mid = float((d0 + d1) // 2)
                    untimed.append((0.0, math.inf, mid, mid))
            if timed or untimed:
                break
        rows = timed or untimed[:1]
        rows.sort(key=lambda r: r[0] == r[1])
        return np.array(rows, dtype=np.float64).reshape(-1, 4)

    def _palette_table(self, ch: Channel, nb: int) -> tuple[F64, F64]:
        cols: list[F64] = []
        dmx: list[float] = []
        for cap in ch.capabilities:
            if cap.type == "WheelSlot":
                c = self._slot_color(cap)
            elif cap.type == "ColorPreset" and cap.props.get("colors"):
                c = np.mean([_hex_to_linear(str(h)) for h in cap.props["colors"]], axis=0)
            else:
                c = None
            if c is None:
                continue
            m = float(np.max(c))
            cols.append(c / m if m > 0 else np.ones(3))
            d0, d1 = ch.range_at(cap, nb)
            dmx.append(float((d0 + d1) // 2))
        return _oklab(np.array(cols)), np.array(dmx, dtype=np.float64)

    def _split_fast(self) -> None:
        """Single-segment channels without strobe are evaluated together, in one pass."""
        fast = [
            p for p in self._programs
            if p.source >= 0 and p.segs.shape[0] == 1 and p.strobe_segs is None and p.palette_lab is None
        ]  # fmt: skip
        self._slow = [p for p in self._programs if p not in fast]
        seg = np.array([p.segs[0] for p in fast], dtype=np.float64).reshape(-1, 4)
        x0, x1, d0, d1 = seg.T
        self._f_idx = np.array([p.index for p in fast], dtype=np.int64)
        self._f_src = np.array([p.source for p in fast], dtype=np.int64)
        self._f_lo = np.minimum(x0, x1)
        self._f_hi = np.maximum(x0, x1)
        self._f_x0 = x0
        self._f_d0 = d0
        with np.errstate(divide="ignore", invalid="ignore"):
            self._f_slope = np.where(x1 != x0, (d1 - d0) / np.where(x1 != x0, x1 - x0, 1.0), 0.0)
        self._f_const = np.array([p.const for p in fast], dtype=np.float64)

    # -- render --------------------------------------------------------------------------------

    def render(self, state: FixtureState, out: U8) -> None:
        """Write the mode's bytes for ``state`` into ``out``.

        Parameters
        ----------
        state : FixtureState
        out : ndarray, shape (n_channels,), uint8
            A view of the fixture's slots in its universe; written in place.
        """
        state.write_row(self._one[0])
        self.render_many(self._one, out[np.newaxis, :])

    def render_many(self, states: F64, out: U8) -> None:
        """Render several fixtures of this mode at once.

        Parameters
        ----------
        states : ndarray, shape (N, 10), float64
            One row per fixture, columns `STATE_COLUMNS` (NaN: leave at the default).
        out : ndarray, shape (N, n_channels), uint8
            Written in place.
        """
        n = states.shape[0]
        out[:] = self._template
        if not self._programs:
            return
        src, chroma = self._sources(states)
        vals = np.broadcast_to(self._defaults, (n, len(self._logical))).copy()
        if self._f_idx.size:
            x = src[:, self._f_src]
            v = self._f_d0 + (np.clip(x, self._f_lo, self._f_hi) - self._f_x0) * self._f_slope
            vals[:, self._f_idx] = np.where(np.isnan(x), self._f_const, v)
        hz = src[:, _SRC_HZ]
        for p in self._slow:
            if p.palette_lab is not None and p.palette_dmx is not None:
                lab = _oklab(chroma)
                d = ((lab[:, None, :] - p.palette_lab[None, :, :]) ** 2).sum(axis=2)
                v = p.palette_dmx[np.argmin(d, axis=1)]
            elif p.source >= 0:
                x = src[:, p.source]
                v = np.where(np.isnan(x), p.const, _eval_segments(np.nan_to_num(x), p.segs))
            else:
                v = np.full(n, p.const)
            if p.strobe_segs is not None:
                v = np.where(hz > 0.0, _eval_segments(hz, p.strobe_segs), v)
            vals[:, p.index] = v
        ints = np.clip(np.rint(vals), 0.0, self._max).astype(np.int64)
        out[:, self._w_pos] = ((ints[:, self._w_idx] >> self._w_shift) & 255).astype(np.uint8)

    def _sources(self, states: F64) -> tuple[F64, F64]:
        """Source columns (emitter levels, dimmer, Hz, pan/tilt/zoom 0..1) and chroma (rgb / max)."""
        n = states.shape[0]
        src = np.zeros((n, _N_SRC), dtype=np.float64)
        rgb = np.clip(np.nan_to_num(states[:, 0:3]), 0.0, 1.0)
        inten = np.clip(np.nan_to_num(states[:, 3]), 0.0, 1.0)
        peak = rgb.max(axis=1)
        safe = np.where(peak > 0.0, peak, 1.0)
        chroma: F64 = np.where(peak[:, None] > 0.0, rgb / safe[:, None], 1.0)
        E = EMITTER_COLORS.index
        level = inten if not self.has_dimmer else np.ones(n)
        if self.mixing == "rgb":
            r, g, b = rgb[:, 0].copy(), rgb[:, 1].copy(), rgb[:, 2].copy()
            if self._colors & set(_WHITES):
                w = np.minimum(np.minimum(r, g), b)
                r -= w
                g -= w
                b -= w
                for c in _WHITES:
                    src[:, E(c)] = w
            if "Amber" in self._colors:
                a = np.minimum(np.minimum(r, 2.0 * g), 1.0)
                r -= a
                g -= 0.5 * a
                src[:, E("Amber")] = a
            src[:, E("Red")], src[:, E("Green")], src[:, E("Blue")] = r, g, b
            src[:, :_N_EMIT] *= level[:, None]
            src[:, _SRC_DIM] = inten
        elif self.mixing == "cmy":
            for k, c in enumerate(("Cyan", "Magenta", "Yellow")):
                src[:, E(c)] = 1.0 - (chroma[:, k] if self.has_dimmer else rgb[:, k] * inten)
            src[:, _SRC_DIM] = inten * peak
        else:
            # Emitters that cannot mix (or none): one level; with a palette the color comes
            # from the wheel or presets, so the level is the color's peak, else its luminance.
            lum = rgb @ np.array(_LUMA) if not self._palette else peak
            for c in self._colors:
                src[:, E(c)] = lum * level
            src[:, _SRC_DIM] = inten * (lum if not self._colors else 1.0)
        src[:, _SRC_HZ] = np.maximum(np.nan_to_num(states[:, 4]), 0.0)
        for col_deg, col_u, dst, rng in (
            (5, 7, _SRC_PAN, self.pan_range_deg),
            (6, 8, _SRC_TILT, self.tilt_range_deg),
        ):
            u = states[:, col_u]
            if rng is not None:
                u = np.where(np.isnan(states[:, col_deg]), u, 0.5 + states[:, col_deg] / (rng[1] - rng[0]))
            src[:, dst] = np.clip(u, 0.0, 1.0)
        src[:, _SRC_ZOOM] = np.clip(states[:, 9], 0.0, 1.0)
        return src, chroma

    def __repr__(self) -> str:
        return f"FixtureMode({self.profile.key!r}, {self.name!r}, n_channels={self.n_channels})"


# --------------------------------------------------------------------------------------------
# Patch
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatchedFixture:
    """A fixture placed in the patch.

    Attributes
    ----------
    name : str
        Unique in the patch.
    mode : FixtureMode
    universe : int, 1..63999
    address : int, 1..512
        First DMX slot (1-based).
    position : tuple of 2 float or None
        ``(x, y)`` in scene coordinates 0..1 (x to the right, y down, like frame rows);
        ``None``: the color comes from the fixture's state.
    area : float, 0..1
        Side of the square averaged around ``position`` (0: the nearest texel).
    """

    name: str
    mode: FixtureMode
    universe: int
    address: int
    position: tuple[float, float] | None
    area: float

    @property
    def last_address(self) -> int:
        """Last DMX slot the fixture takes (1-based)."""
        return self.address + self.mode.n_channels - 1


@dataclass(slots=True)
class _Group:
    mode: FixtureMode
    rows: I64  # fixture indices in the patch
    buf: U8  # (n, n_channels)
    states: F64  # (n, 10)
    by_universe: list[tuple[int, I64, I64]]  # (universe, flat index into buf, slot index)


class Patch:
    """Fixtures placed at DMX addresses and scene positions.

    Examples
    --------
    >>> patch = Patch()  # doctest: +SKIP
    >>> par = load_ofl("ofl/fixtures/generic/rgb-fader.json")  # doctest: +SKIP
    >>> patch.add(par, "8 bit", 1, 1, "par-1", position=(0.5, 0.5))  # doctest: +SKIP
    >>> dmx = patch.new_dmx(); patch.apply(frame, None, dmx)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._fixtures: list[PatchedFixture] = []
        self._by_name: dict[str, int] = {}
        self._states = np.zeros((0, _N_STATE), dtype=np.float64)
        self._groups: list[_Group] = []
        self._frame_shape: tuple[int, int] = (0, 0)
        self._sampled = np.zeros(0, dtype=np.int64)
        self._sample_idx = np.zeros((0, 1), dtype=np.int64)
        self._sample_w = np.zeros((0, 1), dtype=np.float64)
        self._flat_cache: dict[tuple[int, int, int], list[tuple[I64, I64]]] = {}
        self._sampled_any = False

    @property
    def fixtures(self) -> tuple[PatchedFixture, ...]:
        """Patched fixtures in the order they were added."""
        return tuple(self._fixtures)

    @property
    def universes(self) -> tuple[int, ...]:
        """Universes the patch writes, sorted."""
        return tuple(sorted({f.universe for f in self._fixtures}))

    def add(
        self,
        profile: FixtureProfile,
        mode: str,
        universe: int,
        address: int,
        name: str,
        position: tuple[float, float] | None = (0.5, 0.5),
        *,
        area: float = 0.0,
        state: FixtureState | None = None,
    ) -> PatchedFixture:
        """Place a fixture.

        Parameters
        ----------
        profile : FixtureProfile
        mode : str
            Mode name or short name.
        universe : int, 1..63999
        address : int, 1..512
            First slot; the whole mode must fit in the universe.
        name : str
            Unique in the patch.
        position : tuple of 2 float in 0..1, or None
            Where the fixture samples the frame; ``None`` uses ``state.rgb``.
        area : float, 0..1
            Side of the square around ``position`` whose texels are averaged.
        state : FixtureState, optional
            Initial state (default: white, full intensity, shutter open).

        Raises
        ------
        FixtureError
            Unknown mode, address or universe out of range, the fixture does not fit in
            the universe, its slots overlap another fixture's (both are named), or the
            name is taken.
        """
        fm = profile.mode(mode)
        if name in self._by_name:
            raise FixtureError(f"a fixture called {name!r} is already patched")
        if not 1 <= universe <= _UNIVERSE_MAX:
            raise FixtureError(f"fixture {name!r}: universe {universe} is outside 1..{_UNIVERSE_MAX}")
        if not 1 <= address <= 512:
            raise FixtureError(f"fixture {name!r}: address {address} is outside 1..512")
        last = address + fm.n_channels - 1
        if last > 512:
            raise FixtureError(
                f"fixture {name!r}: {fm.n_channels} channels from address {address} end at {last}, "
                "past slot 512 of the universe"
            )
        for other in self._fixtures:
            if other.universe == universe and address <= other.last_address and other.address <= last:
                raise FixtureError(
                    f"fixture {name!r} (universe {universe}, slots {address}..{last}) overlaps fixture "
                    f"{other.name!r} (slots {other.address}..{other.last_address})"
                )
        if position is not None and not all(0.0 <= float(v) <= 1.0 for v in position):
            raise FixtureError(f"fixture {name!r}: position {position} is outside 0..1")
        if not 0.0 <= area <= 1.0:
            raise FixtureError(f"fixture {name!r}: area {area} is outside 0..1")
        pf = PatchedFixture(name, fm, universe, address, None if position is None else
                            (float(position[0]), float(position[1])), float(area))  # fmt: skip
        self._by_name[name] = len(self._fixtures)
        self._fixtures.append(pf)
        row = np.zeros((1, _N_STATE), dtype=np.float64)
        (state or FixtureState()).write_row(row[0])
        self._states = np.concatenate([self._states, row])
        self._rebuild()
        return pf

    def set_state(self, name: str, state: FixtureState) -> None:
        """Replace a fixture's stored state (kept until replaced again)."""
        try:
            i = self._by_name[name]
        except KeyError:
            raise FixtureError(f"no patched fixture {name!r}{did_you_mean(name, self._by_name)}") from None
        state.write_row(self._states[i])

    def new_dmx(self) -> dict[int, U8]:
        """Zeroed DMX buffers, one ``uint8[512]`` per universe the patch uses."""
        return {u: np.zeros(512, dtype=np.uint8) for u in self.universes}

    def _rebuild(self) -> None:
        # Fixtures of the same file and mode render together, even from separately loaded profiles.
        by_mode: dict[tuple[str, str, str], list[int]] = {}
        for i, f in enumerate(self._fixtures):
            by_mode.setdefault((f.mode.profile.path, f.mode.profile.key, f.mode.name), []).append(i)
        self._groups = []
        for rows_list in by_mode.values():
            rows = np.array(rows_list, dtype=np.int64)
            fm = self._fixtures[rows_list[0]].mode
            n_ch = fm.n_channels
            per_u: dict[int, tuple[list[int], list[int]]] = {}
            for k, i in enumerate(rows_list):
                f = self._fixtures[i]
                src, dst = per_u.setdefault(f.universe, ([], []))
                src.extend(range(k * n_ch, (k + 1) * n_ch))
                dst.extend(range(f.address - 1, f.address - 1 + n_ch))
            by_u = [(u, np.array(s, dtype=np.int64), np.array(d, dtype=np.int64)) for u, (s, d) in per_u.items()]
            self._groups.append(
                _Group(fm, rows, np.zeros((len(rows_list), n_ch), dtype=np.uint8),
                       np.zeros((len(rows_list), _N_STATE), dtype=np.float64), by_u)  # fmt: skip
            )
        self._frame_shape = (0, 0)
        self._flat_cache.clear()
        self._sampled_any = any(f.position is not None for f in self._fixtures)

    def _prepare_sampling(self, fh: int, fw: int) -> None:
        sampled = [i for i, f in enumerate(self._fixtures) if f.position is not None]
        cells: list[list[int]] = []
        for i in sampled:
            f = self._fixtures[i]
            assert f.position is not None
            x, y = f.position
            half = f.area / 2.0
            c0 = min(fw - 1, max(0, math.floor((x - half) * fw)))
            c1 = min(fw - 1, max(c0, math.ceil((x + half) * fw) - 1)) if half > 0 else min(fw - 1, int(x * fw))
            r0 = min(fh - 1, max(0, math.floor((y - half) * fh)))
            r1 = min(fh - 1, max(r0, math.ceil((y + half) * fh) - 1)) if half > 0 else min(fh - 1, int(y * fh))
            if half == 0:
                c0, r0 = c1, r1
            cells.append([r * fw + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)])
        k = max((len(c) for c in cells), default=1)
        idx = np.zeros((len(cells), k), dtype=np.int64)
        w = np.zeros((len(cells), k), dtype=np.float64)
        for j, c in enumerate(cells):
            idx[j, : len(c)] = c
            w[j, : len(c)] = 1.0 / len(c)
        self._sampled = np.array(sampled, dtype=np.int64)
        self._sample_idx, self._sample_w = idx, w
        self._frame_shape = (fh, fw)

    def apply(
        self,
        frame: npt.NDArray[np.float32],
        states: Mapping[str, FixtureState] | None,
        dmx: Mapping[int, U8] | U8,
        *,
        first_universe: int = 1,
    ) -> None:
        """Color every fixture from ``frame`` and render all of them into ``dmx``.

        Parameters
        ----------
        frame : ndarray, shape (H, W, 3), float32, linear 0..1
            Row 0 is the top (``y = 0``).
        states : mapping of str to FixtureState, or None
            New states by fixture name; they replace the stored ones (and persist).
            For fixtures with a position, the frame's color replaces ``rgb``.
        dmx : dict of int to ndarray (512,) uint8, or ndarray (n_universes, 512) uint8
            Written in place; slots no fixture uses are left as they are. An array's row
            ``i`` is universe ``first_universe + i``; universes outside it are skipped.
        first_universe : int
            Universe of row 0 when ``dmx`` is an array.
        """
        if states:
            for name, st in states.items():
                self.set_state(name, st)
        if isinstance(dmx, np.ndarray) and not dmx.flags.c_contiguous:
            raise ValueError("dmx must be a C-contiguous (n_universes, 512) uint8 array")
        if self._sampled_any:
            fh, fw = frame.shape[0], frame.shape[1]
            if (fh, fw) != self._frame_shape:
                self._prepare_sampling(fh, fw)
            flat = frame.reshape(-1, 3)
            colors = np.einsum("nk,nkc->nc", self._sample_w, flat[self._sample_idx].astype(np.float64))
            self._states[self._sampled, 0:3] = colors
        for g in self._groups:
            np.take(self._states, g.rows, axis=0, out=g.states)
            g.mode.render_many(g.states, g.buf)
            flat_buf = g.buf.reshape(-1)
            if isinstance(dmx, np.ndarray):
                for src, dst in self._flat_targets(g, dmx.shape[0], first_universe):
                    dmx.reshape(-1)[dst] = flat_buf[src]
            else:
                for u, src, slots in g.by_universe:
                    target = dmx.get(u)
                    if target is not None:
                        target[slots] = flat_buf[src]

    def _flat_targets(self, g: _Group, n_rows: int, first: int) -> list[tuple[I64, I64]]:
        key = (id(g), n_rows, first)
        cached = self._flat_cache.get(key)
        if cached is None:
            cached = [
                (src, (u - first) * 512 + slots) for u, src, slots in g.by_universe if 0 <= u - first < n_rows
            ]
            self._flat_cache[key] = cached
        return cached


# --------------------------------------------------------------------------------------------
# Checking files
# --------------------------------------------------------------------------------------------


def _fixture_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*.json") if q.is_file()))
        else:
            files.append(p)
    return files


def _is_schema_or_index(p: Path) -> bool:
    if p.name == "manufacturers.json":
        return True
    try:
        head = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and str(head.get("$schema", "")).startswith(_SCHEMA_URL_PREFIXES)


def check_paths(paths: Sequence[str | Path]) -> tuple[list[str], int, int]:
    """Load OFL fixture files and folders (recursively) and report the ones that fail.

    Parameters
    ----------
    paths : sequence of str or Path
        Files, or folders searched for ``*.json`` (``manufacturers.json`` and JSON schema
        files are skipped).

    Returns
    -------
    problems : list of str
        One ``path: reason`` line per failing file.
    n_ok, n_failed : int
    """
    problems: list[str] = []
    n_ok = 0
    for p in _fixture_files(paths):
        if p.exists() and _is_schema_or_index(p):
            continue
        try:
            prof = load_ofl(p)
            for m in prof.mode_names:
                prof.mode(m)
        except FixtureError as e:
            msg = str(e)
            problems.append(msg if msg.startswith(str(p)) else f"{p}: {msg}")
            continue
        n_ok += 1
    return problems, n_ok, len(problems)

