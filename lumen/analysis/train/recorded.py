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
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lumen.analysis.train.midi import read_tempo_map, tick_to_seconds

__all__ = ["FOF_ROOT", "HELD_OUT", "OFFSET_CHARTS", "RecordedSong", "find_songs"]

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
