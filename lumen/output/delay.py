"""Per-output delay, for latency matching: hold an output's frames back by a fixed time.

Layer: output. Threads: the output thread (it calls `send_frame`); built by the engine.

When one output reaches its lights sooner than another (a direct sACN node next to an LED
processor that buffers a frame or two), delaying the faster one makes them land together.
`DelayedOutput` wraps any output: each frame handed to it is stored, stamped, in a
preallocated ring, and what goes to the wire is the stored frame whose age is closest to the
delay. The delay is therefore realized to within half a frame period (about 11 ms at 44 Hz).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from lumen.errors import OutputError
from lumen.output.pace import PacedOutput


class DelayedOutput:
    """An output whose frames reach the wire ``delay_ms`` later than they are handed over.

    Parameters
    ----------
    inner : PacedOutput
        The output that sends.
    delay_ms : float, ms, 0..1000
        The delay.
    max_rate_hz : float, Hz
        Highest rate frames arrive at (sizes the ring).
    clock : callable
        Time source in seconds (``time.perf_counter``; tests pass their own).
    """

    def __init__(
        self,
        inner: PacedOutput,
        delay_ms: float,
        *,
        max_rate_hz: float = 100.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not 0.0 <= delay_ms <= 1000.0:
            raise OutputError(f"delay_ms must be 0..1000, got {delay_ms}")
        self.inner = inner
        self.delay_s = delay_ms / 1000.0
        self._clock = clock
        n = int(math.ceil(self.delay_s * max_rate_hz)) + 4
        self._frames = np.zeros((n, inner.n_universes, 512), dtype=np.uint8)
        self._times = np.full(n, -math.inf)
        self._n = 0

    @property
    def n_universes(self) -> int:
        """Universes per frame (the inner output's)."""
        return self.inner.n_universes

    @property
    def rate_hz(self) -> float:
        """Rate cap (the inner output's)."""
        return self.inner.rate_hz

    @property
    def packets(self) -> int:
        """Packets the inner output sent."""
        return self.inner.packets

    @property
    def errors(self) -> int:
        """Failed sends of the inner output."""
        return self.inner.errors

    def send_frame(self, dmx: npt.NDArray[np.uint8]) -> int:
        """Store ``dmx`` and send the stored frame whose age is closest to the delay.

        Before the first frame is old enough, nothing is sent (returns 0).
        """
        t = self._clock()
        k = self._n % self._frames.shape[0]
        np.copyto(self._frames[k], dmx)
        self._times[k] = t
        self._n += 1
        target = t - self.delay_s
        ages = np.abs(self._times - target)
        j = int(np.argmin(ages))
        if self._times[j] > target + 0.5 * self._min_gap() and self.delay_s > 0:
            return 0  # the oldest frame is still too young
        return self.inner.send_frame(self._frames[j])

    def _min_gap(self) -> float:
        return 1.0 / max(self.inner.rate_hz, 1e-9)

    def terminate(self) -> int:
        """Terminate the inner output's streams (no delay on the way out)."""
        return self.inner.terminate()

    def close(self) -> None:
        """Close the inner output."""
        self.inner.close()
