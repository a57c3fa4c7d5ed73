"""A minimal Standard MIDI File writer (format 1) and tempo-map reader, for training data.

Layer: analysis (training tooling). Threads: any (pure functions).

Times are in ticks (``ppq`` per quarter note). Tempo is a list of ``(tick, bpm)`` changes;
`tick_to_seconds` converts ticks to seconds through that map exactly as a MIDI player does,
which is how the training labels get their times. `read_timing` also returns the time
signatures (meta event FF 58) and the note onsets, and `beat_grid` turns tempo map and meter
into beat and bar (downbeat) ticks.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "MidiTiming", "Note", "Track", "beat_grid", "crop_midi", "read_events", "read_tempo_map", "read_timing", "read_varlen", "seconds_to_tick",
    "smf_bytes", "tick_to_seconds", "write_midi",
]


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


def smf_bytes(tracks: Sequence[list[tuple[int, int, bytes]]], *, ppq: int) -> bytes:
    """A format-1 Standard MIDI File from raw events.

    Parameters
    ----------
    tracks : sequence of list of (tick, order, raw)
        Per track, absolute tick, a tie-break order for events on the same tick, and the raw
        event bytes (status byte included; no running status). Each list is sorted in place
        and ends with an end-of-track added here.
    ppq : int
        Ticks per quarter note.
    """
    chunks = [_chunk(b"MThd", struct.pack(">HHH", 1, len(tracks), ppq))]
    chunks += [_chunk(b"MTrk", _track_bytes(ev)) for ev in tracks]
    return b"".join(chunks)


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
    all_events = [conductor]
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
        all_events.append(ev)
    with open(path, "wb") as f:
        f.write(smf_bytes(all_events, ppq=ppq))


def read_varlen(b: bytes, p: int) -> tuple[int, int]:
    """A variable-length quantity at ``b[p]`` (7 bits per byte, high bit = more): ``(value, next p)``."""
    v = 0
    while True:
        c = b[p]
        p += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, p


@dataclass(frozen=True, slots=True)
class MidiTiming:
    """What a Standard MIDI File says about time (all times in ticks).

    Attributes
    ----------
    ppq : int
        Ticks per quarter note.
    tempo : list of (tick, bpm)
        Tempo changes, sorted, starting at tick 0 (120 BPM when the file sets none).
    meter : list of (tick, numerator, denominator)
        Time signatures, sorted, starting at tick 0 (4/4 when the file sets none).
    last_tick : int
        Tick of the last event of any track.
    onsets : (n,) int64
        Ticks of every note-on (velocity > 0), sorted.
    drum_onsets : int
        How many of them are on channel 10 (index 9, General MIDI percussion).
    """

    ppq: int
    tempo: list[tuple[int, float]]
    meter: list[tuple[int, int, int]]
    last_tick: int
    onsets: npt.NDArray[np.int64]
    drum_onsets: int


def read_timing(data: bytes, name: str = "MIDI data") -> MidiTiming:
    """Tempo map, time signatures and note onsets of a Standard MIDI File (format 0 or 1).

    Raises
    ------
    ValueError
        ``data`` is not a Standard MIDI File, uses SMPTE time division, or is truncated.
    """
    ppq, tracks, ends = _read_tracks(data, name)
    tempo: list[tuple[int, float]] = []
    meter: list[tuple[int, int, int]] = []
    onsets: list[int] = []
    drums = 0
    last = max(ends, default=0)  # each track's last tick, its end-of-track event's included
    for events in tracks:
        for tick, ev in events:
            c = ev[0]
            if c == 0xFF:
                n, q = read_varlen(ev, 2)
                if ev[1] == 0x51 and n >= 3:
                    tempo.append((tick, 60e6 / int.from_bytes(ev[q : q + 3], "big")))
                elif ev[1] == 0x58 and n >= 2:
                    meter.append((tick, ev[q], 2 ** ev[q + 1]))
            elif (c & 0xF0) == 0x90 and len(ev) > 2 and ev[2] > 0:
                onsets.append(tick)
                drums += (c & 0x0F) == 9
    # Of several changes on one tick the last one read wins, as in a player.
    tempo = sorted({tick: bpm for tick, bpm in tempo}.items())
    meter = [(tick, num, den) for tick, (num, den) in sorted({tk: (n, d) for tk, n, d in meter}.items())]
    if not tempo or tempo[0][0] != 0:
        tempo.insert(0, (0, 120.0))
    if not meter or meter[0][0] != 0:
        meter.insert(0, (0, 4, 4))
    return MidiTiming(ppq, tempo, meter, last, np.sort(np.asarray(onsets, dtype=np.int64)), drums)


def read_events(data: bytes, name: str = "MIDI data") -> tuple[int, list[list[tuple[int, bytes]]]]:
    """``(ppq, tracks)`` of a Standard MIDI File: per track, ``(absolute tick, raw event)``.

    Running status is resolved (every channel event carries its status byte); meta events keep
    their ``FF type length`` header and system-exclusive events their ``F0``/``F7 length``
    header, so `smf_bytes` writes them back unchanged. End-of-track events are dropped.
    """
    ppq, tracks, _ends = _read_tracks(data, name)
    return ppq, tracks


def _read_tracks(data: bytes, name: str) -> tuple[int, list[list[tuple[int, bytes]]], list[int]]:
    """`read_events` plus each track's last tick (its end-of-track event's, if it has one)."""
    b = data
    if b[:4] != b"MThd":
        raise ValueError(f"{name}: not a MIDI file")
    _fmt, n_tracks, ppq = struct.unpack(">HHH", b[8:14])
    if ppq & 0x8000:
        raise ValueError(f"{name}: SMPTE time division is not supported")
    pos = 8 + struct.unpack(">I", b[4:8])[0]
    tracks: list[list[tuple[int, bytes]]] = []
    ends: list[int] = []
    try:
        for _ in range(n_tracks):
            if b[pos : pos + 4] != b"MTrk":
                raise ValueError(f"{name}: bad track header")
            end = pos + 8 + struct.unpack(">I", b[pos + 4 : pos + 8])[0]
            p, tick, status = pos + 8, 0, 0
            events: list[tuple[int, bytes]] = []
            while p < end:
                dt, p = read_varlen(b, p)
                tick += dt
                c = b[p]
                if c == 0xFF:
                    n, q = read_varlen(b, p + 2)
                    if b[p + 1] == 0x2F:
                        break
                    events.append((tick, b[p : q + n]))
                    p = q + n
                elif c in (0xF0, 0xF7):
                    n, q = read_varlen(b, p + 1)
                    events.append((tick, b[p : q + n]))
                    p = q + n
                else:
                    if c & 0x80:
                        status = c
                        p += 1
                    n = 1 if (status & 0xF0) in (0xC0, 0xD0) else 2
                    events.append((tick, bytes([status]) + b[p : p + n]))
                    p += n
            tracks.append(events)
            ends.append(tick)
            pos = end
    except IndexError as e:
        raise ValueError(f"{name}: truncated MIDI file") from e
    return ppq, tracks, ends


def crop_midi(data: bytes, start_tick: int, end_tick: int, *, tempo_scale: float = 1.0) -> bytes:
    """The part ``[start_tick, end_tick)`` of a Standard MIDI File, moved to start at tick 0.

    What sets the scene before ``start_tick`` is kept at tick 0, in its original order: tempo,
    program, controller and pitch-bend changes and system-exclusive messages (so instruments,
    volumes and the tempo are right); notes, aftertouch and other meta events before it are
    dropped (a note held across ``start_tick`` is not heard). Every channel is silenced at the
    end (sustain off, all notes and sounds off). Rendering only the excerpt is
    much cheaper than rendering a whole piece and cutting the audio. Every tempo is multiplied
    by ``tempo_scale`` (a faster or slower performance at the same pitch).
    """
    ppq, tracks = read_events(data)
    out: list[list[tuple[int, int, bytes]]] = []
    for events in tracks:
        ev: list[tuple[int, int, bytes]] = []
        for k, (tick, raw) in enumerate(events):
            if tick >= end_tick:
                break
            if raw[:3] == b"\xff\x51\x03" and tempo_scale != 1.0:
                us = round(int.from_bytes(raw[3:6], "big") / tempo_scale)
                raw = raw[:3] + min(max(us, 1), 0xFFFFFF).to_bytes(3, "big")
            if tick >= start_tick:
                ev.append((tick - start_tick, k, raw))
            elif raw[0] == 0xFF:
                if raw[1] == 0x51:  # only the tempo in force at the cut
                    ev = [e for e in ev if e[2][:2] != b"\xff\x51"]
                    ev.append((0, k, raw))
            elif raw[0] in (0xF0, 0xF7) or raw[0] & 0xF0 in (0xB0, 0xC0, 0xE0):
                ev.append((0, k, raw))
        out.append(ev)
    # Release everything at the cut: FluidSynth renders until its last voice dies, and a note
    # whose note-off was cropped away would hold forever.
    span = end_tick - start_tick
    out.append([(span, 0, bytes([0xB0 | ch, ctl, 0])) for ch in range(16) for ctl in (64, 123, 120)])
    return smf_bytes(out, ppq=ppq)


def read_tempo_map(path: str) -> tuple[list[tuple[int, float]], int, int]:
    """``(tempo map [(tick, bpm)], ticks per quarter, last tick)`` of a Standard MIDI File."""
    with open(path, "rb") as f:
        t = read_timing(f.read(), path)
    return t.tempo, t.ppq, t.last_tick


def beat_grid(meter: Sequence[tuple[int, int, int]], ppq: int, end_tick: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Beat and downbeat ticks of a meter map, up to ``end_tick`` (exclusive).

    A beat is a quarter note (``x/4``, ``x/2``; a beat of ``ppq * 4 / den`` ticks for other
    simple meters), or a dotted quarter in compound meters (numerator 6, 9, 12, ... over 8 or
    16: ``6/8`` has two beats a bar). Every time signature starts a new bar at its tick, as
    the MIDI specification places them; a bar cut short by the next one is kept as it is.

    Examples
    --------
    >>> b, d = beat_grid([(0, 4, 4), (8, 6, 8)], 2, 20)
    >>> b.tolist(), d.tolist()
    ([0, 2, 4, 6, 8, 11, 14, 17], [0, 8, 14])
    """
    beats: list[int] = []
    downs: list[int] = []
    cuts = [t for t, _, _ in meter[1:]] + [end_tick]
    for (t0, num, den), t1 in zip(meter, cuts, strict=True):
        t1 = min(t1, end_tick)
        compound = den >= 8 and num % 3 == 0 and num > 3
        step = ppq * 4 * (3 if compound else 1) / den
        per_bar = num // 3 if compound else num
        if step <= 0 or per_bar <= 0:
            raise ValueError(f"bad time signature {num}/{den}")
        k = 0
        while True:
            tick = t0 + k * step
            if tick >= t1:
                break
            beats.append(round(tick))
            if k % per_bar == 0:
                downs.append(round(tick))
            k += 1
    return np.asarray(beats, dtype=np.int64), np.asarray(downs, dtype=np.int64)


def seconds_to_tick(seconds: float, tempo: Sequence[tuple[int, float]], *, ppq: int = 480) -> int:
    """The last whole tick at or before ``seconds`` through a tempo map (inverse of `tick_to_seconds`).

    Examples
    --------
    >>> seconds_to_tick(1.5, [(0, 120.0), (960, 60.0)])
    1200
    """
    starts = np.array([tk for tk, _ in tempo], dtype=np.float64)
    seg_s = tick_to_seconds(starts, tempo, ppq=ppq)
    k = max(0, int(np.searchsorted(seg_s, seconds, side="right")) - 1)
    tick = float(starts[k] + (seconds - seg_s[k]) * tempo[k][1] * ppq / 60.0)
    return math.floor(tick + 1e-9)


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
