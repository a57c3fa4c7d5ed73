"""The real-time rules: the lint for forbidden calls, and no allocation on the callback."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np

import lumen.audio.sources  # noqa: F401 - registers its @realtime functions
import lumen.output.pace  # noqa: F401
from lumen.audio.sources import AUDIO_COUNTERS, DeviceSource
from lumen.rt import realtime
from lumen.rt.counters import Counters
from lumen.rt.mailbox import Mailbox
from lumen.rt.ring import AudioRing


def test_every_realtime_function_passes_the_lint() -> None:
    funcs = realtime.registered()
    names = {f.__qualname__ for f in funcs}
    assert {"AudioRing.write", "Mailbox.write", "Counters.bump", "DeviceSource._callback"} <= names
    problems = [p for f in funcs for p in realtime.lint(f)]
    assert problems == []


def test_the_lint_catches_what_it_should() -> None:
    def bad(lock: object, x: np.ndarray) -> None:
        with lock:  # type: ignore[attr-defined]
            y = np.zeros(3)
        print(y)
        raise ValueError(x)

    msgs = realtime.lint(bad)
    assert any("With" in m for m in msgs)
    assert any("np.zeros" in m for m in msgs)
    assert any("print" in m for m in msgs)
    assert any("Raise" in m for m in msgs)


class _Flags:
    __slots__ = ("_flags",)

    def __init__(self, v: int) -> None:
        self._flags = v


def test_device_callback_allocates_nothing_that_stays_or_grows() -> None:
    """Drive the real callback (without PortAudio) many times under tracemalloc."""
    src = DeviceSource.__new__(DeviceSource)  # no stream: only the callback is exercised
    src.sr = 48000
    src.blocksize = 256
    src.n_channels = 2
    ring = AudioRing(2, 256, 48000, n_blocks=64)
    counters = Counters(AUDIO_COUNTERS)
    src._attach(ring, counters)
    block = np.ones((256, 2), np.float32)
    tinfo = SimpleNamespace(currentTime=10.0, inputBufferAdcTime=9.99)
    ok, xrun = _Flags(0), _Flags(2)
    for _ in range(200):  # warm up caches
        src._callback(block, 256, tinfo, ok)
    tracemalloc.start()
    base_current, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for i in range(20000):
        src._callback(block, 256, tinfo, xrun if i % 1000 == 0 else ok)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Nothing accumulates, and no block-sized buffer (2 KiB) is ever allocated.
    assert current - base_current < 512
    assert peak - base_current < 1024
    assert counters["callbacks"] == 20200
    assert counters["xruns"] == 20 and counters["input_overflows"] == 20


def test_mailbox_write_allocates_nothing_that_grows() -> None:
    box = Mailbox(32)
    v = np.arange(32, dtype=np.float64)
    for _ in range(100):
        box.write(v)
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(10000):
        box.write(v)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current - base < 512
    assert peak - base < 256 + 32 * 8
