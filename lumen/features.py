"""`Features`: the contract between listening and looking.

Layer: features (between analysis and scene). Threads: the analysis thread writes feature
vectors; the frame thread (and anything downstream) reads `Features` values.

Analysis writes into a flat float64 *feature vector* (indices in `FIELDS`) so that it can be
published through a shared-memory seqlock mailbox without building objects per hop; the show
side turns the latest vector into an immutable `Features` once per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

import numpy as np
import numpy.typing as npt

#: Section labels, in the order of their codes in the feature vector.
SECTIONS: Final[tuple[str, ...]] = ("none", "intro", "verse", "build", "drop", "break", "outro")

#: Tempo sources, in the order of their codes in the feature vector (and the default
#: precedence of the tempo arbiter, strongest first; `lumen.control.hub.TempoArbiter`).
TEMPO_SOURCES: Final[tuple[str, ...]] = ("link", "midi_clock", "os2l", "osc", "tap", "audio")
#: Band names, in the order of `Features.bands`.
BANDS: Final[tuple[str, ...]] = ("bass", "low_mid", "high_mid", "treble")

#: Band edges in Hz: bass 20-250, low-mid 250-2000, high-mid 2000-6000, treble 6000-20000.
BAND_EDGES_HZ: Final[tuple[float, ...]] = (20.0, 250.0, 2000.0, 6000.0, 20000.0)

#: Number of log-spaced spectrum bins in `Features.spectrum` (the shaders' spectrum texture).
SPECTRUM_BINS: Final[int] = 32

#: Number of waveform samples in `Features.wave` (the shaders' waveform texture).
WAVE_SAMPLES: Final[int] = 64

_ZERO_SPECTRUM: Final[tuple[float, ...]] = (0.0,) * SPECTRUM_BINS
_ZERO_WAVE: Final[tuple[float, ...]] = (0.0,) * WAVE_SAMPLES


@dataclass(frozen=True, slots=True)
class Features:
    """Musical features of one analysis hop (10 ms).

    Attributes
    ----------
    t : float, s
        Audio time of the end of the hop on the ``time.perf_counter()`` clock.
    seq : int
        Hop counter since the listen process started (0 before the first hop).
    bpm : float, beats per minute, 0 or 40..240
        Current tempo estimate (0 when unknown).
    beat_phase : float, 0..1
        Position within the current beat.
    bar_phase : float, 0..1
        Position within the current bar (4 beats).
    beat : bool
        A beat fell within this hop.
    downbeat : bool
        A bar's first beat fell within this hop.
    next_beat_t : float, s
        Predicted time of the next beat (perf_counter clock; 0 when unknown).
    confidence : float, 0..1
        Confidence of the tempo and phase estimate.
    energy : float, 0..1
        Loudness after auto-gain.
    rms_db : float, dBFS, -120..0
        Raw RMS level of the hop.
    bands : tuple of 4 float, 0..1
        Bass, low-mid, high-mid and treble levels after per-band auto-gain.
    onset : float, 0..1
        Onset strength (normalised spectral flux) of this hop.
    is_onset : bool
        An onset was detected in this hop.
    valence, arousal : float, 0..1
        Mood (0.5 = neutral, until a mood analyzer is installed).
    section : str
        One of `SECTIONS`.
    novelty : float, 0..1
        Structural novelty.
    mood_confidence : float, 0..1
        Confidence of `valence` and `arousal` (0 in silence, noise or speech).
    section_change : bool
        The section label changed in this hop.
    build_start : bool
        A build-up was recognized in this hop (ahead of its drop).
    drop : bool
        A drop lands in this hop (on the beat).
    break_start : bool
        A break (breakdown) starts in this hop.
    tempo_source : str
        Where `bpm` and the phases come from: one of `TEMPO_SOURCES` ("audio" is lumen's own
        tracker; "tap" and "osc" are manual tempo; "link", "midi_clock", "os2l" external).
    spectrum : tuple of `SPECTRUM_BINS` float, 0..1
        Log-frequency spectrum of the hop (mel-spaced bins from 30 Hz to 16 kHz, low to high),
        after auto-gain: what a spectrum analyzer display shows.
    wave : tuple of `WAVE_SAMPLES` float, -1..1
        The hop's waveform (mono mix), decimated to `WAVE_SAMPLES` points, oldest first.
    """

    t: float = 0.0
    seq: int = 0
    bpm: float = 0.0
    beat_phase: float = 0.0
    bar_phase: float = 0.0
    beat: bool = False
    downbeat: bool = False
    next_beat_t: float = 0.0
    confidence: float = 0.0
    energy: float = 0.0
    rms_db: float = -120.0
    bands: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    onset: float = 0.0
    is_onset: bool = False
    valence: float = 0.5
    arousal: float = 0.5
    section: str = "none"
    novelty: float = 0.0
    mood_confidence: float = 0.0
    section_change: bool = False
    build_start: bool = False
    drop: bool = False
    break_start: bool = False
    tempo_source: str = "audio"
    spectrum: tuple[float, ...] = _ZERO_SPECTRUM
    wave: tuple[float, ...] = _ZERO_WAVE

    @property
    def bass(self) -> float:
        """Bass band level, 0..1."""
        return self.bands[0]

    @property
    def low_mid(self) -> float:
        """Low-mid band level, 0..1."""
        return self.bands[1]

    @property
    def high_mid(self) -> float:
        """High-mid band level, 0..1."""
        return self.bands[2]

    @property
    def treble(self) -> float:
        """Treble band level, 0..1."""
        return self.bands[3]

    def scalars(self) -> dict[str, float]:
        """Every feature as a float, keyed by the names shaders and bindings use."""
        out = {
            "t": self.t,
            "bpm": self.bpm,
            "beat_phase": self.beat_phase,
            "bar_phase": self.bar_phase,
            "beat": float(self.beat),
            "downbeat": float(self.downbeat),
            "next_beat_t": self.next_beat_t,
            "confidence": self.confidence,
            "energy": self.energy,
            "rms_db": self.rms_db,
            "onset": self.onset,
            "is_onset": float(self.is_onset),
            "valence": self.valence,
            "arousal": self.arousal,
            "section": float(SECTIONS.index(self.section)),
            "novelty": self.novelty,
            "mood_confidence": self.mood_confidence,
            "section_change": float(self.section_change),
            "build_start": float(self.build_start),
            "drop": float(self.drop),
            "break_start": float(self.break_start),
            "tempo_source": float(TEMPO_SOURCES.index(self.tempo_source)),
        }
        for name, v in zip(BANDS, self.bands):
            out[name] = v
        return out


# Layout of the feature vector: one float64 slot per scalar, bands expanded.
_SCALAR_FIELDS = [f.name for f in fields(Features) if f.name not in ("bands", "spectrum", "wave")]
_AUDIO_SOURCE: Final[int] = TEMPO_SOURCES.index("audio")
#: Vector slot names of the spectrum bins and waveform samples (``spectrum_00`` ...).
SPECTRUM_FIELDS: Final[tuple[str, ...]] = tuple(f"spectrum_{i:02d}" for i in range(SPECTRUM_BINS))
WAVE_FIELDS: Final[tuple[str, ...]] = tuple(f"wave_{i:02d}" for i in range(WAVE_SAMPLES))
FIELDS: Final[tuple[str, ...]] = tuple(
    _SCALAR_FIELDS[: _SCALAR_FIELDS.index("rms_db") + 1]
    + list(BANDS)
    + _SCALAR_FIELDS[_SCALAR_FIELDS.index("rms_db") + 1 :]
    + list(SPECTRUM_FIELDS)
    + list(WAVE_FIELDS)
)
#: Index of each field in the feature vector.
IDX: Final[dict[str, int]] = {name: i for i, name in enumerate(FIELDS)}
#: Length of the feature vector.
N_FIELDS: Final[int] = len(FIELDS)

_SPEC0: Final[int] = IDX[SPECTRUM_FIELDS[0]]
_WAVE0: Final[int] = IDX[WAVE_FIELDS[0]]

_BOOL_FIELDS = frozenset({"beat", "downbeat", "is_onset", "section_change", "build_start", "drop", "break_start"})


def new_vector() -> npt.NDArray[np.float64]:
    """A feature vector holding the defaults of `Features`, shape ``(N_FIELDS,)``."""
    return to_vector(Features())


def to_vector(f: Features, out: npt.NDArray[np.float64] | None = None) -> npt.NDArray[np.float64]:
    """Pack ``f`` into a float64 vector of shape ``(N_FIELDS,)``.

    Examples
    --------
    >>> v = to_vector(Features(bpm=128.0, section="drop"))
    >>> from_vector(v).bpm, from_vector(v).section
    (128.0, 'drop')
    """
    if out is None:
        out = np.zeros(N_FIELDS, dtype=np.float64)
    for name in _SCALAR_FIELDS:
        if name == "section":
            out[IDX[name]] = SECTIONS.index(f.section)
        elif name == "tempo_source":
            out[IDX[name]] = TEMPO_SOURCES.index(f.tempo_source)
        else:
            out[IDX[name]] = float(getattr(f, name))
    for k, name in enumerate(BANDS):
        out[IDX[name]] = f.bands[k]
    out[_SPEC0 : _SPEC0 + SPECTRUM_BINS] = f.spectrum
    out[_WAVE0 : _WAVE0 + WAVE_SAMPLES] = f.wave
    return out


def from_vector(v: npt.NDArray[np.float64]) -> Features:
    """Build an immutable `Features` from a feature vector (shape ``(N_FIELDS,)``)."""
    vals = v.tolist()
    kw: dict[str, object] = {}
    for name in _SCALAR_FIELDS:
        x = vals[IDX[name]]
        if name in _BOOL_FIELDS:
            kw[name] = x >= 0.5
        elif name == "seq":
            kw[name] = int(x)
        elif name == "section":
            code = int(x)
            kw[name] = SECTIONS[code] if 0 <= code < len(SECTIONS) else "none"
        elif name == "tempo_source":
            code = int(x)
            kw[name] = TEMPO_SOURCES[code] if 0 <= code < len(TEMPO_SOURCES) else "audio"
        else:
            kw[name] = x
    bands = tuple(vals[IDX[b]] for b in BANDS)
    spectrum = tuple(vals[_SPEC0 : _SPEC0 + SPECTRUM_BINS])
    wave = tuple(vals[_WAVE0 : _WAVE0 + WAVE_SAMPLES])
    return Features(bands=bands, spectrum=spectrum, wave=wave, **kw)  # type: ignore[arg-type]
