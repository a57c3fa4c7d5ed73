"""Song structure ("structure"): causal sections, a novelty curve and build/drop/break events.

Layer: analysis. Threads: the analysis thread (live) or the caller's thread (offline).

`StructureAnalyzer` runs after the beat tracker in the chain and reads its ``beat``,
``downbeat`` and ``confidence``, plus ``is_onset`` from the onset analyzer. It never looks
ahead: every output at time t depends only on audio before t.

How it works
------------
* **Per hop** (a few µs): the power of the hop's spectrum in three bands (low 30-150 Hz: kick
  and bass; all; high 5-16 kHz: hats, noise risers), its spectral centroid and the loudest
  hop are added to the running sums of the current beat. During the first `HEAD_HOPS` hops
  after a beat the cumulative low, total and high power are kept per hop, so the start of a
  beat can be compared with the *same* part of earlier beats (a kick against kicks, not
  against the gaps between them).
* **Per beat** (tens of µs, every ~50 hops): the sums become a beat summary (loudness, low,
  high in dB, centroid in octaves, onset rate, kick peakiness of the low band, tracker
  confidence) in a ring of `N_BEATS` beats. Loudness and low are also compared with slowly
  falling peaks of the bar mean (the long-term level), and the low band with the loudness
  (bass share), so a quiet club mix and a hot master read alike. From the ring:

  - **novelty**: distance between the mean of the last 2 beats and the mean of the 8 before
    them (features scaled to about one unit per clear change), mapped to 0..1;
  - **energy class** of the last beat: *low* (no bass share, or quiet, or no kick and
    somewhat quiet), *full* (a kick, a strong bass share, within 3 dB of the long-term
    peak), else *mid*;
  - **build evidence**: the last 2 beats against beats 4-12 before, at least two of: onset
    rate up (a snare roll accelerating), high band up (a riser), centroid up, low band gone
    while onsets continue (the kick pulled out under a roll); and it must grow out of music
    with a low end or get louder (hats thickening an intro are not a build).

* **Sections** (a state machine with hysteresis): *intro* is low energy before anything
  with a kick; *break* is low energy after it; *verse* is mid or full energy; *build* comes
  from build evidence (sticky until the drop, `BUILD_TIMEOUT_BARS`) or, tentatively (half
  that timeout), from a clear change at a bar line (novelty above `NOVEL`) that makes a
  verse quieter; *drop* is entered only by the drop event and left on a clear change or a
  fall to low energy. A new label must hold for 2 beats starting at a bar line (or with high
  novelty), or for a whole bar, and the current section must be a bar old. ``outro`` is not
  detected (a causal analyzer cannot know that no drop follows): the end of a song reads as
  verse or break.
* **Drop** (per hop, near the beat): in a build with build evidence, when the first hops
  after the beat are far above the same hops of the previous 4 beats (loudness and low band
  both jump), have a bass share, come near the long-term peak and the previous drop's
  starts, and top the loudest hop of the previous bar, ``drop`` fires in that hop: 20-60 ms
  after the beat the drop lands on. Otherwise (out of a break, or a missed landing) a drop
  is confirmed one beat late, from the landing beat's whole summary at the level of the
  loudest bars: at their first 100 ms a kick re-entering after a break (often the start of
  a build) and a drop look alike.
* **Bad input**: sections stay ``none`` until the tracker has been confident for 2 bars of
  audible sound with onsets; 2 s of silence return to ``none``; drops need music. Every
  output is finite.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from lumen.analysis.base import AnalysisSpec, HopAnalyzer, HopContext, analyzers
from lumen.analysis.levels import coef
from lumen.features import IDX, SECTIONS
from lumen.rt.jit import jit

__all__ = ["StructureAnalyzer"]

#: Beat summaries kept (64 beats: 16 bars of 4/4).
N_BEATS = 64
#: Hops after a beat whose cumulative power is kept for the drop test (200 ms: room for a beat flagged early).
HEAD_HOPS = 20
#: Hops in the sliding window of the drop test (50 ms).
DROP_WINDOW_HOPS = 5
#: Earliest hop after a beat at which a drop may fire (needs a little evidence).
DROP_MIN_HOPS = 2
#: Loudness jump (dB) of a drop's first hops over the same hops of the preceding beats.
DROP_JUMP_DB = 6.0
#: Low-band jump (dB) of a drop's first hops over the same hops of the preceding beats.
DROP_LOW_JUMP_DB = 8.0
#: A drop's first hops must come within this many dB of the long-term loudness peak.
DROP_NEAR_PEAK_DB = 2.5
#: A drop's first hops must come within this many dB of the loudest hop of the bar before.
HOP_MAX_MARGIN_DB = 1.0
#: Beats after a drop before another may fire.
DROP_REFRACTORY_BEATS = 16
#: Build state ends (back to the energy class) after this many bars without a drop.
BUILD_TIMEOUT_BARS = 16
#: Novelty (0..1) that marks a clear change: enough to start a new part of the same energy.
NOVEL = 0.55
#: Hop power in dBFS below which a hop counts as silent.
SILENCE_DB = -65.0
#: Seconds without a tracker beat after which the analyzer keeps its own beat clock.
BEAT_TIMEOUT_S = 1.2

# Per-beat summary columns.
_L, _B, _H, _C, _O, _K, _CONF = range(7)
_N_COLS = 7
# Feature scales for novelty: one unit is a clear change (6 dB, 6 dB, 6 dB, half an octave,
# 3 onsets/s, 6 dB of kick peakiness); confidence is left out (it says how sure the tracker
# is, not what plays).
_NOV_SCALE = np.array([6.0, 6.0, 6.0, 0.5, 3.0, 6.0, 1e9])
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
    ``is_onset`` (after "onset"); without beats for `BEAT_TIMEOUT_S` it keeps its own clock at
    the last beat period (120 bpm if none).

    Cost: about 10 µs per hop and some tens of µs per beat (numpy on a 64 x 7 ring); see
    ``benchmarks/mood_structure.py``.

    Attributes
    ----------
    section : str
        The current section label.
    novelty : float, 0..1
        The published novelty (smoothed, ~0.15 s).
    beats : ndarray, shape (N_BEATS, 7), float64
        Ring of beat summaries (loudness dB, low dB, high dB, centroid octaves, onsets/s, kick
        peakiness dB, confidence); row ``n_beats % N_BEATS`` is written next.
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
        _hop_sums(np.zeros(freqs.size, np.float32), self._freqs, 0, 1, 0, 1, 1.0)  # compiles (or loads) the kernel now
        # Power normalization: a full-scale sine reads about 0 dB (as in `LevelsAnalyzer`).
        self._norm = 2.0 / float(np.sum(np.hanning(spec.n_fft)) ** 2)
        self._nov_coef = coef(0.15, spec.hop_s)
        self._silence_hops = int(round(2.0 / spec.hop_s))
        self._beat_timeout = int(round(BEAT_TIMEOUT_S / spec.hop_s))
        self._own_period = int(round(0.5 / spec.hop_s))
        self._min_period = int(round(0.25 / spec.hop_s))
        # Peak falls: 0.05 dB per beat (~3 dB over 16 bars), so a long break stays quiet.
        self._peak_fall_db = 0.05
        self.beats = np.zeros((N_BEATS, _N_COLS), dtype=np.float64)
        self._head = np.zeros((N_BEATS, HEAD_HOPS, 3), dtype=np.float64)
        self._cur_head = np.zeros((HEAD_HOPS, 3), dtype=np.float64)
        self._hop_max_db = np.zeros(N_BEATS, dtype=np.float64)
        self._scale = _NOV_SCALE.copy()
        self.reset()

    def reset(self) -> None:
        """Forget all history (as if just prepared)."""
        self.beats[:] = 0.0
        self._head[:] = 0.0
        self._cur_head[:] = 0.0
        self._drop_level = -120.0
        self._hop_max_db[:] = -120.0
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
        self._lo_max = 0.0
        self._tot_max = 0.0
        self._n = 0
        self._since_beat = 0
        self._period = self._own_period
        self._own_clock = False
        self._down_pending = False  # the beat being summed started on a downbeat
        self._beat_in_bar = 0
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
        self._build_sure = False
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
        tot, low, high, cen = _hop_sums(ctx.mag, self._freqs, self._lo[0], self._lo[1], self._hi[0], self._hi[1], self._norm)
        if not math.isfinite(tot + low + high + cen):  # never let bad input poison the sums
            tot = low = high = cen = 0.0
        self._silent_hops = self._silent_hops + 1 if _db(tot) < SILENCE_DB else 0

        beat = vec[IDX["beat"]] >= 0.5
        down = vec[IDX["downbeat"]] >= 0.5
        if beat:
            if not self._own_clock and self._since_beat < self._beat_timeout:
                # the tracker's last beat period, hops (40..240 bpm)
                self._period = min(max(self._since_beat, self._min_period), self._beat_timeout)
            self._own_clock = False
        elif self._since_beat >= (self._period if self._own_clock else self._beat_timeout):
            # The tracker went quiet (a break, silence): keep an own clock at the last tempo.
            beat = True
            self._own_clock = True
        if beat and self._n > 0:
            self._close_beat()
        if beat:
            self._start_beat(down)

        # accumulate this hop into the current beat
        self._s_tot += tot
        self._s_lo += low
        if low > self._lo_max:
            self._lo_max = low
        if tot > self._tot_max:
            self._tot_max = tot
        self._s_hi += high
        self._s_cen += cen
        self._s_on += vec[IDX["is_onset"]]
        self._s_conf += vec[IDX["confidence"]]
        k = self._since_beat
        if k < HEAD_HOPS:
            h = self._cur_head
            if k > 0:
                h[k, 0] = h[k - 1, 0] + tot
                h[k, 1] = h[k - 1, 1] + low
                h[k, 2] = h[k - 1, 2] + high
            else:
                h[0, 0], h[0, 1], h[0, 2] = tot, low, high
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
        if down or self._beat_in_bar >= 3:
            self._beat_in_bar = 0
        else:
            self._beat_in_bar += 1
        self._down_pending = self._beat_in_bar == 0
        self._since_beat = 0
        self._drop_checked = False
        self._n = 0
        self._s_tot = self._s_lo = self._s_hi = self._s_cen = self._s_on = self._s_conf = 0.0
        self._lo_max = 0.0
        self._tot_max = 0.0
        self._cur_head[:] = 0.0

    # -- drop ---------------------------------------------------------------------------------

    def _drop_allowed(self) -> bool:
        return (
            self._music
            and self.section == "build"
            and self._build_sure
            and self._since_drop >= DROP_REFRACTORY_BEATS
            and self.n_beats >= 8
        )

    def _drop_test(self, k: int) -> None:
        """Fire ``drop`` in this hop if the start of this beat jumps over the previous beats."""
        if not self._drop_allowed():
            return
        n = min(4, self.n_beats)
        rows = [(self.n_beats - 1 - j) % N_BEATS for j in range(n)]
        # The last `DROP_WINDOW_HOPS` hops (from the beat on, at first), so that a beat flagged
        # early or late by the tracker still sees the jump undiluted.
        ref = self._head[rows, k, :].mean(axis=0)
        cur = self._cur_head[k].copy()
        n_hops = k + 1
        if k >= DROP_WINDOW_HOPS:
            j = k - DROP_WINDOW_HOPS
            ref -= self._head[rows, j, :].mean(axis=0)
            cur -= self._cur_head[j]
            n_hops = DROP_WINDOW_HOPS
        jump_l = _db(cur[0]) - _db(ref[0])
        jump_b = _db(cur[1]) - _db(ref[1])
        level = _db(cur[0] / n_hops)
        share = _db(cur[1]) - _db(cur[0])
        if (
            jump_l >= DROP_JUMP_DB
            and jump_b >= DROP_LOW_JUMP_DB
            and share > -8.0
            and level >= self._l_peak - DROP_NEAR_PEAK_DB
            and level >= float(self._hop_max_db[rows].max()) - HOP_MAX_MARGIN_DB
        ):
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
        row[_K] = _db(self._lo_max) - row[_B] if self._s_lo > 0.0 else 0.0
        row[_CONF] = self._s_conf / n
        self._hop_max_db[self.n_beats % N_BEATS] = _db(self._tot_max)
        head = self._head[self.n_beats % N_BEATS]
        head[:] = self._cur_head
        if self._n < HEAD_HOPS:  # a short beat: continue its cumulative sums flat
            head[self._n :, :] = self._cur_head[max(self._n - 1, 0)]
        if self.section == "drop":
            # The level of the last drop (its beats' mean loudness), the reference a drop out
            # of a break must reach.
            n_in = min(self._sec_beats + 1, N_BEATS)
            self._drop_level += (row[_L] - self._drop_level) / n_in
        self.n_beats += 1
        self._since_drop += 1
        self._sec_beats += 1
        if row[_L] > SILENCE_DB and self.n_beats >= 4:
            # Peaks of the bar mean: one loud hit (a crash) must not set the reference.
            bar = self._mean(0, 4)
            self._l_peak = max(bar[_L], self._l_peak - self._peak_fall_db)
            self._b_peak = max(bar[_B], self._b_peak - self._peak_fall_db)
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
        """Energy class of the latest beat: "low", "mid" or "full" (see the module notes)."""
        m = self.beats[(self.n_beats - 1) % N_BEATS]
        l_rel = m[_L] - self._l_peak
        share = m[_B] - m[_L]
        bass = share > -8.0
        kick = bass and m[_K] > 3.0
        if not bass or l_rel < -8.0 or (not kick and l_rel < -3.0):
            return "low"
        if kick and l_rel > -3.0 and share > -4.0:
            return "full"
        return "mid"

    def _build_evidence(self) -> bool:
        if self.n_beats < 14:
            return False
        now = self._mean(0, 2)
        before = self._mean(4, 8)
        votes = 0
        if now[_O] > 1.35 * max(before[_O], 1.0) and now[_O] >= 4.0:
            votes += 1
        if now[_H] - before[_H] > 3.0:
            votes += 1
        if now[_C] - before[_C] > 0.5:
            votes += 1
        if now[_B] - before[_B] < -10.0 and now[_O] >= 4.0:
            votes += 1
        # A build grows out of music with a low end, or gets louder: hats entering over a pad
        # (an intro thickening) are not a build.
        grounded = before[_B] - before[_L] > -8.0 or now[_L] - before[_L] > 1.5
        return votes >= 2 and grounded

    def _decide(self, at_bar: bool) -> None:
        if not self._music:
            self._cand = ""
            return
        cls = self._energy_class()
        cur = self.section
        if cls != "low":
            self._seen_kick = True
        if cur in ("build", "break") and cls == "full" and self._sec_beats >= 4:
            # Out of a build the drop test missed the landing: confirm it a beat late rather
            # than never. Out of a break this is the only way: at its first 100 ms the kick
            # re-entering (often the start of a build) looks like a drop; a drop is the whole
            # landing beat at the level of the loudest bars.
            last = self.beats[(self.n_beats - 1) % N_BEATS]
            prev = self._mean(1, 4)
            if (
                last[_L] - prev[_L] >= DROP_JUMP_DB - 1.0
                and last[_B] - prev[_B] >= DROP_LOW_JUMP_DB - 1.0
                and last[_L] >= self._l_peak - 2.0
                and (cur == "build" or (self._seen_drop and last[_L] >= self._drop_level - 1.0))
            ):
                if self._since_drop >= DROP_REFRACTORY_BEATS:
                    self._fire_drop()
                    return
        sure = False
        if cur == "build" and self._build_bars < (BUILD_TIMEOUT_BARS if self._build_sure else BUILD_TIMEOUT_BARS // 2):
            want = "build"
            if not self._build_sure and self._build_evidence():
                self._build_sure = True
        elif cur != "build" and cur != "drop" and cls != "full" and self._build_evidence():
            want = "build"
            sure = True
        elif cls == "low" and self._seen_kick and cur in ("verse", "drop") and self._mean(0, 2)[_O] >= 5.0:
            # The kick pulled out under a dense roll: a build, not a break.
            want = "build"
            sure = True
        elif cls == "low":
            want = "break" if self._seen_kick and self._seen_drop or (self._seen_kick and cur != "intro" and cur != "none") else "intro"
        elif cur == "drop" and cls == "full":
            want = "drop"
        else:
            want = "verse"
        novel = self._nov_target > NOVEL and self._beat_in_bar <= 2 and self._sec_beats >= 8
        if cur == "drop" and want == "verse" and not novel:
            want = "drop"  # a drop ends on a clear change, not on its level drifting
        elif want == cur and novel and cur in ("verse", "drop"):
            # Same energy class but a clear change at a bar line, getting quieter: a new part
            # (a verse after a drop; a verse stripping down into a build).
            fall = self._mean(0, 2)[_L] - self._mean(2, 8)[_L]
            if fall <= -1.0:
                want = "build" if cur == "verse" else "verse"
                self._cand = want
                self._cand_beats = 2
                self._cand_at_bar = True
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
        fast = want == "build" or self._cand_at_bar or self._nov_target > 0.5
        if old_enough and (self._cand_beats >= 4 or (fast and self._cand_beats >= 2)):
            self._set_section(want)
            self._build_sure = sure

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


@jit
def _hop_sums(
    mag: npt.NDArray[np.float32], freqs: npt.NDArray[np.float32], lo_a: int, lo_b: int, hi_a: int, hi_b: int, norm: float
) -> tuple[float, float, float, float]:  # pragma: no cover - compiled
    """The hop's power (``mag`` squared times ``norm``): in all, in bins ``lo_a:lo_b`` and
    ``hi_a:hi_b``, and weighted by frequency (``freqs``, for the centroid)."""
    tot = low = high = cen = 0.0
    for b in range(mag.shape[0]):
        p = mag[b] * mag[b]
        tot += p
        cen += p * freqs[b]
        if lo_a <= b < lo_b:
            low += p
        if hi_a <= b < hi_b:
            high += p
    return tot * norm, low * norm, high * norm, cen * norm
