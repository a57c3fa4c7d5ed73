"""The spectral frontend: a rolling mono window and its magnitude spectrum, once per hop.

Layer: analysis. Threads: the analysis thread.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.fft

from lumen.analysis.base import AnalysisSpec, HopContext
from lumen.rt.jit import jit


class Frontend:
    """Maintains `HopContext.window` and `HopContext.mag` from successive hops.

    Parameters
    ----------
    spec : AnalysisSpec
    """

    def __init__(self, spec: AnalysisSpec) -> None:
        self.spec = spec
        self._hann = np.hanning(spec.n_fft).astype(np.float32)
        self._tmp = np.zeros(spec.n_fft, dtype=np.float32)
        # compile (or load) the kernels now, on scratch buffers
        _shift_in(np.zeros(4, np.float32), np.zeros(2, np.float32), np.zeros(2, np.float32), np.ones(4, np.float32), np.zeros(4, np.float32))
        _magnitude(np.zeros(3, np.complex64), np.zeros(3, np.float32))

    def push(self, ctx: HopContext, mono_hop: npt.NDArray[np.float32]) -> None:
        """Shift ``mono_hop`` (shape ``(hop_length,)``) into the window and update the spectrum."""
        _shift_in(ctx.window, mono_hop, ctx.samples, self._hann, self._tmp)
        # scipy's pocketfft runs float32 natively and beats numpy's by ~20 % at this size
        _magnitude(scipy.fft.rfft(self._tmp, overwrite_x=True), ctx.mag)

    def reset(self, ctx: HopContext) -> None:
        """Clear the window."""
        ctx.window[:] = 0.0
        ctx.mag[:] = 0.0


@jit
def _shift_in(
    window: npt.NDArray[np.float32], hop: npt.NDArray[np.float32], samples: npt.NDArray[np.float32], hann: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
) -> None:  # pragma: no cover - compiled
    """Shift ``hop`` into the end of ``window`` (copying it to ``samples``); ``out`` = window x ``hann``."""
    n, h = window.shape[0], hop.shape[0]
    for i in range(n - h):
        window[i] = window[i + h]
        out[i] = window[i] * hann[i]
    for i in range(h):
        window[n - h + i] = hop[i]
        samples[i] = hop[i]
        out[n - h + i] = hop[i] * hann[n - h + i]


@jit
def _magnitude(spec: npt.NDArray[np.complex64], out: npt.NDArray[np.float32]) -> None:  # pragma: no cover - compiled
    """``out = |spec|``."""
    for i in range(spec.shape[0]):
        out[i] = abs(spec[i])
