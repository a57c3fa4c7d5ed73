"""Modulators: beat-synced LFOs, triggered envelopes and smoothing, plus the music clock.

Layer: scene (knows no GL). Threads: specs are immutable and built wherever configuration is
loaded; `MusicClock` and the `Modulator` states are updated by the frame thread only, once per
frame, in frame order (their state is what makes the output depend on the past).

A modulator is a named, per-frame value in a scene: bindings read it like a feature
(``brightness: "0.3 + 0.7 * kick_env"``). Everything is driven by the frame's music time, so a
show rendered offline from the same features gives the same values frame for frame.

- `LfoSpec`: a periodic wave locked to the music clock (period in beats: 1 = every beat,
  4 = every bar, 16 = every phrase); shapes sine, triangle, saw, square and random (a new
  pseudo-random value, from a fixed seed, on each period).
- `EnvelopeSpec`: 0 until its trigger (beat, downbeat, onset, drop, bar, phrase) fires, then
  a linear attack to 1 and a linear release back to 0, in seconds.
- `SmoothSpec`: a one-pole low-pass over an expression (separate rise and fall times).

Each output is ``low + (high - low) * v`` for the shape's ``v`` in 0..1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from lumen.features import SECTIONS
from lumen.scene.expr import Expr

__all__ = [
    "ENVELOPE_TRIGGERS",
    "LFO_SHAPES",
    "EnvelopeSpec",
    "EnvelopeTrigger",
    "LfoShape",
    "LfoSpec",
    "Modulator",
    "ModulatorSpec",
    "MusicClock",
    "SmoothSpec",
    "make_modulator",
]

LfoShape = Literal["sine", "triangle", "saw", "square", "random"]
#: Every LFO shape.
LFO_SHAPES: Final[tuple[LfoShape, ...]] = ("sine", "triangle", "saw", "square", "random")

EnvelopeTrigger = Literal["beat", "downbeat", "bar", "phrase", "onset", "drop"]
#: Every envelope trigger (``downbeat`` and ``bar`` are the same moment).
ENVELOPE_TRIGGERS: Final[tuple[EnvelopeTrigger, ...]] = ("beat", "downbeat", "bar", "phrase", "onset", "drop")

_DROP: Final[float] = float(SECTIONS.index("drop"))
#: Beats per bar and bars per phrase of the music clock.
BEATS_PER_BAR: Final[int] = 4
BARS_PER_PHRASE: Final[int] = 4


class MusicClock:
    """Counts beats, bars and phrases from the per-frame beat and bar phases.

    The tracker gives phases within the current beat and bar; the clock turns them into a
    running position (``beats``, a float that grows by one per beat) by counting bar-phase
    wraps, and reports which boundaries the latest `update` crossed. A phase that steps back a
    little (the tracker correcting itself) is not a wrap; only a fall of more than half a cycle
    is.

    Attributes
    ----------
    beats : float, beats
        Musical position: ``4 * bars + 4 * bar_phase`` (0 at the first frame's bar).
    bars : int
        Bars completed since the clock started.
    beat, bar, phrase : bool
        The latest update crossed a beat, a bar line (downbeat), a phrase line (every 4 bars).
    bpm : float
        Tempo of the latest update (0 when unknown).

    Examples
    --------
    >>> c = MusicClock()
    >>> c.update(0.9, 0.97, 120.0); (c.beat, c.bar)
    (False, False)
    >>> c.update(0.1, 0.03, 120.0); (c.beat, c.bar, c.bars, round(c.beats, 2))
    (True, True, 1, 4.12)
    """

    __slots__ = ("bar", "bar_phase", "bars", "beat", "beats", "bpm", "phrase", "_started")

    def __init__(self) -> None:
        self.beats = 0.0
        self.bars = 0
        self.bar_phase = 0.0
        self.bpm = 0.0
        self.beat = self.bar = self.phrase = False
        self._started = False

    def update(self, beat_phase: float, bar_phase: float, bpm: float) -> None:
        """Advance to this frame's (predicted) phases. Real-time safe (no allocation)."""
        if not (math.isfinite(bar_phase) and math.isfinite(bpm)):
            bar_phase, bpm = self.bar_phase, self.bpm
        bar_phase = min(max(bar_phase, 0.0), 1.0)
        old_beats = self.beats
        if self._started and bar_phase < self.bar_phase - 0.5:
            self.bars += 1
            self.bar = True
            self.phrase = self.bars % BARS_PER_PHRASE == 0
        else:
            self.bar = self.phrase = False
        self.bar_phase = bar_phase
        self.bpm = bpm
        self.beats = BEATS_PER_BAR * (self.bars + bar_phase)
        self.beat = self._started and (self.bar or math.floor(self.beats + 1e-9) > math.floor(old_beats + 1e-9))
        self._started = True


@dataclass(frozen=True, slots=True)
class LfoSpec:
    """A beat-synced low-frequency oscillator.

    Attributes
    ----------
    shape : {"sine", "triangle", "saw", "square", "random"}
    period_beats : float, beats, > 0
        One cycle every this many beats (1 = beat, 4 = bar, 16 = phrase, 0.5 = eighths).
    phase : float, cycles, 0..1
        Offset added to the position (every shape starts a cycle at 0 rising; 0.5 starts a
        sine or triangle at its peak).
    low, high : float
        Output range.
    seed : int
        Seed of the random shape.
    """

    shape: LfoShape = "sine"
    period_beats: float = 4.0
    phase: float = 0.0
    low: float = 0.0
    high: float = 1.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class EnvelopeSpec:
    """An attack/release envelope fired by a musical event.

    Attributes
    ----------
    trigger : {"beat", "downbeat", "bar", "phrase", "onset", "drop"}
        ``drop`` fires when the section becomes ``drop``; ``onset`` on each detected onset.
    attack_s, release_s : float, s, >= 0
        Linear rise to the peak, then linear fall back to rest.
    low, high : float
        Rest and peak values.
    """

    trigger: EnvelopeTrigger = "beat"
    attack_s: float = 0.0
    release_s: float = 0.25
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True, slots=True)
class SmoothSpec:
    """A one-pole low-pass over an expression.

    Attributes
    ----------
    input : Expr
        What is smoothed: an expression over features and the scene's modulators. Modulators
        are computed in declaration order, so reading a later one gives its previous frame's
        value.
    rise_s, fall_s : float, s, >= 0
        Time constants while the input is above (rise) or below (fall) the output.
    """

    input: Expr
    rise_s: float = 0.1
    fall_s: float = 0.3


#: Any modulator spec.
ModulatorSpec: TypeAlias = LfoSpec | EnvelopeSpec | SmoothSpec


def _hash01(seed: int, k: int) -> float:
    """A deterministic pseudo-random value in [0, 1) for period ``k`` (splitmix64)."""
    z = (seed * 0x9E3779B97F4A7C15 + k * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return (z >> 11) / float(1 << 53)


class Modulator:
    """The running state of one modulator; `value` is called once per frame, in order.

    Parameters
    ----------
    spec : ModulatorSpec
    """

    __slots__ = ("spec", "_value", "_t_fire", "_t_last", "_was_on")

    def __init__(self, spec: ModulatorSpec) -> None:
        self.spec = spec
        self._value = spec.low if isinstance(spec, (LfoSpec, EnvelopeSpec)) else 0.0
        self._t_fire = -math.inf
        self._t_last = math.nan
        self._was_on = False

    def reset(self) -> None:
        """Forget all history (as if just made)."""
        spec = self.spec
        self._value = spec.low if isinstance(spec, (LfoSpec, EnvelopeSpec)) else 0.0
        self._t_fire = -math.inf
        self._t_last = math.nan
        self._was_on = False

    def value(self, clock: MusicClock, env: dict[str, float], time_s: float) -> float:
        """This frame's value.

        Parameters
        ----------
        clock : MusicClock
            Already updated for this frame.
        env : dict of str to float
            This frame's features (and the modulators computed so far).
        time_s : float, s
            Show time of the frame.

        Returns
        -------
        float
            Finite.
        """
        spec = self.spec
        if isinstance(spec, LfoSpec):
            v = _lfo(spec, clock.beats)
            out = spec.low + (spec.high - spec.low) * v
        elif isinstance(spec, EnvelopeSpec):
            if self._fired(spec.trigger, clock, env):
                self._t_fire = time_s
            since = time_s - self._t_fire
            if since < 0.0 or not math.isfinite(since):
                v = 0.0
            elif since < spec.attack_s:
                v = since / spec.attack_s
            elif spec.release_s > 0.0:
                v = max(0.0, 1.0 - (since - spec.attack_s) / spec.release_s)
            else:
                v = 1.0 if since == spec.attack_s else 0.0
            out = spec.low + (spec.high - spec.low) * v
        else:
            x = spec.input(env)
            if math.isnan(self._t_last):
                out = x
            else:
                dt = max(0.0, time_s - self._t_last)
                tau = spec.rise_s if x > self._value else spec.fall_s
                k = 1.0 if tau <= 0.0 else 1.0 - math.exp(-dt / tau)
                out = self._value + (x - self._value) * k
            self._t_last = time_s
        self._value = out if math.isfinite(out) else 0.0
        return self._value

    def _fired(self, trigger: str, clock: MusicClock, env: dict[str, float]) -> bool:
        if trigger == "beat":
            return clock.beat
        if trigger in ("downbeat", "bar"):
            return clock.bar
        if trigger == "phrase":
            return clock.phrase
        on = env.get("is_onset", 0.0) >= 0.5 if trigger == "onset" else env.get("section", 0.0) == _DROP
        fired = on and not self._was_on
        self._was_on = on
        return fired


def _lfo(spec: LfoSpec, beats: float) -> float:
    x = beats / spec.period_beats + spec.phase
    if spec.shape == "sine":
        return 0.5 - 0.5 * math.cos(math.tau * x)  # starts at 0, peaks mid-cycle
    frac = x - math.floor(x)
    if spec.shape == "triangle":
        return 1.0 - abs(2.0 * frac - 1.0)
    if spec.shape == "saw":
        return frac
    if spec.shape == "square":
        return 1.0 if frac < 0.5 else 0.0
    return _hash01(spec.seed, math.floor(x))


def make_modulator(spec: ModulatorSpec) -> Modulator:
    """A fresh running modulator for ``spec``."""
    return Modulator(spec)
