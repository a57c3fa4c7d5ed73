"""Harmonic change between beat intervals, from the chain's magnitude spectrum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lumen.analysis.base import AnalysisSpec, HopContext
from lumen.analysis.beat.harmony import F_MAX_HZ, F_MIN_HZ, HarmonicChange
from lumen.analysis.frontend import Frontend

SR = 48000


def chord_hops(freqs: tuple[float, ...], seconds: float, spec: AnalysisSpec, ctx: HopContext, fe: Frontend) -> list[np.ndarray]:
    """Magnitude spectra of the chain for each hop of a sustained chord (sines)."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.sum([0.2 * np.sin(2 * np.pi * f * t) for f in freqs], axis=0).astype(np.float32)
    out = []
    for k in range(n // spec.hop_length):
        fe.push(ctx, x[k * spec.hop_length : (k + 1) * spec.hop_length])
        out.append(ctx.mag.copy())
    return out


@pytest.fixture
def chain() -> tuple[AnalysisSpec, HopContext, Frontend]:
    spec = AnalysisSpec.for_rate(SR)
    return spec, HopContext(spec), Frontend(spec)


def test_a_chord_change_scores_high_and_the_same_chord_low(chain: tuple[AnalysisSpec, HopContext, Frontend]) -> None:
    spec, ctx, fe = chain
    c_major, f_sharp_major = (261.6, 329.6, 392.0), (370.0, 466.2, 554.4)
    hc = HarmonicChange(spec.sr, spec.n_fft)
    for mag in chord_hops(c_major, 0.5, spec, ctx, fe):
        hc.add(mag)
    hc.beat()
    hops = chord_hops(c_major, 0.4, spec, ctx, fe)
    for mag in hops[10:]:  # skip the hops whose window still holds the previous beat
        hc.add(mag)
    same = hc.change()
    hc.beat()
    for mag in chord_hops(f_sharp_major, 0.4, spec, ctx, fe)[10:]:
        hc.add(mag)
    changed = hc.change()
    # The chain's 23 Hz bins blur neighbouring semitones below ~400 Hz, so even a change to
    # the furthest key scores well under 1; what matters is that it stands far above no change.
    assert same < 0.02
    assert changed > 0.15 and changed > 8 * same


def test_no_energy_in_range_gives_nan_and_reset_forgets(chain: tuple[AnalysisSpec, HopContext, Frontend]) -> None:
    spec, ctx, fe = chain
    hc = HarmonicChange(spec.sr, spec.n_fft)
    assert math.isnan(hc.change())  # nothing heard yet
    for _ in range(30):  # a silent beat
        hc.add(np.zeros_like(ctx.mag))
    hc.beat()
    for mag in chord_hops((440.0,), 0.3, spec, ctx, fe):
        hc.add(mag)
    assert math.isnan(hc.change())  # the previous beat had no harmony in range
    hc.reset()
    assert not hc.has_prev and not hc.acc.any()


def test_the_band_covers_the_configured_range(chain: tuple[AnalysisSpec, HopContext, Frontend]) -> None:
    spec, ctx, _fe = chain
    hc = HarmonicChange(spec.sr, spec.n_fft)
    f = ctx.freqs_hz[hc.lo : hc.hi]
    assert f[0] >= F_MIN_HZ and f[-1] <= F_MAX_HZ
    assert ctx.freqs_hz[hc.lo - 1] < F_MIN_HZ and ctx.freqs_hz[hc.hi] > F_MAX_HZ
    assert hc.matrix.shape == (12, hc.hi - hc.lo)
