"""Harmonic change at beats: evidence of bar lines that the beat network's downbeat output lacks.

Layer: analysis. Threads: the analysis thread (one per beat tracker).

Chords tend to change on the first beat of a bar. `HarmonicChange` sums the chain's magnitude
spectrum over each beat interval, folds it into a 12-bin chroma once per beat, and compares
the start of the current beat (from the beat to "now", e.g. 80 % of a beat later) with the
whole previous beat: ``1 - cos`` of the two chroma vectors, 0 for the same harmony, up to 1
for a complete change. The pitch-class weights are the mood analyzer's
(`lumen.analysis.mood.chroma_matrix`: bins much wider than a semitone count little). Per hop
the work is one vector add over the bins between `F_MIN_HZ` and `F_MAX_HZ` (about 100 bins at
48 kHz); the two chroma products run once per beat each.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from lumen.analysis.mood import chroma_matrix

__all__ = ["HarmonicChange"]

#: Bins below this carry mostly drums and rumble; at the chain's 20–25 Hz bin spacing the
#: lowest octaves blur neighbouring semitones anyway.
F_MIN_HZ = 100.0
#: Above this, harmonics and cymbals say little about the chord.
F_MAX_HZ = 2500.0


class HarmonicChange:
    """Chroma change between the previous beat interval and the start of the current one.

    Parameters
    ----------
    sr : int, Hz
        Sample rate of the chain.
    n_fft : int
        FFT size of the chain's magnitude spectrum.

    Examples
    --------
    >>> freqs = np.fft.rfftfreq(2048, 1 / 48000)
    >>> hc = HarmonicChange(48000, 2048)
    >>> c_major = np.zeros(freqs.size, np.float32)
    >>> for hz in (261.6, 329.6, 392.0):
    ...     c_major[int(round(hz / freqs[1]))] = 1.0
    >>> for _ in range(10):
    ...     hc.add(c_major)
    >>> hc.beat()
    >>> for _ in range(5):
    ...     hc.add(c_major)
    >>> round(hc.change(), 3)  # same chord: no change
    0.0
    """

    def __init__(self, sr: int, n_fft: int) -> None:
        # the pitch-class weights of the mood analyzer's chroma, over this band of the chain's bins
        self.lo, self.hi, w = chroma_matrix(sr, n_fft, F_MIN_HZ, F_MAX_HZ)
        self.matrix = w.astype(np.float64)
        self.acc = np.zeros(self.hi - self.lo)
        self.prev = np.zeros(12)
        self.cur = np.zeros(12)
        self.reset()

    def reset(self) -> None:
        """Forget the intervals heard so far."""
        self.acc[:] = 0.0
        self.prev[:] = 0.0
        self.has_prev = False

    def add(self, mag: npt.NDArray[np.float32]) -> None:
        """Add one hop's magnitude spectrum to the current interval."""
        np.add(self.acc, mag[self.lo : self.hi], out=self.acc)

    def beat(self) -> None:
        """A beat: the current interval becomes the previous one; a new interval starts."""
        np.dot(self.matrix, self.acc, out=self.prev)
        self.has_prev = bool(self.prev.sum() > 1e-9)
        self.acc[:] = 0.0

    def change(self) -> float:
        """``1 - cos`` between the previous interval's chroma and the current one's so far.

        NaN when either has no energy in range (silence, drums only below `F_MIN_HZ`).
        """
        np.dot(self.matrix, self.acc, out=self.cur)
        a = float(np.dot(self.prev, self.prev))
        b = float(np.dot(self.cur, self.cur))
        if not self.has_prev or a <= 1e-18 or b <= 1e-18:
            return math.nan
        return max(0.0, 1.0 - float(np.dot(self.prev, self.cur)) / math.sqrt(a * b))
