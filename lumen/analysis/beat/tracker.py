"""A causal autocorrelation tempo estimator with a phase-locked beat clock.

Layer: analysis. Threads: the analysis thread.

This is lumen's baseline tracker ("tempo"): every 0.25 s it autocorrelates the last 6 s of
onset strength, picks the tempo with a log-normal prior around 120 bpm, finds the beat phase
with a comb over the last 4 s, and nudges a free-running beat clock towards that estimate
(a phase-locked loop). Beats are emitted by the clock, not by detections, so they keep
coming through breakdowns (with falling confidence) and `next_beat_t` is a prediction the
renderer can aim at. Downbeats: each beat position in the bar accumulates harmonic change
and bass-versus-snare balance; the strongest position is beat one.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from lumen.analysis.base import AnalysisSpec, HopAnalyzer, HopContext, analyzers
from lumen.features import IDX

#: Onset-envelope latency of the frontend: a click is seen this long after it sounds
#: (measured on generated music with known beats; see tests/unit/analysis).
DETECTION_DELAY_S = 0.012

#: Band of the phase reference flux, Hz.
LOW_BAND_HZ = (30.0, 150.0)


@analyzers.register("tempo")
class TempoTracker(HopAnalyzer):
    """Tempo, beat phase, bar phase, beats, downbeats, next-beat prediction and confidence.

    Reads ``onset`` written by the onset analyzer (run "onset" before "tempo") and the band
    levels from "levels". Writes ``bpm``, ``beat_phase``, ``bar_phase``, ``beat``,
    ``downbeat``, ``next_beat_t`` and ``confidence``.
    """

    beats_per_bar = 4

    def prepare(self, spec: AnalysisSpec) -> None:
        """Allocate the onset history and precompute lag ranges."""
        self.spec = spec
        self.fps = spec.frame_rate_hz
        self.n_hist = int(round(6.0 * self.fps))
        self.env = np.zeros(self.n_hist, dtype=np.float64)
        # Low-frequency flux (kick and bass attacks, below 150 Hz): the phase reference, since
        # off-beat hats and pumping bass often make the broadband flux peak between beats.
        self.low_env = np.zeros(self.n_hist, dtype=np.float64)
        freqs_all = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sr)
        self._low_bins = slice(int(np.searchsorted(freqs_all, LOW_BAND_HZ[0])), max(2, int(np.searchsorted(freqs_all, LOW_BAND_HZ[1]))))
        n_low = self._low_bins.stop - self._low_bins.start
        self._low_prev = np.zeros(n_low, dtype=np.float32)
        self._low_log = np.zeros(n_low, dtype=np.float32)
        self.lag_min = max(2, int(math.floor(60.0 * self.fps / spec.tempo_max_bpm)))
        self.lag_max = int(math.ceil(60.0 * self.fps / spec.tempo_min_bpm))
        lags = np.arange(self.lag_min, self.lag_max + 1, dtype=np.float64)
        bpms = 60.0 * self.fps / lags
        # Log-normal tempo prior centered on 120 bpm, one octave wide.
        self.prior = np.exp(-0.5 * (np.log2(bpms / 120.0) / 1.0) ** 2)
        self.update_every = max(1, int(round(0.25 * self.fps)))
        freqs = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sr)
        self._chroma_bins = slice(int(np.searchsorted(freqs, 80.0)), int(np.searchsorted(freqs, 1000.0)))
        n_chroma = self._chroma_bins.stop - self._chroma_bins.start
        self._snap = np.zeros(max(n_chroma, 1), dtype=np.float32)
        self._snap_prev = np.zeros(max(n_chroma, 1), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget tempo, phase and history."""
        self.env[:] = 0.0
        self.low_env[:] = 0.0
        self._low_prev[:] = 0.0
        self.n = 0
        self.period_s = 0.0
        self.next_beat_t = 0.0
        self.beat_count = 0
        self.confidence = 0.0
        self.bar_offset = 0
        self.bar_acc = np.zeros(self.beats_per_bar, dtype=np.float64)
        self._candidate_bpm = 0.0
        self._candidate_n = 0
        self._activity = 0.0
        self._jump_n = 0
        self._jump_err = 0.0

    # -- estimation -------------------------------------------------------------------------

    def _history(self, ring: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """An onset history ring in time order (oldest first)."""
        k = self.n % self.n_hist
        return np.concatenate((ring[k:], ring[:k]))

    def _estimate(self, t: float) -> None:
        env = self._history(self.env)
        env = env - env.mean()
        n_fft = 1 << int(np.ceil(np.log2(2 * env.size)))
        spec = np.fft.rfft(env, n_fft)
        acf = np.fft.irfft(spec * np.conj(spec), n_fft)[: self.lag_max * 2 + 2]
        if acf[0] <= 1e-12:
            return
        acf = acf / acf[0]
        lags = np.arange(self.lag_min, self.lag_max + 1)
        score = acf[lags] + 0.5 * acf[np.minimum(2 * lags, acf.size - 1)]
        score = np.maximum(score, 0.0) * self.prior
        i = int(np.argmax(score))
        lag = float(lags[i])
        if 0 < i < lags.size - 1:  # parabolic refinement
            a, b, c = score[i - 1], score[i], score[i + 1]
            den = a - 2 * b + c
            if den < 0:
                lag += 0.5 * (a - c) / den
        bpm = 60.0 * self.fps / lag
        peak = float(acf[int(round(lag))])
        # Tempo hysteresis: small changes follow at once, jumps must persist for 3 updates.
        if self.period_s == 0.0:
            self.period_s = 60.0 / bpm
        else:
            cur = 60.0 / self.period_s
            if abs(bpm - cur) / cur < 0.04:
                self.period_s += 0.3 * (60.0 / bpm - self.period_s)
                self._candidate_n = 0
            elif self._candidate_n and abs(bpm - self._candidate_bpm) / self._candidate_bpm < 0.04:
                self._candidate_n += 1
                if self._candidate_n >= 3:
                    self.period_s = 60.0 / bpm
                    self._candidate_n = 0
            else:
                self._candidate_bpm = bpm
                self._candidate_n = 1
        low = self._history(self.low_env)
        low_peak = low.max()
        broad = self._history(self.env)
        phase_env = broad / max(broad.max(), 1e-9)
        if low_peak > 1e-9:
            phase_env = phase_env * 0.3 + low / low_peak
        self._phase(phase_env, t)
        conf = min(1.0, max(0.0, peak) * 1.6)
        self.confidence += 0.5 * (conf * min(1.0, self._activity * 4.0) - self.confidence)

    def _phase(self, env: npt.NDArray[np.float64], t: float) -> None:
        """Align the beat clock with the comb that best fits the last 4 s of onsets."""
        p = self.period_s * self.fps
        n_p = max(1, int(round(p)))
        k = np.arange(int(4.0 * self.fps / p))
        offsets = np.arange(n_p)[:, None] + np.round(k[None, :] * p).astype(int)
        offsets = offsets[:, offsets.max(axis=0) < env.size] if offsets.size else offsets
        weights = 0.85 ** k[: offsets.shape[1]]
        rev = env[::-1]  # rev[j] = onset strength j hops ago
        comb = (rev[offsets] * weights).sum(axis=1)
        phi = int(np.argmax(comb))
        t_last = t - phi / self.fps - DETECTION_DELAY_S
        t_est = t_last + self.period_s
        while t_est <= t:
            t_est += self.period_s
        if self.next_beat_t == 0.0:
            self.next_beat_t = t_est
            return
        err = t_est - self.next_beat_t
        err -= self.period_s * round(err / self.period_s)
        if abs(err) > 0.2 * self.period_s:
            # A big jump is believed only when it repeats (a real shift, e.g. a new track);
            # a single stray comb peak (an off-beat hat) must not yank the lights off the beat.
            if self._jump_n and abs(err - self._jump_err) < 0.1 * self.period_s:
                self._jump_n += 1
            else:
                self._jump_n = 1
            self._jump_err = err
            if self._jump_n < 3:
                return
            self._jump_n = 0
        self.next_beat_t += 0.35 * err

    # -- per hop ------------------------------------------------------------------------------

    def process(self, ctx: HopContext, vec: npt.NDArray[np.float64]) -> None:
        """Advance the beat clock by one hop and write the beat fields."""
        onset = float(vec[IDX["onset"]])
        self.env[self.n % self.n_hist] = onset
        np.log1p(ctx.mag[self._low_bins], out=self._low_log)
        np.subtract(self._low_log, self._low_prev, out=self._low_prev)
        self.low_env[self.n % self.n_hist] = float(np.maximum(self._low_prev, 0.0).sum())
        self._low_prev[:] = self._low_log
        self.n += 1
        t = ctx.t
        self._activity += 0.02 * ((1.0 if vec[IDX["energy"]] > 0.05 else 0.0) - self._activity)
        if self.n >= self.n_hist // 2 and self.n % self.update_every == 0:
            if self._activity > 0.3:
                self._estimate(t)
            else:
                self.confidence *= 0.9  # hold the grid through silence, trust it less
        beat = False
        downbeat = False
        if self.period_s > 0.0 and self.next_beat_t > 0.0:
            while t >= self.next_beat_t:
                beat = True
                self.beat_count += 1
                self.next_beat_t += self.period_s
                pos = (self.beat_count - 1) % self.beats_per_bar
                self._learn_bar(ctx, vec, pos)
                if pos == self.bar_offset:
                    downbeat = True
            beat_phase = 1.0 - (self.next_beat_t - t) / self.period_s
            beat_phase = min(1.0, max(0.0, beat_phase))
            in_bar = (self.beat_count - 1 - self.bar_offset) % self.beats_per_bar if self.beat_count else 0
            bar_phase = (in_bar + beat_phase) / self.beats_per_bar
            vec[IDX["bpm"]] = 60.0 / self.period_s
            vec[IDX["next_beat_t"]] = self.next_beat_t
        else:
            beat_phase = 0.0
            bar_phase = 0.0
            vec[IDX["bpm"]] = 0.0
            vec[IDX["next_beat_t"]] = 0.0
        vec[IDX["beat_phase"]] = beat_phase
        vec[IDX["bar_phase"]] = bar_phase
        vec[IDX["beat"]] = 1.0 if beat else 0.0
        vec[IDX["downbeat"]] = 1.0 if downbeat else 0.0
        vec[IDX["confidence"]] = self.confidence

    def _learn_bar(self, ctx: HopContext, vec: npt.NDArray[np.float64], pos: int) -> None:
        """Accumulate downbeat evidence for beat position ``pos``."""
        np.copyto(self._snap, ctx.mag[self._chroma_bins])
        a = float(np.linalg.norm(self._snap))
        b = float(np.linalg.norm(self._snap_prev))
        change = 1.0 - float(np.dot(self._snap, self._snap_prev)) / (a * b) if a > 0 and b > 0 else 0.0
        self._snap_prev[:] = self._snap
        evidence = change + 0.3 * (vec[IDX["bass"]] - vec[IDX["high_mid"]])
        self.bar_acc *= 0.97
        self.bar_acc[pos] += evidence
        best = int(np.argmax(self.bar_acc))
        # Hysteresis: move beat one only when another position is clearly stronger.
        if best != self.bar_offset and self.bar_acc[best] > self.bar_acc[self.bar_offset] + 0.5:
            self.bar_offset = best
