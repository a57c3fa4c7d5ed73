"""Generated dance music whose beats are known exactly: the engine behind `SignalSource`.

Layer: audio. Threads: one owner at a time (SignalSource's producer thread, a test, an offline
tool). **Not real-time safe**: `MusicGenerator.render` synthesizes a whole bar whenever it runs
out of samples (a few milliseconds, with temporary arrays), so it must never run on the audio
callback; render ahead into a ring buffer instead. The grid queries (`beat_times`,
`downbeat_times`, `sections`, `section_at`, `tempo_at`, `onset_times`) only read immutable
state and may be called from any thread.

The song is an electronic dance track: four-on-the-floor kick, clap, closed and open hi-hats, a
plucked bass line and a detuned-saw pad following a chord progression, an arpeggiated lead with a
dotted-eighth echo, and snare rolls, a noise riser and a crash around the drops. The arrangement
(`MusicParams.arrangement`) decides what plays: intro (hats and pads), verse, build (accelerating
snare roll and riser), drop (everything, loud, sidechain pumping), break (pads and soft bass, no
kick) and outro. The seed picks the progression, the bass, hat and arpeggio patterns and the
drum timbres, so different seeds give different songs on the same grid.

How it works
------------
* **Grid.** Bar ``b`` of the arrangement lasts ``beats_per_bar * 60 / bpm_b`` seconds, where
  ``bpm_b`` follows `MusicParams.tempo_changes`. Bar ``g`` of the endless song (pass
  ``k = g // n_bars`` when looping) starts at ``k * period + offset_b`` seconds, and beat ``j`` of
  it at that plus ``j * 60 / bpm_b``. Every event lands on ``floor(t * sr + 0.5)``; the grid
  queries use the same float expressions, so a kick starts on exactly the sample of its beat.
* **Plan, then synthesize.** Each bar is first *planned*: a pure function of (seed, bar index)
  that lists its hits and notes. The plan is then synthesized into two stereo accumulation rings
  (drums, and music that the kick ducks); sounds may ring past the end of their bar. Drum sounds,
  notes and the pad's periodic chord loops are cached; they are pure functions of their keys.
* **Streaming.** Once a bar is synthesized its samples are complete, so they are mixed
  (sidechain ducking, master gain, soft clip) and handed out. The mix always runs in bar-sized
  blocks and in bar order, so the output does not depend on how the caller chunks it:
  `MusicGenerator.render` in any block sizes equals `MusicGenerator.render_seconds` bit for bit.

Examples
--------
>>> gen = MusicGenerator(MusicParams(bpm=128.0, seed=3), sr=48000)
>>> block = np.empty((480, 2), np.float32)
>>> gen.render(block)  # the first 10 ms
>>> gen.beat_times(2.0).round(4).tolist()
[0.0, 0.4688, 0.9375, 1.4062, 1.875]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import signal

from lumen.errors import did_you_mean

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

#: Section labels understood by the arrangement (the same vocabulary as `lumen.features`).
SECTION_LABELS: Final[tuple[str, ...]] = ("intro", "verse", "build", "drop", "break", "outro")

#: Intended energy of each section, 1 (calm) to 3 (peak), as a lighting designer reads the
#: arrangement: the known intensity curve the mood model's arousal is trained and scored
#: against. A build rises through its length from a verse's 2 to a drop's 3 (2.5 on average;
#: see `intensity_at`).
SECTION_INTENSITY: Final[dict[str, float]] = {"intro": 1.0, "break": 1.0, "outro": 1.5, "verse": 2.0, "build": 2.5, "drop": 3.0}

#: Instrument names, for `MusicParams.mute` and `MusicGenerator.onset_times`.
INSTRUMENTS: Final[tuple[str, ...]] = (
    "kick", "clap", "snare", "hat", "open_hat", "crash", "bass", "lead", "pad", "riser",
)

#: Instruments made of discrete hits or notes (the ones `onset_times` can list).
HIT_INSTRUMENTS: Final[tuple[str, ...]] = INSTRUMENTS[:8]

_MAJOR: Final[tuple[int, ...]] = (0, 2, 4, 5, 7, 9, 11)
_MINOR: Final[tuple[int, ...]] = (0, 2, 3, 5, 7, 8, 10)

# Progressions as 0-based scale degrees, one chord per `_Song.chord_bars` bars. Every loop
# states its mode: it starts on the tonic chord and none is a rotation of a loop of the other
# mode (vi-IV-I-V in C major is i-VI-III-VII in A minor: the same chords, no mode to hear).
_PROGRESSIONS: Final[dict[str, tuple[tuple[int, ...], ...]]] = {
    "minor": ((0, 5, 6, 0), (0, 6, 5, 6), (0, 3, 5, 4), (0, 5, 3, 4), (0, 3, 4, 0)),
    "major": ((0, 4, 5, 3), (0, 3, 0, 4), (0, 5, 3, 4), (0, 3, 4, 3), (0, 4, 3, 4)),
}

# Bass patterns per beat: (16th step, length in 16ths, octave up).
_BASS_PATTERNS: Final[tuple[tuple[tuple[int, float, int], ...], ...]] = (
    ((2, 1.5, 0),),  # off-beat house bass
    ((1, 0.9, 0), (2, 0.9, 0), (3, 0.9, 0)),  # rolling, leaves the kick alone
    ((2, 1.0, 0), (3, 0.8, 1)),  # off-beat with an octave answer
    ((1, 0.8, 0), (2, 1.6, 1)),  # gallop
)

# Hat patterns per beat, one character per 16th: x closed, o open, . rest. Every pattern has
# hits on odd 16ths, which is where swing shows.
_HAT_PATTERNS: Final[tuple[str, ...]] = ("xxox", ".xox", "xxo.", "x.ox")

# Arpeggio patterns over a bar of 16ths: index into the chord's lead tones, -1 for a rest.
_LEAD_PATTERNS: Final[tuple[tuple[int, ...], ...]] = (
    (0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1),
    (0, 2, 4, 2, 1, 3, 5, 3, 0, 2, 4, 2, 1, 3, 5, 3),
    (0, -1, 2, 1, 4, -1, 2, 1, 0, -1, 3, 1, 5, -1, 3, 2),
    (4, 3, 2, 0, 4, 3, 2, 0, 5, 4, 2, 1, 5, 4, 2, 1),
)

_PAD_LOOP_LEN: Final[int] = 1 << 17  # samples in a pad chord loop (bin spacing sr / 2**17)
_RISER_LOOP_LEN: Final[int] = 1 << 16
_RISER_BANDS: Final[int] = 8
_MIX_NORM: Final[float] = 0.75  # internal mix -> master; the drop peaks near 0.8 at gain_db=-6
_CLIP_KNEE: Final[float] = 0.89  # soft clip above this level (-1 dBFS); the output never exceeds 1
_NOTE_CACHE_MAX: Final[int] = 512
_PAD_GAIN: Final[float] = 0.3  # pad loops have unit RMS; this sits them under the drums


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the arrangement.

    Attributes
    ----------
    label : str
        ``"intro"``, ``"verse"``, ``"build"``, ``"drop"``, ``"break"`` or ``"outro"``.
    bars : int, >= 1
        Length in bars.
    """

    label: str
    bars: int

    def __post_init__(self) -> None:
        if self.label not in SECTION_LABELS:
            raise ValueError(
                f"unknown section label {self.label!r}{did_you_mean(self.label, SECTION_LABELS)}; "
                f"known: {', '.join(SECTION_LABELS)}"
            )
        if not isinstance(self.bars, int) or self.bars < 1:
            raise ValueError(f"section {self.label!r} needs bars >= 1, got {self.bars!r}")


#: The default arrangement: 40 bars, 77.4 s at 124 bpm.
DEFAULT_ARRANGEMENT: Final[tuple[Section, ...]] = (
    Section("intro", 8),
    Section("build", 4),
    Section("drop", 8),
    Section("break", 4),
    Section("build", 4),
    Section("drop", 8),
    Section("outro", 4),
)


@dataclass(frozen=True, slots=True)
class MusicParams:
    """What to play.

    Attributes
    ----------
    bpm : float, beats per minute, 20..400
        Tempo at bar 0 (a beat is a quarter note).
    swing : float, 0..0.5
        Delay of the off-beat 16ths (hats, bass, arpeggio, rolls) as a fraction of a 16th.
        Beats and 8ths never move.
    beats_per_bar : int, 1..16
        Beats per bar.
    key : int, 0..11
        Pitch class of the tonic (0 = C, 9 = A).
    mode : {"major", "minor"}
        Scale the chords are built from.
    seed : int, >= 0
        Picks the progression, patterns and timbres; the same seed gives the same samples.
    arrangement : tuple of Section
        The song, in order.
    tempo_changes : tuple of (int, float)
        ``(bar index, new bpm)``: an instantaneous change at that bar's downbeat. Bar indices
        count from 0 within the arrangement and repeat on every pass when looping (each pass
        starts again at `bpm`).
    loop : bool
        After the arrangement ends, start over with the grid continuing seamlessly. When false
        the song ends: tails ring out and then the output is silence, and the grid stops.
    gain_db : float, dB, -60..24
        Master level. At the default -6 dB a drop peaks around -6 dBFS; any gain is soft-clipped
        so that the output never exceeds 1.0.
    mute : tuple of str
        Instruments to leave out (names in `INSTRUMENTS`). Muting does not change what the other
        instruments play, so it isolates stems for tests.
    """

    bpm: float = 124.0
    swing: float = 0.0
    beats_per_bar: int = 4
    key: int = 9
    mode: str = "minor"
    seed: int = 0
    arrangement: tuple[Section, ...] = DEFAULT_ARRANGEMENT
    tempo_changes: tuple[tuple[int, float], ...] = ()
    loop: bool = True
    gain_db: float = -6.0
    mute: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 20.0 <= self.bpm <= 400.0:
            raise ValueError(f"bpm must be in 20..400, got {self.bpm!r}")
        if not 0.0 <= self.swing <= 0.5:
            raise ValueError(f"swing must be in 0..0.5, got {self.swing!r}")
        if not 1 <= self.beats_per_bar <= 16:
            raise ValueError(f"beats_per_bar must be in 1..16, got {self.beats_per_bar!r}")
        if not 0 <= self.key <= 11:
            raise ValueError(f"key must be a pitch class 0..11, got {self.key!r}")
        if self.mode not in _PROGRESSIONS:
            raise ValueError(f"mode must be 'major' or 'minor', got {self.mode!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed!r}")
        if not self.arrangement:
            raise ValueError("arrangement needs at least one section")
        if not -60.0 <= self.gain_db <= 24.0:
            raise ValueError(f"gain_db must be in -60..24, got {self.gain_db!r}")
        n_bars = sum(s.bars for s in self.arrangement)
        seen: set[int] = set()
        for bar, bpm in self.tempo_changes:
            if not 0 <= bar < n_bars:
                raise ValueError(f"tempo change at bar {bar} is outside the {n_bars}-bar song")
            if bar in seen:
                raise ValueError(f"two tempo changes at bar {bar}")
            if not 20.0 <= bpm <= 400.0:
                raise ValueError(f"tempo change at bar {bar}: bpm must be in 20..400, got {bpm!r}")
            seen.add(bar)
        for name in self.mute:
            if name not in INSTRUMENTS:
                raise ValueError(
                    f"unknown instrument {name!r}{did_you_mean(name, INSTRUMENTS)}; "
                    f"known: {', '.join(INSTRUMENTS)}"
                )


# --------------------------------------------------------------------------------------------
# Grid: bars, beats and sections in time
# --------------------------------------------------------------------------------------------


class _Grid:
    """Tempo map of the arrangement; maps bar indices of the endless song to seconds."""

    def __init__(self, params: MusicParams) -> None:
        n_bars = sum(s.bars for s in params.arrangement)
        bpm = np.full(n_bars, float(params.bpm))
        for bar, new_bpm in sorted(params.tempo_changes):
            bpm[bar:] = float(new_bpm)
        self.n_bars = n_bars
        self.loop = params.loop
        self.beats_per_bar = params.beats_per_bar
        self.bpm: F64 = bpm
        self.beat_s: F64 = 60.0 / bpm
        bar_s = self.beat_s * params.beats_per_bar
        offset = np.zeros(n_bars)
        offset[1:] = np.cumsum(bar_s)[:-1]
        self.offset_s: F64 = offset
        self.period_s = float(offset[-1] + bar_s[-1])
        self.bar_s: F64 = bar_s
        # Python lists for the scalar per-bar paths; the same IEEE doubles as the arrays.
        self._offset_list: list[float] = offset.tolist()
        self._beat_list: list[float] = self.beat_s.tolist()
        section_of_bar: list[int] = []
        bar_in_section: list[int] = []
        first_bar: list[int] = []
        for i, sec in enumerate(params.arrangement):
            first_bar.append(len(section_of_bar))
            section_of_bar += [i] * sec.bars
            bar_in_section += list(range(sec.bars))
        self.section_of_bar = section_of_bar
        self.bar_in_section = bar_in_section
        self.section_first_bar = first_bar
        self.labels = [s.label for s in params.arrangement]

    def bar_start_s(self, g: int) -> float:
        """Start of bar ``g`` of the endless song, in seconds (past the end: 1 s silent bars)."""
        if self.loop:
            k, b = divmod(g, self.n_bars)
            return k * self.period_s + self._offset_list[b]
        if g < self.n_bars:
            return self._offset_list[g]
        return self.period_s + (g - self.n_bars) * 1.0

    def beat_s_of(self, g: int) -> float:
        """Beat length of bar ``g``, in seconds."""
        return self._beat_list[g % self.n_bars]

    def plays(self, g: int) -> bool:
        """Whether bar ``g`` is part of the song (false for the silent bars after a non-loop)."""
        return self.loop or g < self.n_bars

    def n_passes(self, until_s: float) -> int:
        """Passes through the arrangement that start before ``until_s``."""
        if not self.loop:
            return 1
        return max(1, math.ceil(until_s / self.period_s) + 1)

    def beat_times(self, until_s: float, downbeats_only: bool) -> F64:
        per_bar = 1 if downbeats_only else self.beats_per_bar
        bar_idx = np.repeat(np.arange(self.n_bars), per_bar)
        j = np.tile(np.arange(per_bar, dtype=np.float64), self.n_bars)
        step = j * self.beat_s[bar_idx]
        base = self.offset_s[bar_idx]
        out = [(k * self.period_s + base) + step for k in range(self.n_passes(until_s))]
        times = np.concatenate(out)
        return times[times < until_s]

    def bar_at(self, t_s: float) -> int:
        """Index of the bar of the endless song that contains ``t_s`` (clamped to the last bar
        when the song does not loop)."""
        k = int(t_s // self.period_s) if self.loop else 0
        for kk in (k + 1, k, k - 1):  # guard against rounding in the division
            if kk < 0:
                continue
            starts = kk * self.period_s + self.offset_s
            if t_s >= starts[0]:
                b = int(np.searchsorted(starts, t_s, side="right")) - 1
                return kk * self.n_bars + b
        return 0


# --------------------------------------------------------------------------------------------
# Song: the per-seed musical choices
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Chord:
    bass_midi: int
    pad_midi: tuple[int, ...]
    lead_midi: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Song:
    chords: tuple[_Chord, ...]
    chord_bars: int
    bass_pattern: tuple[tuple[int, float, int], ...]
    hat_pattern: str
    lead_pattern: tuple[int, ...]
    lead_odd_harmonics: bool
    kick_f_start_hz: float
    kick_f_end_hz: float
    kick_sweep_s: float
    kick_decay_s: float
    pad_detune_cents: float
    bass_brightness_per_s: float


def _make_song(params: MusicParams) -> _Song:
    rng = np.random.default_rng([params.seed, 1])
    scale = _MAJOR if params.mode == "major" else _MINOR
    progs = _PROGRESSIONS[params.mode]
    prog = progs[int(rng.integers(len(progs)))]
    sevenths = bool(rng.random() < 0.5)
    chords = []
    for degree in prog:
        # no seventh on the minor VII: VII7 is the dominant seventh of the relative major
        n_tones = 4 if sevenths and not (params.mode == "minor" and degree == 6) else 3
        pcs = [(params.key + scale[(degree + 2 * m) % 7]) % 12 for m in range(n_tones)]
        root = pcs[0]
        bass = 28 + (root - 28) % 12  # E1..D#2
        pad = sorted(54 + (pc - 54) % 12 for pc in pcs)  # voice-led around middle C
        pad_low = 42 + (root - 42) % 12
        lead = tuple(m for m in range(67, 91) if m % 12 in pcs[:3])
        chords.append(_Chord(bass, (pad_low, *pad), lead))
    return _Song(
        chords=tuple(chords),
        chord_bars=int(rng.choice([1, 2])),
        bass_pattern=_BASS_PATTERNS[int(rng.integers(len(_BASS_PATTERNS)))],
        hat_pattern=_HAT_PATTERNS[int(rng.integers(len(_HAT_PATTERNS)))],
        lead_pattern=_LEAD_PATTERNS[int(rng.integers(len(_LEAD_PATTERNS)))],
        lead_odd_harmonics=bool(rng.random() < 0.5),
        kick_f_start_hz=float(rng.uniform(150.0, 230.0)),
        kick_f_end_hz=float(rng.uniform(44.0, 56.0)),
        kick_sweep_s=float(rng.uniform(0.025, 0.045)),
        kick_decay_s=float(rng.uniform(0.16, 0.26)),
        pad_detune_cents=float(rng.uniform(8.0, 16.0)),
        bass_brightness_per_s=float(rng.uniform(6.0, 16.0)),
    )


@dataclass(frozen=True, slots=True)
class _Style:
    """What plays in a section (levels are linear, 0 = silent)."""

    kick: float
    clap: float
    hat: float
    open_hat: float
    bass: float
    pad: float
    pad_bright: tuple[float, float]  # brightness 0..1 at the section's start and end
    pad_attack_s: float
    lead: float
    duck: float  # sidechain depth of the music bus under each kick, 0..1
    roll: bool
    riser: bool


_STYLES: Final[dict[str, _Style]] = {
    "intro": _Style(0.0, 0.0, 0.6, 0.45, 0.0, 0.55, (0.05, 0.35), 0.25, 0.0, 0.0, False, False),
    "verse": _Style(0.9, 0.7, 0.7, 0.5, 0.45, 0.4, (0.45, 0.45), 0.02, 0.0, 0.35, False, False),
    "build": _Style(0.85, 0.0, 0.65, 0.0, 0.0, 0.45, (0.15, 1.0), 0.05, 0.0, 0.0, True, True),
    "drop": _Style(1.0, 0.9, 0.8, 0.6, 0.55, 0.45, (1.0, 1.0), 0.01, 0.35, 0.6, False, False),
    "break": _Style(0.0, 0.0, 0.0, 0.0, 0.2, 0.6, (0.15, 0.3), 0.6, 0.0, 0.0, False, False),
    "outro": _Style(0.85, 0.0, 0.6, 0.4, 0.0, 0.45, (0.35, 0.05), 0.02, 0.0, 0.3, False, False),
}

_HAT_ACCENT: Final[tuple[float, ...]] = (0.7, 0.55, 1.0, 0.6)
_PAD_RELEASE_S: Final[float] = 0.4
_BASS_SUSTAIN_RELEASE_S: Final[float] = 0.12
_CHOKE_GAP_S: Final[float] = 0.002


# --------------------------------------------------------------------------------------------
# Plans: what one bar plays
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hit:
    instrument: str
    start: int  # absolute sample
    velocity: float
    pan: float = 0.0  # -1 (left) .. 1 (right)
    n_samples: int = 0  # notes: gate length; drums: choke length (0 = the whole sound)
    midi: int = 0
    variant: int = 0  # which of the drum sound's variants
    sustain: bool = False  # bass: a slow, held note
    echo_n: int = 0  # lead: delay of the echoes, samples


@dataclass(frozen=True, slots=True)
class _PadPlan:
    chord: tuple[int, ...]
    level: float
    bright0: float
    bright1: float
    attack_n: int
    release_n: int


@dataclass(frozen=True, slots=True)
class _RiserPlan:
    level: float
    p0: float
    p1: float
    fade_out: bool


@dataclass(frozen=True, slots=True)
class _BarPlan:
    start: int
    end: int
    hits: tuple[_Hit, ...] = ()
    pad: _PadPlan | None = None
    riser: _RiserPlan | None = None
    kicks: tuple[tuple[int, float], ...] = ()  # (start sample, duck depth)


# --------------------------------------------------------------------------------------------
# Sounds
# --------------------------------------------------------------------------------------------


def _midi_hz(midi: float) -> float:
    return 440.0 * math.pow(2.0, (midi - 69.0) / 12.0)


def _fade_out(x: F64, n_fade: int) -> None:
    """Raised-cosine fade of the last ``n_fade`` samples of ``x`` (in place) down to zero."""
    n_fade = min(n_fade, x.shape[0])
    if n_fade > 0:
        ramp = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, n_fade + 1) / n_fade)
        x[-n_fade:] *= ramp if x.ndim == 1 else ramp[:, None]


def _fade_in(x: F64, n_fade: int) -> None:
    n_fade = min(n_fade, x.shape[0])
    if n_fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_fade) / n_fade)
        x[:n_fade] *= ramp if x.ndim == 1 else ramp[:, None]


def _peak_normalize(x: F64) -> F64:
    peak = float(np.max(np.abs(x)))  # max is exact in any order, so this stays deterministic
    return x / peak if peak > 0.0 else x


def _pan_gains(pan: float) -> tuple[float, float]:
    angle = (pan + 1.0) * math.pi / 4.0  # constant power, 0 dB at the sides
    return math.cos(angle) * math.sqrt(2.0), math.sin(angle) * math.sqrt(2.0)


class _Bank:
    """The song's sounds: drum samples, cached notes and pad loops. Pure functions of their keys."""

    def __init__(self, song: _Song, seed: int, sr: int) -> None:
        self.sr = sr
        self.song = song
        self.seed = seed
        rng = np.random.default_rng([seed, 2])
        self.kick = self._make_kick(rng)
        self.clap = self._make_clap(rng)
        self.snare = self._make_snare(rng)
        self.hats = [self._make_hat(rng, float(rng.uniform(0.028, 0.045)), 0.09) for _ in range(4)]
        self.open_hats = [
            self._make_hat(rng, float(rng.uniform(0.18, 0.26)), 0.45) for _ in range(2)
        ]
        self.crash = self._make_crash(rng)
        self.riser_bands = self._make_riser_bands()
        self._notes: dict[tuple[str, int, int, bool], F64] = {}
        self._pads: dict[tuple[int, ...], tuple[F32, F32]] = {}

    # -- drums --------------------------------------------------------------------------------

    def _t(self, seconds: float) -> F64:
        return np.arange(int(seconds * self.sr)) / self.sr

    def _make_kick(self, rng: np.random.Generator) -> F64:
        s = self.song
        t = self._t(0.45)
        sweep = (s.kick_f_start_hz - s.kick_f_end_hz) * s.kick_sweep_s
        phase = 2.0 * np.pi * (s.kick_f_end_hz * t + sweep * (1.0 - np.exp(-t / s.kick_sweep_s)))
        body = np.sin(phase) * np.exp(-t / s.kick_decay_s)
        click_src = rng.standard_normal(t.shape[0])
        b, a = signal.butter(2, 4000.0, btype="low", fs=self.sr)
        click = signal.lfilter(b, a, click_src) * np.exp(-t / 0.0015) * 0.6
        x = np.tanh(1.8 * (body + click)) / np.tanh(1.8)
        _fade_out(x, int(0.03 * self.sr))
        return _peak_normalize(x)

    def _noise_band(self, rng: np.random.Generator, n: int, lo_hz: float, hi_hz: float) -> F64:
        sos = signal.butter(2, [lo_hz, min(hi_hz, 0.45 * self.sr)], btype="band", fs=self.sr,
                            output="sos")
        return np.asarray(signal.sosfilt(sos, rng.standard_normal(n)), dtype=np.float64)

    def _make_clap(self, rng: np.random.Generator) -> F64:
        t = self._t(0.32)
        noise = self._noise_band(rng, t.shape[0], 900.0, 5000.0)
        env = np.zeros_like(t)
        for t0 in (0.0, 0.009, 0.018, 0.027):
            env += np.where(t >= t0, np.exp(-np.maximum(t - t0, 0.0) / 0.004), 0.0)
        env += 0.7 * np.where(t >= 0.027, np.exp(-np.maximum(t - 0.027, 0.0) / 0.075), 0.0)
        body = 0.35 * np.sin(2.0 * np.pi * 185.0 * t) * np.exp(-t / 0.045)
        x = noise / np.max(np.abs(noise)) * env + body
        _fade_out(x, int(0.02 * self.sr))
        return _peak_normalize(x)

    def _make_snare(self, rng: np.random.Generator) -> F64:
        t = self._t(0.18)
        noise = self._noise_band(rng, t.shape[0], 1500.0, 9000.0)
        x = noise / np.max(np.abs(noise)) * np.exp(-t / 0.05)
        x += 0.5 * np.sin(2.0 * np.pi * 205.0 * t) * np.exp(-t / 0.035)
        _fade_out(x, int(0.01 * self.sr))
        return _peak_normalize(x)

    def _metal(self, t: F64) -> F64:
        # Six detuned square waves, as in the classic analog drum machines' cymbal circuit.
        out = np.zeros_like(t)
        for f in (205.3, 304.4, 369.6, 522.7, 540.0, 800.0):
            out += np.sign(np.sin(2.0 * np.pi * 1.6 * f * t))
        return out

    def _make_hat(self, rng: np.random.Generator, decay_s: float, length_s: float) -> F64:
        t = self._t(length_s)
        src = 0.5 * self._metal(t) / 6.0 + rng.standard_normal(t.shape[0])
        sos = signal.butter(3, 7000.0, btype="high", fs=self.sr, output="sos")
        x = np.asarray(signal.sosfilt(sos, src), dtype=np.float64) * np.exp(-t / decay_s)
        _fade_in(x, int(0.0003 * self.sr))
        _fade_out(x, int(0.01 * self.sr))
        return _peak_normalize(x)

    def _make_crash(self, rng: np.random.Generator) -> F64:
        t = self._t(2.5)
        sos = signal.butter(2, 4500.0, btype="high", fs=self.sr, output="sos")
        x = np.empty((t.shape[0], 2))
        for c in range(2):
            src = rng.standard_normal(t.shape[0]) + 0.3 * self._metal(t * (1.0 + 0.01 * c)) / 6.0
            x[:, c] = signal.sosfilt(sos, src)
        x *= np.exp(-t / 0.8)[:, None]
        _fade_in(x, int(0.0005 * self.sr))
        _fade_out(x, int(0.1 * self.sr))
        return _peak_normalize(x)

    def _make_riser_bands(self) -> F32:
        """Periodic noise loops in `_RISER_BANDS` bands from 250 Hz to 9 kHz, shape (bands, n, 2).

        Built in the frequency domain so each loop wraps seamlessly; crossfading neighboring
        bands sweeps a band-pass upward without a time-varying filter.
        """
        rng = np.random.default_rng([self.seed, 4])
        n = _RISER_LOOP_LEN
        f_hz = np.fft.rfftfreq(n, 1.0 / self.sr)
        log_f = np.log2(np.maximum(f_hz, 1.0))
        centers = np.geomspace(250.0, 9000.0, _RISER_BANDS)
        out = np.empty((_RISER_BANDS, n, 2), np.float32)
        for k, fc in enumerate(centers):
            mag = np.exp(-0.5 * ((log_f - math.log2(fc)) / 0.45) ** 2)
            mag[0] = 0.0
            for c in range(2):
                phases = rng.uniform(0.0, 2.0 * np.pi, f_hz.shape[0])
                x = np.fft.irfft(mag * np.exp(1j * phases), n)
                out[k, :, c] = x / np.max(np.abs(x))
        return out

    # -- notes --------------------------------------------------------------------------------

    def _cached(self, key: tuple[str, int, int, bool]) -> F64 | None:
        return self._notes.get(key)

    def _store(self, key: tuple[str, int, int, bool], x: F64) -> F64:
        if len(self._notes) >= _NOTE_CACHE_MAX:
            self._notes.clear()
        self._notes[key] = x
        return x

    def _harmonic_note(
        self, f0: float, n: int, amps: list[float], brightness_per_s: float
    ) -> F64:
        """Sum of harmonics whose upper partials die away faster: a plucked, filtered tone."""
        t = np.arange(n) / self.sr
        damp = np.exp(-t * brightness_per_s)
        tilt = np.ones(n)
        x = np.zeros(n)
        for h, amp in enumerate(amps, start=1):
            if h * f0 >= 0.45 * self.sr:
                break
            if amp != 0.0:
                x += amp * tilt * np.sin(2.0 * np.pi * h * f0 * t)
            tilt *= damp
        return x

    def bass_note(self, midi: int, n: int, sustain: bool) -> F64:
        key = ("bass", midi, n, sustain)
        hit = self._cached(key)
        if hit is not None:
            return hit
        f0 = _midi_hz(midi)
        if sustain:
            x = self._harmonic_note(f0, n, [1.0, 0.3, 0.1], 0.0)
            _fade_in(x, int(0.12 * self.sr))
            _fade_out(x, int(_BASS_SUSTAIN_RELEASE_S * self.sr))
        else:
            amps = [1.0 / h for h in range(1, 9)]
            x = self._harmonic_note(f0, n, amps, self.song.bass_brightness_per_s)
            x = np.tanh(1.5 * x) / np.tanh(1.5)
            _fade_in(x, int(0.003 * self.sr))
            _fade_out(x, int(0.012 * self.sr))
        return self._store(key, x)

    def lead_note(self, midi: int, n: int) -> F64:
        key = ("lead", midi, n, False)
        hit = self._cached(key)
        if hit is not None:
            return hit
        odd = self.song.lead_odd_harmonics
        amps = [(1.0 / h if (h % 2 == 1 or not odd) else 0.0) for h in range(1, 13)]
        x = self._harmonic_note(_midi_hz(midi), n, amps, 25.0)
        x *= np.exp(-np.arange(n) / (0.2 * self.sr))
        _fade_in(x, int(0.002 * self.sr))
        _fade_out(x, int(0.01 * self.sr))
        return self._store(key, x)

    def pad_loops(self, chord: tuple[int, ...]) -> tuple[F32, F32]:
        """Dark and bright periodic loops of a detuned-saw chord, each shape (2**17, 2) float32.

        Each saw is band-limited by construction: its harmonics are placed on FFT bins (the
        fundamental rounded to the nearest bin, <= 2 cents off for pad notes) and shaped by a
        3-pole low-pass response, then one inverse FFT per channel gives a loop that wraps
        seamlessly. Brightness is a crossfade between the two loops, which share their phases,
        so every blend is itself a clean low-pass.
        """
        hit = self._pads.get(chord)
        if hit is not None:
            return hit
        n = _PAD_LOOP_LEN
        sr = self.sr
        rng = np.random.default_rng([self.seed, 3, *chord])
        d = self.song.pad_detune_cents
        detunes = ((-d, d / 3.0), (d, -d / 3.0))  # left, right
        n_bins = n // 2 + 1
        spectra = {"dark": 700.0, "bright": 5000.0}
        loops: list[F32] = []
        phases = {(c, i, v): float(rng.uniform(0.0, 2.0 * np.pi))
                  for c in range(2) for i in range(len(chord)) for v in range(2)}
        for cutoff in spectra.values():
            loop = np.empty((n, 2), np.float32)
            for c in range(2):
                spec = np.zeros(n_bins, np.complex128)
                for i, midi in enumerate(chord):
                    voice_gain = 0.6 if i == 0 else 1.0  # the low root is a warm bed, not a lead
                    for v, cents in enumerate(detunes[c]):
                        k0 = max(1, round(_midi_hz(midi + cents / 100.0) * n / sr))
                        h = np.arange(1, int(min(0.45 * sr, 16.0 * cutoff) * n / sr) // k0 + 1)
                        f_hz = h * k0 * sr / n
                        amp = voice_gain / h / np.sqrt(1.0 + (f_hz / cutoff) ** 6)
                        phi = h * phases[(c, i, v)]
                        np.add.at(spec, h * k0, amp * np.exp(1j * phi))
                x = np.fft.irfft(spec, n)
                loop[:, c] = x / math.sqrt(math.fsum(float(s) ** 2 for s in x[::64]) / (n / 64))
            loops.append(loop)
        result = (loops[0], loops[1])
        self._pads[chord] = result
        return result


# --------------------------------------------------------------------------------------------
# Streaming state
# --------------------------------------------------------------------------------------------


class _Stream:
    """Render position, accumulation rings and the current bar's finished samples."""

    def __init__(self, gen: MusicGenerator) -> None:
        self.gen = gen
        cap = gen._ring_capacity
        self.drums = np.zeros((cap, 2))
        self.music = np.zeros((cap, 2))
        max_bar = gen._max_bar_samples
        self.mix = np.zeros((max_bar, 2))
        self.music_tmp = np.zeros((max_bar, 2))
        self.env = np.ones(max_bar)
        self.out = np.zeros((max_bar, gen.n_channels), np.float32)
        self.out_len = 0
        self.out_pos = 0
        self.next_bar = 0
        self.final_end = 0  # every sample before this has been mixed and handed to `out`
        self.last_kick: tuple[int, float] | None = None

    def render(self, out: F32) -> None:
        n = out.shape[0]
        i = 0
        while i < n:
            if self.out_pos == self.out_len:
                self._next_bar()
                continue
            m = min(n - i, self.out_len - self.out_pos)
            out[i : i + m] = self.out[self.out_pos : self.out_pos + m]
            self.out_pos += m
            i += m

    # -- rings --------------------------------------------------------------------------------

    def _slots(self, start: int, n: int) -> Iterator[tuple[int, int, int, int]]:
        cap = self.drums.shape[0]
        if start < self.final_end or start + n > self.final_end + cap:
            raise RuntimeError(
                f"music event [{start}, {start + n}) outside the ring window "
                f"[{self.final_end}, {self.final_end + cap})"
            )
        p = start % cap
        m = min(n, cap - p)
        yield p, p + m, 0, m
        if m < n:
            yield 0, n - m, m, n

    def _add_mono(self, ring: F64, start: int, x: F64, gain: float, pan: float) -> None:
        gl, gr = _pan_gains(pan)
        gl *= gain
        gr *= gain
        for r0, r1, x0, x1 in self._slots(start, x.shape[0]):
            ring[r0:r1, 0] += gl * x[x0:x1]
            ring[r0:r1, 1] += gr * x[x0:x1]

    def _add_stereo(self, ring: F64, start: int, x: F64) -> None:
        for r0, r1, x0, x1 in self._slots(start, x.shape[0]):
            ring[r0:r1] += x[x0:x1]

    def _take(self, ring: F64, start: int, dst: F64) -> None:
        """Copy ``len(dst)`` samples from ``start`` out of the ring and zero them for reuse."""
        for r0, r1, x0, x1 in self._slots(start, dst.shape[0]):
            dst[x0:x1] = ring[r0:r1]
            ring[r0:r1] = 0.0

    # -- one bar ------------------------------------------------------------------------------

    def _next_bar(self) -> None:
        gen = self.gen
        plan = gen._plan_bar(self.next_bar)
        if plan.start != self.final_end:
            raise RuntimeError("bar plan does not continue the previous bar")
        muted = gen.params.mute
        for hit in plan.hits:
            if hit.instrument not in muted:
                self._play(hit)
        if plan.pad is not None and "pad" not in muted:
            self._play_pad(plan)
        if plan.riser is not None and "riser" not in muted:
            self._play_riser(plan)
        self._finish(plan)
        self.next_bar += 1

    def _play(self, hit: _Hit) -> None:
        bank = self.gen._bank
        inst = hit.instrument
        if inst == "bass":
            x = bank.bass_note(hit.midi, hit.n_samples, hit.sustain)
            self._add_mono(self.music, hit.start, x, hit.velocity, hit.pan)
        elif inst == "lead":
            x = bank.lead_note(hit.midi, hit.n_samples)
            self._add_mono(self.music, hit.start, x, hit.velocity, hit.pan)
            # Dotted-eighth echoes, bouncing between the sides.
            for n_echo, gain in ((1, 0.4), (2, 0.18)):
                pan = -hit.pan if n_echo % 2 else hit.pan
                start = hit.start + n_echo * hit.echo_n
                self._add_mono(self.music, start, x, hit.velocity * gain, pan)
        elif inst == "crash":
            self._add_stereo(self.drums, hit.start, bank.crash * hit.velocity)
        else:
            sample = {
                "kick": bank.kick,
                "clap": bank.clap,
                "snare": bank.snare,
                "hat": bank.hats[hit.variant % len(bank.hats)],
                "open_hat": bank.open_hats[hit.variant % len(bank.open_hats)],
            }[inst]
            if 0 < hit.n_samples < sample.shape[0]:
                sample = sample[: hit.n_samples].copy()
                _fade_out(sample, int(0.004 * self.gen.sr))
            self._add_mono(self.drums, hit.start, sample, hit.velocity, hit.pan)

    def _play_pad(self, plan: _BarPlan) -> None:
        pad = plan.pad
        assert pad is not None
        dark, bright = self.gen._bank.pad_loops(pad.chord)
        n_body = plan.end - plan.start
        n = n_body + pad.release_n
        idx = np.arange(plan.start, plan.start + n)
        b = np.full(n, pad.bright1)
        b[:n_body] = pad.bright0 + (pad.bright1 - pad.bright0) * (np.arange(n_body) / n_body)
        x = np.take(dark, idx, axis=0, mode="wrap") * (1.0 - b)[:, None]
        x += np.take(bright, idx, axis=0, mode="wrap") * b[:, None]
        env = np.full(n, pad.level * _PAD_GAIN)
        _fade_in(env, pad.attack_n)
        if pad.release_n:
            _fade_out(env, pad.release_n)
        x *= env[:, None]
        self._add_stereo(self.music, plan.start, x)

    def _play_riser(self, plan: _BarPlan) -> None:
        riser = plan.riser
        assert riser is not None
        bands = self.gen._bank.riser_bands
        n = plan.end - plan.start
        p = riser.p0 + (riser.p1 - riser.p0) * (np.arange(n) / n)
        c = p * (_RISER_BANDS - 1)
        k0 = np.minimum(c.astype(np.int64), _RISER_BANDS - 2)
        frac = (c - k0)[:, None]
        idx = np.arange(plan.start, plan.start + n) % _RISER_LOOP_LEN
        x = bands[k0, idx] * (1.0 - frac) + bands[k0 + 1, idx] * frac
        amp = riser.level * p * p
        if riser.fade_out:
            _fade_out(amp, int(0.01 * self.gen.sr))
        self._add_stereo(self.drums, plan.start, x * amp[:, None])

    def _finish(self, plan: _BarPlan) -> None:
        """Mix the finished bar: duck the music under the kicks, apply gain, soft-clip."""
        gen = self.gen
        n = plan.end - plan.start
        mix = self.mix[:n]
        music = self.music_tmp[:n]
        self._take(self.drums, plan.start, mix)
        self._take(self.music, plan.start, music)
        env = self.env[:n]
        env[:] = 1.0
        shape = gen._duck_shape
        kicks: list[tuple[int, float]] = []
        if self.last_kick is not None:
            kicks.append(self.last_kick)
        kicks += list(plan.kicks)
        for i, (pos, depth) in enumerate(kicks):
            a = max(pos, plan.start)
            b = min(pos + shape.shape[0], plan.end)
            if i + 1 < len(kicks):
                b = min(b, kicks[i + 1][0])
            if b > a and depth > 0.0:
                env[a - plan.start : b - plan.start] = 1.0 - depth * shape[a - pos : b - pos]
            elif b > a:
                env[a - plan.start : b - plan.start] = 1.0
        if plan.kicks:
            self.last_kick = plan.kicks[-1]
        mix += music * env[:, None]
        mix *= gen._master_gain
        over = np.abs(mix) > _CLIP_KNEE
        if over.any():
            v = mix[over]
            room = 1.0 - _CLIP_KNEE
            mix[over] = np.sign(v) * (_CLIP_KNEE + room * np.tanh((np.abs(v) - _CLIP_KNEE) / room))
        out = self.out[:n]
        if gen.n_channels == 1:
            out[:, 0] = 0.5 * (mix[:, 0] + mix[:, 1])
        else:
            for c in range(gen.n_channels):
                out[:, c] = mix[:, c % 2]
        self.out_len = n
        self.out_pos = 0
        self.final_end = plan.end


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


class MusicGenerator:
    """Streams a generated dance track and answers where its beats, bars and sections fall.

    Parameters
    ----------
    params : MusicParams
        What to play.
    sr : int, Hz, 8000..192000
        Sample rate.
    n_channels : int, >= 1
        Output channels. One channel gets the mono sum; with more, even channels get the left
        mix and odd channels the right.

    Notes
    -----
    Not real-time safe and not thread-safe: `render` synthesizes a bar (several milliseconds,
    allocating) whenever it has used up the previous one. Rendering runs far faster than real
    time, so a producer thread rendering ahead into a ring buffer keeps up easily.
    """

    def __init__(
        self, params: MusicParams = MusicParams(), sr: int = 48000, n_channels: int = 2
    ) -> None:
        if not 8000 <= sr <= 192000:
            raise ValueError(f"sr must be in 8000..192000 Hz, got {sr!r}")
        if n_channels < 1:
            raise ValueError(f"n_channels must be >= 1, got {n_channels!r}")
        self.params = params
        self.sr = sr
        self.n_channels = n_channels
        self._grid = _Grid(params)
        self._song = _make_song(params)
        self._bank = _Bank(self._song, params.seed, sr)
        self._master_gain = _MIX_NORM * 10.0 ** (params.gain_db / 20.0)
        longest_bar_s = max(float(np.max(self._grid.bar_s)), 1.0)
        self._max_bar_samples = int(math.ceil(longest_bar_s * sr)) + 2
        # A bar's sounds reach at most: the bar, pad release, two echo delays (< 2 beats) and
        # the 2.5 s crash; twice the longest bar plus 3 s covers all of them.
        self._ring_capacity = 2 * self._max_bar_samples + 3 * sr
        self._duck_shape = self._make_duck_shape()
        self._stream = _Stream(self)

    # -- audio --------------------------------------------------------------------------------

    def render(self, out: F32) -> None:
        """Fill ``out`` with the next ``len(out)`` frames of the song.

        Consecutive calls continue seamlessly, whatever their sizes.

        Parameters
        ----------
        out : ndarray, shape (n_frames, n_channels), float32
            Written in place; any ``n_frames >= 0``.
        """
        if out.ndim != 2 or out.shape[1] != self.n_channels or out.dtype != np.float32:
            raise ValueError(
                f"out must be float32 of shape (n_frames, {self.n_channels}), "
                f"got {out.dtype} {out.shape}"
            )
        self._stream.render(out)

    def render_seconds(self, seconds: float) -> F32:
        """Render the first ``seconds`` of the song, independently of the streaming position.

        Parameters
        ----------
        seconds : float, s, >= 0
            Duration; rounded to the nearest whole frame.

        Returns
        -------
        ndarray, shape (round(seconds * sr), n_channels), float32
            The same samples as streaming `render` calls from the start, bit for bit.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        out = np.empty((int(round(seconds * self.sr)), self.n_channels), np.float32)
        _Stream(self).render(out)
        return out

    def reset(self) -> None:
        """Go back to the start of the song."""
        self._stream = _Stream(self)

    # -- grid ---------------------------------------------------------------------------------

    @property
    def song_duration_s(self) -> float:
        """Length of one pass through the arrangement, in seconds."""
        return self._grid.period_s

    def beat_times(self, until_s: float) -> F64:
        """Times of every beat (quarter note) in ``[0, until_s)``.

        Follows tempo changes and loops; beats continue through sections without a kick.

        Parameters
        ----------
        until_s : float, s
            End of the window (exclusive).

        Returns
        -------
        ndarray, shape (n_beats,), float64, s
            Ascending. Beat ``i`` starts on sample ``floor(t[i] * sr + 0.5)``.
        """
        return self._grid.beat_times(until_s, downbeats_only=False)

    def downbeat_times(self, until_s: float) -> F64:
        """Times of the first beat of every bar in ``[0, until_s)``.

        Returns
        -------
        ndarray, shape (n_bars,), float64, s
            Ascending; a subset of `beat_times`.
        """
        return self._grid.beat_times(until_s, downbeats_only=True)

    def sections(self, until_s: float) -> list[tuple[float, str]]:
        """Start time and label of every section that starts in ``[0, until_s)``.

        Returns
        -------
        list of (float, str)
            ``(start s, label)`` in order, repeating the arrangement when looping.
        """
        grid = self._grid
        out: list[tuple[float, str]] = []
        for k in range(grid.n_passes(until_s)):
            for first, label in zip(grid.section_first_bar, grid.labels, strict=True):
                t = grid.bar_start_s(k * grid.n_bars + first)
                if t < until_s:
                    out.append((t, label))
        return out

    def section_at(self, t_s: float) -> str:
        """Label of the section playing at ``t_s`` (the last section once a non-loop has ended)."""
        if t_s < 0:
            raise ValueError(f"t_s must be >= 0, got {t_s!r}")
        g = self._grid.bar_at(t_s)
        return self._grid.labels[self._grid.section_of_bar[g % self._grid.n_bars]]

    def intensity_at(self, t_s: npt.ArrayLike) -> F64:
        """Known intensity (`SECTION_INTENSITY`, 1..3) at each time in ``t_s``.

        A build ramps linearly from 2 at its first bar to 3 at its end; every other section is
        flat. Times past the end of a non-looping song take the last section's value.
        """
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        until = float(t.max()) + 1e-6 if t.size else 0.0
        # one pass more than asked, so the section holding the last time has a known end
        secs = self.sections(until + self.song_duration_s)
        starts = np.array([s for s, _ in secs] + [np.inf])
        if not self.params.loop:
            starts[-1] = max(self.song_duration_s, until)
        k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(secs) - 1)
        out = np.array([SECTION_INTENSITY[secs[i][1]] for i in k], dtype=np.float64)
        build = np.array([secs[i][1] == "build" for i in k], dtype=bool)
        if build.any():
            t0, t1 = starts[k[build]], starts[k[build] + 1]
            frac = np.clip((t[build] - t0) / np.maximum(t1 - t0, 1e-9), 0.0, 1.0)
            out[build] = 2.0 + frac
        return out

    def tempo_at(self, t_s: float) -> float:
        """Tempo at ``t_s``, in bpm (the last bar's tempo once a non-loop song has ended)."""
        if t_s < 0:
            raise ValueError(f"t_s must be >= 0, got {t_s!r}")
        g = self._grid.bar_at(t_s)
        return float(self._grid.bpm[g % self._grid.n_bars])

    def onset_times(self, instrument: str, until_s: float) -> F64:
        """Onset times of one instrument's hits or notes in ``[0, until_s)``.

        Ground truth for analysis tests: the times are exact sample positions divided by `sr`.
        Muted instruments are listed too (muting only silences them).

        Parameters
        ----------
        instrument : str
            One of `HIT_INSTRUMENTS` (lead echoes are not listed).
        until_s : float, s
            End of the window (exclusive).

        Returns
        -------
        ndarray, shape (n_onsets,), float64, s
            Ascending.
        """
        if instrument not in HIT_INSTRUMENTS:
            raise ValueError(
                f"no onsets for {instrument!r}{did_you_mean(instrument, HIT_INSTRUMENTS)}; "
                f"known: {', '.join(HIT_INSTRUMENTS)}"
            )
        starts: list[int] = []
        g = 0
        limit = until_s * self.sr
        while self._grid.plays(g) and self._grid.bar_start_s(g) < until_s:
            starts += [h.start for h in self._plan_bar(g).hits if h.instrument == instrument]
            g += 1
        arr = np.array(sorted(s for s in starts if s < limit), dtype=np.float64)
        return arr / self.sr

    # -- internals ----------------------------------------------------------------------------

    def _make_duck_shape(self) -> F64:
        """Sidechain gain-reduction curve after a kick: 4 ms dip, then recovery by 0.3 s."""
        n_attack = max(1, int(0.004 * self.sr))
        n = int(0.3 * self.sr)
        t = np.arange(n, dtype=np.float64)
        shape = ((n - t) / (n - n_attack)) ** 2
        shape[:n_attack] = t[:n_attack] / n_attack
        return shape

    def _sample(self, t_s: float) -> int:
        return int(math.floor(t_s * self.sr + 0.5))

    def _pad_key(self, g: int) -> tuple[int, int, tuple[int, ...]] | None:
        grid = self._grid
        if g < 0 or not grid.plays(g):
            return None
        k, b = divmod(g, grid.n_bars)
        si = grid.section_of_bar[b]
        if _STYLES[grid.labels[si]].pad <= 0.0:
            return None
        return k, si, self._chord(b).pad_midi

    def _chord(self, b: int) -> _Chord:
        song = self._song
        i = self._grid.bar_in_section[b]
        return song.chords[(i // song.chord_bars) % len(song.chords)]

    def _plan_bar(self, g: int) -> _BarPlan:
        """Everything bar ``g`` plays. Pure: depends only on the parameters and ``g``."""
        grid = self._grid
        sr = self.sr
        start = self._sample(grid.bar_start_s(g))
        end = self._sample(grid.bar_start_s(g + 1))
        if not grid.plays(g):
            return _BarPlan(start, end)
        p = self.params
        song = self._song
        k, b = divmod(g, grid.n_bars)
        si = grid.section_of_bar[b]
        label = grid.labels[si]
        st = _STYLES[label]
        i = grid.bar_in_section[b]
        n_sec = p.arrangement[si].bars
        bpb = p.beats_per_bar
        n_steps = 4 * bpb
        t0 = grid.bar_start_s(g)
        beat = grid.beat_s_of(g)
        q = beat / 4.0
        # Fixed-size draws, whatever the section or swing, so muting and swing never reshuffle.
        rng = np.random.default_rng([p.seed, 5, g])
        jitter = rng.normal(0.0, 1.0, n_steps)
        variants = rng.integers(0, 4, n_steps)

        def at(step: int) -> int:
            j, s = divmod(step, 4)
            offset = s + (p.swing if s % 2 else 0.0)
            return self._sample((t0 + j * beat) + offset * q)

        def gate(step: int, length: float) -> int:
            # A swung note keeps its unswung end, so it never rings into the next beat.
            return int(round((length - (p.swing if step % 2 else 0.0)) * q * sr))

        sec_first = k * grid.n_bars + grid.section_first_bar[si]
        sec_start = self._sample(grid.bar_start_s(sec_first))
        sec_end = self._sample(grid.bar_start_s(sec_first + n_sec))
        sec_len = max(1, sec_end - sec_start)

        def progress(sample: int) -> float:
            return (sample - sec_start) / sec_len

        hits: list[_Hit] = []
        kicks: list[tuple[int, float]] = []
        first_half = 2 * i < n_sec

        if st.kick > 0.0 and not (label == "build" and not first_half):
            for j in range(bpb):
                s0 = at(4 * j)
                # Choke at the next beat, so fast tempos never stack kick tails.
                choke = at(4 * j + 4) - s0 - int(_CHOKE_GAP_S * sr)
                hits.append(_Hit("kick", s0, st.kick, n_samples=choke))
                kicks.append((s0, st.duck))
        if st.clap > 0.0:
            for j in range(1, bpb, 2):
                hits.append(_Hit("clap", at(4 * j), st.clap, pan=0.05))
            if i == n_sec - 1 and n_steps >= 4:  # a two-hit fill into the next section
                hits.append(_Hit("snare", at(n_steps - 2), 0.45 * st.clap, pan=-0.1))
                hits.append(_Hit("snare", at(n_steps - 1), 0.65 * st.clap, pan=0.1))
        if st.hat > 0.0:
            if label == "intro":
                pattern = "..x." if first_half else song.hat_pattern
            elif label == "build":
                pattern = "x.x." if first_half else "xxxx"
            else:
                pattern = song.hat_pattern
            if st.open_hat <= 0.0:
                pattern = pattern.replace("o", "x")
            for m in range(n_steps):
                ch = pattern[m % 4]
                if ch == ".":
                    continue
                vel = _HAT_ACCENT[m % 4] * (1.0 + 0.08 * float(jitter[m]))
                s0 = at(m)
                if label == "build":
                    vel *= 0.6 + 0.4 * progress(s0)
                if ch == "o":
                    nxt = next(d for d in range(1, 5) if pattern[(m + d) % 4] != ".")
                    choke = at(m + nxt) - s0 - int(_CHOKE_GAP_S * sr)
                    hits.append(_Hit("open_hat", s0, st.open_hat * vel, -0.15, choke,
                                     variant=int(variants[m])))
                else:
                    hits.append(_Hit("hat", s0, st.hat * vel, 0.2, variant=int(variants[m])))
        if st.roll:
            every = 4 if first_half else (2 if 4 * i < 3 * n_sec else 1)
            for m in range(0, n_steps, every):
                s0 = at(m)
                hits.append(_Hit("snare", s0, 0.3 + 0.55 * progress(s0)))
        if label == "drop" and i == 0:
            hits.append(_Hit("crash", start, 0.55))

        chord = self._chord(b)
        if st.bass > 0.0:
            if label == "break":
                n = end - start + int(_BASS_SUSTAIN_RELEASE_S * sr)
                hits.append(_Hit("bass", start, st.bass, 0.0, n, chord.bass_midi, sustain=True))
            else:
                for j in range(bpb):
                    for s, length, octave in song.bass_pattern:
                        n = gate(s, length)
                        vel = st.bass * (1.0 if s == 2 else 0.85)
                        midi = chord.bass_midi + 12 * octave
                        hits.append(_Hit("bass", at(4 * j + s), vel, 0.0, n, midi))
        if st.lead > 0.0:
            delay = int(round(3.0 * q * sr))
            for m in range(n_steps):
                idx = song.lead_pattern[m % len(song.lead_pattern)]
                if idx < 0:
                    continue
                midi = chord.lead_midi[idx % len(chord.lead_midi)]
                vel = st.lead * (1.0 if m % 4 == 0 else 0.75)
                pan = 0.25 if m % 2 else -0.25
                hits.append(_Hit("lead", at(m), vel, pan, gate(m, 0.8), midi, echo_n=delay))

        pad: _PadPlan | None = None
        key = self._pad_key(g)
        if key is not None:
            attack = key != self._pad_key(g - 1)
            release = key != self._pad_key(g + 1)
            b0, b1 = st.pad_bright
            pad = _PadPlan(
                chord=chord.pad_midi,
                level=st.pad,
                bright0=b0 + (b1 - b0) * progress(start),
                bright1=b0 + (b1 - b0) * progress(end),
                attack_n=min(int(st.pad_attack_s * sr), end - start) if attack else 0,
                release_n=int(_PAD_RELEASE_S * sr) if release else 0,
            )
        riser = None
        if st.riser:
            riser = _RiserPlan(0.9, progress(start), progress(end), fade_out=i == n_sec - 1)
        hits.sort(key=lambda h: h.start)
        return _BarPlan(start, end, tuple(hits), pad, riser, tuple(kicks))


def write_wav(
    path: str | Path,
    seconds: float,
    params: MusicParams = MusicParams(),
    sr: int = 48000,
    *,
    n_channels: int = 2,
    subtype: Literal["PCM_16", "PCM_24", "FLOAT"] = "PCM_16",
) -> None:
    """Render the first ``seconds`` of a song to a WAV file, a bar-sized block at a time.

    Parameters
    ----------
    path : str or Path
        Output file.
    seconds : float, s, >= 0
        Duration; rounded to the nearest whole frame.
    params : MusicParams
        What to play.
    sr : int, Hz
        Sample rate.
    n_channels : int, >= 1
        Channels in the file.
    subtype : {"PCM_16", "PCM_24", "FLOAT"}
        Sample format (16-bit integer by default).
    """
    import soundfile  # only needed here; keeps importing this module cheap

    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds!r}")
    gen = MusicGenerator(params, sr, n_channels)
    n_total = int(round(seconds * sr))
    block = np.empty((sr, n_channels), np.float32)
    with soundfile.SoundFile(str(path), "w", sr, n_channels, subtype=subtype, format="WAV") as f:
        done = 0
        while done < n_total:
            m = min(block.shape[0], n_total - done)
            gen.render(block[:m])
            f.write(block[:m])
            done += m


__all__ = [
    "DEFAULT_ARRANGEMENT",
    "HIT_INSTRUMENTS",
    "INSTRUMENTS",
    "SECTION_INTENSITY",
    "SECTION_LABELS",
    "MusicGenerator",
    "MusicParams",
    "Section",
    "write_wav",
]
