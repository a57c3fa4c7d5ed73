"""Example: add your own analyzer to the chain.

An analyzer is a class registered under a stable name; the show file lists it in
``analysis.analyzers`` and it runs once per 10 ms hop on the analysis thread. This one writes
a crude "brightness" (spectral centroid, 0..1) into the ``novelty`` slot.

    .venv/bin/python examples/custom_analyzer.py
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lumen.analysis.analyzer import analyze_array
from lumen.analysis.base import AnalysisSpec, HopAnalyzer, HopContext, analyzers
from lumen.audio.music import MusicGenerator, MusicParams
from lumen.features import IDX


@analyzers.register("centroid_example")
class CentroidAnalyzer(HopAnalyzer):
    """Spectral centroid as a fraction of Nyquist, written to ``novelty``."""

    def prepare(self, spec: AnalysisSpec) -> None:
        self.nyquist = spec.sr / 2.0

    def reset(self) -> None:
        pass

    def process(self, ctx: HopContext, vec: npt.NDArray[np.float64]) -> None:
        total = float(ctx.mag.sum())
        centroid = float(np.dot(ctx.freqs_hz, ctx.mag)) / total if total > 0 else 0.0
        vec[IDX["novelty"]] = centroid / self.nyquist


def main() -> None:
    audio = MusicGenerator(MusicParams(seed=2)).render_seconds(10.0)
    feats = analyze_array(audio, 48000, ["levels", "onset", "tempo", "centroid_example"])
    print(f"mean spectral centroid: {feats[:, IDX['novelty']].mean() * 24000:.0f} Hz")


if __name__ == "__main__":
    main()
