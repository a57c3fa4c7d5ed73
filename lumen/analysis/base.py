"""The analyzer plugin interface and registry.

Layer: analysis. Threads: one analysis thread per `Analyzer` chain.

An analyzer gets the current hop (samples, spectrum, time) through a shared `HopContext`,
reads what earlier analyzers wrote into the feature vector, and writes its own fields. The
chain order is the configured order, so later analyzers build on earlier ones (the tempo
tracker reads the onset strength).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lumen.registry import Registry


@dataclass(frozen=True, slots=True)
class AnalysisSpec:
    """What every analyzer is prepared for.

    Attributes
    ----------
    sr : int, Hz
        Sample rate of the audio.
    hop_length : int
        Frames per hop (10 ms: ``sr // 100``).
    n_fft : int
        FFT size of the frontend (a power of two, about 40 ms).
    tempo_min_bpm, tempo_max_bpm : float
        Tempo search range.
    """

    sr: int
    hop_length: int
    n_fft: int
    tempo_min_bpm: float = 70.0
    tempo_max_bpm: float = 180.0

    @property
    def hop_s(self) -> float:
        """Hop duration in seconds."""
        return self.hop_length / self.sr

    @property
    def frame_rate_hz(self) -> float:
        """Hops per second."""
        return self.sr / self.hop_length

    @classmethod
    def for_rate(cls, sr: int, tempo_min_bpm: float = 70.0, tempo_max_bpm: float = 180.0) -> AnalysisSpec:
        """The standard spec for ``sr``: 10 ms hops and a ~40 ms power-of-two FFT."""
        hop = max(1, int(round(sr / 100)))
        n_fft = 1 << int(np.ceil(np.log2(max(hop * 4, 64))))
        return cls(sr=sr, hop_length=hop, n_fft=n_fft, tempo_min_bpm=tempo_min_bpm, tempo_max_bpm=tempo_max_bpm)


class HopContext:
    """Per-hop inputs shared by all analyzers of a chain (preallocated, overwritten each hop).

    Attributes
    ----------
    samples : ndarray, shape (hop_length,), float32
        Mono samples of this hop.
    window : ndarray, shape (n_fft,), float32
        The last ``n_fft`` mono samples, oldest first.
    mag : ndarray, shape (n_fft // 2 + 1,), float32
        Magnitude spectrum of the Hann-windowed `window`.
    freqs_hz : ndarray, shape (n_fft // 2 + 1,), float64
        Bin center frequencies.
    t : float, s
        Audio time of the end of the hop (perf_counter clock).
    index : int
        Hop counter, from 0.
    """

    def __init__(self, spec: AnalysisSpec) -> None:
        self.spec = spec
        self.samples = np.zeros(spec.hop_length, dtype=np.float32)
        self.window = np.zeros(spec.n_fft, dtype=np.float32)
        self.mag = np.zeros(spec.n_fft // 2 + 1, dtype=np.float32)
        self.freqs_hz = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sr)
        self.t = 0.0
        self.index = 0


class HopAnalyzer(ABC):
    """Base of every analyzer: ``prepare`` allocates, ``process`` runs per hop, ``reset`` clears."""

    @abstractmethod
    def prepare(self, spec: AnalysisSpec) -> None:
        """Allocate buffers for ``spec``."""

    @abstractmethod
    def process(self, ctx: HopContext, vec: npt.NDArray[np.float64]) -> None:
        """Analyze one hop and write this analyzer's fields into ``vec`` (see `lumen.features.IDX`)."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all history (as if just prepared)."""


#: Registry of analyzer classes by stable name ("levels", "onset", "tempo", ...).
analyzers: Registry[type[HopAnalyzer]] = Registry("analyzer")
