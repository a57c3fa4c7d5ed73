"""Capture from JACK with lumen's DeviceSource and ring, as the listen process does.

Usage: python jack_capture.py OUT.npy SECONDS CLIENT_NAME
Prints "ready" once the stream runs, records SECONDS of audio through DeviceSource →
AudioRing → a reader thread, writes the audio to OUT.npy and prints the counters as JSON.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
import time

import numpy as np

from lumen.audio.sources import AUDIO_COUNTERS, DeviceSource
from lumen.rt.counters import Counters
from lumen.rt.realtime import prioritize_audio_process


def main() -> int:
    out_path, seconds, client = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    prioritize_audio_process()  # as the listen process does
    src = DeviceSource("JACK", sr=48000, blocksize=256, n_channels=2, client_name=client)
    ring = src.make_ring(seconds=2.0)
    counters = Counters(AUDIO_COUNTERS)
    chunks: list[np.ndarray] = []
    stop = threading.Event()

    def reader() -> None:
        buf = np.zeros((480, 2), dtype=np.float32)
        while not stop.is_set() or ring.available() >= 480:
            if ring.read(buf):
                chunks.append(buf.copy())
            else:
                time.sleep(0.001)

    th = threading.Thread(target=reader)
    th.start()
    src.start(ring, counters)
    gc.freeze()
    gc.disable()
    print("ready", flush=True)
    time.sleep(seconds)
    src.stop()
    stop.set()
    th.join()
    np.save(out_path, np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32))
    snap = counters.snapshot()
    snap["ring_lost"] = ring.lost
    print(json.dumps(snap), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
