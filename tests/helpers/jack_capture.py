"""Capture from JACK with lumen's DeviceSource and ring, as the listen process does.

Usage: python jack_capture.py OUT.npy SECONDS CLIENT_NAME
Prints "ready" once the stream runs, records SECONDS of audio through DeviceSource →
AudioRing → a reader thread, writes the audio to OUT.npy and prints the counters as JSON.
A line "mark" on stdin (sent once the test has connected the ports) takes a snapshot of the
counters then; the last output line is {"mark": <snapshot or null>, "end": <snapshot>}.
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

    marked: list[dict[str, int]] = []

    def listen_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "mark" and not marked:
                marked.append(counters.snapshot())

    th = threading.Thread(target=reader)
    th.start()
    threading.Thread(target=listen_stdin, daemon=True).start()
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
    print(json.dumps({"mark": marked[0] if marked else None, "end": snap}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
