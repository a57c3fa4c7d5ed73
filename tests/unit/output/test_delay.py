"""Per-output delay: frames reach the wire about `delay_ms` later, within half a frame."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.errors import OutputError
from lumen.output.delay import DelayedOutput


class FakeOutput:
    n_universes = 1
    rate_hz = 100.0
    packets = 0
    errors = 0

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.terminated = False

    def send_frame(self, dmx: np.ndarray) -> int:
        self.sent.append(int(dmx[0, 0]))
        return 1

    def terminate(self) -> int:
        self.terminated = True
        return 1

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("delay_ms", [0.0, 30.0, 35.0, 200.0])
def test_frames_come_out_delay_later(delay_ms: float) -> None:
    inner, clock = FakeOutput(), Clock()
    out = DelayedOutput(inner, delay_ms, max_rate_hz=100.0, clock=clock)
    frame = np.zeros((1, 512), np.uint8)
    sent_at: list[tuple[float, int]] = []
    for i in range(100):  # a frame every 10 ms, numbered by its value
        clock.t = 100.0 + i * 0.010
        frame[0, 0] = i
        before = len(inner.sent)
        out.send_frame(frame)
        if len(inner.sent) > before:
            sent_at.append((clock.t, inner.sent[-1]))
    assert sent_at, "nothing was sent"
    for t, value in sent_at:
        realized = t - (100.0 + value * 0.010)
        assert abs(realized - delay_ms / 1000.0) <= 0.005 + 1e-9
    # nothing is sent before the first frame is old enough
    assert sent_at[0][0] >= 100.0 + delay_ms / 1000.0 - 0.005 - 1e-9


def test_terminate_and_bounds() -> None:
    inner = FakeOutput()
    DelayedOutput(inner, 10.0).terminate()
    assert inner.terminated
    with pytest.raises(OutputError):
        DelayedOutput(inner, 2000.0)
