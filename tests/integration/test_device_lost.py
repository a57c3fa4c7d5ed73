"""A lost audio device is survived and reported: the show runs on, the loss is counted."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from lumen.engine import Engine, EngineOptions
from lumen.show.load import load_show_text

pytestmark = [pytest.mark.hardware, pytest.mark.gpu, pytest.mark.slow]

SHOW = """
version: 1
audio: {source: device, device: JACK, sr: 48000, blocksize: 256, channels: 2}
render: {fps: 30}
wall: {width: 16, height: 8}
outputs: [{type: sacn, address: 127.0.0.1, port: 5598}]
"""


def test_jack_server_dies_mid_show(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"lumen-lost-{os.getpid()}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    monkeypatch.setenv("JACK_NO_AUDIO_RESERVATION", "1")
    jackd = subprocess.Popen(["jackd", "-d", "dummy", "-r", "48000", "-p", "256"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = None
    try:
        subprocess.run(["timeout", "10", "jack_wait", "-w", "-s", name], check=True, capture_output=True)
        engine = Engine(load_show_text(SHOW), None, EngineOptions(gl_backend="egl"))
        engine.start()
        engine.run(1.5)
        before = engine.snapshot()
        assert before["listen"]["callbacks"] > 100
        # SIGTERM: the server goes away as on a crash from the client's side, but it leaves
        # JACK's server registry clean (SIGKILLed servers use up its few slots).
        jackd.terminate()
        jackd.wait(timeout=10)
        t0 = time.monotonic()
        lost = 0
        while time.monotonic() - t0 < 10 and lost == 0:
            engine.run(0.5)
            lost = engine.snapshot()["listen"]["device_lost"]
        after = engine.snapshot()
        engine.run(1.0)
        later = engine.snapshot()
        assert lost >= 1, after["listen"]
        # Audio stopped, but the show did not: frames keep coming on the last features.
        assert later["show"]["frames"] > after["show"]["frames"] > before["show"]["frames"]
        assert engine.running()
    finally:
        if engine is not None:
            engine.stop()
        if jackd.poll() is None:
            jackd.terminate()
            jackd.wait(timeout=10)
