"""Play a WAV into JACK through PortAudio, as an independent second process.

Usage: python jack_play.py FILE.wav CLIENT_NAME
Opens a PortAudio JACK output stream named CLIENT_NAME that plays silence, prints "ready",
then waits for a line on stdin; on "go" it plays the file once (bit-exact float32), then
silence, and prints "done" when the file has been played. Exits on EOF.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

import numpy as np
import soundfile


def main() -> int:
    path, client = sys.argv[1], sys.argv[2]
    lib = ctypes.CDLL(ctypes.util.find_library("portaudio") or "libportaudio.so.2")
    name = ctypes.create_string_buffer(client.encode())
    lib.PaJack_SetClientName(name)
    import sounddevice as sd

    data, sr = soundfile.read(path, dtype="float32", always_2d=True)
    pos = [-1]
    finished = threading.Event()

    def callback(outdata, frames, time, status):  # noqa: ANN001 - a test peer, not lumen code
        outdata.fill(0.0)
        p = pos[0]
        if p < 0:
            return
        n = min(frames, data.shape[0] - p)
        if n > 0:
            outdata[:n] = data[p : p + n]
            pos[0] = p + n
        else:
            finished.set()

    dev = next(i for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0 and "JACK" in sd.query_hostapis(d["hostapi"])["name"])
    with sd.OutputStream(device=dev, samplerate=sr, blocksize=256, channels=data.shape[1], dtype="float32", callback=callback):
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "go":
                pos[0] = 0
                finished.wait(timeout=60)
                print("done", flush=True)
            elif line.strip() == "quit":
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
