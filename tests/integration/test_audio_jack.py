"""A real PortAudio stream on the JACK dummy server, fed a known WAV from a second process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

HELPERS = Path(__file__).resolve().parent.parent / "helpers"

pytestmark = [pytest.mark.hardware, pytest.mark.slow]


def _wait_port(pattern: str, timeout_s: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout.split()
        hit = [p for p in ports if p.startswith(pattern)]
        if hit:
            return hit
        time.sleep(0.1)
    raise AssertionError(f"JACK port {pattern}* never appeared")


def test_device_source_receives_wav_bit_exact(jack_server: str, tmp_path: Path, rng: np.random.Generator) -> None:
    # A recognizable signal: noise bursts and a chirp, 2 s, stereo with different channels.
    sr = 48000
    n = 2 * sr
    t = np.arange(n) / sr
    left = 0.5 * np.sin(2 * np.pi * (200 + 400 * t) * t)
    right = rng.uniform(-0.5, 0.5, n)
    wav = np.stack([left, right], axis=1).astype(np.float32)
    wav_path = tmp_path / "known.wav"
    soundfile.write(wav_path, wav, sr, subtype="FLOAT")

    rec_path = tmp_path / "rec.npy"
    cap = subprocess.Popen(
        [sys.executable, str(HELPERS / "jack_capture.py"), str(rec_path), "5", "lumen-cap"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    play = subprocess.Popen(
        [sys.executable, str(HELPERS / "jack_play.py"), str(wav_path), "lumen-feed"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert cap.stdout is not None and cap.stdin is not None
        assert play.stdout is not None and play.stdin is not None
        assert cap.stdout.readline().strip() == "ready", cap.stderr.read() if cap.stderr else ""
        assert play.stdout.readline().strip() == "ready"
        ins = sorted(_wait_port("lumen-cap:in"))
        outs = sorted(_wait_port("lumen-feed:out"))
        assert len(ins) == 2 and len(outs) == 2
        for o, i in zip(outs, ins):
            subprocess.run(["jack_connect", o, i], check=True)
        # Activating two clients and connecting their ports reorders JACK's graph, and JACK
        # may flag an xrun to every client for it: the counters at this mark split that
        # set-up from the steady stream that follows.
        time.sleep(0.3)
        cap.stdin.write("mark\n")
        cap.stdin.flush()
        play.stdin.write("go\n")
        play.stdin.flush()
        assert play.stdout.readline().strip() == "done"
        out, err = cap.communicate(timeout=30)
        assert cap.returncode == 0, err
        report = json.loads(out.strip().splitlines()[-1])
        counters, mark = report["end"], report["mark"]
    finally:
        if play.poll() is None:
            play.stdin.write("quit\n") if play.stdin else None
            play.kill()
        if cap.poll() is None:
            cap.kill()

    rec = np.load(rec_path)
    # Every callback delivered full blocks, none lost on the way to the reader.
    assert counters["callbacks"] > 0
    assert counters["frames"] == counters["callbacks"] * 256
    # Once the graph is set up, the stream runs clean. JACK flags an xrun to every client
    # when any one of them is late, the Python test peer included, so one is tolerated on
    # this shared 2-vCPU machine; test_stress holds the same line for lumen alone.
    assert mark is not None
    assert counters["xruns"] - mark["xruns"] <= 1, (mark, counters)
    assert counters["ring_lost"] == 0
    assert rec.shape[0] == (counters["frames"] // 480) * 480
    # The file arrives bit-exact somewhere in the recording (the capture also hears the
    # dummy server's silent system ports, which add exact zeros).
    first = int(np.flatnonzero(np.abs(rec[:, 1]) > 0)[0])
    got = rec[first : first + n]
    # The first non-zero right-channel sample may be later than the file's first sample if
    # the file starts with tiny values: align on the right channel's first sample instead.
    start = first - int(np.flatnonzero(np.abs(wav[:, 1]) > 0)[0])
    got = rec[start : start + n]
    assert got.shape == wav.shape
    np.testing.assert_array_equal(got, wav)
