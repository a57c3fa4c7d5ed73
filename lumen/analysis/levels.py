"""Loudness, band levels with auto-gain, and spectral-flux onsets.

Layer: analysis. Threads: the analysis thread.

Auto-gain: each level is expressed in dB below a slowly decaying peak, over a fixed range,
so a quiet club mix and a hot master both span 0..1 without a gain knob.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from lumen.analysis.base import AnalysisSpec, HopAnalyzer, HopContext, analyzers
from lumen.analysis.beat.model import BandRuns, band_sum, mel_matrix
from lumen.features import BAND_EDGES_HZ, BANDS, IDX, N_FIELDS, SPECTRUM_BINS, SPECTRUM_FIELDS, WAVE_FIELDS, WAVE_SAMPLES
from lumen.rt.jit import jit

_EPS = 1e-10
SILENCE_DB = -70.0


class AutoGain:
    """Maps a dB level to 0..1 relative to a decaying peak.

    Parameters
    ----------
    range_db : float, dB
        Levels this far below the peak map to 0.
    release_s : float, s
        Time for the peak to fall by ``range_db`` when the music gets quieter.
    hop_s : float, s
        Hop duration.
    floor_db : float, dB
        The peak never falls below this (so silence is 0, not amplified noise).
    """

    def __init__(self, range_db: float, release_s: float, hop_s: float, floor_db: float = -60.0) -> None:
        self.range_db = range_db
        self.fall_db = range_db * hop_s / release_s
        self.floor_db = floor_db
        self.peak_db = floor_db

    def __call__(self, level_db: float) -> float:
        """Level in 0..1 after updating the peak with ``level_db``."""
        self.peak_db = max(level_db, self.peak_db - self.fall_db, self.floor_db)
        x = 1.0 + (level_db - self.peak_db) / self.range_db
        return 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)

    def reset(self) -> None:
        """Forget the peak."""
        self.peak_db = self.floor_db


def smooth(prev: float, x: float, attack: float, release: float) -> float:
    """One-pole smoother with separate attack and release coefficients (0..1, 1 = instant)."""
    return prev + (x - prev) * (attack if x > prev else release)


def coef(tau_s: float, hop_s: float) -> float:
    """One-pole coefficient for time constant ``tau_s`` at hop ``hop_s``."""
    return 1.0 if tau_s <= 0 else 1.0 - math.exp(-hop_s / tau_s)


@analyzers.register("levels")
class LevelsAnalyzer(HopAnalyzer):
    """RMS loudness (``rms_db``, ``energy``) and four band levels with auto-gain.

    Writes ``rms_db`` (dBFS), ``energy`` (0..1) and ``bass``, ``low_mid``, ``high_mid``,
    ``treble`` (0..1). Fast attack (~10 ms), release ~120 ms, so lights pump with the music.
    Also the shaders' ``spectrum`` (32 mel-spaced bins, 0..1 over the 48 dB below a running
    peak) and ``wave`` (the hop decimated to 64 samples).
    """

    def prepare(self, spec: AnalysisSpec) -> None:
        """Precompute band bin ranges and smoothing coefficients."""
        self.spec = spec
        freqs = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sr)
        bins = []
        for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]):
            idx = np.nonzero((freqs >= lo) & (freqs < min(hi, spec.sr / 2)))[0]
            if idx.size == 0:  # low sample rates: an empty band stays at 0
                bins.append((0, 0))
            else:
                bins.append((int(idx[0]), int(idx[-1]) + 1))
        self._band_lo = np.array([a for a, _ in bins], dtype=np.int64)
        self._band_hi = np.array([b for _, b in bins], dtype=np.int64)
        self._norm = float(np.sum(np.hanning(spec.n_fft)) ** 2)
        self._pow = np.zeros(spec.n_fft // 2 + 1, dtype=np.float32)
        self._attack = coef(0.005, spec.hop_s)
        self._release = coef(0.12, spec.hop_s)
        self._slots = np.array([IDX[b] for b in BANDS], dtype=np.int64)
        # The shaders' spectrum texture: mel-spaced bins, 30 Hz to 16 kHz (or Nyquist).
        self._spec_w = BandRuns(mel_matrix(spec.sr, spec.n_fft, SPECTRUM_BINS, 30.0, 16000.0))
        self._spec_db = np.zeros(SPECTRUM_BINS, dtype=np.float32)
        self._spec_release = self._release * 0.5
        self._spec0 = IDX[SPECTRUM_FIELDS[0]]
        self._wave0 = IDX[WAVE_FIELDS[0]]
        self._wave_idx = np.linspace(0, spec.hop_length - 1, WAVE_SAMPLES).round().astype(np.int64)
        self.reset()
        scratch = np.zeros(N_FIELDS)  # compiles (or loads) the kernels now, on scratch buffers
        _band_levels(self._pow, self._pow, self._band_lo, self._band_hi, 1.0, self._band_peak.copy(), 0.1, -60.0, 18.0,
                     self._bands.copy(), 1.0, 1.0, scratch, self._slots)
        w = self._spec_w
        _spectrum_levels(self._pow, w.lo, w.hi, w.w, 1.0, 0.0, 0.0, 0.0, 48.0, self._spec_db.copy(), self._spec.copy(), 1.0, 1.0)

    def reset(self) -> None:
        """Forget peaks and smoothed values."""
        hop_s = self.spec.hop_s
        self._gain = AutoGain(24.0, 8.0, hop_s)
        self._band_gain = AutoGain(18.0, 8.0, hop_s)  # the bands' settings; their peaks are in _band_peak
        self._band_peak = np.full(len(BANDS), self._band_gain.floor_db)
        self._energy = 0.0
        self._bands = np.zeros(len(BANDS))
        self._spec_gain = AutoGain(48.0, 8.0, hop_s)
        self._spec = np.zeros(SPECTRUM_BINS, dtype=np.float32)

    def process(self, ctx: HopContext, vec: npt.NDArray[np.float64]) -> None:
        """Write loudness and band levels of this hop."""
        s = ctx.samples
        ms = float(np.dot(s, s)) / s.shape[0]
        rms_db = 10.0 * math.log10(ms + _EPS)
        vec[IDX["rms_db"]] = max(rms_db, -120.0)
        e = self._gain(rms_db) if rms_db > SILENCE_DB else 0.0
        self._energy = smooth(self._energy, e, self._attack, self._release)
        vec[IDX["energy"]] = self._energy
        g = self._band_gain
        _band_levels(ctx.mag, self._pow, self._band_lo, self._band_hi, 2.0 / self._norm, self._band_peak, g.fall_db, g.floor_db, g.range_db,
                     self._bands, self._attack, self._release, vec, self._slots)
        self._spectrum(vec)
        vec[self._wave0 : self._wave0 + WAVE_SAMPLES] = ctx.samples[self._wave_idx]

    def _spectrum(self, vec: npt.NDArray[np.float64]) -> None:
        """Mel-spaced levels 0..1 against a running peak (48 dB range), fast attack, slow release."""
        w, g = self._spec_w, self._spec_gain
        g.peak_db = _spectrum_levels(
            self._pow, w.lo, w.hi, w.w, 2.0 / self._norm, g.peak_db, g.fall_db, g.floor_db, g.range_db, self._spec_db, self._spec,
            self._attack, self._spec_release,
        )
        vec[self._spec0 : self._spec0 + SPECTRUM_BINS] = self._spec


@jit
def _band_levels(
    mag: npt.NDArray[np.float32], power: npt.NDArray[np.float32], lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64], scale: float,
    peak_db: npt.NDArray[np.float64], fall_db: float, floor_db: float, range_db: float, level: npt.NDArray[np.float64],
    attack: float, release: float, vec: npt.NDArray[np.float64], slots: npt.NDArray[np.int64],
) -> None:  # pragma: no cover - compiled
    """``power`` = ``mag`` squared; then each band's level, as `AutoGain` and `smooth` compute it, into ``vec``.

    Band ``k`` is bins ``lo[k]:hi[k]`` (empty: power 0), its power times ``scale`` in dB; above
    `SILENCE_DB` it updates the band's running peak ``peak_db[k]`` (falling ``fall_db`` per hop,
    never under ``floor_db``) and maps to 0..1 over the ``range_db`` under it, else 0; the level
    ``level[k]`` follows with ``attack`` or ``release`` and is written to ``vec[slots[k]]``.
    """
    for b in range(mag.shape[0]):
        power[b] = mag[b] * mag[b]
    for k in range(lo.shape[0]):
        p = 0.0
        for b in range(lo[k], hi[k]):
            p += power[b]
        db = 10.0 * math.log10(p * scale + _EPS)
        x = 0.0
        if db > SILENCE_DB:
            peak_db[k] = max(db, peak_db[k] - fall_db, floor_db)
            x = min(max(1.0 + (db - peak_db[k]) / range_db, 0.0), 1.0)
        level[k] += (x - level[k]) * (attack if x > level[k] else release)
        vec[slots[k]] = level[k]


@jit
def _spectrum_levels(
    power: npt.NDArray[np.float32], lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64], w: npt.NDArray[np.float32],
    scale: float, peak_db: float, fall_db: float, floor_db: float, range_db: float, db: npt.NDArray[np.float32],
    level: npt.NDArray[np.float32], attack: float, release: float,
) -> float:  # pragma: no cover - compiled
    """The spectrum texture's levels, smoothed in place in ``level``; returns the new running peak.

    Each band's power (``w`` over its run of bins, times ``scale``) in dB (into ``db``); the
    running peak follows the loudest band as `AutoGain` does (falling ``fall_db`` per hop, never
    under ``floor_db``; held in silence); a band's level is 0 at ``range_db`` under the peak and 1
    at it, smoothed with ``attack`` where it rises and ``release`` where it falls.
    """
    n = lo.shape[0]
    top = -1e30
    for m in range(n):
        db[m] = 10.0 * math.log10(band_sum(power, lo, hi, w, m) * scale + _EPS)
        top = max(top, db[m])
    if top > SILENCE_DB:
        peak_db = max(top, peak_db - fall_db, floor_db)
    base = peak_db - range_db
    for m in range(n):
        x = min(max((db[m] - base) / range_db, 0.0), 1.0)
        level[m] += (x - level[m]) * (attack if x > level[m] else release)
    return peak_db


@jit
def _log_flux(mag: npt.NDArray[np.float32], prev: npt.NDArray[np.float32], n: int) -> float:  # pragma: no cover - compiled
    """Sum over the first ``n`` bins of the rise of ``log1p(mag)`` since ``prev``; ``prev`` becomes it."""
    total = 0.0
    for b in range(n):
        v = math.log1p(mag[b])
        d = v - prev[b]
        if d > 0.0:
            total += d
        prev[b] = v
    return total


@analyzers.register("onset")
class OnsetAnalyzer(HopAnalyzer):
    """Spectral-flux onsets: ``onset`` strength (0..1) and ``is_onset`` events.

    Flux is the half-wave rectified increase of log-compressed magnitudes, normalized by a
    decaying maximum. An onset fires when flux exceeds an adaptive threshold (a running mean
    plus a margin), at least 50 ms after the previous one. The raw flux is kept in `flux` for
    later analyzers (the tempo tracker).
    """

    def prepare(self, spec: AnalysisSpec) -> None:
        """Allocate the previous-spectrum buffer."""
        self.spec = spec
        n = spec.n_fft // 2 + 1
        self._prev = np.zeros(n, dtype=np.float32)
        _log_flux(self._prev, self._prev.copy(), n)  # compiles (or loads) the kernel now
        # Ignore bins above 16 kHz (often empty or noisy) so flux tracks musical content.
        freqs = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sr)
        self._n_bins = int(np.searchsorted(freqs, 16000.0))
        self._min_gap = max(1, int(round(0.05 / spec.hop_s)))
        self._mean_coef = coef(0.5, spec.hop_s)
        self._peak_fall = math.exp(-spec.hop_s / 8.0)
        self.reset()

    def reset(self) -> None:
        """Forget history."""
        self._prev[:] = 0.0
        self._mean = 0.0
        self._peak = 1e-3
        self._since = 10**9
        self.flux = 0.0
        self.strength = 0.0

    def process(self, ctx: HopContext, vec: npt.NDArray[np.float64]) -> None:
        """Write ``onset`` and ``is_onset`` for this hop."""
        n = self._n_bins
        flux = _log_flux(ctx.mag, self._prev, n) / n
        self.flux = flux
        self._peak = max(flux, self._peak * self._peak_fall, 1e-4)
        strength = flux / self._peak
        self.strength = strength
        threshold = self._mean * 1.6 + 0.02 * self._peak
        self._since += 1
        fire = flux > threshold and self._since >= self._min_gap and ctx.samples.any()
        if fire:
            self._since = 0
        self._mean += (flux - self._mean) * self._mean_coef
        vec[IDX["onset"]] = strength
        vec[IDX["is_onset"]] = 1.0 if fire else 0.0
