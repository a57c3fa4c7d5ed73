"""Show file schema, version 2: strict, frozen pydantic models.

Layer: show. Threads: any thread except the audio thread (validation allocates); in practice
the main thread at start-up and the control thread on a live reload. The models are frozen,
so a validated `ShowConfig` can be handed to other threads as it is.

Every model forbids unknown keys (``extra="forbid"``), uses strict types (a quoted ``"5568"``
is not a port number; ``1`` is accepted where a float is expected) and rejects NaN and
infinities. Every field has a default except `ShowConfig.version`, so the smallest show file
is ``version: 2``. Version 1 files are migrated on reading (`lumen.show.migrate`). Files are read by `lumen.show.load`, which reports errors with
``file:line:col``.
"""

from __future__ import annotations

import ipaddress
import re
from contextvars import ContextVar
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lumen.control.commands import COMMANDS, TEMPO_SOURCES
from lumen.errors import did_you_mean
from lumen.scene.expr import FEATURE_NAMES, ExprError, compile_expr

__all__ = [
    "COMMAND_NAMES",
    "CURRENT_VERSION",
    "RIG_KEYS",
    "SUPPORTED_VERSIONS",
    "ActionConfig",
    "AutomationConfig",
    "ConsoleConfig",
    "ControlConfig",
    "CueConfig",
    "MidiBindingConfig",
    "MidiConfig",
    "OscConfig",
    "RuleConfig",
    "AnalysisConfig",
    "ArtnetOutputConfig",
    "DdpOutputConfig",
    "AudioConfig",
    "FixtureConfig",
    "Binding",
    "EffectConfig",
    "EnvelopeConfig",
    "LayerConfig",
    "LfoConfig",
    "ModulatorConfig",
    "SceneGraphConfig",
    "SmoothConfig",
    "TransitionConfig",
    "MAIN_SCENE",
    "OutputConfig",
    "RenderConfig",
    "SacnOutputConfig",
    "SafetyConfig",
    "SceneConfig",
    "ShowConfig",
    "PointsConfig",
    "SignalConfig",
    "StripConfig",
    "StripsConfig",
    "WallConfig",
]

#: Show file versions this lumen reads.
SUPPORTED_VERSIONS: Final[tuple[int, ...]] = (1, 2)
#: The version this lumen writes; older files are migrated when read (`lumen.show.migrate`).
CURRENT_VERSION: Final[int] = 2
#: Top-level keys that describe the venue (the rig), not the programming: a show may keep
#: them in a separate rig file (``rig: venue.yaml``) so it moves between venues.
RIG_KEYS: Final[tuple[str, ...]] = (
    "audio", "wall", "strips", "points", "safety", "fixture_library", "fixtures", "outputs", "consoles",
)
#: Commands a mapping may name (`lumen.control.commands.COMMANDS`), in documentation order.
COMMAND_NAMES: Final[tuple[str, ...]] = tuple(COMMANDS)
#: Events an automation rule or a console cue can be fired by.
SHOW_EVENTS: Final[tuple[str, ...]] = ("drop", "break", "build", "section")

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _fail(kind: str, message: str, **ctx: object) -> PydanticCustomError:
    """A validation error of type ``kind`` whose message is ``message``, verbatim."""
    return PydanticCustomError(kind, "{message}", {"message": message, **ctx})


class _Model(BaseModel):
    """Base of every show model: strict, frozen, no unknown keys, finite floats."""

    model_config = _STRICT


# --------------------------------------------------------------------------- audio


class SignalConfig(_Model):
    """The generated test music used when ``audio.source`` is ``signal``."""

    bpm: float = Field(
        default=124.0, ge=40.0, le=240.0, description="Tempo, beats per minute, 40..240."
    )
    swing: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="Swing: delay of off-beat sixteenths, fraction of a step, 0..0.5.",
    )
    seed: int = Field(
        default=1, ge=0, le=2**32 - 1, description="Random seed of the generator, 0..4294967295."
    )
    key: int = Field(
        default=9, ge=0, le=11, description="Tonic pitch class, 0 = C .. 11 = B (9 = A)."
    )
    mode: Literal["major", "minor"] = Field(
        default="minor", description="Scale mode: major | minor."
    )


class AudioConfig(_Model):
    """Where the music comes from."""

    source: Literal["signal", "device", "file"] = Field(
        default="signal",
        description="Audio source: signal (generated test music) | device (sound card) | file.",
    )
    device: str | Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description=(
            "Input device when source is device: a substring of a device name or a host API "
            "name, or a device index >= 0; null = the default input."
        ),
    )
    file: str | None = Field(
        default=None,
        min_length=1,
        validate_default=True,
        description=(
            "Audio file when source is file (required then); a relative path resolves against "
            "the show file's directory."
        ),
    )
    sr: int = Field(default=48000, ge=8000, le=192000, description="Sample rate, Hz, 8000..192000.")
    blocksize: int = Field(
        default=256, ge=16, le=4096, description="Frames per audio callback, 16..4096."
    )
    channels: int = Field(default=2, ge=1, le=32, description="Input channels, 1..32.")
    signal: SignalConfig = Field(
        default_factory=SignalConfig,
        description="Generated music settings, used when source is signal.",
    )

    @field_validator("file")
    @classmethod
    def _file_when_source_is_file(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None and info.data.get("source") == "file":
            raise _fail("required", "required when source is 'file'")
        return v


# --------------------------------------------------------------------------- analysis


class AnalysisConfig(_Model):
    """Which analyzers run, and their shared settings."""

    analyzers: tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        default=("levels", "onset", "beat", "mood", "structure"),
        min_length=1,
        strict=False,  # YAML gives a list; a list is the natural input for a tuple here
        description=(
            "Analyzer names, run in this order; non-empty and unique (the names are checked "
            "against the analyzer registry when the show starts)."
        ),
    )
    tempo_min_bpm: float = Field(
        default=70.0,
        ge=40.0,
        le=240.0,
        description="Slowest tempo the tracker reports, BPM, 40..240.",
    )
    tempo_max_bpm: float = Field(
        default=180.0,
        ge=40.0,
        le=240.0,
        validate_default=True,
        description="Fastest tempo the tracker reports, BPM, 40..240, above tempo_min_bpm.",
    )

    @field_validator("analyzers")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for name in v:
            if name in seen:
                raise _fail("duplicate", f"analyzer {name!r} is listed twice")
            seen.add(name)
        return v

    @field_validator("tempo_max_bpm")
    @classmethod
    def _above_min(cls, v: float, info: ValidationInfo) -> float:
        lo = info.data.get("tempo_min_bpm")
        if lo is not None and v <= lo:
            raise _fail("range", f"must be above tempo_min_bpm ({lo})")
        return v


# --------------------------------------------------------------------------- scene


def _check_binding(v: str | float) -> str | float:
    try:
        compile_expr(v, FEATURE_NAMES)
    except ExprError as exc:
        raise _fail("binding", f"bad binding: {exc.message}", expr_col=exc.col) from None
    return v


def _check_param_name(v: str) -> str:
    if not _IDENTIFIER.fullmatch(v):
        raise _fail(
            "param_name",
            f"param name {v!r} is not an identifier (letters, digits and '_', "
            "not starting with a digit)",
        )
    return v


#: A parameter binding: a number, or an expression string over `FEATURE_NAMES` (see
#: `lumen.scene.expr`), kept as written and checked with `compile_expr` when validated.
Binding = Annotated[str | float, AfterValidator(_check_binding)]

_ParamName = Annotated[str, AfterValidator(_check_param_name)]


class SceneConfig(_Model):
    """What is drawn."""

    shader: str = Field(
        default="pulse.fs",
        min_length=1,
        description=(
            "Shader file; a relative path resolves against the show file's directory, then "
            "the repository's shaders/ directory."
        ),
    )
    params: dict[_ParamName, Binding] = Field(
        default_factory=dict,
        description=(
            "Shader parameter name -> binding: a number, or an expression over feature names "
            "such as '0.2 + 0.8 * energy' (evaluated every frame)."
        ),
    )


#: Name of the one-layer scene a show's ``scene:`` section describes.
MAIN_SCENE: Final[str] = "main"

#: Modulator names of the scene being validated (set by `SceneGraphConfig` around its fields).
_MODULATOR_NAMES: ContextVar[frozenset[str]] = ContextVar("lumen_modulator_names", default=frozenset())


def _check_scene_binding(v: str | float) -> str | float:
    try:
        compile_expr(v, FEATURE_NAMES | _MODULATOR_NAMES.get())
    except ExprError as exc:
        raise _fail("binding", f"bad binding: {exc.message}", expr_col=exc.col) from None
    return v


def _check_modulator_name(v: str) -> str:
    _check_param_name(v)
    if v in FEATURE_NAMES or v in ("pi", "tau"):
        raise _fail("param_name", f"modulator name {v!r} is taken by a feature or constant; pick another")
    return v


def _check_scene_name(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", v):
        raise _fail("param_name", f"scene name {v!r} must be letters, digits, '_', '-' or '.' (no spaces)")
    return v


#: A binding inside a scene: like `Binding`, and it may also read the scene's modulators.
SceneBinding = Annotated[str | float, AfterValidator(_check_scene_binding)]
_ModulatorName = Annotated[str, AfterValidator(_check_modulator_name)]
_SceneName = Annotated[str, AfterValidator(_check_scene_name)]


class EffectConfig(_Model):
    """A filter shader in an effect chain (it gets the image before it as ``inputImage``)."""

    name: _SceneName | None = Field(
        default=None,
        description="Node name for live control (OSC /lumen/param/<scene>/<layer>.<name>/<param>); null = fx<n> (1-based).",
    )
    shader: str = Field(
        min_length=1,
        description="Filter shader file (e.g. effects/feedback.fs); resolved like scene.shader.",
    )
    params: dict[_ParamName, SceneBinding] = Field(
        default_factory=dict,
        description="Shader parameter name -> number, or expression over features and the scene's modulators.",
    )


class LayerConfig(_Model):
    """One layer of a scene: a source shader, its effect chain, opacity and blend mode."""

    name: _SceneName | None = Field(
        default=None,
        description="Node name for live control (OSC /lumen/param/<scene>/<name>/<param>); null = layer<n> (1-based).",
    )
    shader: str = Field(
        min_length=1,
        description=(
            "Source shader file: a generator, or a filter that then gets the layers below as "
            "inputImage; resolved like scene.shader."
        ),
    )
    params: dict[_ParamName, SceneBinding] = Field(
        default_factory=dict,
        description="Shader parameter name -> number, or expression over features and the scene's modulators.",
    )
    opacity: SceneBinding = Field(
        default=1.0,
        description="Opacity over the layers below, 0..1 (clamped): number or expression.",
    )
    blend: Literal["normal", "add", "screen", "multiply", "difference", "lighten"] = Field(
        default="normal",
        description="Blend mode over the layers below: normal | add | screen | multiply | difference | lighten.",
    )
    speed: SceneBinding = Field(
        default=1.0,
        description=(
            "Time scale of this layer's shaders, -16..16 (clamped): number or expression. Their TIME "
            "integrates it, so a music-bound speed ('0.5 + energy') speeds motion up smoothly, never jumps."
        ),
    )
    effects: tuple[EffectConfig, ...] = Field(
        default=(),
        strict=False,  # YAML gives a list
        description="Filters applied in order to this layer's image before it is blended.",
    )


class LfoConfig(_Model):
    """A beat-synced LFO: a periodic wave locked to the music clock."""

    type: Literal["lfo"] = Field(description="Modulator type tag: lfo.")
    shape: Literal["sine", "triangle", "saw", "square", "random"] = Field(
        default="sine", description="Wave shape: sine | triangle | saw | square | random (new value each period)."
    )
    period_beats: float = Field(
        default=4.0, gt=0.0, le=1024.0, description="One cycle every this many beats, >0..1024 (1 = beat, 4 = bar, 16 = phrase)."
    )
    phase: float = Field(default=0.0, ge=0.0, le=1.0, description="Phase offset, cycles, 0..1.")
    low: float = Field(default=0.0, ge=-1e6, le=1e6, description="Output at the bottom of the wave, -1e6..1e6.")
    high: float = Field(default=1.0, ge=-1e6, le=1e6, description="Output at the top of the wave, -1e6..1e6.")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of the random shape, 0..4294967295.")


class EnvelopeConfig(_Model):
    """An attack/release envelope fired by a musical event."""

    type: Literal["envelope"] = Field(description="Modulator type tag: envelope.")
    trigger: Literal["beat", "downbeat", "bar", "phrase", "onset", "drop"] = Field(
        default="beat",
        description="What fires it: beat | downbeat | bar | phrase (4 bars) | onset | drop (section becomes drop).",
    )
    attack_s: float = Field(default=0.0, ge=0.0, le=60.0, description="Rise time to the peak, s, 0..60.")
    release_s: float = Field(default=0.25, ge=0.0, le=60.0, description="Fall time back to rest, s, 0..60.")
    low: float = Field(default=0.0, ge=-1e6, le=1e6, description="Value at rest, -1e6..1e6.")
    high: float = Field(default=1.0, ge=-1e6, le=1e6, description="Value at the peak, -1e6..1e6.")


class SmoothConfig(_Model):
    """A one-pole low-pass over an expression."""

    type: Literal["smooth"] = Field(description="Modulator type tag: smooth.")
    input: SceneBinding = Field(description="What is smoothed: an expression over features and the scene's modulators.")
    rise_s: float = Field(default=0.1, ge=0.0, le=60.0, description="Time constant while rising, s, 0..60.")
    fall_s: float = Field(default=0.3, ge=0.0, le=60.0, description="Time constant while falling, s, 0..60.")


#: One modulator; a union discriminated on ``type``.
ModulatorConfig = Annotated[LfoConfig | EnvelopeConfig | SmoothConfig, Field(discriminator="type")]


class TransitionConfig(_Model):
    """How the show changes to a scene."""

    kind: Literal["cut", "crossfade", "wipe", "flash"] = Field(
        default="crossfade", description="Transition: cut | crossfade | wipe | flash (through white)."
    )
    duration_beats: float = Field(
        default=4.0, ge=0.0, le=256.0, description="Length, beats, 0..256 (at 120 BPM when the tempo is unknown; cut ignores it)."
    )
    quantize: Literal["none", "beat", "bar", "phrase"] = Field(
        default="bar", description="Start on the next: none (frame) | beat | bar | phrase (4 bars)."
    )
    direction: Literal["left", "right", "up", "down"] = Field(
        default="left", description="Direction a wipe's edge travels: left | right | up | down."
    )


class SceneGraphConfig(_Model):
    """A named scene: layers, post effects, modulators and its entry transition."""

    layers: tuple[LayerConfig, ...] = Field(
        min_length=1,
        strict=False,  # YAML gives a list
        description="Layers, bottom first; at least one.",
    )
    effects: tuple[EffectConfig, ...] = Field(
        default=(),
        strict=False,
        description="Filters applied in order over the whole composite (e.g. feedback trails).",
    )
    modulators: dict[_ModulatorName, ModulatorConfig] = Field(
        default_factory=dict,
        description="Named modulators (lfo | envelope | smooth); bindings of this scene read them by name.",
    )
    transition: TransitionConfig = Field(
        default_factory=TransitionConfig, description="How the show changes to this scene (unless the caller says otherwise)."
    )

    @model_validator(mode="wrap")
    @classmethod
    def _modulator_names_in_scope(cls, data: Any, handler: ModelWrapValidatorHandler[SceneGraphConfig]) -> SceneGraphConfig:
        # Bindings of this scene may read its modulators: make their names visible to the
        # binding validator while the fields are validated (errors keep their exact location).
        mods = data.get("modulators") if isinstance(data, dict) else None
        names = frozenset(k for k in mods if isinstance(k, str)) if isinstance(mods, dict) else frozenset()
        token = _MODULATOR_NAMES.set(names)
        try:
            return handler(data)
        finally:
            _MODULATOR_NAMES.reset(token)


# --------------------------------------------------------------------------- render, wall


class RenderConfig(_Model):
    """How frames are rendered."""

    fps: float = Field(default=60.0, ge=1.0, le=240.0, description="Frame rate, frames/s, 1..240.")
    width: int | None = Field(
        default=None,
        ge=1,
        le=16384,
        description="Render width, px, 1..16384; null = the wall width.",
    )
    height: int | None = Field(
        default=None,
        ge=1,
        le=16384,
        description="Render height, px, 1..16384; null = the wall height.",
    )


class WallConfig(_Model):
    """The LED wall: size, wiring and color handling."""

    width: int = Field(default=64, ge=1, le=4096, description="Wall width, pixels, 1..4096.")
    height: int = Field(default=32, ge=1, le=4096, description="Wall height, pixels, 1..4096.")
    universe: int = Field(
        default=1,
        ge=1,
        le=63999,
        description="Rig universe of the wall's first pixel, 1..63999 (170 RGB pixels each).",
    )
    origin: Literal["top_left", "top_right", "bottom_left", "bottom_right"] = Field(
        default="top_left", description="Corner of the first pixel on the wire."
    )
    serpentine: bool = Field(
        default=True, description="Every other run is wired in reverse (zig-zag) when true."
    )
    order: Literal["rows", "columns"] = Field(
        default="rows", description="Direction of the first run from the origin: rows | columns."
    )
    color_order: ColorOrder = Field(
        default="RGB", description="Byte order on the wire: any order of RGB (3 bytes) or RGBW (4 bytes)."
    )
    gamma: float = Field(
        default=1.0,
        ge=1.0,
        le=3.0,
        description="Output gamma, 1.0..3.0 (applied at the output stage).",
    )
    brightness: float = Field(
        default=1.0, ge=0.0, le=1.0, description="Brightness cap, fraction of full, 0..1."
    )
    rotation: Literal[0, 90, 180, 270] = Field(default=0, description="Clockwise rotation of the wall in the scene, degrees.")
    flip_h: bool = Field(default=False, description="Mirror left-right (before rotation).")
    flip_v: bool = Field(default=False, description="Mirror top-bottom (before rotation).")
    tiles: tuple[int, int] = Field(
        default=(1, 1),
        strict=False,  # YAML gives a list
        description="Panels across and down; width and height are the whole wall, each panel wired alike.",
    )
    tile_order: Literal["rows", "columns"] = Field(default="rows", description="How the data line visits panels.")
    tile_serpentine: bool = Field(default=False, description="Panel chain zig-zags across rows of panels.")
    start_address: int = Field(default=1, ge=1, le=512, description="DMX address of the first pixel, 1..512.")
    split_pixels: bool = Field(
        default=False, description="Pack all 512 slots, splitting pixels across universes (off: 170 RGB / 128 RGBW)."
    )
    white_balance: tuple[float, float, float] = Field(
        default=(1.0, 1.0, 1.0), strict=False, description="Per-channel gains R, G, B, each 0..1."
    )
    current_budget_a: float | None = Field(
        default=None, gt=0.0, le=10000.0, description="Power budget in amps; frames above it are dimmed uniformly."
    )
    current_ma_per_channel: float = Field(
        default=20.0, gt=0.0, le=1000.0, description="Current of one LED channel at full, mA (for the budget)."
    )
    sampling: Literal["nearest", "area"] = Field(default="nearest", description="Sample the frame at each LED's center, or average an area.")
    area_radius_px: int = Field(default=1, ge=0, le=16, description="Area sampling radius, frame pixels, 0..16.")

    @field_validator("tiles")
    @classmethod
    def _tiles(cls, v: tuple[int, int], info: ValidationInfo) -> tuple[int, int]:
        if not (1 <= v[0] <= 64 and 1 <= v[1] <= 64):
            raise _fail("tiles", f"tiles {list(v)} must be 1..64 panels on each axis")
        w, h = info.data.get("width"), info.data.get("height")
        if isinstance(w, int) and isinstance(h, int) and (w % v[0] or h % v[1]):
            raise _fail("tiles", f"a {w}x{h} wall does not divide into {v[0]}x{v[1]} equal panels")
        return v

    @field_validator("white_balance")
    @classmethod
    def _gains(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(0.0 <= g <= 1.0 for g in v):
            raise _fail("white_balance", f"white_balance {list(v)} gains must be 0..1")
        return v


def _check_color_order(v: str) -> str:
    letters = "RGBW" if len(v) == 4 else "RGB"
    if sorted(v) != sorted(letters):
        raise _fail("color_order", f"{v!r} is not an order of RGB or RGBW (e.g. GRB, GRBW)")
    return v


ColorOrder = Annotated[str, AfterValidator(_check_color_order)]


class StripConfig(_Model):
    """One LED strip or segment chain along a polyline in scene coordinates."""

    points: tuple[Annotated[tuple[float, float], Strict(False)], ...] = Field(
        min_length=2, strict=False, description="Polyline corners, (x, y) in 0..1 (y down); LEDs spread evenly along it."
    )
    n_pixels: int = Field(ge=1, le=100000, description="LEDs on the strip.")
    universe: int | None = Field(default=None, ge=1, le=63999, description="Start in this universe; null: continue the chain.")
    address: int | None = Field(default=None, ge=1, le=512, description="Start at this address (with `universe`).")

    @field_validator("points")
    @classmethod
    def _inside(cls, v: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        if not all(0.0 <= c <= 1.0 for p in v for c in p):
            raise _fail("position", "strip points must lie in 0..1 on both axes (scene coordinates)")
        return v


class StripsConfig(_Model):
    """LED strips patched on consecutive universes."""

    universe: int = Field(default=100, ge=1, le=63999, description="Rig universe of the first strip's first LED.")
    color_order: ColorOrder = Field(default="RGB", description="Byte order on the wire (RGB or RGBW orders).")
    strips: tuple[StripConfig, ...] = Field(min_length=1, strict=False, description="The strips, in wiring order.")


class PointsConfig(_Model):
    """An arbitrary point map from a CSV file (x,y per line; optional universe,address)."""

    csv: str = Field(min_length=1, description="CSV file, relative to the show file.")
    normalize: bool = Field(default=False, description="Scale the points' bounding box to 0..1.")
    universe: int = Field(default=200, ge=1, le=63999, description="Rig universe of the first point (without addresses in the CSV).")
    color_order: ColorOrder = Field(default="RGB", description="Byte order on the wire (RGB or RGBW orders).")


# --------------------------------------------------------------------------- safety


class SafetyConfig(_Model):
    """What stands between the renderer and the wire."""

    flash_limiter: bool = Field(
        default=True,
        description=(
            "Photosensitive-epilepsy flash limiter (at most `max_flashes_per_s` full-field "
            "flashes a second). Turn it off only for shows that accept the risk."
        ),
    )
    max_flashes_per_s: float = Field(
        default=3.0, ge=0.5, le=3.0, description="Full-field flashes allowed per second, 0.5..3 (guideline: 3)."
    )
    grand_master: float = Field(default=1.0, ge=0.0, le=1.0, description="Grand master, 0..1.")
    on_audio_lost: Literal["hold", "fade"] = Field(
        default="fade", description="When audio stops: hold the last look, or fade to `safe_look`."
    )
    audio_lost_after_s: float = Field(
        default=1.0, ge=0.1, le=60.0, description="Seconds without new audio before it counts as lost, 0.1..60."
    )
    fade_s: float = Field(default=3.0, ge=0.0, le=60.0, description="Fade to the safe look, s, 0..60.")
    safe_look: tuple[float, float, float] = Field(
        default=(0.05, 0.04, 0.03),
        strict=False,  # YAML gives a list
        description="The look faded to when audio is lost: linear RGB, each 0..1 (dim and steady).",
    )

    @field_validator("safe_look")
    @classmethod
    def _rgb(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(0.0 <= c <= 1.0 for c in v):
            raise _fail("color", f"safe_look {list(v)} must be three values in 0..1")
        return v


# --------------------------------------------------------------------------- fixtures


def _check_position(v: tuple[float, float]) -> tuple[float, float]:
    if not all(0.0 <= c <= 1.0 for c in v):
        raise _fail("position", f"position {list(v)} must lie in 0..1 on both axes (scene coordinates)")
    return v


class FixtureConfig(_Model):
    """One fixture of the rig, from an Open Fixture Library profile."""

    name: str = Field(min_length=1, description="Unique fixture name, e.g. 'par-left-1'.")
    profile: str = Field(
        min_length=1,
        description=(
            "OFL fixture JSON: a path (relative to the show file), or 'manufacturer/fixture' "
            "inside `fixture_library`."
        ),
    )
    mode: str = Field(min_length=1, description="Mode name or short name from the profile.")
    universe: int = Field(ge=1, le=63999, description="Rig universe, 1..63999.")
    address: int = Field(ge=1, le=512, description="First DMX address, 1..512.")
    position: Annotated[tuple[float, float], AfterValidator(_check_position)] = Field(
        default=(0.5, 0.5),
        strict=False,  # YAML gives a list
        description="Where the fixture sits in the frame, (x, y) in 0..1, y down; its color comes from there.",
    )
    area: float = Field(
        default=0.0, ge=0.0, le=0.5, description="Radius of the sampled area, fraction of the frame, 0..0.5."
    )
    intensity: Binding = Field(default=1.0, description="Intensity 0..1: number or expression over features.")
    strobe_hz: Binding = Field(default=0.0, description="Strobe rate, Hz (0 = shutter open): number or expression.")
    pan_deg: Binding | None = Field(default=None, description="Pan from center, degrees; null = default position.")
    tilt_deg: Binding | None = Field(default=None, description="Tilt from center, degrees; null = default position.")
    zoom: Binding | None = Field(default=None, description="Zoom 0..1; null = default.")


# --------------------------------------------------------------------------- outputs


def _destination(v: str, allowed: bool, flag: str) -> str:
    """Validate a destination IPv4 address; multicast and broadcast only when ``allowed``."""
    try:
        ip = ipaddress.IPv4Address(v)
    except ValueError:
        raise _fail("ip_address", f"{v!r} is not an IPv4 address") from None
    if ip.is_unspecified:
        raise _fail("ip_address", "0.0.0.0 is not a destination address")
    special = ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255")
    if special and not allowed:
        kind = "multicast" if ip.is_multicast else "broadcast"
        raise _fail("ip_address", f"{ip} is a {kind} address; set {flag}: true to send to it")
    return str(ip)


class SacnOutputConfig(_Model):
    """An sACN (E1.31) output: the wall's pixels as DMX universes over UDP."""

    type: Literal["sacn"] = Field(description="Output type tag: sacn.")
    allow_multicast: bool = Field(
        default=False,
        description=(
            "Allow a multicast or broadcast address. Off by default: such traffic reaches every "
            "node on the network."
        ),
    )
    address: str = Field(
        default="127.0.0.1",
        description="Destination IPv4 unicast address (multicast/broadcast need allow_multicast).",
    )
    port: int = Field(default=5568, ge=1, le=65535, description="Destination UDP port, 1..65535.")
    universe: int = Field(
        default=1,
        ge=1,
        le=63999,
        description="sACN universe this output gives rig universe 1 (an offset for the whole rig), 1..63999.",
    )
    priority: int = Field(default=100, ge=0, le=200, description="sACN priority, 0..200.")
    rate_hz: float = Field(
        default=44.0, ge=1.0, le=100.0, description="Packet rate cap per universe, Hz, 1..100."
    )
    latency_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=1000.0,
        description="This output's own latency, ms, 0..1000 (beat-locked events fire early by it).",
    )
    delay_ms: float = Field(
        default=0.0, ge=0.0, le=1000.0, description="Hold this output back, ms, 0..1000 (to land with slower outputs)."
    )
    source_name: str = Field(
        default="lumen", description="Source name shown by receivers, at most 63 UTF-8 bytes."
    )
    sync_universe: int = Field(
        default=0,
        ge=0,
        le=63999,
        description="Universe of E1.31 synchronization packets (0: none); receivers then switch frames together.",
    )
    discovery: bool = Field(
        default=False, description="Send E1.31 universe discovery every 10 s (to the destination when unicast)."
    )

    @field_validator("address")
    @classmethod
    def _unicast(cls, v: str, info: ValidationInfo) -> str:
        return _destination(v, bool(info.data.get("allow_multicast", False)), "allow_multicast")

    @field_validator("source_name")
    @classmethod
    def _name_fits(cls, v: str) -> str:
        n = len(v.encode("utf-8"))
        if n > 63:
            raise _fail("too_long", f"{n} UTF-8 bytes; at most 63 fit")
        return v


class ArtnetOutputConfig(_Model):
    """An Art-Net 4 output: the rig's universes as ArtDmx over UDP."""

    type: Literal["artnet"] = Field(description="Output type tag: artnet.")
    allow_broadcast: bool = Field(
        default=False,
        description="Allow a broadcast address (e.g. 2.255.255.255); off by default: it reaches every node.",
    )
    address: str = Field(
        default="127.0.0.1", description="Destination IPv4 unicast address (broadcast needs allow_broadcast)."
    )
    port: int = Field(default=6454, ge=1, le=65535, description="Destination UDP port, 1..65535.")
    universe: int = Field(
        default=0,
        ge=0,
        le=32767,
        description="15-bit Port-Address (net<<8 | subnet<<4 | universe) this output gives rig universe 1.",
    )
    rate_hz: float = Field(default=44.0, ge=1.0, le=100.0, description="Frame rate cap, Hz, 1..100.")
    latency_ms: float = Field(default=0.0, ge=0.0, le=1000.0, description="This output's own latency, ms, 0..1000.")
    delay_ms: float = Field(
        default=0.0, ge=0.0, le=1000.0, description="Hold this output back, ms, 0..1000 (to land with slower outputs)."
    )
    sync: bool = Field(default=False, description="Send ArtSync after each frame so nodes switch together.")
    poll_reply: bool = Field(
        default=False,
        description="Answer ArtPoll on `poll_bind` port 6454 so consoles discover lumen (needs that port free).",
    )
    poll_bind: str = Field(default="127.0.0.1", description="Local IPv4 address the ArtPoll responder binds to.")

    @field_validator("address")
    @classmethod
    def _unicast(cls, v: str, info: ValidationInfo) -> str:
        v = _destination(v, bool(info.data.get("allow_broadcast", False)), "allow_broadcast")
        if v.endswith(".255") and not info.data.get("allow_broadcast", False):
            raise _fail("ip_address", f"{v} looks like a broadcast address; set allow_broadcast: true to send to it")
        return v


class DdpOutputConfig(_Model):
    """A DDP output (WLED and other pixel controllers): the wall's pixels, 480 per packet."""

    type: Literal["ddp"] = Field(description="Output type tag: ddp.")
    address: str = Field(default="127.0.0.1", description="Destination IPv4 unicast address.")
    port: int = Field(default=4048, ge=1, le=65535, description="Destination UDP port, 1..65535.")
    rate_hz: float = Field(default=44.0, ge=1.0, le=100.0, description="Frame rate cap, Hz, 1..100.")
    latency_ms: float = Field(default=0.0, ge=0.0, le=1000.0, description="This output's own latency, ms, 0..1000.")
    delay_ms: float = Field(
        default=0.0, ge=0.0, le=1000.0, description="Hold this output back, ms, 0..1000 (to land with slower outputs)."
    )

    @field_validator("address")
    @classmethod
    def _unicast(cls, v: str) -> str:
        return _destination(v, False, "allow_multicast")


#: One output; a union discriminated on ``type``.
OutputConfig = Annotated[SacnOutputConfig | ArtnetOutputConfig | DdpOutputConfig, Field(discriminator="type")]


# --------------------------------------------------------------------------- cues, automation


def _check_command(v: str) -> str:
    if v not in COMMAND_NAMES:
        raise _fail("param_name", f"unknown command {v!r}{did_you_mean(v, COMMAND_NAMES)}; commands: {', '.join(COMMAND_NAMES)}")
    return v


_CommandName = Annotated[str, AfterValidator(_check_command)]
_Quantize = Literal["none", "beat", "bar", "phrase"]


class CueConfig(_Model):
    """One cue of the cue list: a scene, and how to get there."""

    number: float = Field(gt=0.0, le=1e6, description="Cue number, as on a console (1, 2, 2.5 …); ascending in the list.")
    scene: _SceneName = Field(description="The scene this cue shows.")
    label: str = Field(default="", description="Label for displays and console feedback.")
    transition: TransitionConfig | None = Field(default=None, description="How to get there; null = the scene's own transition.")
    quantize: _Quantize | None = Field(default=None, description="Overrides the transition's quantization: none | beat | bar | phrase.")
    follow_bars: int | None = Field(
        default=None, ge=1, le=4096, description="Auto-follow: GO to the next cue after this many bars; null = wait for GO."
    )


class RuleConfig(_Model):
    """An automation rule: when something happens in the music, change the look.

    Exactly one trigger (``on`` or ``every_bars``) and one action (``go``, ``rotate`` or
    ``cue``).
    """

    on: Literal["drop", "break", "build", "section"] | None = Field(
        default=None, description="Music event: drop | break | build | section (any section change)."
    )
    section: str | None = Field(default=None, description="With on: section, only a change to this section label.")
    every_bars: int | None = Field(default=None, ge=1, le=4096, description="Fire every N bars (counted on downbeats).")
    when: Binding | None = Field(
        default=None, description="Condition over features, true when > 0.5 (e.g. 'arousal < 0.4'); null = always."
    )
    go: _SceneName | None = Field(default=None, description="Scene to go to.")
    rotate: tuple[_SceneName, ...] | None = Field(
        default=None, min_length=1, strict=False, description="Scenes to step through, one per firing."
    )
    cue: float | Literal["next"] | None = Field(default=None, description="Cue number to fire, or 'next'.")
    quantize: _Quantize | None = Field(default=None, description="Overrides the target's transition quantization.")

    @model_validator(mode="after")
    def _one_trigger_one_action(self) -> RuleConfig:
        if (self.on is None) == (self.every_bars is None):
            raise _fail("required", "give exactly one trigger: 'on' (an event) or 'every_bars'")
        actions = [k for k in ("go", "rotate", "cue") if getattr(self, k) is not None]
        if len(actions) != 1:
            raise _fail("required", "give exactly one action: 'go' (a scene), 'rotate' (scenes) or 'cue'")
        if self.section is not None and self.on != "section":
            raise _fail("required", "'section' only goes with on: section", at_key=("section",))
        return self


class AutomationConfig(_Model):
    """Scene changes driven by the music; a manual command always wins."""

    enabled: bool = Field(default=True, description="Run the rules (OSC /lumen/auto 0|1 switches it live).")
    hold_s: float = Field(
        default=0.0, ge=0.0, le=86400.0,
        description="After a manual scene or cue command, rules wait this long, s; 0 = until released (/lumen/release).",
    )
    min_bars: int = Field(default=4, ge=0, le=4096, description="At least this many bars between two automatic changes.")
    rules: tuple[RuleConfig, ...] = Field(default=(), strict=False, description="Rules, checked in order; the first that fires wins.")


# --------------------------------------------------------------------------- control


def _check_network(v: str) -> str:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        raise _fail("ip_address", f"{v!r} is not an IPv4 address or network (e.g. 192.168.1.0/24)") from None
    return v


def _check_bind(v: str) -> str:
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        raise _fail("ip_address", f"{v!r} is not an IPv4 address (127.0.0.1 = this machine only; 0.0.0.0 = all interfaces)") from None
    return v


_BindAddress = Annotated[str, AfterValidator(_check_bind)]


#: Commands that need an ``arg`` (a scene, a cue number, a parameter path).
NEEDS_ARG: Final[frozenset[str]] = frozenset({"scene", "cue_goto", "param"})


def _check_arg(command: str, arg: str) -> None:
    if command in NEEDS_ARG and not arg:
        what = {"scene": "a scene name", "cue_goto": "a cue number", "param": "'scene/node/param'"}[command]
        raise _fail("required", f"command {command!r} needs 'arg': {what}", at_key=("arg",))
    if command == "param" and len(arg.split("/")) != 3:
        raise _fail("required", f"a param path is 'scene/node/param', got {arg!r}", at_key=("arg",))


class ActionConfig(_Model):
    """A command fired by a control (an OS2L button, a MIDI key)."""

    command: _CommandName = Field(description="Command name (see `lumen osc-map` for the list).")
    arg: str = Field(default="", description="Its argument: scene name, cue number, or 'scene/node/param'.")
    value: float = Field(default=1.0, ge=-1e6, le=1e6, description="Its value (e.g. master level).")

    @model_validator(mode="after")
    def _arg_given(self) -> ActionConfig:
        _check_arg(self.command, self.arg)
        return self


class OscConfig(_Model):
    """OSC in: the control address map (`lumen osc-map`) on a UDP port."""

    enabled: bool = Field(default=True, description="Listen for OSC.")
    bind: _BindAddress = Field(
        default="127.0.0.1", description="Local address to listen on; 0.0.0.0 (all interfaces) only when written here."
    )
    port: int = Field(default=9000, ge=1, le=65535, description="UDP port, 1..65535 (lumen run/demo --osc-port overrides).")
    allow: tuple[Annotated[str, AfterValidator(_check_network)], ...] = Field(
        default=(), strict=False, description="Senders allowed (addresses or networks); empty = any that can reach the port."
    )
    feedback_port: int | None = Field(
        default=None, ge=1, le=65535, description="Send feedback to this port on the sender; null = the port it sent from."
    )


class MidiBindingConfig(_Model):
    """A MIDI note, CC or program change mapped to a command."""

    kind: Literal["note", "cc", "program"] = Field(description="Message kind: note | cc | program.")
    channel: int | None = Field(default=None, ge=1, le=16, description="MIDI channel 1..16; null = any.")
    number: int = Field(ge=0, le=127, description="Note, controller or program number, 0..127.")
    command: _CommandName = Field(description="Command fired.")
    arg: str = Field(default="", description="Command argument (scene, cue number, 'scene/node/param').")
    low: float = Field(default=0.0, ge=-1e6, le=1e6, description="Value at CC 0.")
    high: float = Field(default=1.0, ge=-1e6, le=1e6, description="Value at CC 127.")
    mode: Literal["press", "hold", "toggle"] = Field(
        default="press", description="Notes: press (fire on note-on) | hold (1 while held) | toggle."
    )

    @model_validator(mode="after")
    def _arg_given(self) -> MidiBindingConfig:
        _check_arg(self.command, self.arg)
        return self


class MidiConfig(_Model):
    """MIDI in: notes and CCs to commands, MIDI clock as a tempo source."""

    enabled: bool = Field(default=False, description="Open a MIDI input.")
    port: str | None = Field(default=None, description="Input port (a part of its name); null = the first port.")
    api: Literal["default", "jack", "alsa"] = Field(default="default", description="MIDI system: default | jack | alsa.")
    virtual: bool = Field(default=False, description="Create a virtual input port (lumen:midi_in) that controllers connect to, instead of opening one.")
    clock: bool = Field(default=True, description="Follow MIDI clock (24 ppqn) as a tempo source.")
    bindings: tuple[MidiBindingConfig, ...] = Field(default=(), strict=False, description="Mappings (`lumen midi learn` writes them).")


class LinkConfig(_Model):
    """Ableton Link: share tempo and phase with DJ software and other lumen machines."""

    enabled: bool = Field(default=False, description="Join a Link session (multicast on the local network).")
    mode: Literal["follow", "lead"] = Field(
        default="follow", description="follow: take the session's tempo | lead: publish lumen's tracked tempo."
    )
    quantum: int = Field(default=4, ge=1, le=64, description="Beats per phase cycle (bar), 1..64.")


class Os2lConfig(_Model):
    """OS2L server (VirtualDJ's sound-to-light protocol over TCP)."""

    enabled: bool = Field(default=False, description="Listen for OS2L clients.")
    bind: _BindAddress = Field(default="127.0.0.1", description="Local address to listen on.")
    port: int = Field(default=9996, ge=1, le=65535, description="TCP port, 1..65535 (9996, as QLC+ uses, so DJ software set up for it works unchanged).")
    buttons: dict[str, ActionConfig] = Field(default_factory=dict, description="OS2L button name -> command.")
    commands: dict[str, ActionConfig] = Field(default_factory=dict, description="OS2L command id -> command (param is the value).")


TempoSource = Literal["link", "midi_clock", "os2l", "osc", "tap", "audio"]


class TempoConfig(_Model):
    """Where the tempo comes from when several sources speak."""

    precedence: tuple[TempoSource, ...] = Field(
        default=TEMPO_SOURCES,  # type: ignore[arg-type]  # the same names, typed as str
        strict=False,
        description="Sources, strongest first; the first one live wins.",
    )
    manual_hold_s: float = Field(
        default=0.0, ge=0.0, le=86400.0, description="Tap / OSC tempo holds this long, s; 0 = until /lumen/tempo/release."
    )
    timeout_s: float = Field(default=2.0, gt=0.0, le=60.0, description="An external source silent this long is dropped, s.")

    @field_validator("precedence")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        dup = sorted({s for s in v if v.count(s) > 1})
        if dup:
            raise _fail("duplicate", f"listed twice: {', '.join(dup)}")
        if "audio" not in v:
            raise _fail("required", "the precedence must include 'audio' (the fallback)")
        return v


class ControlConfig(_Model):
    """Control surfaces: OSC, MIDI, OS2L, Ableton Link, and the tempo arbiter."""

    osc: OscConfig = Field(default_factory=OscConfig, description="OSC in.")
    midi: MidiConfig = Field(default_factory=MidiConfig, description="MIDI in.")
    os2l: Os2lConfig = Field(default_factory=Os2lConfig, description="OS2L server.")
    link: LinkConfig = Field(default_factory=LinkConfig, description="Ableton Link.")
    tempo: TempoConfig = Field(default_factory=TempoConfig, description="Tempo sources and their precedence.")


class TemplateConfig(_Model):
    """An OSC message template: address and arguments with {placeholders}."""

    address: str = Field(min_length=2, pattern=r"^/", description="Address, e.g. '/eos/cue/{list}/{cue}/fire'.")
    args: tuple[str | float, ...] = Field(default=(), strict=False, description="Arguments; strings may hold {placeholders}.")


class ConsoleConfig(_Model):
    """An OSC destination: a lighting console, a show controller, or VJ software."""

    name: str = Field(min_length=1, description="Unique name, for logs.")
    type: Literal["eos", "qlab", "qlcplus", "generic", "features"] = Field(
        description="Message set: eos | qlab | qlcplus | generic | features (a feature stream)."
    )
    address: str = Field(default="127.0.0.1", description="Destination IPv4 address.")
    port: int = Field(ge=1, le=65535, description="Destination UDP port.")
    allow_broadcast: bool = Field(default=False, description="Allow a broadcast or multicast destination.")
    bind: _BindAddress | None = Field(default=None, description="Local source address; null = any.")
    events: tuple[Literal["scene", "cue", "section", "drop", "break", "build", "beat", "downbeat", "blackout"], ...] | None = Field(
        default=None, strict=False, description="Events sent; null = the type's defaults."
    )
    templates: dict[str, TemplateConfig] = Field(default_factory=dict, description="Event -> message, overriding the type's.")
    rate_limit_hz: float = Field(default=10.0, gt=0.0, le=1000.0, description="Most messages a second per event kind.")
    cue_list: int = Field(default=1, ge=0, le=99999, description="Console cue list (Eos).")
    cue_map: dict[str, str] = Field(default_factory=dict, description="Scene name -> console cue number; default: lumen's cue number.")
    features_hz: float = Field(default=30.0, gt=0.0, le=200.0, description="Feature stream rate, Hz (type features).")
    latency_ms: float = Field(default=0.0, ge=0.0, le=1000.0, description="The receiver's own latency; beat cues leave this early, ms.")
    release_ms: float = Field(
        default=50.0, ge=1.0, le=5000.0, description="qlcplus: time between a button's press (1.0) and release (0.0), ms."
    )

    @model_validator(mode="after")
    def _destination_ok(self) -> ConsoleConfig:
        try:
            _destination(self.address, self.allow_broadcast, "allow_broadcast")
        except PydanticCustomError as e:
            raise _fail("ip_address", str(e), at_key=("address",)) from None
        return self


# --------------------------------------------------------------------------- root


def _default_outputs() -> tuple[SacnOutputConfig, ...]:
    return (SacnOutputConfig(type="sacn"),)


class ShowConfig(_Model):
    """A whole show file (version 1).

    Examples
    --------
    >>> cfg = ShowConfig.model_validate({"version": 1})
    >>> cfg.wall.width, cfg.outputs[0].address, cfg.audio.signal.bpm
    (64, '127.0.0.1', 124.0)
    """

    version: int = Field(description="Show file format version: 2 (1 is read and migrated).")
    rig: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "The venue in its own file (relative to the show file): its audio, wall, strips, points, "
            "safety, fixtures, outputs and consoles; the show then holds only the programming."
        ),
    )
    name: str = Field(
        default="untitled", min_length=1, description="Show name, for displays and logs."
    )
    audio: AudioConfig = Field(default_factory=AudioConfig, description="Audio input.")
    analysis: AnalysisConfig = Field(
        default_factory=AnalysisConfig, description="Music analysis."
    )
    scene: SceneConfig = Field(
        default_factory=SceneConfig,
        description=(
            f"A one-layer scene named {MAIN_SCENE!r}: what is drawn when there is no 'scenes' section "
            "(give one or the other)."
        ),
    )
    scenes: dict[_SceneName, SceneGraphConfig] = Field(
        default_factory=dict,
        description="Named scenes of layered shaders, in show order (replaces 'scene').",
    )
    start_scene: str | None = Field(
        default=None,
        min_length=1,
        description="The scene shown first; null = the first of 'scenes'.",
    )
    render: RenderConfig = Field(default_factory=RenderConfig, description="Rendering.")
    wall: WallConfig = Field(default_factory=WallConfig, description="The LED wall.")
    strips: StripsConfig | None = Field(default=None, description="LED strips along polylines (optional).")
    points: PointsConfig | None = Field(default=None, description="A CSV point map (optional).")
    safety: SafetyConfig = Field(default_factory=SafetyConfig, description="Flash limiter, master, audio-lost look.")
    fixture_library: str | None = Field(
        default=None,
        description="Folder of OFL fixtures ('manufacturer/fixture.json' inside); relative to the show file.",
    )
    fixtures: tuple[FixtureConfig, ...] = Field(
        default=(),
        strict=False,  # YAML gives a list
        description="Fixtures of the rig (OFL profiles at DMX addresses and scene positions).",
    )
    outputs: tuple[OutputConfig, ...] = Field(
        default_factory=_default_outputs,
        min_length=1,
        strict=False,  # YAML gives a list
        description="Where the pixels go; at least one output (default: sACN to 127.0.0.1).",
    )
    consoles: tuple[ConsoleConfig, ...] = Field(
        default=(), strict=False, description="OSC cues to consoles and a feature stream to VJ software."
    )
    cues: tuple[CueConfig, ...] = Field(default=(), strict=False, description="The cue list (GO / BACK / GOTO).")
    automation: AutomationConfig = Field(default_factory=AutomationConfig, description="Scene changes driven by the music.")
    control: ControlConfig = Field(default_factory=ControlConfig, description="OSC, MIDI, OS2L, Link and tempo sources.")

    @field_validator("start_scene")
    @classmethod
    def _known_scene(cls, v: str | None, info: ValidationInfo) -> str | None:
        scenes = info.data.get("scenes")
        if v is None or not isinstance(scenes, dict):
            return v
        known = list(scenes) or [MAIN_SCENE]
        if v not in known:
            raise _fail("scene", f"no scene named {v!r}{did_you_mean(v, known)}; scenes: {', '.join(known)}")
        return v

    @model_validator(mode="after")
    def _scene_or_scenes(self) -> ShowConfig:
        if self.scenes and "scene" in self.model_fields_set:
            raise _fail("scene", "give either 'scene' (one layer) or 'scenes', not both", at_key=("scene",))
        return self

    @model_validator(mode="after")
    def _programming_consistent(self) -> ShowConfig:
        if self.version >= 2 and "scene" in self.model_fields_set:
            raise _fail(
                "scene", "'scene' was replaced by 'scenes' in version 2 (`lumen migrate FILE` rewrites it)", at_key=("scene",)
            )
        known = self.scene_names()

        def check(name: str, at: tuple[str | int, ...]) -> None:
            if name not in known:
                raise _fail("scene", f"no scene named {name!r}{did_you_mean(name, known)}; scenes: {', '.join(known)}", at_key=at)

        last = 0.0
        for i, cue in enumerate(self.cues):
            check(cue.scene, ("cues", i, "scene"))
            if cue.number <= last:
                raise _fail("range", f"cue {cue.number:g} must come after cue {last:g} (numbers ascend)", at_key=("cues", i, "number"))
            last = cue.number
        numbers = {c.number for c in self.cues}
        for i, rule in enumerate(self.automation.rules):
            if rule.go is not None:
                check(rule.go, ("automation", "rules", i, "go"))
            for j, name in enumerate(rule.rotate or ()):
                check(name, ("automation", "rules", i, "rotate", j))
            if isinstance(rule.cue, float) and rule.cue not in numbers:
                raise _fail("scene", f"no cue numbered {rule.cue:g} in the cue list", at_key=("automation", "rules", i, "cue"))
        seen: set[str] = set()
        for i, con in enumerate(self.consoles):
            if con.name in seen:
                raise _fail("duplicate", f"two consoles are named {con.name!r}", at_key=("consoles", i, "name"))
            seen.add(con.name)
        return self

    def scene_names(self) -> tuple[str, ...]:
        """Names of the show's scenes, in order (``("main",)`` for a ``scene:`` show)."""
        return tuple(self.scenes) or (MAIN_SCENE,)

    @field_validator("version")
    @classmethod
    def _supported(cls, v: int) -> int:
        if v not in SUPPORTED_VERSIONS:
            ok = ", ".join(str(s) for s in SUPPORTED_VERSIONS)
            raise _fail("version", f"unsupported show file version {v} (this lumen reads {ok})")
        return v

