"""A minimal Standard MIDI File writer (format 1) and tempo-map reader, for training data.

Layer: analysis (training tooling). Threads: any (pure functions).

Times are in ticks (``ppq`` per quarter note). Tempo is a list of ``(tick, bpm)`` changes;
`tick_to_seconds` converts ticks to seconds through that map exactly as a MIDI player does,
which is how the training labels get their times.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["Note", "Track", "read_tempo_map", "tick_to_seconds", "write_midi"]


@dataclass(frozen=True, slots=True)
class Note:
    """One note: start tick, length in ticks, MIDI key 0..127, velocity 1..127."""

    tick: int
    length: int
    key: int
    velocity: int


@dataclass(slots=True)
class Track:
    """One instrument: a General MIDI program on a channel (channel 9 is drums)."""

    channel: int
    program: int
    notes: list[Note] = field(default_factory=list)
    volume: int = 100
    pan: int = 64


def _varlen(n: int) -> bytes:
    """MIDI variable-length quantity.

    >>> _varlen(0), _varlen(127), _varlen(128), _varlen(0x3FFF)
    (b'\\x00', b'\\x7f', b'\\x81\\x00', b'\\xff\\x7f')
    """
    if n < 0:
        raise ValueError("delta time must be >= 0")
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack(">I", len(data)) + data


def _track_bytes(events: list[tuple[int, int, bytes]]) -> bytes:
    """Events ``(tick, order, raw)`` sorted and delta-encoded, with an end-of-track."""
    events.sort(key=lambda e: (e[0], e[1]))
    out = bytearray()
    last = 0
    for tick, _, raw in events:
        out += _varlen(tick - last) + raw
        last = tick
    out += _varlen(0) + b"\xff\x2f\x00"
    return bytes(out)


def write_midi(
    path: str,
    tracks: Sequence[Track],
    tempo: Sequence[tuple[int, float]],
    *,
    ppq: int = 480,
    time_signature: tuple[int, int] = (4, 4),
) -> None:
    """Write a format-1 MIDI file.

    Parameters
    ----------
    path : str
    tracks : sequence of Track
    tempo : sequence of (tick, bpm)
        Tempo changes; the first must be at tick 0.
    ppq : int
        Ticks per quarter note.
    time_signature : (numerator, denominator)
    """
    if not tempo or tempo[0][0] != 0:
        raise ValueError("the tempo map must start at tick 0")
    conductor: list[tuple[int, int, bytes]] = []
    num, den = time_signature
    conductor.append((0, 0, b"\xff\x58\x04" + bytes([num, int(np.log2(den)), 24, 8])))
    for tick, bpm in tempo:
        us = int(round(60_000_000 / bpm))
        conductor.append((tick, 1, b"\xff\x51\x03" + us.to_bytes(3, "big")))
    chunks = [_chunk(b"MThd", struct.pack(">HHH", 1, len(tracks) + 1, ppq)), _chunk(b"MTrk", _track_bytes(conductor))]
    for tr in tracks:
        ch = tr.channel & 0x0F
        ev: list[tuple[int, int, bytes]] = [
            (0, 0, bytes([0xB0 | ch, 7, tr.volume & 0x7F])),
            (0, 0, bytes([0xB0 | ch, 10, tr.pan & 0x7F])),
            (0, 0, bytes([0xC0 | ch, tr.program & 0x7F])),
        ]
        for n in tr.notes:
            key = min(127, max(0, n.key))
            vel = min(127, max(1, n.velocity))
            ev.append((max(0, n.tick), 2, bytes([0x90 | ch, key, vel])))
            # Note-offs sort before note-ons at the same tick, so repeated notes retrigger.
            ev.append((max(0, n.tick) + max(1, n.length), 1, bytes([0x80 | ch, key, 0])))
        chunks.append(_chunk(b"MTrk", _track_bytes(ev)))
    with open(path, "wb") as f:
        f.write(b"".join(chunks))


def _read_varlen(b: bytes, p: int) -> tuple[int, int]:
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
            dt, p = _read_varlen(b, p)
            tick += dt
            c = b[p]
            if c == 0xFF:
                kind = b[p + 1]
                n, p = _read_varlen(b, p + 2)
                if kind == 0x51:
                    tempo.append((tick, 60e6 / int.from_bytes(b[p : p + 3], "big")))
                p += n
            elif c in (0xF0, 0xF7):
                n, p = _read_varlen(b, p + 1)
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


def tick_to_seconds(ticks: npt.ArrayLike, tempo: Sequence[tuple[int, float]], *, ppq: int = 480) -> npt.NDArray[np.float64]:
    """Seconds of each tick through a tempo map.

    Examples
    --------
    >>> tick_to_seconds([0, 480, 960, 1440], [(0, 120.0), (960, 60.0)]).tolist()
    [0.0, 0.5, 1.0, 2.0]
    """
    t = np.asarray(ticks, dtype=np.float64)
    starts = np.array([tk for tk, _ in tempo], dtype=np.float64)
    spt = np.array([60.0 / (bpm * ppq) for _, bpm in tempo])  # seconds per tick
    seg_s = np.concatenate([[0.0], np.cumsum(np.diff(starts) * spt[:-1])])
    k = np.searchsorted(starts, t, side="right") - 1
    k = np.clip(k, 0, len(starts) - 1)
    out: npt.NDArray[np.float64] = seg_s[k] + (t - starts[k]) * spt[k]
    return out
