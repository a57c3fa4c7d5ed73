"""Time for lumen: one monotonic clock for every stage and process.

Layer: rt. Threads: any.

Every value carries its audio time on ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux, so
it is shared by all processes of the machine). Audio streams report times on their own clock;
`StreamClock` maps them.
"""

from __future__ import annotations

import time
from typing import Final

now = time.perf_counter

#: Sleep granularity we trust from the OS, in seconds.
SLEEP_SLACK_S: Final[float] = 0.0015


def sleep_until(t: float) -> None:
    """Sleep until perf_counter reaches ``t`` (coarse sleep, then a short spin)."""
    while True:
        remaining = t - now()
        if remaining <= 0:
            return
        if remaining > SLEEP_SLACK_S:
            time.sleep(remaining - SLEEP_SLACK_S)
        elif remaining > 0.0002:
            time.sleep(0)


class StreamClock:
    """Maps a stream's clock (e.g. PortAudio's stream time) to perf_counter.

    PortAudio passes, for each callback, the stream time now and the time the first input
    sample was captured. The capture time on the perf_counter clock is therefore
    ``perf_counter() - (current - adc)``, which needs no offset estimate at all.
    """

    @staticmethod
    def capture_time(stream_now: float, stream_adc: float, n_frames: int, sr: float) -> float:
        """perf_counter time at which the block's first frame was captured."""
        t = now()
        if stream_adc > 0.0 and 0.0 <= stream_now - stream_adc < 1.0:
            return t - (stream_now - stream_adc)
        # Host APIs that do not report times: the block ended just now.
        return t - n_frames / sr
