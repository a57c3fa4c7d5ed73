"""Song structure ("structure"): causal sections, a novelty curve and build/drop/break events.

Layer: analysis. Threads: the analysis thread (live) or the caller's thread (offline).

`StructureAnalyzer` runs after the beat tracker in the chain and reads its ``beat``,
``downbeat`` and ``confidence``, plus ``is_onset`` from the onset analyzer. It never looks
ahead: every output at time t depends only on audio before t.

How it works
------------
* **Per hop** (a few µs): the power of the hop's spectrum in three bands (low 30-150 Hz: kick
  and bass; all; high 5-16 kHz: hats, noise risers) and its spectral centroid are added to
  the running sums of the current beat. During the first `HEAD_HOPS` hops after a beat the
  cumulative low and total power are kept per hop, so the start of a beat can be compared with
  the *same* part of earlier beats (a kick against kicks, not against the gaps between them).
* **Per beat**: the sums become a beat summary (loudness, low, high in dB, centroid in
  octaves, onset rate, tracker confidence) in a ring of `N_BEATS` beats. Loudness and low are
  also taken relative to slowly falling peaks (the long-term level), so a quiet club mix and a
  hot master read alike. From the ring:

  - **novelty**: distance between the mean of the last 2 beats and the mean of the 8 before
    them (features scaled to about one unit per "clear change"), mapped to 0..1;
  - **energy class**: *low* (no kick or bass: low far below its long-term peak, or quiet),
    *full* (near the long-term peak in loudness and low), else *mid*;
  - **build evidence**: over the last 6 beats against the 8 before them, at least two of:
    onset rate up (a snare roll accelerating), high band up (a riser), centroid up, low band
    gone while onsets continue (the kick pulled out under a roll).

* **Sections** (a state machine with hysteresis): *intro* is low energy before anything
  with a kick; *break* is low energy after it; *verse* is mid or full energy; *build* is
  build evidence (sticky until the drop or `BUILD_TIMEOUT_BARS`); *drop* is entered only by
  the drop event. A new label must hold for 2 beats starting at a bar line, or for a whole
  bar, and the current section must be a bar old. ``outro`` is not detected (a causal
  analyzer cannot know that no drop follows); the end of a song reads as verse or break.
* **Drop** (per hop, near the beat): in a build or break, when the power of the hops since
  the beat is far above the same hops of the previous beats (loudness and low band both
  jump) and near the long-term peak, ``drop`` fires in that hop: 10-40 ms after the beat the
  drop lands on. A drop missed there is confirmed one beat later from the beat summary.
* **Bad input**: sections stay ``none`` until the tracker has been confident for 2 bars of
  audible sound; silence for 2 s returns to ``none``; drops need music. Every output is
  finite.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from lumen.analysis.base import AnalysisSpec, HopAnalyzer, HopContext, analyzers
from lumen.analysis.levels import coef
from lumen.features import IDX, SECTIONS

__all__ = ["StructureAnalyzer"]

#: Beat summaries kept (64 beats: 16 bars of 4/4).
N_BEATS = 64
#: Hops after a beat whose cumulative power is kept for the drop test (120 ms).
HEAD_HOPS = 12
#: Earliest hop after a beat at which a drop may fire (needs a little evidence).
DROP_MIN_HOPS = 2
#: Loudness jump (dB) of a drop's first hops over the same hops of the preceding beats.
DROP_JUMP_DB = 5.0
#: Low-band jump (dB) of a drop's first hops over the same hops of the preceding beats.
DROP_LOW_JUMP_DB = 6.0
#: A drop's first hops must come within this many dB of the long-term loudness peak.
DROP_NEAR_PEAK_DB = 6.0
#: Beats after a drop before another may fire.
DROP_REFRACTORY_BEATS = 16
#: Build state ends (back to the energy class) after this many bars without a drop.
BUILD_TIMEOUT_BARS = 16
#: Hop power in dBFS below which a hop counts as silent.
SILENCE_DB = -65.0
#: Seconds without a tracker beat after which the analyzer keeps its own beat clock.
BEAT_TIMEOUT_S = 1.2

# Per-beat summary columns.
_L, _B, _H, _C, _O, _CONF = range(6)
_N_COLS = 6
# Feature scales for novelty: one unit is a clear change (6 dB, 6 dB, 6 dB, half an octave,
# 3 onsets/s); confidence is left out (it says how sure the tracker is, not what plays).
_NOV_SCALE = np.array([6.0, 6.0, 6.0, 0.5, 3.0, 1e9])
_CODE = {name: float(i) for i, name in enumerate(SECTIONS)}
_EPS = 1e-12


def _db(p: float) -> float:
    return 10.0 * math.log10(p + _EPS)


@analyzers.register("structure")
class StructureAnalyzer(HopAnalyzer):
    """Causal song structure: ``section``, ``novelty`` and the structure events.

    Writes ``section`` (index into `lumen.features.SECTIONS`; this analyzer emits none, intro,
    verse, build, drop and break), ``novelty`` (0..1), and the one-hop events
    ``section_change``, ``build_start``, ``drop`` (in the hop the drop lands, on its beat) and
    ``break_start``. Reads ``beat``, ``downbeat``, ``confidence`` (run it after "beat") and
    ``is_onset`` (after "onset"); without a beat tracker it keeps its own 120 bpm clock.

    Cost: ~5 µs per hop, ~30 µs per beat (numpy on a 64 x 6 ring).

    Attributes
    ----------
    section : str
        The current section label.
    beats : ndarray, shape (N_BEATS, 6), float64
        Ring of beat summaries (loudness dB, low dB, high dB, centroid octaves, onsets/s,
        confidence); row ``n_beats % N_BEATS`` is written next.
    n_beats : int
        Beats summarized since `reset`.
    """

    def prepare(self, spec: AnalysisSpec) -> None:
        """Find the band bins and allocate the rings."""
        self.spec = spec
        freqs = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sr)
        lo = np.nonzero((freqs >= 30.0) & (freqs < 150.0))[0]
        hi = np.nonzero((freqs >= 5000.0) & (freqs < min(16000.0, spec.sr / 2)))[0]
        self._lo = (int(lo[0]), int(lo[-1]) + 1) if lo.size else (0, 0)
        self._hi = (int(hi[0]), int(hi[-1]) + 1) if hi.size else (0, 0)
        self._freqs = freqs.astype(np.float32)
        self._pow = np.zeros(freqs.size, dtype=np.float32)
        # Power normalization: a full-scale sine reads about 0 dB (as in `LevelsAnalyzer`).
        self._norm = 2.0 / float(np.sum(np.hanning(spec.n_fft)) ** 2)
        self._nov_coef = coef(0.15, spec.hop_s)
        self._silence_hops = int(round(2.0 / spec.hop_s))
        self._beat_timeout = int(round(BEAT_TIMEOUT_S / spec.hop_s))
        self._own_period = int(round(0.5 / spec.hop_s))
        # Peak falls: 0.15 dB per beat (~10 dB over 16 bars).
        self._peak_fall_db = 0.15
        self.beats = np.zeros((N_BEATS, _N_COLS), dtype=np.float64)
        self._head = np.zeros((N_BEATS, HEAD_HOPS, 2), dtype=np.float64)
        self._cur_head = np.zeros((HEAD_HOPS, 2), dtype=np.float64)
        self._scale = _NOV_SCALE.copy()
        self.reset()

    def reset(self) -> None:
        """Forget all history (as if just prepared)."""
        self.beats[:] = 0.0
        self._head[:] = 0.0
        self._cur_head[:] = 0.0
        self.n_beats = 0
        self.section = "none"
        self._code = 0.0
        # running sums of the current beat
        self._s_tot = 0.0
        self._s_lo = 0.0
        self._s_hi = 0.0
        self._s_cen = 0.0
        self._s_on = 0.0
        self._s_conf = 0.0
        self._n = 0
        self._since_beat = 0
        self._down_pending = False  # the beat being summed started on a downbeat
        self._beat_in_bar = 0
        self._bar_started = False  # the current bar has a downbeat (tracker's or our own)
        self._silent_hops = 0
        self._l_peak = -120.0
        self._b_peak = -120.0
        self._music = False
        self._seen_kick = False
        self._seen_drop = False
        self._sec_beats = 0  # beats since the section started
        self._cand = ""
        self._cand_beats = 0
        self._cand_at_bar = False
        self._build_bars = 0
        self._since_drop = 10**6
        self._drop_checked = False  # the drop test already passed/fired for this beat
        self._nov_target = 0.0
        self.novelty = 0.0
        self._events = [0.0, 0.0, 0.0, 0.0]

    # -- per hop ------------------------------------------------------------------------------

    def process(self, ctx: HopContext, vec: npt.NDArray[np.float64]) -> None:
        """Accumulate this hop, close a beat if one fell, and write the structure fields."""
        ev = self._events
        ev[0] = ev[1] = ev[2] = ev[3] = 0.0
        p = self._pow
        np.multiply(ctx.mag, ctx.mag, out=p)
        tot = float(p.sum()) * self._norm
        a, b = self._lo
        low = float(p[a:b].sum()) * self._norm
        a, b = self._hi
        high = float(p[a:b].sum()) * self._norm
        cen = float(np.dot(p, self._freqs)) * self._norm
        if not math.isfinite(tot + low + high + cen):  # never let bad input poison the sums
            tot = low = high = cen = 0.0
        self._silent_hops = self._silent_hops + 1 if _db(tot) < SILENCE_DB else 0

        beat = vec[IDX["beat"]] >= 0.5
        down = vec[IDX["downbeat"]] >= 0.5
        if not beat and self._since_beat >= self._beat_timeout:
            # The tracker went quiet (a break, silence): keep an own clock at the last tempo.
            beat = self._since_beat >= self._own_period
        if beat and self._n > 0:
            self._close_beat()
        if beat:
            self._start_beat(down)

        # accumulate this hop into the current beat
        self._s_tot += tot
        self._s_lo += low
        self._s_hi += high
        self._s_cen += cen
        self._s_on += vec[IDX["is_onset"]]
        self._s_conf += vec[IDX["confidence"]]
        k = self._since_beat
        if k < HEAD_HOPS:
            h = self._cur_head
            prev_t, prev_l = (h[k - 1, 0], h[k - 1, 1]) if k > 0 else (0.0, 0.0)
            h[k, 0] = prev_t + tot
            h[k, 1] = prev_l + low
            if DROP_MIN_HOPS <= k and not self._drop_checked:
                self._drop_test(k)
        self._n += 1
        self._since_beat += 1
        if self._silent_hops >= self._silence_hops and self.section != "none":
            self._set_section("none")
            self._music = False

        self.novelty += (self._nov_target - self.novelty) * self._nov_coef
        vec[IDX["section"]] = self._code
        vec[IDX["novelty"]] = self.novelty
        vec[IDX["section_change"]] = ev[0]
        vec[IDX["build_start"]] = ev[1]
        vec[IDX["drop"]] = ev[2]
        vec[IDX["break_start"]] = ev[3]

    def _start_beat(self, down: bool) -> None:
        if down or self._beat_in_bar >= 4:
            self._beat_in_bar = 0
        else:
            self._beat_in_bar += 1
        self._down_pending = self._beat_in_bar == 0
        self._since_beat = 0
        self._drop_checked = False
        self._n = 0
        self._s_tot = self._s_lo = self._s_hi = self._s_cen = self._s_on = self._s_conf = 0.0
        self._cur_head[:] = 0.0

    # -- drop ---------------------------------------------------------------------------------

    def _drop_allowed(self) -> bool:
        return (
            self._music
            and self.section in ("build", "break")
            and self._since_drop >= DROP_REFRACTORY_BEATS
            and self.n_beats >= 8
        )

    def _drop_test(self, k: int) -> None:
        """Fire ``drop`` in this hop if the start of this beat jumps over the previous beats."""
        if not self._drop_allowed():
            return
        n = min(4, self.n_beats)
        rows = [(self.n_beats - 1 - j) % N_BEATS for j in range(n)]
        ref = self._head[rows, k, :].mean(axis=0)
        cur = self._cur_head[k]
        jump_l = _db(cur[0]) - _db(ref[0])
        jump_b = _db(cur[1]) - _db(ref[1])
        level = _db(cur[0] / (k + 1))
        if jump_l >= DROP_JUMP_DB and jump_b >= DROP_LOW_JUMP_DB and level >= self._l_peak - DROP_NEAR_PEAK_DB:
            self._fire_drop()

    def _fire_drop(self) -> None:
        self._drop_checked = True
        self._since_drop = 0
        self._seen_drop = True
        self._seen_kick = True
        self._events[2] = 1.0
        self._set_section("drop")

    # -- per beat -----------------------------------------------------------------------------

    def _close_beat(self) -> None:
        n = max(self._n, 1)
        row = self.beats[self.n_beats % N_BEATS]
        tot = self._s_tot / n
        row[_L] = _db(tot)
        row[_B] = _db(self._s_lo / n)
        row[_H] = _db(self._s_hi / n)
        row[_C] = math.log2(max(self._s_cen / max(self._s_tot, _EPS), 20.0))
        row[_O] = self._s_on / (n * self.spec.hop_s)
        row[_CONF] = self._s_conf / n
        head = self._head[self.n_beats % N_BEATS]
        head[:] = self._cur_head
        if self._n < HEAD_HOPS:  # a short beat: continue its cumulative sums flat
            head[self._n :, :] = self._cur_head[max(self._n - 1, 0)]
        self.n_beats += 1
        self._since_drop += 1
        self._sec_beats += 1
        if row[_L] > SILENCE_DB:
            self._l_peak = max(row[_L], self._l_peak - self._peak_fall_db)
            self._b_peak = max(row[_B], self._b_peak - self._peak_fall_db)
        self._update_music()
        self._novelty()
        if self._down_pending:
            self._on_bar()
        self._decide(self._down_pending)

    def _mean(self, start: int, count: int) -> npt.NDArray[np.float64]:
        """Mean of ``count`` beat summaries ending ``start`` beats ago (0: the latest)."""
        idx = [(self.n_beats - 1 - start - j) % N_BEATS for j in range(count)]
        out: npt.NDArray[np.float64] = self.beats[idx].mean(axis=0)
        return out

    def _update_music(self) -> None:
        if self.n_beats < 8:
            return
        recent = self._mean(0, 8)
        if not self._music:
            self._music = recent[_CONF] > 0.5 and recent[_L] > SILENCE_DB + 15.0 and recent[_O] > 0.5
        elif self.section == "none":
            self._music = recent[_CONF] > 0.3

    def _novelty(self) -> None:
        if self.n_beats < 10:
            self._nov_target = 0.0
            return
        d = (self._mean(0, 2) - self._mean(2, 8)) / self._scale
        dist = float(np.sqrt(np.dot(d, d)))
        self._nov_target = 1.0 - math.exp(-0.5 * dist * dist) if math.isfinite(dist) else 0.0

    def _on_bar(self) -> None:
        if self.section == "build":
            self._build_bars += 1

    def _energy_class(self) -> str:
        m = self._mean(0, 2)
        l_rel = m[_L] - self._l_peak
        b_rel = m[_B] - self._b_peak
        if b_rel < -12.0 or l_rel < -8.0:
            return "low"
        if l_rel > -3.0 and b_rel > -4.0:
            return "full"
        return "mid"

    def _build_evidence(self) -> bool:
        if self.n_beats < 14:
            return False
        now = self._mean(0, 6)
        before = self._mean(6, 8)
        votes = 0
        if now[_O] > 1.35 * max(before[_O], 1.0) and now[_O] >= 4.0:
            votes += 1
        if now[_H] - before[_H] > 3.0:
            votes += 1
        if now[_C] - before[_C] > 0.5:
            votes += 1
        if now[_B] - before[_B] < -10.0 and now[_O] >= 4.0:
            votes += 1
        return votes >= 2

    def _decide(self, at_bar: bool) -> None:
        if not self._music:
            self._cand = ""
            return
        cls = self._energy_class()
        cur = self.section
        if cls != "low":
            self._seen_kick = True
        if cur == "build" and self._since_drop > 0 and cls == "full" and self._sec_beats >= 4:
            # The drop test missed the landing: confirm it a beat late rather than never.
            last = self.beats[(self.n_beats - 1) % N_BEATS]
            prev = self._mean(1, 4)
            if last[_L] - prev[_L] >= DROP_JUMP_DB - 1.0 and last[_B] - prev[_B] >= DROP_LOW_JUMP_DB - 1.0:
                if self._since_drop >= DROP_REFRACTORY_BEATS:
                    self._fire_drop()
                    return
        if cur == "build" and self._build_bars < BUILD_TIMEOUT_BARS and cls != "full":
            want = "build"
        elif cur != "build" and cur != "drop" and cls != "full" and self._build_evidence():
            want = "build"
        elif cls == "low":
            want = "break" if self._seen_kick and self._seen_drop or (self._seen_kick and cur != "intro" and cur != "none") else "intro"
        elif cur == "drop" and cls == "full":
            want = "drop"
        else:
            want = "verse"
        if want == cur:
            self._cand = ""
            self._cand_beats = 0
            return
        if want != self._cand:
            self._cand = want
            self._cand_beats = 1
            self._cand_at_bar = at_bar or self._beat_in_bar == 1
        else:
            self._cand_beats += 1
        old_enough = self._sec_beats >= 4 or cur == "none"
        fast = want == "build" or self._cand_at_bar
        if old_enough and (self._cand_beats >= 4 or (fast and self._cand_beats >= 2)):
            self._set_section(want)

    def _set_section(self, label: str) -> None:
        if label == self.section:
            return
        ev = self._events
        ev[0] = 1.0
        if label == "build":
            ev[1] = 1.0
            self._build_bars = 0
        elif label == "break":
            ev[3] = 1.0
        self.section = label
        self._code = _CODE[label]
        self._sec_beats = 0
        self._cand = ""
        self._cand_beats = 0
