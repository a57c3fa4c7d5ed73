"""Causal tempo and phase tracking on beat activations: a forward filter on a beat-pointer HMM.

Layer: analysis. Threads: the analysis thread (one tracker per chain).

State space: for each beat interval ``i`` (hops per beat, log-spaced over the tempo range) the
states ``(i, p)``, ``p = 0 .. i-1`` count hops since the last beat. Each hop the pointer
advances by one; from the last position of interval ``i`` it wraps to the first position of
interval ``j`` with probability proportional to ``exp(-lambda * |j / i - 1|)``, so tempo may
change only on a beat, and by little. Observation: positions within about ``i / 32`` hops of
the beat (either side) are *beat* states, weighted by a triangle ``w`` peaking at the beat; a
state sees ``w * a + (1 - w) * (1 - a) / 15`` for beat activation ``a``. The filter keeps the
normalised forward probabilities; the most likely state gives tempo, phase and the hops to the
next beat, so beats are predicted, not detected.

When the activations go quiet (a breakdown, silence) the observation step is skipped: the
grid keeps running at the last tempo instead of drifting, and confidence falls.

`BarTracker` counts beats into bars: a small HMM over (beats per bar, position) updated once
per beat with the strongest downbeat activation near that beat.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from lumen.rt.jit import jit

__all__ = ["BarTracker", "BeatHMM"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@jit
def _forward_step(
    alpha: F64, nxt: F64, first: I64, last: I64, trans_t: F64, wrap: F64, beat_mask: F64,
    a: float, non: float, quiet: bool, tempered: bool,
) -> int:  # pragma: no cover - compiled
    """One hop of the forward filter from ``alpha`` into ``nxt``; returns the most likely state.

    Every pointer advances one position; the last position of each interval wraps to the
    first positions, through the tempo transitions (or, when ``quiet``, to its own tempo with
    nothing observed). Otherwise each state is weighted by its observation likelihood
    ``mask * (a - non) + non`` (square-rooted when ``tempered``). The result is normalised
    (uniform if it vanished).
    """
    n, n_iv = alpha.shape[0], first.shape[0]
    for k in range(n_iv):
        wrap[k] = alpha[last[k]]
    for s in range(n - 1, 0, -1):
        nxt[s] = alpha[s - 1]
    if quiet:  # no evidence: hold the tempo instead of letting it diffuse
        for k in range(n_iv):
            nxt[first[k]] = wrap[k]
    else:
        for k in range(n_iv):
            acc = 0.0
            for j in range(n_iv):
                acc += trans_t[k, j] * wrap[j]
            nxt[first[k]] = acc
        for s in range(n):
            o = beat_mask[s] * (a - non) + non
            # Square-rooted likelihoods: one strong but misplaced activation (a fill, a crash
            # at a break) moves the posterior far less; steady evidence still wins.
            nxt[s] *= math.sqrt(o) if tempered else o
    total = 0.0
    for s in range(n):
        total += nxt[s]
    if not (total > 0.0 and total < math.inf):
        for s in range(n):
            nxt[s] = 1.0 / n
        return 0
    inv = 1.0 / total
    best, best_v = 0, -1.0
    for s in range(n):
        v = nxt[s] * inv
        nxt[s] = v
        if v > best_v:
            best, best_v = s, v
    return best


@jit
def _near_tempo(alpha: F64, state: int, block: I64, near_lo: I64, near_hi: I64, state_iv: F64) -> tuple[float, float]:  # pragma: no cover
    """Probability mass within ±4 % of ``state``'s tempo and the mean interval (hops) there."""
    k = block[state]
    mass = 0.0
    acc = 0.0
    for s in range(near_lo[k], near_hi[k]):
        mass += alpha[s]
        acc += alpha[s] * state_iv[s]
    return mass, (acc / mass if mass > 0.0 else state_iv[state])


class BeatHMM:
    """Forward filter over the beat-pointer state space.

    Parameters
    ----------
    fps : float, Hz
        Hops per second.
    min_bpm, max_bpm : float
        Tempo range.
    n_tempi : int
        Number of beat intervals (log-spaced, rounded to whole hops, duplicates removed).
    transition_lambda : float
        Tempo-change stiffness (larger: tempo changes less per beat).
    loose_share : float, 0..1
        Share of a looser tempo-change kernel (stiffness ``loose_lambda``) mixed into the
        transitions: a heavy tail that lets strong evidence move the tempo quickly (rubato, a
        tempo step) while the stiff kernel keeps steady music steady. 0: the stiff kernel only.
    loose_lambda : float
        Stiffness of that looser kernel.
    observation_lambda : int
        ``1 / observation_lambda`` of each beat period counts as the beat.
    quiet_activation : float, 0..1
        If no activation in the last ``quiet_window_s`` exceeded this, observations are skipped
        and the tempo is held.
    activation_floor : float, 0..1
        Activations are raised to at least this before they are observed.

    Attributes
    ----------
    intervals : ndarray, shape (n_intervals,), int64
        Hops per beat of each tempo.
    """

    def __init__(
        self,
        fps: float,
        min_bpm: float = 55.0,
        max_bpm: float = 215.0,
        *,
        n_tempi: int = 60,
        transition_lambda: float = 100.0,
        loose_share: float = 0.0,
        loose_lambda: float = 20.0,
        observation_lambda: int = 16,
        quiet_activation: float = 0.12,
        quiet_window_s: float = 1.0,
        activation_floor: float = 0.03,
        tempered: bool = True,
    ) -> None:
        self.fps = float(fps)
        lo = 60.0 * fps / max_bpm
        hi = 60.0 * fps / min_bpm
        iv = np.unique(np.round(np.exp(np.linspace(math.log(lo), math.log(hi), n_tempi))).astype(np.int64))
        self.intervals = iv
        self.n_states = int(iv.sum())
        self.first = np.concatenate([[0], np.cumsum(iv)[:-1]]).astype(np.int64)
        self.last = self.first + iv - 1
        ratio = iv[None, :] / iv[:, None]  # [from, to]
        tr = np.exp(-transition_lambda * np.abs(ratio - 1.0))
        tr /= tr.sum(axis=1, keepdims=True)
        if loose_share > 0.0:
            loose = np.exp(-loose_lambda * np.abs(ratio - 1.0))
            tr = (1.0 - loose_share) * tr + loose_share * loose / loose.sum(axis=1, keepdims=True)
        self.trans_t = np.ascontiguousarray(tr.T)  # to x from, for to = trans_t @ wrap
        pos = np.concatenate([np.arange(i) for i in iv])
        block = np.repeat(np.arange(iv.size), iv)
        self.state_pos = pos
        self.state_block = block
        self._state_iv = iv[block].astype(np.float64)
        # For each tempo, the state range of the tempi within ±4 % of it (contiguous, since
        # intervals are sorted): the window of `tempo_mass` and `refined_interval`.
        near = np.abs(iv[None, :] / iv[:, None] - 1.0) <= 0.04
        self._near_lo = np.array([int(self.first[np.flatnonzero(row)[0]]) for row in near], dtype=np.int64)
        self._near_hi = np.array([int(self.last[np.flatnonzero(row)[-1]]) + 1 for row in near], dtype=np.int64)
        # Beat states: a window of about i / observation_lambda hops centred on the beat
        # (position 0), weighted with a triangle so that the most likely state puts the
        # activation peak on position 0 rather than anywhere in the window.
        half = np.maximum(1, iv[block] // (2 * observation_lambda) + 1)
        dist = np.minimum(pos, iv[block] - pos)
        self.beat_mask = np.maximum(0.0, 1.0 - dist / (half + 1.0))
        self.obs_lambda = float(observation_lambda)
        self.quiet_activation = quiet_activation
        self.activation_floor = activation_floor
        self.tempered = tempered
        self.quiet_hops = max(1, int(quiet_window_s * fps))
        self.alpha = np.zeros(self.n_states)
        self._next = np.zeros(self.n_states)
        self._wrap = np.zeros(iv.size)
        self.reset()
        self.step(0.0)  # compiles (or loads) the kernel now, not on the first live hop
        self.reset()

    def reset(self) -> None:
        """Uniform over all states."""
        self.alpha[:] = 1.0 / self.n_states
        self.since_loud = self.quiet_hops  # hops since an activation above quiet_activation
        self.state = 0
        self._update_near()

    @property
    def quiet(self) -> bool:
        """No activation above `quiet_activation` for the quiet window."""
        return self.since_loud >= self.quiet_hops

    def step(self, a: float) -> int:
        """Advance one hop with beat activation ``a`` (0..1); returns the most likely state."""
        if a > self.quiet_activation:
            self.since_loud = 0
        else:
            self.since_loud += 1
        # The floor keeps a stretch of near-zero activations (a breakdown starting) from
        # penalising fast tempi, whose paths cross beat states more often, before the quiet
        # hold takes over.
        a = min(max(a, self.activation_floor), 1.0 - 1e-4) if a == a else self.activation_floor
        if a < self.quiet_activation:
            # Weak evidence may say "no beat here" but never "a beat here": capped at the
            # neutral value, where beat and non-beat states are equally likely.
            a = min(a, 1.0 / self.obs_lambda)
        non = (1.0 - a) / (self.obs_lambda - 1.0)
        self.state = _forward_step(
            self.alpha, self._next, self.first, self.last, self.trans_t, self._wrap, self.beat_mask, a, non, self.quiet, self.tempered
        )
        self.alpha, self._next = self._next, self.alpha
        self._update_near()
        return self.state

    def interval(self, state: int | None = None) -> int:
        """Hops per beat of ``state`` (default: the current most likely one)."""
        return int(self.intervals[self.state_block[self.state if state is None else state]])

    def position(self, state: int | None = None) -> int:
        """Hops since the last beat in ``state``."""
        return int(self.state_pos[self.state if state is None else state])

    def tempo_mass(self) -> float:
        """Probability mass within ±4 % of the most likely tempo (0..1): how sure the tempo is."""
        return self._near[0]

    def refined_interval(self) -> float:
        """Posterior mean of the beat interval (hops) within ±4 % of the most likely tempo.

        The state space has whole-hop intervals (at 124 bpm, 48 or 49 hops: 125.0 or 122.4
        bpm); the posterior between neighbouring intervals resolves the tempo much finer.
        """
        return self._near[1]

    def _update_near(self) -> None:
        self._near = _near_tempo(self.alpha, self.state, self.state_block, self._near_lo, self._near_hi, self._state_iv)

    def nudge(self, interval_hops: float, hops_since_beat: float | None, weight: float) -> None:
        """Pull the posterior towards an external tempo (and phase): tap tempo, Link, MIDI clock.

        Parameters
        ----------
        interval_hops : float
            The external beat period in hops.
        hops_since_beat : float or None
            Hops since the external clock's last beat (None: tempo only).
        weight : float, 0..1
            0 changes nothing; 1 all but replaces the posterior with the external clock.
        """
        iv = self.intervals[self.state_block].astype(np.float64)
        like = np.exp(-0.5 * (np.log(iv / interval_hops) / 0.03) ** 2)
        if hops_since_beat is not None:
            d = (self.state_pos - hops_since_beat % iv + iv / 2.0) % iv - iv / 2.0
            like = like * np.exp(-0.5 * (d / 2.0) ** 2)
        like = (1.0 - weight) + weight * like / (like.max() or 1.0)
        self.alpha *= like
        s = self.alpha.sum()
        if s > 0.0:
            self.alpha /= s
        self.state = int(np.argmax(self.alpha))
        self._update_near()


class BarTracker:
    """Position of each beat in its bar, from downbeat activations, for 3 or 4 beats per bar.

    Updated once per beat. States are ``(meter, position)``; the position advances by one per
    beat and the meter may change only at a bar line. Each beat's downbeat evidence ``d``
    (0..1) is weighed against the running mean of the evidence at beats ``m``: position 0 sees
    ``d``, the others see ``m``, so a model whose downbeat activation is high on every beat
    (but highest on the one) still counts bars right. The reported position changes to
    another hypothesis only when that one is at least `hysteresis` times as likely, so the bar
    count does not flicker while the evidence is weak.

    Parameters
    ----------
    meters : tuple of int
        Beats per bar considered.
    prior : tuple of float
        Prior of each meter.
    switch : float
        Probability of changing meter at a bar line.
    hysteresis : float, >= 1
        Likelihood ratio needed to change the reported bar position.
    down_weight, harmony_weight : float
        Exponents of the two kinds of evidence in each beat's likelihood: the downbeat
        activation and the harmonic change (see `observe`).
    """

    def __init__(
        self,
        meters: tuple[int, ...] = (3, 4),
        prior: tuple[float, ...] = (0.3, 0.7),
        switch: float = 0.01,
        hysteresis: float = 1.2,
        *,
        down_weight: float = 1.0,
        harmony_weight: float = 1.5,
    ) -> None:
        self.meters = meters
        self.down_weight = down_weight
        self.harmony_weight = harmony_weight
        self.prior = np.asarray(prior, dtype=np.float64) / sum(prior)
        self.switch = switch
        self.hysteresis = hysteresis
        self.offsets = np.concatenate([[0], np.cumsum(meters)[:-1]]).astype(np.int64)
        self.n = int(sum(meters))
        self.pos = np.concatenate([np.arange(m) for m in meters])
        self.meter_of = np.repeat(np.arange(len(meters)), meters)
        self.p = np.zeros(self.n)
        self.reset()

    def reset(self) -> None:
        """Uniform positions, meters at their prior."""
        self.p[:] = self.prior[self.meter_of] / np.asarray(self.meters)[self.meter_of]
        self.n_beats = 0
        self.mean_d = 0.3
        self.mean_h = 0.2
        self._state = int(np.argmax(self.p))

    def _shift(self, state: int) -> int:
        """The state one beat after ``state`` in the same meter."""
        k = int(self.meter_of[state])
        o, m = int(self.offsets[k]), self.meters[k]
        return o + (state - o + 1) % m

    def advance(self) -> None:
        """Move every position one beat on (call when a beat happens)."""
        q = np.zeros(self.n)
        for k, m in enumerate(self.meters):
            o = int(self.offsets[k])
            q[o + 1 : o + m] = self.p[o : o + m - 1]
        ends = np.array([self.p[int(o) + m - 1] for o, m in zip(self.offsets, self.meters)])
        for k in range(len(self.meters)):
            stay = ends[k] * (1.0 - self.switch)
            moved = sum(ends[j] * self.switch / max(1, len(self.meters) - 1) for j in range(len(self.meters)) if j != k)
            q[int(self.offsets[k])] = stay + moved
        self.p = q / (q.sum() or 1.0)
        self.n_beats += 1
        self._state = self._shift(self._state)

    def observe(self, d: float, h: float = math.nan) -> None:
        """Downbeat evidence for the beat just counted by `advance`.

        ``d`` (0..1) is the downbeat activation, ``h`` (0..1, NaN: none) the harmonic change
        at that beat. Each is weighed against its running mean over recent beats: position 0
        sees ``(d + 0.05) ** down_weight * (h + 0.05) ** harmony_weight``, the other positions
        the same with the means.
        """
        d = min(max(d, 0.0), 1.0) if d == d else self.mean_d
        like = np.where(self.pos == 0, (d + 0.05) / (self.mean_d + 0.05), 1.0) ** self.down_weight
        self.mean_d += 0.1 * (d - self.mean_d)
        if h == h and self.harmony_weight > 0.0:
            h = min(max(h, 0.0), 1.0)
            like = like * np.where(self.pos == 0, (h + 0.05) / (self.mean_h + 0.05), 1.0) ** self.harmony_weight
            self.mean_h += 0.1 * (h - self.mean_h)
        self.p = self.p * like
        self.p /= self.p.sum() or 1.0
        best = int(np.argmax(self.p))
        if best != self._state and self.p[best] >= self.hysteresis * self.p[self._state]:
            self._state = best

    @property
    def position(self) -> int:
        """Reported position of the current beat in its bar (0 = downbeat)."""
        return int(self.pos[self._state])

    @property
    def meter(self) -> int:
        """Reported beats per bar."""
        return int(self.meters[int(self.meter_of[self._state])])
