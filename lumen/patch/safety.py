"""Safety layer: grand master, blackout, photosensitive flash limiter and audio-lost looks.

Layer: patch. Threads: the frame thread (`Safety.process` runs on every rendered frame,
before the pixel map, in place on preallocated buffers). Settings (`grand_master`,
`blackout`, `enabled`, `on_audio_lost`) are plain attributes meant to be changed from the frame
thread while it drains its command inbox; reading `stats` from another thread is safe.

Order of the steps in `Safety.process`:

1. **audio lost**: when the analysis stops delivering, hold the last look or fade to a dim
   safe look over ``fade_s``; when it returns, crossfade back to the live frame over
   ``recover_s`` (a hard cut back could itself be a flash);
2. **grand master**: a uniform scale 0..1;
3. **flash limiter** (on by default): keeps full-field flashes at or below
   ``max_flashes_per_s`` in any one-second window;
4. **blackout**: all zero; last, so it always acts at once and nothing can delay it.

Flash definition (our reading of the general flash threshold of WCAG 2.x SC 2.3.1 / ITU-R
BT.1702, stated in relative luminance)
------------------------------------------------------------------------------------------
- The luminance of a frame is the mean over the frame of the relative luminance of its
  linear RGB, ``Y = 0.2126 R + 0.7152 G + 0.0722 B`` (Rec. 709 / sRGB primaries, values
  clipped to 0..1, 1.0 = the wall's full white). The whole frame is the "screen": this limiter
  handles *full-field* flashes (the common case for a light show) and does not look for
  localized flashes that change only part of the wall (the guideline's 25 % area rule).
- A **transition** is a change of ``Y`` of at least 0.10 between a local extreme and a later
  frame, in the opposite direction of the previous transition, where the darker of the two
  states is below 0.80. Extremes are tracked with hysteresis, so a slow fade is one long
  change, not many.
- A **flash** is a pair of opposing transitions (up then down, or down then up), so a 3 Hz
  square wave makes 3 flashes per second. "No more than 3 flashes in any one-second period"
  becomes: no more than ``2 * max_flashes_per_s`` transitions in any window of 1 s.

The limiter counts the transitions of its *output*. When the window already holds the maximum,
the frame is blended with the previous output just enough that its luminance stays within
0.08 (a safety margin below 0.10) of the current extreme, or at or above 0.82 when coming down
from a bright state; so no new transition can happen until the oldest one leaves the window.
Colors and content are kept (a crossfade, not a clip). A fast strobe comes out as at most three
flashes per second, the rest held near the level it was at; fades and single cuts pass
unchanged.

Limits: luminance is measured on the frame, before the patch's gamma, brightness and current
limit (all of which can only reduce swings, except gamma, which changes the curve); the
patch's per-LED gamma is not undone. Setting ``enabled=False`` turns the limiter off for shows
that accept the risk (and warn their audience); grand master, blackout and audio-lost handling
still work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

#: Rec. 709 luminance weights of linear R, G, B.
LUMA_WEIGHTS: tuple[float, float, float] = (0.2126, 0.7152, 0.0722)
#: Smallest luminance change that counts as a transition (10 % of full).
FLASH_DELTA = 0.10
#: A transition counts only when its darker state is below this.
DARK_LIMIT = 0.80
#: Length of the counting window, s.
WINDOW_S = 1.0
#: Distance kept from the thresholds while limiting (so the output stays clearly below them).
LIMIT_MARGIN = 0.02

AudioLostMode = Literal["hold", "fade"]


class FlashDetector:
    """Counts luminance transitions (see the module docstring) one frame at a time.

    Examples
    --------
    >>> d = FlashDetector()
    >>> [d.update(y) for y in (0.0, 1.0, 0.0, 0.05, 0.5)]
    [0, 1, -1, 0, 1]
    """

    __slots__ = ("direction", "extreme", "lo", "hi", "started", "count")

    def __init__(self) -> None:
        self.direction = 0
        self.extreme = 0.0
        self.lo = 0.0
        self.hi = 0.0
        self.started = False
        self.count = 0

    def reset(self) -> None:
        """Forget the history (the count too)."""
        self.__init__()  # type: ignore[misc]

    def would_transition(self, y: float) -> int:
        """+1 / -1 if a frame of luminance ``y`` would complete a rise / fall, else 0."""
        if not self.started:
            return 0
        if self.direction == 0:
            if self.hi - y >= FLASH_DELTA and y < DARK_LIMIT:
                return -1
            if y - self.lo >= FLASH_DELTA and self.lo < DARK_LIMIT:
                return 1
            return 0
        if self.direction > 0:
            return -1 if self.extreme - y >= FLASH_DELTA and y < DARK_LIMIT else 0
        return 1 if y - self.extreme >= FLASH_DELTA and self.extreme < DARK_LIMIT else 0

    def update(self, y: float) -> int:
        """Feed one frame's luminance; return +1 / -1 when it completes a rise / fall, else 0."""
        if not self.started:
            self.started = True
            self.lo = self.hi = self.extreme = y
            return 0
        step = self.would_transition(y)
        if step:
            self.direction = step
            self.extreme = y
            self.count += 1
            return step
        if self.direction == 0:
            self.lo = min(self.lo, y)
            self.hi = max(self.hi, y)
        elif (self.direction > 0 and y > self.extreme) or (self.direction < 0 and y < self.extreme):
            self.extreme = y
        return 0


@dataclass(frozen=True, slots=True)
class SafetyStats:
    """Counters of a `Safety` since it was made (or reset).

    Attributes
    ----------
    flashes_detected : int
        Flashes (pairs of transitions) in the frames reaching the limiter, before limiting.
    flashes_out : int
        Flashes in the limiter's output.
    frames_limited : int
        Frames the limiter changed.
    frames_audio_lost : int
        Frames shown while audio was lost (held or fading look).
    audio_lost : bool
        Whether audio is lost now.
    """

    flashes_detected: int
    flashes_out: int
    frames_limited: int
    frames_audio_lost: int
    audio_lost: bool


class Safety:
    """Grand master, blackout, flash limiter and audio-lost looks, applied to frames in place.

    Parameters
    ----------
    fps : float, Hz
        Nominal frame rate (used only when ``t`` does not advance between frames).
    max_flashes_per_s : float, 0.5..10
        Flashes allowed in any one-second window (3 is the broadcast guideline).
    enabled : bool
        Flash limiter on. Turn it off only for shows that accept the risk.

    Attributes
    ----------
    grand_master : float, 0..1
        Uniform scale of the output.
    blackout : bool
        Output all zero, at once.
    enabled : bool
        The flash limiter is on.
    """

    def __init__(self, fps: float, *, max_flashes_per_s: float = 3.0, enabled: bool = True) -> None:
        if not fps > 0:
            raise ValueError("fps must be > 0")
        if not 0.5 <= max_flashes_per_s <= 10.0:
            raise ValueError("max_flashes_per_s must be 0.5..10")
        self.fps = float(fps)
        self.max_flashes_per_s = float(max_flashes_per_s)
        self.enabled = enabled
        self.grand_master = 1.0
        self.blackout = False
        # At most this many transitions in any window of WINDOW_S.
        self._budget = max(1, int(math.floor(2.0 * max_flashes_per_s + 1e-9)))
        self._times = [-math.inf] * self._budget  # ring of the last output transitions' times
        self._ring_pos = 0
        self._in = FlashDetector()
        self._out = FlashDetector()
        self._mode: AudioLostMode = "hold"
        self._fade_s = 3.0
        self._recover_s = 0.5
        self._safe = np.array((0.05, 0.05, 0.05), dtype=np.float32)
        self._shape: tuple[int, int] = (0, 0)
        self._state: Literal["ok", "lost", "recovering"] = "ok"
        self._t_lost = 0.0
        self._t_recover = 0.0
        self._last_k = 0.0
        self._last_t = -math.inf
        self._has_look = False
        self._prev_y = 0.0
        self._frames_limited = 0
        self._frames_lost = 0

    def on_audio_lost(
        self,
        mode: AudioLostMode = "hold",
        *,
        fade_s: float = 3.0,
        safe_look: Sequence[float] = (0.05, 0.05, 0.05),
        recover_s: float = 0.5,
    ) -> None:
        """Choose what the wall shows while audio is lost.

        Parameters
        ----------
        mode : {"hold", "fade"}
            Hold the last look, or fade from it to ``safe_look``.
        fade_s : float, s, >= 0
            Length of the fade.
        safe_look : (float, float, float), linear RGB 0..1
            The color faded to: dim, steady, unremarkable.
        recover_s : float, s, >= 0
            Crossfade back to the live frame when audio returns.
        """
        if mode not in ("hold", "fade"):
            raise ValueError(f"unknown audio-lost mode {mode!r}; known: hold, fade")
        if fade_s < 0 or recover_s < 0:
            raise ValueError("fade_s and recover_s must be >= 0")
        look = [float(v) for v in safe_look]
        if len(look) != 3 or min(look) < 0.0 or max(look) > 1.0:
            raise ValueError("safe_look must be three values 0..1 (linear RGB)")
        self._mode = mode
        self._fade_s = float(fade_s)
        self._recover_s = float(recover_s)
        self._safe[:] = look
        if self._shape != (0, 0):
            self._safe_frame[:] = self._safe

    def prepare(self, height: int, width: int) -> None:
        """Allocate the buffers for frames of ``height x width`` (done on first use)."""
        h, w = int(height), int(width)
        self._look = np.zeros((h, w, 3), dtype=np.float32)
        self._from = np.zeros((h, w, 3), dtype=np.float32)
        self._prev = np.zeros((h, w, 3), dtype=np.float32)
        self._scratch = np.zeros((h, w, 3), dtype=np.float32)
        self._safe_frame = np.empty((h, w, 3), dtype=np.float32)
        self._safe_frame[:] = self._safe
        # Mean luminance as one dot product: each float's weight / number of texels.
        self._weights = np.tile(np.array(LUMA_WEIGHTS, dtype=np.float32) / np.float32(h * w), h * w)
        self._shape = (h, w)
        self._has_look = False

    def reset(self) -> None:
        """Clear the flash history, the audio-lost state and the counters (not the settings)."""
        self._in.reset()
        self._out.reset()
        self._times = [-math.inf] * self._budget
        self._ring_pos = 0
        self._state = "ok"
        self._has_look = False
        self._last_t = -math.inf
        self._frames_limited = 0
        self._frames_lost = 0

    def stats(self) -> SafetyStats:
        """Counters since construction or `reset`."""
        return SafetyStats(
            flashes_detected=self._in.count // 2,
            flashes_out=self._out.count // 2,
            frames_limited=self._frames_limited,
            frames_audio_lost=self._frames_lost,
            audio_lost=self._state == "lost",
        )

    def luminance(self, frame: npt.NDArray[np.float32]) -> float:
        """Mean relative luminance of ``frame`` (H, W, 3) linear RGB, as the limiter measures it."""
        if frame.shape[:2] != self._shape:
            self.prepare(frame.shape[0], frame.shape[1])
        return float(np.dot(frame.reshape(-1), self._weights))

    def process(self, frame: npt.NDArray[np.float32], t: float, audio_ok: bool) -> None:
        """Apply audio-lost look, grand master, flash limiter and blackout to ``frame`` in place.

        No array allocation once the frame size is known.

        Parameters
        ----------
        frame : ndarray, shape (H, W, 3), float32, linear, C-contiguous
            The rendered frame; values end up clipped to 0..1.
        t : float, s
            Monotonic time of the frame (``time.perf_counter()`` or audio time).
        audio_ok : bool
            Whether fresh analysis features arrived recently.
        """
        if frame.shape[:2] != self._shape:
            self.prepare(frame.shape[0], frame.shape[1])
        if t <= self._last_t:
            t = self._last_t + 1.0 / self.fps
        self._last_t = t
        np.clip(frame, 0.0, 1.0, out=frame)
        self._audio(frame, t, audio_ok)
        if self.grand_master != 1.0:
            np.multiply(frame, np.float32(min(max(self.grand_master, 0.0), 1.0)), out=frame)
        y = self.luminance(frame)
        if not math.isfinite(y):  # NaN from the renderer: treat as black
            np.nan_to_num(frame, copy=False, nan=0.0)
            y = self.luminance(frame)
        self._in.update(y)
        if self.enabled:
            y = self._limit(frame, y, t)
        if self._out.update(y):
            self._times[self._ring_pos] = t
            self._ring_pos = (self._ring_pos + 1) % self._budget
        self._prev_y = y
        np.copyto(self._prev, frame)
        if self.blackout:
            frame.fill(0.0)

    # ------------------------------------------------------------------ steps

    def _audio(self, frame: npt.NDArray[np.float32], t: float, audio_ok: bool) -> None:
        if audio_ok:
            if self._state == "lost":
                self._state = "recovering"
                self._t_recover = t
                self._lost_look(self._from, self._last_k)  # what the wall showed last
            if self._state == "recovering":
                k = 1.0 if self._recover_s <= 0 else (t - self._t_recover) / self._recover_s
                if k >= 1.0:
                    self._state = "ok"
                else:  # frame = k * live + (1 - k) * lost look
                    np.multiply(frame, np.float32(k), out=frame)
                    np.multiply(self._from, np.float32(1.0 - k), out=self._scratch)
                    np.add(frame, self._scratch, out=frame)
            np.copyto(self._look, frame)
            self._has_look = True
            return
        if self._state != "lost":
            self._state = "lost"
            self._t_lost = t
            if not self._has_look:  # lost from the start: there is no look to hold
                np.copyto(self._look, self._safe_frame)
        self._frames_lost += 1
        k = 0.0
        if self._mode == "fade":
            k = 1.0 if self._fade_s <= 0 else min(1.0, (t - self._t_lost) / self._fade_s)
        self._last_k = k
        self._lost_look(frame, k)

    def _lost_look(self, out: npt.NDArray[np.float32], k: float) -> None:
        """``out`` = held look faded ``k`` (0..1) of the way to the safe look."""
        np.multiply(self._look, np.float32(1.0 - k), out=out)
        if k > 0.0:
            # Full-frame operands: a broadcast (3,) operand would make NumPy buffer internally.
            np.multiply(self._safe_frame, np.float32(k), out=self._scratch)
            np.add(out, self._scratch, out=out)

    def _limit(self, frame: npt.NDArray[np.float32], y: float, t: float) -> float:
        """Keep the output from completing a transition when the window is full; new luminance."""
        oldest = self._times[self._ring_pos]
        # Windows are half-open, [t - 1 s, t): a transition exactly 1 s after the oldest one is
        # allowed (a 3 Hz square wave passes; 1 µs of slack absorbs float rounding of t).
        if t - oldest >= WINDOW_S - 1e-6:
            return y
        det = self._out
        lo, hi = -math.inf, math.inf
        if det.direction > 0:  # last went up: do not fall a full step (or below the dark limit)
            lo = min(det.extreme - (FLASH_DELTA - LIMIT_MARGIN), DARK_LIMIT + LIMIT_MARGIN)
        elif det.direction < 0 and det.extreme < DARK_LIMIT:  # last went down: do not rise a full step
            hi = det.extreme + (FLASH_DELTA - LIMIT_MARGIN)
        # The previous output is always allowed (it completed no transition).
        lo, hi = min(lo, self._prev_y), max(hi, self._prev_y)
        if lo <= y <= hi:
            return y
        target = lo if y < lo else hi
        a = (target - self._prev_y) / (y - self._prev_y)  # 0..1: y and prev_y are on either side
        np.multiply(frame, np.float32(a), out=frame)
        np.multiply(self._prev, np.float32(1.0 - a), out=self._scratch)
        np.add(frame, self._scratch, out=frame)
        self._frames_limited += 1
        return self.luminance(frame)
