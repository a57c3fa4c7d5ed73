"""Accompaniment in hundreds of styles from Musical MIDI Accompaniment (Debian ``mma``), for training.

Layer: analysis (training tooling). Threads: any (each call runs the ``mma`` program in a
temporary folder).

MMA turns a chord chart into a Standard MIDI File played by a *groove*: drum, bass, chord,
arpeggio and walking-bass patterns written by people for a style (swing, shuffle, boogie,
bossa nova, waltz, 6/8 march, 12/8 blues, polka, ...), most of them with small random timing
and velocity changes. Its standard library (``/usr/share/mma/lib/stdlib``) holds about 120
style files with several hundred grooves. That is the music the generated pieces of
`lumen.analysis.train.compose` lack most: swung and shuffled eighths, walking bass, comping on
the off-beats, played the way a band plays them.

`mma_piece` writes a random chart (a key, a common progression, one or two chords a bar, a
tempo, sometimes a change to another groove of the same style halfway), runs ``mma`` and labels
the result from the file's own tempo map and time signature (`lumen.analysis.train.wadmidi.
piece_from_midi`): beats on quarter notes, or dotted quarters in 6/8-style meters, downbeats at
bar starts. Intro and ending grooves are left out (their bars are not always whole).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from lumen.analysis.train.wadmidi import WadPiece, piece_from_midi

__all__ = ["MMA_STDLIB", "grooves", "mma_piece"]

#: Where Debian's ``mma`` package keeps its standard groove library.
MMA_STDLIB = "/usr/share/mma/lib/stdlib"

# Style files left out: click tracks and the empty groove.
_SKIP_FILES = frozenset({"metronome", "metronome3", "metronome6", "metronome68", "none"})
_SKIP_GROOVE = re.compile(r"(intro|end|fill)", re.IGNORECASE)

# Progressions as (scale degree in semitones from the key, chord quality), one entry per chord.
_MAJOR = (
    ((0, ""), (9, "m"), (5, ""), (7, "7")),
    ((0, ""), (5, ""), (7, "7"), (0, "")),
    ((2, "m7"), (7, "7"), (0, "M7"), (0, "M7")),
    ((0, "M7"), (9, "m7"), (2, "m7"), (7, "7")),
    ((0, ""), (7, ""), (9, "m"), (5, "")),
    ((0, "7"), (0, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"), (0, "7"), (0, "7"), (7, "7"), (5, "7"), (0, "7"), (7, "7")),
    ((0, "6"), (5, "7"), (0, "6"), (7, "7")),
)
_MINOR = (
    ((0, "m"), (5, "m"), (7, "7"), (0, "m")),
    ((0, "m"), (8, ""), (3, ""), (10, "")),
    ((0, "m7"), (5, "m7"), (0, "m7"), (7, "7")),
    ((2, "m7b5"), (7, "7"), (0, "m"), (0, "m")),
)
_NOTES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


@functools.cache
def grooves(stdlib: str = MMA_STDLIB) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The usable grooves of the library: ``((style file, (groove, ...)), ...)``, sorted.

    Empty when ``mma`` is not installed.
    """
    if not os.path.isdir(stdlib):
        return ()
    out = []
    for name in sorted(os.listdir(stdlib)):
        stem, ext = os.path.splitext(name)
        if ext != ".mma" or stem in _SKIP_FILES:
            continue
        with open(os.path.join(stdlib, name), encoding="latin-1") as f:
            found = [m.group(1) for m in re.finditer(r"^\s*defgroove\s+(\S+)", f.read(), re.IGNORECASE | re.MULTILINE)]
        keep = tuple(dict.fromkeys(g for g in found if not _SKIP_GROOVE.search(g)))
        if keep:
            out.append((stem, keep))
    return tuple(out)


def _chart(rng: np.random.Generator, n_bars: int) -> list[str]:
    """Chord lines for ``n_bars`` bars: a random key and progression, one or two chords a bar."""
    minor = rng.random() < 0.35
    prog = (_MINOR if minor else _MAJOR)[int(rng.integers(0, len(_MINOR if minor else _MAJOR)))]
    key = int(rng.integers(0, 12))
    two = rng.random() < 0.3
    chords = [f"{_NOTES[(key + d) % 12]}{q}" for d, q in prog]
    lines, k = [], 0
    for _ in range(n_bars):
        if two:
            lines.append(f"{chords[k % len(chords)]} / {chords[(k + 1) % len(chords)]} /")
            k += 2
        else:
            lines.append(chords[k % len(chords)])
            k += 1
    return lines


def mma_piece(rng: np.random.Generator, duration_s: float, *, bpm: float | None = None) -> tuple[WadPiece, str]:
    """A random chart played by a random groove, at least ``duration_s`` long: ``(piece, style)``.

    Raises
    ------
    FileNotFoundError
        ``mma`` is not installed.
    RuntimeError
        ``mma`` failed on every groove tried (three tries).
    """
    exe = shutil.which("mma")
    lib = grooves()
    if exe is None or not lib:
        raise FileNotFoundError("mma not found: install the Debian package mma")
    last = ""
    for _ in range(3):
        style, names = lib[int(rng.integers(0, len(lib)))]
        first = names[int(rng.integers(0, len(names)))]
        second = names[int(rng.integers(0, len(names)))] if rng.random() < 0.4 else first
        tempo = bpm if bpm is not None else float(np.exp(rng.uniform(np.log(60), np.log(200))))
        n_bars = int(np.ceil(duration_s * tempo / 60.0 / 2.0)) + 2  # enough for 2-beat bars; cut later
        chart = _chart(rng, n_bars)
        half = n_bars // 2
        # MMA's own random timing and velocity changes, seeded: the same rng gives the same file.
        body = [f"RndSeed {int(rng.integers(0, 1 << 30))}", f"Tempo {tempo:.2f}", f"Groove {first}"]
        body += [f"{i + 1} {c}" for i, c in enumerate(chart[:half])]
        body += [f"Groove {second}"] + [f"{i + 1 + half} {c}" for i, c in enumerate(chart[half:])]
        with tempfile.TemporaryDirectory(prefix="lumen-mma-") as tmp:
            src, mid = os.path.join(tmp, "piece.mma"), os.path.join(tmp, "piece.mid")
            with open(src, "w") as f:
                f.write("\n".join(body) + "\n")
            # Relative names and no credits: the file holds nothing of the temporary folder's name.
            run = subprocess.run([exe, "-xNOCREDIT", "piece.mma", "-f", "piece.mid"], capture_output=True, text=True, timeout=60, cwd=tmp)
            if run.returncode == 0 and os.path.exists(mid):
                with open(mid, "rb") as f:
                    data = f.read()
                piece = piece_from_midi(f"mma:{style}:{first}", data)
                if piece.duration_s >= duration_s and piece.beats_s.size >= 4:
                    return piece, style
            last = (run.stdout + run.stderr).strip().splitlines()[-1:] and (run.stdout + run.stderr).strip().splitlines()[-1] or ""
    raise RuntimeError(f"mma failed: {last}")
