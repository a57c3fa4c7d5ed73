"""Tap tempo and external tempo reach the listen process's beat tracker through one interface."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.engine import Engine, EngineOptions
from lumen.features import Features
from lumen.rt.clock import now
from lumen.show.load import load_show_text

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

SHOW = """
version: 1
audio: {source: signal, signal: {bpm: 124.0, seed: 3}}
scene: {shader: pulse.fs}
wall: {width: 16, height: 8}
outputs: [{type: sacn, address: 127.0.0.1, port: 5597}]
"""


def features(engine: Engine) -> Features:
    f = engine.snapshot()["features"]
    assert isinstance(f, Features)
    return f


def test_override_then_clear_then_tap(tmp_path: object) -> None:
    engine = Engine(load_show_text(SHOW), None, EngineOptions(gl_backend="egl"))
    engine.start()
    try:
        engine.run(6.0)
        assert abs(features(engine).bpm - 124.0) < 3.0  # the audio tracker, locked
        engine.set_tempo(100.0, now(), mode="override")
        engine.run(1.0)
        f = features(engine)
        assert f.bpm == pytest.approx(100.0) and f.confidence == 1.0
        engine.set_tempo(0.0, mode="clear")
        engine.run(1.5)
        assert abs(features(engine).bpm - 124.0) < 3.0  # back to the audio
        t0 = features(engine).next_beat_t  # a DJ taps 124 bpm in time with the music
        for k in range(4):
            bpm = engine.tap(t0 + k * 60.0 / 124.0)
        assert bpm == pytest.approx(124.0, rel=1e-6)
        # The tempo over the next second: its median, since the instantaneous estimate wobbles
        # by up to 3 % for a moment in this song's passage (with or without the taps).
        seen = []
        for _ in range(10):
            engine.run(0.1)
            seen.append(features(engine).bpm)
        assert abs(float(np.median(seen)) - 124.0) < 3.0, seen
        with pytest.raises(ValueError, match="bpm"):
            engine.set_tempo(1000.0)
        assert engine.snapshot()["listen"]["bad_tempo_hints"] == 0
    finally:
        engine.stop()
