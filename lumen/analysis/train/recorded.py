"""Recorded songs with beat labels from Debian's Frets on Fire song packages, for training.

Layer: analysis (training tooling). Threads: the caller's.

The Debian packages ``fretsonfire-songs-muldjord`` and ``fretsonfire-songs-sectoid`` ship
real, recorded and mastered songs (``song.ogg`` plus a ``guitar.ogg`` stem) with a MIDI chart
(``notes.mid``) whose tempo map follows the recording: every quarter note of it is a beat.
Three charts sit a constant 0.17–0.3 s off their audio (checked with madmom's tracker while
building this, at development time only); they are left out (`OFFSET_CHARTS`), and one song
is held out of training as a check on real recordings (`HELD_OUT`). The charts carry no
reliable bar lines, so these clips train the beat output only (their downbeat loss is masked).

These are the only recordings lumen trains on; they are not part of any evaluation set.
"""

from __future__ import annotations

import glob
import os
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lumen.analysis.train.midi import tick_to_seconds

__all__ = ["FOF_ROOT", "HELD_OUT", "OFFSET_CHARTS", "RecordedSong", "find_songs", "read_tempo_map"]

#: Where the Debian packages install the songs.
FOF_ROOT = "/usr/share/games/fretsonfire/data/songs"


@dataclass
class RecordedSong:
    """A recording (mono, float32, peak 1) and its beats (seconds)."""

    name: str
    audio: npt.NDArray[np.float32]
    sr: int
    beats: npt.NDArray[np.float64]
    offset_s: float


def _varlen(b: bytes, p: int) -> tuple[int, int]:
    v = 0
    while True:
        c = b[p]
        p += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, p


def read_tempo_map(path: str) -> tuple[list[tuple[int, float]], int, int]:
    """``(tempo map [(tick, bpm)], ticks per quarter, last tick)`` of a Standard MIDI File."""
    b = open(path, "rb").read()
    if b[:4] != b"MThd":
        raise ValueError(f"{path}: not a MIDI file")
    _fmt, n_tracks, ppq = struct.unpack(">HHH", b[8:14])
    pos = 14
    tempo: list[tuple[int, float]] = []
    last = 0
    for _ in range(n_tracks):
        if b[pos : pos + 4] != b"MTrk":
            raise ValueError(f"{path}: bad track header")
        end = pos + 8 + struct.unpack(">I", b[pos + 4 : pos + 8])[0]
        p, tick, status = pos + 8, 0, 0
        while p < end:
            dt, p = _varlen(b, p)
            tick += dt
            c = b[p]
            if c == 0xFF:
                kind = b[p + 1]
                n, p = _varlen(b, p + 2)
                if kind == 0x51:
                    tempo.append((tick, 60e6 / int.from_bytes(b[p : p + 3], "big")))
                p += n
            elif c in (0xF0, 0xF7):
                n, p = _varlen(b, p + 1)
                p += n
            else:
                if c & 0x80:
                    status = c
                    p += 1
                p += 1 if (status & 0xF0) in (0xC0, 0xD0) else 2
        last = max(last, tick)
        pos = end
    tempo.sort()
    if not tempo or tempo[0][0] != 0:
        tempo.insert(0, (0, 120.0))
    return tempo, ppq, last


#: Charts whose tempo map is offset from the recording (left out).
OFFSET_CHARTS: tuple[str, ...] = ("Feelings", "Metal madness", "War of freedom")
#: Held out of training, to check the model on a real recording.
HELD_OUT: tuple[str, ...] = ("mutilated_mime",)


def find_songs(root: str = FOF_ROOT, *, exclude: tuple[str, ...] = OFFSET_CHARTS + HELD_OUT) -> list[RecordedSong]:
    """Every usable song under ``root`` (sorted by folder name).

    Returns an empty list when the packages are not installed.
    """
    import soundfile as sf

    songs = []
    for d in sorted(glob.glob(os.path.join(root, "*", "*", ""))):
        name = os.path.basename(os.path.dirname(d))
        if name in exclude or not os.path.exists(os.path.join(d, "notes.mid")) or not os.path.exists(os.path.join(d, "song.ogg")):
            continue
        tempo, ppq, last = read_tempo_map(os.path.join(d, "notes.mid"))
        x, sr = sf.read(os.path.join(d, "song.ogg"), dtype="float32", always_2d=True)
        if os.path.exists(os.path.join(d, "guitar.ogg")):
            g, _ = sf.read(os.path.join(d, "guitar.ogg"), dtype="float32", always_2d=True)
            n = min(len(x), len(g))
            x = x[:n] + g[:n]
        mono = x.mean(axis=1).astype(np.float32)
        mono /= float(np.max(np.abs(mono))) or 1.0
        beats = tick_to_seconds(np.arange(0, last + 1, ppq), tempo, ppq=ppq)
        beats = beats[beats < mono.size / sr]
        songs.append(RecordedSong(name, mono, int(sr), beats, 0.0))
    return songs
