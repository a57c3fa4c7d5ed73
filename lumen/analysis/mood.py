"""Mood ("mood"): causal valence and arousal (0..1) with a confidence, from a small MLP.

Layer: analysis. Threads: the analysis thread (live) or the caller's thread (offline).

What the mood model was trained on, and what it can and cannot tell
---------------------------------------------------------------------
There is no mood data set behind it. The model (a 4 300-parameter MLP) was trained only on
audio that lumen generates itself, where the labels are known by construction
(`lumen.analysis.train.mood`, about 7 hours of audio): 450 General MIDI pieces from
`lumen.analysis.train.compose` (18 styles, random keys, major or natural minor; some made
softer, sparser or louder on purpose) rendered with FluidSynth and the FluidR3 GM soundfont,
200 excerpts of lumen's own generated dance music (`lumen.audio.music`: intro, verse, build,
drop, break and outro sections, ten chord loops per mode) and 70 clips of non-music (white and
pink noise, speech-like bursts, sustained tones), with random EQ, reverb, noise and gain.

* **valence** is, in effect, *major versus minor*: towards 1 for music in a major key,
  towards 0 in a minor key, judged from the last ~10 s of a key-independent chroma and bass
  chroma. On held-out generated music (unseen seeds): all 10 of the benchmark's dance songs
  (`benchmarks/mood_structure.py`) and all 8 dance songs of the training-side evaluation
  (`evaluate`, seed 1000); MIDI pieces 80 % when played only by instruments never heard in
  training. It knows nothing of lyrics, timbre, culture or irony (happy-sounding minor dance
  music reads as low valence), was never shown atonal, modal or non-Western music, and
  cannot tell a major song from its relative minor when the music gives no tonal center (a
  vi-IV-I-V loop is the same chords as i-VI-III-VII; lumen's generator avoids such loops
  for its labels, real songs do not). Sparse, quiet pieces are the hardest.
* **arousal** is *how much is going on*: how many instruments and onsets, how loud relative to
  the last minute or so, how bright. Its labels come from the arrangement (the section
  intensity of `lumen.audio.music.SECTION_INTENSITY`: a drop with kick, clap, hats, bass and
  lead is high; a break with pads alone is low) and from tempo, note density and velocity of
  the MIDI pieces. Held out, the section means of dance songs rank like their known intensity
  (Spearman 0.86 on the benchmark's 10 songs; 0.96 pooled, 0.98 median per song, in the
  training-side evaluation); for MIDI pieces it follows the construction formula less well
  (Spearman about 0.5). It is a relative, within-a-set measure more than an absolute one: it
  does not know "calm" genres.
* **mood_confidence** is near 0 in silence, noise, speech-like bursts and single sustained
  tones, and there valence and arousal return to 0.5; on music it rises over the first few
  seconds (the model gives no answer for the first 2 s of sound).

How it works
------------
Per 10 ms hop the analyzer folds cheap statistics of the chain's spectrum into running means
of a few seconds: 16 log-mel band levels, spectral flux, onset rate, flatness, loudness and its
spread (`MoodStats`). Every 10 hops it takes its own 16384-sample (~0.34 s) spectrum for a
12-bin chroma and a 12-bin bass chroma (62-250 Hz) with broadband energy (drums, noise)
subtracted, averaged over ~8 s. Every 25 hops (0.25 s) it turns all of it into a 54-number
summary (`MoodStats.summary`; both chromas are rotated to their best-fitting diatonic key
signature, so no absolute key reaches the model) and runs the MLP in numpy (`MoodMLP`). The
outputs are smoothed over about 1.5 s and pulled towards 0.5 as the confidence falls.
Measured cost of `MoodAnalyzer.process` at 48 kHz (`benchmarks/mood_structure.py`, 2-core
Xeon): 34 us per hop at p50, up to about 250 us on the hops with the long FFT or the model
(p99): 0.34 % of a core at p50.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import scipy.fft

from lumen.analysis.base import AnalysisSpec, HopAnalyzer, HopContext, analyzers
from lumen.analysis.beat.model import BandRuns, band_sum, load_checkpoint, mel_matrix, standardized_module
from lumen.features import IDX
from lumen.rt.jit import jit

if TYPE_CHECKING:
    import torch

__all__ = [
    "FEATURE_NAMES",
    "N_FEATURES",
    "WEIGHTS_DIR",
    "MoodAnalyzer",
    "MoodMLP",
    "MoodModelConfig",
    "MoodStats",
    "build_model",
    "load_weights",
]

F32 = npt.NDArray[np.float32]

#: Where the shipped weights live.
WEIGHTS_DIR: Final[Path] = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE: Final[str] = "mood_mlp.pt"
CONFIG_FILE: Final[str] = "mood_mlp.json"

#: Mel bands of the spectral-shape statistics, and their range in Hz.
N_MOOD_MELS: Final[int] = 16
MEL_FMIN_HZ: Final[float] = 40.0
MEL_FMAX_HZ: Final[float] = 12000.0
#: Frequency range of the chroma, Hz.
CHROMA_FMIN_HZ: Final[float] = 80.0
#: Frequency range of the bass chroma (chord roots, which carry the tonal center), Hz. It
#: starts above where kick drums ring out (45-60 Hz): a tuned kick is a steady pitch class of
#: its own, unrelated to the key, and it outweighed the bass line; the bass's harmonics above
#: 62 Hz still name its notes.
BASS_FMIN_HZ: Final[float] = 62.0
BASS_FMAX_HZ: Final[float] = 250.0
CHROMA_FMAX_HZ: Final[float] = 5000.0
#: Time constants of the running statistics and of the chroma, s.
STATS_TAU_S: Final[float] = 3.0
CHROMA_TAU_S: Final[float] = 8.0
#: Length of the chroma's own window, s (rounded up to a power of two in samples: 16384 at
#: 44.1 and 48 kHz, ~3 Hz bins). The chain's ~43 ms FFT cannot tell semitones apart below
#: ~400 Hz, and the bass notes that carry the tonal center lie far below that.
CHROMA_WINDOW_S: Final[float] = 0.32
#: Half width of the local mean subtracted from the chroma spectrum, bins (~3 Hz each).
PEAK_HALF_WIDTH: Final[int] = 6
#: Hops between chroma spectra (the long windows overlap, so nothing is skipped).
CHROMA_EVERY: Final[int] = 10
#: Hops between model runs (0.25 s at 10 ms hops).
MODEL_EVERY: Final[int] = 25
#: Time constant of the output smoothing, s.
OUTPUT_TAU_S: Final[float] = 1.5
#: Mean power below which a hop counts as silence (-70 dBFS RMS): it does not update the
#: statistics, and it lowers the presence.
SILENCE_POWER: Final[float] = 1e-7
#: How fast the loudness reference falls when the music gets quieter, dB/s.
PEAK_FALL_DB_PER_S: Final[float] = 0.3

#: Names of the summary vector's entries, in order.
FEATURE_NAMES: Final[tuple[str, ...]] = (
    tuple(f"chroma_deg{i:02d}" for i in range(12))
    + tuple(f"bass_deg{i:02d}" for i in range(12))
    + ("diatonic_fit", "major_fit", "minor_fit", "chroma_spread", "tonic_major_fit", "relative_minor_fit")
    + tuple(f"mel_shape_{i:02d}" for i in range(N_MOOD_MELS))
    + ("centroid", "flatness_db", "flux_mean", "flux_std", "onset_rate_hz", "level_std_db", "level_rel_db", "low_high_db")
)
#: Length of the summary vector (the model's input).
N_FEATURES: Final[int] = len(FEATURE_NAMES)

_DIATONIC: Final[tuple[int, ...]] = (1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1)
# Krumhansl-Kessler key profiles (major, minor), tonic first.
_KK_MAJOR: Final[tuple[float, ...]] = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_KK_MINOR: Final[tuple[float, ...]] = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def _rotations(profile: tuple[float, ...]) -> F32:
    """Row ``k`` is ``profile`` with its tonic on pitch class ``k``, centered, unit norm."""
    p = np.asarray(profile, dtype=np.float64)
    m = np.stack([np.roll(p, k) for k in range(12)])
    m -= m.mean(axis=1, keepdims=True)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m.astype(np.float32)


_ROT_DIATONIC: Final[F32] = _rotations(tuple(float(v) for v in _DIATONIC))
_ROT_MAJOR: Final[F32] = _rotations(_KK_MAJOR)
_ROT_MINOR: Final[F32] = _rotations(_KK_MINOR)


def chroma_matrix(sr: int, n_fft: int, fmin_hz: float = CHROMA_FMIN_HZ, fmax_hz: float = CHROMA_FMAX_HZ) -> tuple[int, int, F32]:
    """Pitch-class weights for the rfft bins between ``fmin_hz`` and ``fmax_hz``.

    Each bin goes to its nearest pitch class (triangular weights reaching 2/3 of a semitone,
    so a bin between two pitch classes counts for both, a little; C = 0). Bins
    wider than a semitone (the low ones at small FFT sizes) are down-weighted by how much of a
    semitone they resolve, squared.

    Returns
    -------
    lo, hi : int
        The bin range ``[lo, hi)`` the weights cover.
    w : ndarray, shape (12, hi - lo), float32
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    df = sr / n_fft
    fmax = min(fmax_hz, 0.45 * sr)
    idx = np.nonzero((freqs >= fmin_hz) & (freqs < fmax))[0]
    if idx.size == 0:  # absurdly low rates: one bin, no pitch information
        idx = np.array([1])
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    f = np.maximum(freqs[lo:hi], 1.0)
    pc = np.mod(69.0 + 12.0 * np.log2(f / 440.0), 12.0)
    w = np.zeros((12, hi - lo), dtype=np.float64)
    for k in range(12):
        d = np.abs(pc - k)
        d = np.minimum(d, 12.0 - d)
        w[k] = np.maximum(0.0, 1.0 - 1.5 * d)
    res = np.minimum(1.0, f * (2.0 ** (1.0 / 12.0) - 1.0) / df) ** 2
    w *= res[None, :]
    return lo, hi, w.astype(np.float32)


@jit
def _mood_bands(
    power: F32, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64], w: F32, pscale: float, lm_prev: F32, lm_ema: F32,
    a: float, band_k: F32,
) -> tuple[float, float, float, float, float]:  # pragma: no cover - compiled
    """One hop's mel bands: ``(flux, total power, sum of band_k * power, mean dB, low - high dB)``.

    Band ``m``'s power is ``w`` over its run of ``power`` bins times ``pscale``; its level in dB
    replaces ``lm_prev[m]`` (flux: the mean rise since then) and moves ``lm_ema[m]`` by ``a``.
    "Low - high" is the mean level of the lowest quarter of the bands minus the highest quarter's.
    """
    n = lo.shape[0]
    q = n // 4
    flux = tot = c_num = s = low = high = 0.0
    for m in range(n):
        mel = band_sum(power, lo, hi, w, m) * pscale + 1e-10
        v = 10.0 * math.log10(mel)
        d = v - lm_prev[m]
        if d > 0.0:
            flux += d
        lm_prev[m] = v
        lm_ema[m] += a * (v - lm_ema[m])
        tot += mel
        c_num += band_k[m] * mel
        s += v
        if m < q:
            low += v
        if m >= n - q:
            high += v
    return flux / n, tot, c_num, s / n, (low - high) / q


class MoodStats:
    """Running statistics of the spectrum for the mood model (one per stream).

    Parameters
    ----------
    spec : AnalysisSpec
        Gives ``sr``, ``n_fft`` and the hop rate.

    Notes
    -----
    `push` runs once per non-silent hop on preallocated buffers; `summary` once per model run.
    All running means are exponential and bias-corrected, so the first seconds of a stream are
    not dragged towards zero.
    """

    def __init__(self, spec: AnalysisSpec) -> None:
        self.spec = spec
        hop_s = spec.hop_s
        self.fps = spec.frame_rate_hz
        self._a = 1.0 - math.exp(-hop_s / STATS_TAU_S)
        self._a_onset = 1.0 - math.exp(-hop_s / 0.5)
        self._peak_fall = PEAK_FALL_DB_PER_S * hop_s
        nb = spec.n_fft // 2 + 1
        self._pow = np.zeros(nb, dtype=np.float32)
        self.n_long = 1 << int(math.ceil(math.log2(max(CHROMA_WINDOW_S * spec.sr, 256.0))))
        self._c_lo, self._c_hi, self._chroma_w = chroma_matrix(spec.sr, self.n_long)
        self._b_lo, self._b_hi, self._bass_w = chroma_matrix(spec.sr, self.n_long, BASS_FMIN_HZ, BASS_FMAX_HZ)
        self._b12 = np.zeros(12, dtype=np.float32)
        self._bass = np.zeros(12, dtype=np.float32)
        self._a_chroma = np.float32(1.0 - math.exp(-hop_s * CHROMA_EVERY / CHROMA_TAU_S))
        self._ring = np.zeros(self.n_long, dtype=np.float32)
        self._lin = np.zeros(self.n_long, dtype=np.float32)
        self._hann_long = np.hanning(self.n_long).astype(np.float32)
        self._mag_long = np.zeros(self.n_long // 2 + 1, dtype=np.float32)
        # Peak emphasis: each bin minus the mean of the bins around it (a box of
        # 2 * PEAK_HALF_WIDTH + 1), so broadband drums and noise drop out of the chroma.
        nb_long = self.n_long // 2 + 1
        self._cs = np.zeros(nb_long + 1, dtype=np.float32)
        self._local = np.zeros(nb_long, dtype=np.float32)
        # The bins the weights read, widened by the local mean's half-width; where that reaches
        # an edge of the spectrum the range runs to the edge, so the clipped mean is the same.
        hw = PEAK_HALF_WIDTH
        r0 = min(self._c_lo, self._b_lo) - hw
        r1 = max(self._c_hi, self._b_hi) + hw
        self._r0 = 0 if r0 <= hw else r0
        self._r1 = nb_long if r1 >= nb_long - hw else r1
        self._mel_w = BandRuns(mel_matrix(spec.sr, spec.n_fft, N_MOOD_MELS, MEL_FMIN_HZ, MEL_FMAX_HZ))
        # |rfft| of a Hann-windowed full-scale sine peaks at sum(window) / 2.
        scale = 2.0 / float(np.sum(np.hanning(spec.n_fft)))
        self._pscale = np.float32(scale * scale)
        self._band_k = np.arange(N_MOOD_MELS, dtype=np.float32) / np.float32(N_MOOD_MELS - 1)
        self._c12 = np.zeros(12, dtype=np.float32)
        self._chroma = np.zeros(12, dtype=np.float32)
        self._lm_prev = np.zeros(N_MOOD_MELS, dtype=np.float32)
        self._lm_ema = np.zeros(N_MOOD_MELS, dtype=np.float32)
        r = self._mel_w  # compiles (or loads) the kernel now, on scratch buffers
        _mood_bands(self._pow, r.lo, r.hi, r.w, 1.0, self._lm_prev.copy(), self._lm_ema.copy(), 0.5, self._band_k)
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        self._chroma[:] = 0.0
        self._bass[:] = 0.0
        self._ring[:] = 0.0
        self._pos = 0
        self._lm_prev[:] = 0.0
        self._lm_ema[:] = 0.0
        self._w = 0.0  # bias-correction weights of the running means
        self._w_chroma = 0.0
        self.n = 0  # hops pushed
        self._flux = self._flux2 = 0.0
        self._centroid = self._flat = self._lowhigh = 0.0
        self._onset_rate = 0.0
        self._flux_fast = 0.0
        self._since = 1 << 30
        self._level = self._level2 = 0.0
        self._peak = -1e9

    def push(self, mag: F32, samples: F32, ms: float) -> None:
        """Fold one non-silent hop into the running statistics.

        Parameters
        ----------
        mag : ndarray, shape (n_fft // 2 + 1,), float32
            Magnitude spectrum of the hop (`HopContext.mag`).
        samples : ndarray, shape (hop_length,), float32
            The hop's mono samples.
        ms : float
            Mean power of the hop's samples (> 0).
        """
        a = self._a
        p = self._pow
        # the chroma's long window: a ring of the latest non-silent samples
        h = samples.shape[0]
        n_long, pos = self.n_long, self._pos
        if pos + h <= n_long:
            self._ring[pos : pos + h] = samples
        else:
            k = n_long - pos
            self._ring[pos:] = samples[:k]
            self._ring[: h - k] = samples[k:]
        self._pos = (pos + h) % n_long
        if self.n % CHROMA_EVERY == CHROMA_EVERY - 1:
            self._chroma_step()
        np.multiply(mag, mag, out=p)
        # log-mel band levels (dB re full scale), their flux and running means, in one pass
        r = self._mel_w
        flux, tot, c_num, mean_lm, lh = _mood_bands(p, r.lo, r.hi, r.w, float(self._pscale), self._lm_prev, self._lm_ema, a, self._band_k)
        first = self.n == 0
        if first:
            flux = 0.0
        self._w += a * (1.0 - self._w)
        self._centroid += a * (c_num / tot - self._centroid)
        self._flat += a * (mean_lm - 10.0 * math.log10(tot * (1.0 / N_MOOD_MELS)) - self._flat)
        self._lowhigh += a * (lh - self._lowhigh)
        self._flux += a * (flux - self._flux)
        self._flux2 += a * (flux * flux - self._flux2)
        # onsets: flux well above its recent mean, at least 50 ms apart
        self._since += 1
        onset = flux > 1.5 * self._flux_fast + 1.0 and self._since >= 5 and not first
        if onset:
            self._since = 0
        self._flux_fast += self._a_onset * (flux - self._flux_fast)
        self._onset_rate += a * ((self.fps if onset else 0.0) - self._onset_rate)
        level = 10.0 * math.log10(ms + 1e-12)
        self._level += a * (level - self._level)
        self._level2 += a * (level * level - self._level2)
        lvl = self._level / self._w
        self._peak = max(lvl, self._peak - self._peak_fall)
        self.n += 1

    def _chroma_step(self) -> None:
        """One long-window spectrum folded into the running chroma (power-weighted)."""
        pos, n_long = self._pos, self.n_long
        self._lin[: n_long - pos] = self._ring[pos:]
        self._lin[n_long - pos :] = self._ring[:pos]
        self._lin *= self._hann_long
        spec = scipy.fft.rfft(self._lin, overwrite_x=True)  # float32 in, complex64 out
        # Only the bins the chroma and bass weights read, and their neighbours for the local mean.
        r0, r1 = self._r0, self._r1
        band = self._mag_long[r0:r1]
        np.abs(spec[r0:r1], out=band)
        hw = PEAK_HALF_WIDTH
        cs = self._cs[: r1 - r0 + 1]
        np.cumsum(band, out=cs[1:])
        loc = self._local[r0:r1]
        # mean over [i - hw, i + hw] (clipped at the spectrum's edges)
        np.subtract(cs[2 * hw + 1 :], cs[: -2 * hw - 1], out=loc[hw:-hw])
        loc[hw:-hw] *= np.float32(1.0 / (2 * hw + 1))
        loc[:hw] = loc[hw]
        loc[-hw:] = loc[-hw - 1]
        band -= loc
        np.maximum(band, 0.0, out=band)
        band *= band
        m = self._mag_long  # the weights index the whole spectrum
        np.dot(self._chroma_w, m[self._c_lo : self._c_hi], out=self._c12)
        self._c12 -= self._chroma
        self._c12 *= self._a_chroma
        self._chroma += self._c12
        np.dot(self._bass_w, m[self._b_lo : self._b_hi], out=self._b12)
        self._b12 -= self._bass
        self._b12 *= self._a_chroma
        self._bass += self._b12
        self._w_chroma += float(self._a_chroma) * (1.0 - self._w_chroma)

    def summary(self, out: F32) -> tuple[float, float]:
        """Write the model input (shape ``(N_FEATURES,)``, see `FEATURE_NAMES`) into ``out``.

        Runs every `MODEL_EVERY` hops and allocates a few small temporary arrays.

        Returns
        -------
        spread : float, 1..12
            Effective number of pitch classes (exp of the chroma entropy): about 1-3 for a single
            tone, 4-9 for tonal music, near 12 for noise.
        diatonic_fit : float, -1..1
            Correlation of the chroma with its best diatonic key signature.
        """
        if self.n == 0 or self._w_chroma <= 0.0:
            out[:] = 0.0
            return 12.0, 0.0
        w = max(self._w, 1e-6)
        c = self._chroma / np.float32(max(self._w_chroma, 1e-6))
        tot = float(c.sum())
        c = c / np.float32(tot) if tot > 0.0 else np.full(12, 1.0 / 12.0, dtype=np.float32)
        cc = c - c.mean()
        nrm = float(np.linalg.norm(cc))
        cn = cc / np.float32(nrm) if nrm > 1e-9 else cc
        dia = _ROT_DIATONIC @ cn
        r = int(np.argmax(dia))
        out[0:12] = np.roll(c, -r) * 12.0
        b = self._bass
        btot = float(b.sum())
        out[12:24] = np.roll(b, -r) * (12.0 / btot) if btot > 0.0 else 1.0
        out[24] = float(dia[r])
        out[25] = float(np.max(_ROT_MAJOR @ cn))
        out[26] = float(np.max(_ROT_MINOR @ cn))
        ent = -float(np.sum(c * np.log(c + 1e-12)))
        spread = math.exp(ent)
        out[27] = spread / 12.0
        # The two keys of the signature: its major tonic and its relative minor.
        out[28] = float(_ROT_MAJOR[r] @ cn)
        out[29] = float(_ROT_MINOR[(r + 9) % 12] @ cn)
        lm = self._lm_ema / np.float32(w)
        out[30 : 30 + N_MOOD_MELS] = (lm - lm.mean()) / 10.0
        k = 30 + N_MOOD_MELS
        fm = self._flux / w
        out[k] = self._centroid / w
        out[k + 1] = self._flat / w / 10.0
        out[k + 2] = fm
        out[k + 3] = math.sqrt(max(self._flux2 / w - fm * fm, 0.0))
        out[k + 4] = self._onset_rate / w
        lvl = self._level / w
        out[k + 5] = math.sqrt(max(self._level2 / w - lvl * lvl, 0.0)) / 10.0
        out[k + 6] = max(lvl - self._peak, -40.0) / 10.0
        out[k + 7] = self._lowhigh / w / 10.0
        return spread, float(dia[r])


@dataclass(frozen=True)
class MoodModelConfig:
    """Shape of the mood MLP (stored with the weights)."""

    n_input: int = N_FEATURES
    n_hidden: int = 48
    n_hidden2: int = 32
    n_out: int = 3


def build_model(cfg: MoodModelConfig | None = None) -> torch.nn.Module:
    """A fresh (untrained) torch mood model.

    ``forward(x) -> logits`` with ``x`` of shape ``(batch, n_input)`` and logits of shape
    ``(batch, 3)``: valence, arousal and music-ness (sigmoid gives 0..1). Inputs are
    standardized inside the model with the ``mean``/``std`` buffers, which training sets.
    """
    import torch
    from torch import nn

    c = cfg or MoodModelConfig()

    class MoodNet(standardized_module()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(c.n_input)
            self.fc1 = nn.Linear(c.n_input, c.n_hidden)
            self.fc2 = nn.Linear(c.n_hidden, c.n_hidden2)
            self.head = nn.Linear(c.n_hidden2, c.n_out)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = torch.tanh(self.fc1(self.standardize(x)))
            z = torch.tanh(self.fc2(z))
            out: torch.Tensor = self.head(z)
            return out

    return MoodNet()


def load_weights(path: Path | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained torch model (eval mode) and its training configuration.

    Loads with ``weights_only=True`` (no pickled code) and ``strict=True``.

    Raises
    ------
    FileNotFoundError
        No weights at ``path`` (default: the shipped ones).
    RuntimeError
        The state dict does not match the model.
    """
    return load_checkpoint(path or WEIGHTS_DIR / WEIGHTS_FILE, lambda model_cfg: build_model(MoodModelConfig(**model_cfg)))


class MoodMLP:
    """The mood model in numpy (float64, a few microseconds per call).

    Parameters
    ----------
    model : torch.nn.Module
        A model from `build_model`/`load_weights`; its weights are copied.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        sd = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in model.state_dict().items()}
        self.mean = sd["mean"]
        self.inv_std = 1.0 / sd["std"]
        self.w1, self.b1 = sd["fc1.weight"], sd["fc1.bias"]
        self.w2, self.b2 = sd["fc2.weight"], sd["fc2.bias"]
        self.w3, self.b3 = sd["head.weight"], sd["head.bias"]

    def __call__(self, x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        """Sigmoid outputs (valence, arousal, music), shape ``(3,)``, for one input ``(n_input,)``."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) * self.inv_std
        z = np.tanh(self.w1 @ z + self.b1)
        z = np.tanh(self.w2 @ z + self.b2)
        y = self.w3 @ z + self.b3
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(y, -60.0, 60.0))), dtype=np.float64)


_MODEL_CACHE: dict[str, MoodMLP] = {}


def _coef(tau_s: float, hop_s: float) -> float:
    return 1.0 - math.exp(-hop_s / tau_s)


@analyzers.register("mood")
class MoodAnalyzer(HopAnalyzer):
    """Valence and arousal (0..1, 0.5 neutral) with ``mood_confidence`` (0..1).

    Writes ``valence``, ``arousal`` and ``mood_confidence``. Needs no other analyzer (it reads
    the chain's spectrum and samples). Per hop: running statistics (`MoodStats.push`); every
    `MODEL_EVERY` hops: the summary and the MLP; every hop: one-pole smoothing of the outputs
    towards the latest model answer, which is pulled towards 0.5 when the confidence is low.

    Attributes
    ----------
    raw : ndarray, shape (3,), float64
        The latest unsmoothed model output (valence, arousal, music-ness).
    x : ndarray, shape (N_FEATURES,), float32
        The latest model input.
    """

    def prepare(self, spec: AnalysisSpec) -> None:
        """Load the weights (once per process) and allocate the statistics."""
        self.spec = spec
        if "default" not in _MODEL_CACHE:
            model, _meta = load_weights()
            _MODEL_CACHE["default"] = MoodMLP(model)
        self.model = _MODEL_CACHE["default"]
        self.stats = MoodStats(spec)
        self.x = np.zeros(N_FEATURES, dtype=np.float32)
        self.raw = np.full(3, 0.5, dtype=np.float64)
        self._c_out = _coef(OUTPUT_TAU_S, spec.hop_s)
        self._c_pres = _coef(1.0, spec.hop_s)
        self._warm = int(round(2.0 * spec.frame_rate_hz))  # hops before the first answer
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        self.stats.reset()
        self.raw[:] = 0.5
        self.x[:] = 0.0
        self._n = 0
        self._presence = 0.0
        self._v_t = self._a_t = 0.5
        self._c_t = 0.0
        self.valence = self.arousal = 0.5
        self.confidence = 0.0

    def process(self, ctx: HopContext, vec: npt.NDArray[np.float64]) -> None:
        """One hop: update statistics; every `MODEL_EVERY` hops run the model; write outputs."""
        s = ctx.samples
        ms = float(np.dot(s, s)) / s.shape[0]
        if ms > SILENCE_POWER and math.isfinite(ms):
            self.stats.push(ctx.mag, s, ms)
            self._presence += (1.0 - self._presence) * self._c_pres
        else:
            self._presence -= self._presence * self._c_pres
        self._n += 1
        if self._n % MODEL_EVERY == 0:
            self._update()
        c = self._c_out
        self.valence += (self._v_t - self.valence) * c
        self.arousal += (self._a_t - self.arousal) * c
        self.confidence += (self._c_t - self.confidence) * c
        vec[IDX["valence"]] = self.valence
        vec[IDX["arousal"]] = self.arousal
        vec[IDX["mood_confidence"]] = self.confidence

    def _update(self) -> None:
        """Run the model on the current summary and set the smoothing targets."""
        if self.stats.n < self._warm:
            conf = 0.0
        else:
            spread, _fit = self.stats.summary(self.x)
            if not np.all(np.isfinite(self.x)):
                conf = 0.0
            else:
                self.raw[:] = self.model(self.x)
                # A network can answer anything to inputs it never saw: besides its own
                # music-ness, a hard guard against a single tone (one or two pitch classes).
                tonal = min(1.0, max(0.0, (spread - 1.8) / 1.2))
                conf = float(self.raw[2]) * self._presence * tonal
        g = min(1.0, 2.0 * conf)
        self._v_t = 0.5 + g * (float(self.raw[0]) - 0.5)
        self._a_t = 0.5 + g * (float(self.raw[1]) - 0.5)
        self._c_t = conf
