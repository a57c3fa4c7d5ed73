"""lumen's neural beat tracker ("beat"): causal activations, a beat-pointer HMM, predicted beats.

Layer: analysis. Threads: the analysis thread (live) or the caller's thread (offline).

Per 10 ms hop: `BeatFrontend` (log-mel bands and flux from the chain's spectrum) →
`StreamingBeatModel` (an ensemble of three GRUs, stacked, in numba kernels) → the geometric
mean of their beat and downbeat activations → `BeatHMM` (tempo and phase) → `BarTracker` (position in the bar).
Beats are *predicted*: the tracker writes ``next_beat_t``, the time of the next beat, and
raises ``beat`` in the hop that the previous hop predicted the beat to fall in, so
beat-locked light can be sent ahead of the beat by each output's latency and land on it (see
`lumen.scene.graph.predict_phases`).

External tempo sources (tap tempo, Ableton Link, MIDI clock) reach the tracker through one
method, `NeuralBeatTracker.hint`: ``mode="nudge"`` pulls the audio tracker's posterior towards
the external tempo and phase, ``mode="override"`` makes the external clock the output until
`clear_hint` (the audio tracker keeps running underneath, so releasing the override is
seamless).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from lumen.analysis.base import AnalysisSpec, HopAnalyzer, HopContext, analyzers
from lumen.analysis.beat.harmony import HarmonicChange
from lumen.analysis.beat.hmm import BarTracker, BeatHMM
from lumen.analysis.beat.model import BeatFrontend, StreamingBeatModel, load_ensemble
from lumen.features import IDX

__all__ = ["BeatEvent", "NeuralBeatTracker", "TapTempo"]

#: Mean power below which a hop counts as silence (-70 dBFS RMS): the model's activations are
#: ignored there, since a network can answer anything to an input it never trained on.
SILENCE_POWER = 1e-7

#: Smallest activation that counts as evidence of a beat.
QUIET_FLOOR = 0.12
#: How fast the remembered beat-activation peak falls, per second (the quiet threshold is
#: half of it).
LEVEL_FALL_PER_S = 0.05

#: Hops around a beat searched for its downbeat activation (before, at least after).
_DOWN_WINDOW = (2, 3)
#: The harmonic change at a beat compares the whole previous beat with this share of the new
#: one (chosen on a development set of generated pieces and freedoom's held-out music).
HARMONY_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class BeatEvent:
    """A beat the tracker emitted: its predicted time, whether it is a downbeat, the tempo."""

    t: float
    downbeat: bool
    bpm: float


_MODEL_CACHE: dict[str, StreamingBeatModel] = {}


@analyzers.register("beat")
class NeuralBeatTracker(HopAnalyzer):
    """Tempo, beat and bar phase, beats, downbeats, ``next_beat_t`` and confidence, from activations.

    Writes ``bpm``, ``beat_phase``, ``bar_phase``, ``beat``, ``downbeat``, ``next_beat_t`` and
    ``confidence``. Needs no other analyzer (it reads the chain's spectrum), so it replaces
    the baseline "tempo" analyzer in a chain.

    Attributes
    ----------
    act : ndarray, shape (2,), float32
        Beat and downbeat activation of the latest hop.
    event : BeatEvent or None
        The beat emitted in the latest hop, if any.
    """

    #: Limits of the tempo range (the show's ``analysis.tempo_min_bpm``/``tempo_max_bpm`` are
    #: clipped to these).
    tempo_min_bpm = 40.0
    tempo_max_bpm = 240.0
    #: Emit a beat in the hop the previous hop predicted it for (True), or only when this hop's
    #: most likely state has just passed the beat.
    emit_predicted = True

    def prepare(self, spec: AnalysisSpec) -> None:
        """Load the shipped ensemble (once per process), build the frontend and the HMMs."""
        self.spec = spec
        self.fps = spec.frame_rate_hz
        if "default" not in _MODEL_CACHE:
            _MODEL_CACHE["default"] = StreamingBeatModel([model for model, _meta in load_ensemble()])
        shared = _MODEL_CACHE["default"]
        self.frontend = BeatFrontend(spec, shared.n_input // 2)
        self.model = shared.fork()  # own recurrent state, shared read-only weights
        lo = max(self.tempo_min_bpm, min(spec.tempo_min_bpm, 150.0))
        hi = min(self.tempo_max_bpm, max(spec.tempo_max_bpm, lo + 30.0))
        self.hmm = BeatHMM(self.fps, lo, hi)
        self.bar = BarTracker()
        self.harmony = HarmonicChange(spec.sr, spec.n_fft)
        self.act = self.model.act
        self._d_hist = np.zeros(_DOWN_WINDOW[0] + 1)
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        self.frontend.reset()
        self.model.reset()
        self.hmm.reset()
        self.bar.reset()
        self.harmony.reset()
        self._d_hist[:] = 0.0
        self.t_next = 0.0  # predicted time of the next beat (0: none yet)
        self.t_last_beat = -1e9
        self.prev_pos = 0
        self.peak_ema = 0.0
        self.beat_level = 0.0  # slowly falling peak of the beat activation
        self.mean_ema = 0.0
        self.confidence = 0.0
        self.pending_down = -1  # hops until the downbeat evidence of the last beat is complete
        self.down_max = 0.0
        self.event: BeatEvent | None = None
        self.beat_in_bar = 0
        self.heard_hops = 0
        self._hint: tuple[str, float, float] | None = None  # (mode, period_s, beat_t)

    # -- external tempo ------------------------------------------------------------------
    def hint(self, bpm: float, beat_t: float | None = None, *, mode: Literal["nudge", "override"] = "nudge", weight: float = 0.5) -> None:
        """Apply an external tempo (and phase): tap tempo, Link, MIDI clock, OSC.

        Parameters
        ----------
        bpm : float
            External tempo.
        beat_t : float, s, optional
            Time of one of its beats (perf_counter clock); None for tempo only.
        mode : {"nudge", "override"}
            "nudge" pulls the audio tracker towards it (``weight`` 0..1); "override" makes it
            the output until `clear_hint`.
        """
        if not 20.0 <= bpm <= 400.0 or not math.isfinite(bpm):
            raise ValueError(f"bpm must be in 20..400, got {bpm!r}")
        period = 60.0 / bpm
        if mode == "override":
            self._hint = ("override", period, beat_t if beat_t is not None else self.t_next or 0.0)
            return
        since = None
        if beat_t is not None and self._t > 0.0:
            since = ((self._t - beat_t) % period) * self.fps
        self.hmm.nudge(period * self.fps, since, weight)

    def clear_hint(self) -> None:
        """Return to the audio tracker's own estimate."""
        self._hint = None

    # -- per hop -------------------------------------------------------------------------
    _t = 0.0

    def process(self, ctx: HopContext, vec: npt.NDArray[np.float64]) -> None:
        """One hop: activations, HMM step, beat emission, outputs into ``vec``."""
        t = ctx.t
        self._t = t
        fps = self.fps
        hop_s = 1.0 / fps
        x = self.frontend.frame(ctx.mag)
        act = self.model.step(x)
        a, d = float(act[0]), float(act[1])
        smp = ctx.samples
        if float(np.dot(smp, smp)) < SILENCE_POWER * smp.shape[0]:  # digital silence: no evidence
            a = d = 0.0
        hmm = self.hmm
        # "Quiet" is relative to how strong this music's beats are: a breakdown whose
        # activations stay under half the recent beat peaks holds the grid instead of letting
        # weak, misplaced evidence drag the tempo away.
        self.beat_level = max(a, self.beat_level - LEVEL_FALL_PER_S / fps)
        hmm.quiet_activation = max(QUIET_FLOOR, 0.5 * self.beat_level)
        state = hmm.step(a)
        i = int(hmm.intervals[hmm.state_block[state]])
        p = int(hmm.state_pos[state])
        period = i * hop_s
        # Emit the beat the previous hop predicted into this hop; or, if the phase wrapped
        # without that (a phase correction jumped over it), the beat that just passed.
        self.event = None
        beat_t = 0.0
        if not hmm.quiet:
            self.heard_hops += 1
        # No beats before the music has given the grid something to lock to (silence at the
        # start of a set has no beat); once heard, the grid keeps running through breaks.
        if self.heard_hops < self.fps * 0.5:
            self.t_next = 0.0
        elif self.emit_predicted and self.t_next > 0.0 and t - hop_s < self.t_next <= t and self.t_next - self.t_last_beat > 0.5 * period:
            beat_t = self.t_next
        elif p < self.prev_pos and 4 * p < i and t - (p + 0.5) * hop_s - self.t_last_beat > 0.6 * period:
            # A real wrap (the pointer just passed position 0), not a backward phase correction.
            beat_t = t - (p + 0.5) * hop_s
        self.prev_pos = p
        self.harmony.add(ctx.mag)
        self._d_hist[:-1] = self._d_hist[1:]
        self._d_hist[-1] = d
        if self.pending_down >= 0:
            self.down_max = max(self.down_max, d)
            self.pending_down -= 1
            if self.pending_down < 0:
                self.bar.observe(self.down_max, self.harmony.change())
        if beat_t > 0.0:
            self.t_last_beat = beat_t
            if self.pending_down >= 0:  # beats closer than the window: settle the last one now
                self.bar.observe(self.down_max, self.harmony.change())
            self.harmony.beat()
            self.bar.advance()
            self.beat_in_bar = self.bar.position
            self.down_max = float(self._d_hist.max())
            # The evidence is complete once the harmony of the new beat's first HARMONY_SHARE
            # can be compared with the whole previous beat; the downbeat activation's peak is
            # taken over the same span (at least the window after the beat).
            self.pending_down = max(_DOWN_WINDOW[1], int(HARMONY_SHARE * i))
            self.peak_ema += 0.25 * (max(a, float(self._d_hist[-2])) - self.peak_ema)
            self.event = BeatEvent(beat_t, self.beat_in_bar == 0, 60.0 / period)
        self.mean_ema += 0.01 * (a - self.mean_ema)
        self.t_next = t + (i - p - 0.5) * hop_s
        beat_phase = p / i
        if hmm.quiet:
            self.confidence *= 0.995
        else:
            target = min(1.0, max(0.0, 2.5 * (self.peak_ema - self.mean_ema))) * min(1.0, 2.0 * hmm.tempo_mass())
            self.confidence += 0.05 * (target - self.confidence)
        bpm = 60.0 * fps / hmm.refined_interval()
        meter = self.bar.meter
        bar_pos = self.beat_in_bar
        is_beat = self.event is not None
        is_down = is_beat and self.beat_in_bar == 0
        next_t = self.t_next
        conf = self.confidence
        if self.heard_hops < self.fps * 0.5:  # nothing to go on yet: tempo and next beat unknown
            bpm = 0.0
            next_t = 0.0
        if self._hint is not None and self._hint[0] == "override":
            _, hp, hb = self._hint
            k = math.floor((t - hb) / hp)
            last = hb + k * hp
            beat_phase = (t - last) / hp
            is_beat = t - hop_s < last <= t
            next_t = last + hp
            bpm = 60.0 / hp
            conf = 1.0
            n_beat = int(k)
            bar_pos = n_beat % meter
            is_down = is_beat and bar_pos == 0
        vec[IDX["bpm"]] = bpm
        vec[IDX["beat_phase"]] = beat_phase
        vec[IDX["bar_phase"]] = (bar_pos + beat_phase) / meter
        vec[IDX["beat"]] = 1.0 if is_beat else 0.0
        vec[IDX["downbeat"]] = 1.0 if is_down else 0.0
        vec[IDX["next_beat_t"]] = next_t
        vec[IDX["confidence"]] = conf


class TapTempo:
    """Tempo and phase from taps (a DJ's tap button): median of recent intervals.

    Parameters
    ----------
    max_taps : int
        Intervals averaged (the most recent ones).
    reset_after_s : float, s
        A gap longer than this starts a new tap sequence.

    Examples
    --------
    >>> tap = TapTempo()
    >>> for t in (0.0, 0.5, 1.0, 1.5):
    ...     tap.tap(t)
    >>> tap.bpm, tap.last_tap_t
    (120.0, 1.5)
    """

    def __init__(self, max_taps: int = 8, reset_after_s: float = 2.0) -> None:
        self.max_taps = max_taps
        self.reset_after_s = reset_after_s
        self.times: list[float] = []

    def tap(self, t: float) -> None:
        """Register a tap at ``t`` (s, perf_counter clock)."""
        if self.times and (t - self.times[-1] > self.reset_after_s or t <= self.times[-1]):
            self.times.clear()
        self.times.append(t)
        del self.times[: -self.max_taps - 1]

    @property
    def bpm(self) -> float:
        """Tapped tempo (0 until two taps)."""
        if len(self.times) < 2:
            return 0.0
        iv = float(np.median(np.diff(self.times)))
        return round(60.0 / iv, 6) if iv > 0 else 0.0

    @property
    def last_tap_t(self) -> float:
        """Time of the latest tap (a beat of the tapped grid)."""
        return self.times[-1] if self.times else 0.0
