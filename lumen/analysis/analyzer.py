"""The analysis chain: one hop of audio in, one feature vector out.

Layer: analysis. Threads: the analysis thread (live) or the caller's thread (offline).

`Analyzer` is the same code live and offline: the listen process feeds it hops from the ring
as they arrive; `analyze_array` feeds it a whole file as fast as the CPU allows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Importing the modules registers their analyzers.
from lumen.analysis import levels as _levels  # noqa: F401
from lumen.analysis.base import AnalysisSpec, HopAnalyzer, HopContext, analyzers
from lumen.analysis.beat import neural as _neural  # noqa: F401
from lumen.analysis.beat import tracker as _tracker  # noqa: F401
from lumen.analysis import mood as _mood  # noqa: F401
from lumen.analysis import structure as _structure  # noqa: F401
from lumen.analysis.frontend import Frontend
from lumen.features import IDX, new_vector

#: The default chain: levels and onsets, then the neural beat tracker ("beat"). The baseline
#: autocorrelation tracker stays registered as "tempo" (it reads onset, so run it after "onset").
DEFAULT_ANALYZERS: tuple[str, ...] = ("levels", "onset", "beat", "mood", "structure")


class Analyzer:
    """Runs the frontend and a chain of registered analyzers per hop.

    Parameters
    ----------
    spec : AnalysisSpec
    names : sequence of str
        Analyzer names, run in this order; unknown names raise `UnknownPluginError`.
    """

    def __init__(self, spec: AnalysisSpec, names: Sequence[str] = DEFAULT_ANALYZERS) -> None:
        self.spec = spec
        self.names = tuple(names)
        self.chain: list[HopAnalyzer] = [analyzers.get(n)() for n in self.names]
        for a in self.chain:
            a.prepare(spec)
        self.ctx = HopContext(spec)
        self.frontend = Frontend(spec)
        self.vec = new_vector()
        self._mono = np.zeros(spec.hop_length, dtype=np.float32)

    def process(self, hop: npt.NDArray[np.float32], t_end: float) -> npt.NDArray[np.float64]:
        """Analyze one hop.

        Parameters
        ----------
        hop : ndarray, shape (hop_length, n_channels) or (hop_length,), float32
        t_end : float, s
            Audio time of the hop's last frame (perf_counter clock).

        Returns
        -------
        ndarray, shape (N_FIELDS,), float64
            The analyzer's own feature vector (overwritten by the next call).
        """
        if hop.ndim == 2:
            # The mean of the channels (a channel-at-a-time sum: np.mean over the short axis of
            # a (hop, channels) block is several times slower).
            self._mono[:] = hop[:, 0]
            n_ch = hop.shape[1]
            if n_ch > 1:
                for c in range(1, n_ch):
                    self._mono += hop[:, c]
                self._mono *= np.float32(1.0 / n_ch)
        else:
            self._mono[:] = hop
        ctx = self.ctx
        ctx.t = t_end
        self.frontend.push(ctx, self._mono)
        vec = self.vec
        for a in self.chain:
            a.process(ctx, vec)
        vec[IDX["t"]] = t_end
        vec[IDX["seq"]] = ctx.index + 1
        ctx.index += 1
        return vec

    def reset(self) -> None:
        """Forget everything (as if just built)."""
        for a in self.chain:
            a.reset()
        self.frontend.reset(self.ctx)
        self.ctx.index = 0
        self.vec[:] = new_vector()


def analyze_array(
    audio: npt.NDArray[np.float32], sr: int, names: Sequence[str] = DEFAULT_ANALYZERS, *, t0: float = 0.0
) -> npt.NDArray[np.float64]:
    """Run the live chain over a whole signal as fast as possible.

    Parameters
    ----------
    audio : ndarray, shape (n_frames, n_channels) or (n_frames,), float32
    sr : int, Hz
    names : sequence of str
    t0 : float, s
        Time of the first frame (hop times are ``t0 + (i + 1) * hop_s``).

    Returns
    -------
    ndarray, shape (n_hops, N_FIELDS), float64
        One feature vector per hop.
    """
    spec = AnalysisSpec.for_rate(sr)
    an = Analyzer(spec, names)
    h = spec.hop_length
    x = np.ascontiguousarray(audio, dtype=np.float32)
    n_hops = x.shape[0] // h
    out = np.zeros((n_hops, an.vec.size), dtype=np.float64)
    for i in range(n_hops):
        out[i] = an.process(x[i * h : (i + 1) * h], t0 + (i + 1) * h / sr)
    return out
