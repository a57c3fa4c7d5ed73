"""The spectral frontend: a rolling mono window and its magnitude spectrum, once per hop.

Layer: analysis. Threads: the analysis thread.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.fft

from lumen.analysis.base import AnalysisSpec, HopContext


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

    def push(self, ctx: HopContext, mono_hop: npt.NDArray[np.float32]) -> None:
        """Shift ``mono_hop`` (shape ``(hop_length,)``) into the window and update the spectrum."""
        h = mono_hop.shape[0]
        w = ctx.window
        w[:-h] = w[h:]
        w[-h:] = mono_hop
        ctx.samples[:] = mono_hop
        np.multiply(w, self._hann, out=self._tmp)
        # scipy's pocketfft runs float32 natively and beats numpy's by ~20 % at this size
        np.abs(scipy.fft.rfft(self._tmp, overwrite_x=True), out=ctx.mag, casting="same_kind")

    def reset(self, ctx: HopContext) -> None:
        """Clear the window."""
        ctx.window[:] = 0.0
        ctx.mag[:] = 0.0
