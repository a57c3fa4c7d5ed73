"""Human-composed General MIDI music from Doom WAD files (Debian ``freedoom``), for training.

Layer: analysis (training tooling). Threads: any (pure functions, plus file reads in
`find_pieces`).

A WAD file starts with a 12-byte header: the id ``IWAD`` or ``PWAD``, the number of lumps and
the offset of the lump directory (little-endian int32s). The directory holds one 16-byte entry
per lump: offset, size (int32s) and an 8-byte name padded with NULs. Music lumps are named
``D_*``; each is a Standard MIDI File (``MThd``) or a DMX MUS score (``MUS\\x1a``), which
`mus_to_midi` converts.

Labels come from the MIDI file itself: `lumen.analysis.train.midi.beat_grid` places beats on
quarter notes (dotted quarters in compound meters such as 6/8) and downbeats at bar starts,
from tick 0 and the file's time signatures, and the tempo map turns them into seconds exactly
as a player does. Pickup bars and long intros are labelled by that grid too, which is right as
long as the composer wrote to the sequencer's grid. Some were not: MUS scores carry no tempo
or meter at all (their 140 Hz ticks become a fixed 120 BPM grid), and several ``freedoom``
MIDI files are conversions of such scores (96 ticks at 89 ppq and 95 BPM, notes off any grid).
`find_pieces` keeps only pieces whose notes sit on their grid (`grid_fit`) and drops exact
duplicates; `HELD_OUT` names the pieces kept out of training for validation.

``freedoom`` is BSD-licensed and in Debian main; none of its music is part of any evaluation
set.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lumen.analysis.train.midi import (
    MidiTiming,
    beat_grid,
    read_timing,
    read_varlen,
    smf_bytes,
    tick_to_seconds,
)

__all__ = [
    "FREEDOOM_WADS",
    "HELD_OUT",
    "MUS_RATE_HZ",
    "WadPiece",
    "FOREIGN_MIDI_GLOBS",
    "GAME_MIDI_GLOBS",
    "HELD_OUT_FILES",
    "beat_phase_shares",
    "find_file_pieces",
    "find_pieces",
    "grid_fit",
    "mus_to_midi",
    "music_lumps",
    "piece_from_midi",
    "read_wad",
]

#: Where Debian's ``freedoom`` package installs its WADs.
FREEDOOM_WADS: tuple[str, ...] = ("/usr/share/games/doom/freedoom1.wad", "/usr/share/games/doom/freedoom2.wad")

#: Pieces kept out of training to validate on (about 10 %, fixed by name; lump names are unique
#: across both WADs): 3/4 and 4/4, 80 to 180 BPM, with and without much percussion.
HELD_OUT: tuple[str, ...] = ("D_E1M8", "D_E2M8", "D_E3M3", "D_RUNNI2", "D_DDTBL3", "D_AMPIE")

#: General MIDI music files of other Debian games: ``simutrans-data`` (53 pieces written for the
#: game, many styles: swing, blues, marches, rock, ragtime-like, 4/4 and 12/8) and
#: ``freedink-data``. Neither is part of any evaluation set.
GAME_MIDI_GLOBS: tuple[str, ...] = ("/usr/share/games/simutrans/music/*.mid", "/usr/share/games/dink/dink/Sound/*.mid")

#: General MIDI files by other hands than any training piece: no lumen model trains on them and
#: no evaluation set uses them (Debian ``pianobooster``'s lesson pieces, and the game music of
#: ``liquidwar-data``, ``crimson`` and ``pinball-table-hurd-data``). The development set's
#: "foreign" group (``benchmarks/beat_devset.py``): the held-out pieces of `HELD_OUT` and
#: `HELD_OUT_FILES` share composers and styles with training pieces, these do not.
FOREIGN_MIDI_GLOBS: tuple[str, ...] = (
    "/usr/share/doc/pianobooster/courses/*/*.mid",
    "/usr/share/doc/pianobooster/courses/*/*.mid.gz",
    "/usr/share/games/liquidwar/music/*.mid",
    "/usr/share/games/crimson/music/*.mid",
    "/usr/share/games/pinball/*/*.mid",
)

#: Files (stem names) of `GAME_MIDI_GLOBS` kept out of training to validate on.
HELD_OUT_FILES: tuple[str, ...] = (
    "03-Sunday-drivers", "13-Stephenson-blues", "22-Variable-Journeys", "41-Libertador", "48-Techno-movement", "104",
)

#: DMX MUS scores tick at 140 Hz.
MUS_RATE_HZ = 140

#: `find_pieces` drops pieces shorter than this.
MIN_DURATION_S = 30.0
#: Least share of note onsets on a 16th or 8th-triplet grid (`grid_fit`).
MIN_ON_GRID = 0.8
#: Least share of note onsets on a beat (chance is about 1/6 of the beat's 16ths and triplets).
MIN_ON_BEAT = 0.25


def read_wad(data: bytes) -> list[tuple[str, bytes]]:
    """Every lump of a WAD file as ``(name, bytes)``, in directory order.

    Raises
    ------
    ValueError
        Not a WAD, or a directory entry points outside the file.

    Examples
    --------
    >>> wad = b"PWAD" + struct.pack("<ii", 1, 14) + b"hi" + struct.pack("<ii8s", 12, 2, b"D_X")
    >>> read_wad(wad)
    [('D_X', b'hi')]
    """
    if len(data) < 12 or data[:4] not in (b"IWAD", b"PWAD"):
        raise ValueError("not a WAD file (no IWAD/PWAD id)")
    n_lumps, dir_offset = struct.unpack_from("<ii", data, 4)
    if n_lumps < 0 or dir_offset < 12 or dir_offset + 16 * n_lumps > len(data):
        raise ValueError("WAD directory outside the file")
    lumps = []
    for k in range(n_lumps):
        offset, size, raw_name = struct.unpack_from("<ii8s", data, dir_offset + 16 * k)
        if offset < 0 or size < 0 or offset + size > len(data):
            raise ValueError(f"WAD lump {k} outside the file")
        name = raw_name.split(b"\0", 1)[0].decode("ascii", "replace")
        lumps.append((name, data[offset : offset + size]))
    return lumps


def music_lumps(data: bytes) -> list[tuple[str, bytes, bool]]:
    """The music lumps (``D_*``) of a WAD as ``(name, Standard MIDI File, converted from MUS)``.

    Lumps that are neither MIDI nor MUS (none in ``freedoom``) are skipped.
    """
    out = []
    for name, lump in read_wad(data):
        if not name.upper().startswith("D_"):
            continue
        if lump[:4] == b"MThd":
            out.append((name, lump, False))
        elif lump[:4] == b"MUS\x1a":
            out.append((name, mus_to_midi(lump), True))
    return out


# MUS controller numbers 1..9 -> MIDI controllers (0 is a program change).
_MUS_CONTROLLERS = (0, 0, 1, 7, 10, 11, 91, 93, 64, 67)
# MUS system events 10..14 -> MIDI channel-mode controllers.
_MUS_SYSTEM = {10: 120, 11: 123, 12: 126, 13: 127, 14: 121}


def _mus_channel(c: int) -> int:
    """MUS channel 15 is percussion (MIDI channel 10, index 9); 9..14 move up one to make room."""
    if c == 15:
        return 9
    return c + 1 if c >= 9 else c


def mus_to_midi(data: bytes) -> bytes:
    """Convert a DMX MUS score to a format-1 Standard MIDI File.

    MUS layout: ``MUS\\x1a``, then little-endian uint16s score length, score offset, primary
    and secondary channel counts, instrument count and a reserved word, then the instrument
    list; the score is a stream of events. Each event byte holds a "delay follows" flag (bit
    7), the event type (bits 4-6) and the channel (bits 0-3): 0 release note (key), 1 play
    note (key with bit 7 set when a volume byte follows; otherwise the channel's last volume),
    2 pitch wheel (0..255, 128 centered), 3 system event (channel-mode controller), 4 change
    controller (number, value; number 0 is the instrument), 5 end of measure, 6 end of score.
    A delay is a MIDI-style variable-length count of 140 Hz ticks.

    The MIDI file has 70 ticks per quarter note at 120 BPM, so its ticks are the score's. MUS
    scores carry no tempo or meter, so the beat grid of the result is not the music's.

    Raises
    ------
    ValueError
        Not a MUS lump, or a truncated or unknown event.
    """
    if data[:4] != b"MUS\x1a" or len(data) < 16:
        raise ValueError("not a MUS lump")
    score_len, score_start = struct.unpack_from("<HH", data, 4)
    end = min(len(data), score_start + score_len)
    ppq = MUS_RATE_HZ // 2  # at 120 BPM a quarter note lasts 0.5 s
    events: list[tuple[int, int, bytes]] = [(0, 0, b"\xff\x51\x03" + (500_000).to_bytes(3, "big"))]
    volume = [127] * 16
    p, tick, k = score_start, 0, 0
    try:
        while p < end:
            head = data[p]
            p += 1
            kind, ch = (head >> 4) & 7, _mus_channel(head & 0x0F)
            raw: bytes | None = None
            if kind == 0:
                raw = bytes([0x80 | ch, data[p] & 0x7F, 0])
                p += 1
            elif kind == 1:
                key = data[p]
                p += 1
                if key & 0x80:
                    volume[ch] = data[p] & 0x7F
                    p += 1
                raw = bytes([0x90 | ch, key & 0x7F, volume[ch]])
            elif kind == 2:
                bend = data[p] << 6  # 8-bit wheel to 14-bit, 128 -> 8192 (centered)
                p += 1
                raw = bytes([0xE0 | ch, bend & 0x7F, bend >> 7])
            elif kind == 3:
                ctl = _MUS_SYSTEM.get(data[p])
                p += 1
                if ctl is not None:
                    raw = bytes([0xB0 | ch, ctl, 0])
            elif kind == 4:
                num, val = data[p], min(data[p + 1], 127)
                p += 2
                if num == 0:
                    raw = bytes([0xC0 | ch, val])
                elif num < len(_MUS_CONTROLLERS):
                    raw = bytes([0xB0 | ch, _MUS_CONTROLLERS[num], val])
            elif kind == 6:
                break
            elif kind != 5:
                raise ValueError(f"MUS event type {kind} at byte {p - 1}")
            if raw is not None:
                events.append((tick, k, raw))
                k += 1
            if head & 0x80:  # MUS delays use MIDI's variable-length quantity
                delay, p = read_varlen(data, p)
                tick += delay
    except IndexError as e:
        raise ValueError("truncated MUS score") from e
    return smf_bytes([events], ppq=ppq)


def grid_fit(timing: MidiTiming) -> tuple[float, float]:
    """``(on grid, on beat)``: shares of note onsets on a 16th/8th-triplet grid and on a beat.

    Both within 1/24 (of a quarter note; of the beat for the second, `beat_phase_shares`).
    Music written to its sequencer's grid scores near 1 and well above 1/6; free-time scores
    near 0.65 and 1/6 (chance).
    """
    on = timing.onsets.astype(np.float64)
    if on.size == 0:
        return 0.0, 0.0
    q = timing.ppq
    tol = q / 24.0

    def near(step: float) -> npt.NDArray[np.bool_]:
        r = np.mod(on, step)
        return np.asarray(np.minimum(r, step - r) <= tol)

    return float(np.mean(near(q / 4) | near(q / 6))), float(beat_phase_shares(timing)[0])


def beat_phase_shares(timing: MidiTiming) -> npt.NDArray[np.float64]:
    """Shares of note onsets on each sixteenth of the labelled beat: ``(on the beat, 1/4, 1/2, 3/4)``.

    Each within 1/24 of its beat. A piece whose labelled beats are where its notes fall has
    the largest share on the beat; one whose grid is shifted (a pickup written from tick 0, or
    a conversion that lost an offset) has it on another sixteenth and would teach late or
    off-beat labels.
    """
    on = timing.onsets.astype(np.float64)
    beats, _ = beat_grid(timing.meter, timing.ppq, timing.last_tick + 4 * timing.ppq)
    out = np.zeros(4)
    if on.size == 0 or beats.size < 2:
        return out
    b = beats.astype(np.float64)
    i = np.clip(np.searchsorted(b, on, side="right") - 1, 0, b.size - 2)
    frac = (on - b[i]) / (b[i + 1] - b[i])
    for k in range(4):
        d = np.abs(frac - k / 4.0)
        out[k] = float(np.mean(np.minimum(d, 1.0 - d) <= 1.0 / 24.0))
    return out


@dataclass(frozen=True, slots=True)
class WadPiece:
    """One piece: its Standard MIDI File and labels from its tempo map and meter.

    Attributes
    ----------
    name : str
        Lump name, e.g. ``D_E1M1``.
    midi : bytes
        The Standard MIDI File.
    timing : MidiTiming
    beats_s, downbeats_s : (n,) float64
        Beat and downbeat times (s), from tick 0 to the last event.
    duration_s : float
        Time of the last event (s).
    from_mus : bool
        Converted from a MUS score (its grid is not the music's).
    """

    name: str
    midi: bytes
    timing: MidiTiming
    beats_s: npt.NDArray[np.float64]
    downbeats_s: npt.NDArray[np.float64]
    duration_s: float
    from_mus: bool = False


def piece_from_midi(name: str, midi: bytes, *, from_mus: bool = False) -> WadPiece:
    """Label a Standard MIDI File: beats and downbeats (s) from its tempo map and meter."""
    t = read_timing(midi, name)
    beats, downs = beat_grid(t.meter, t.ppq, t.last_tick)
    return WadPiece(
        name, midi, t, tick_to_seconds(beats, t.tempo, ppq=t.ppq), tick_to_seconds(downs, t.tempo, ppq=t.ppq),
        float(tick_to_seconds([t.last_tick], t.tempo, ppq=t.ppq)[0]), from_mus,
    )


def find_pieces(
    wads: tuple[str, ...] = FREEDOOM_WADS, *, held_out: bool = False, exclude: tuple[str, ...] = ()
) -> list[WadPiece]:
    """The usable music of the WADs that exist (sorted by name; empty if none is installed).

    Drops exact duplicates (first by name wins), MUS scores, pieces shorter than
    `MIN_DURATION_S`, pieces off their grid (`grid_fit` below `MIN_ON_GRID` or
    `MIN_ON_BEAT`) and pieces with more onsets on another sixteenth than on the labelled beat
    (`beat_phase_shares`).

    Parameters
    ----------
    wads : tuple of str
        WAD paths; missing ones are skipped.
    held_out : bool
        Return only the `HELD_OUT` pieces instead of all the others.
    exclude : tuple of str
        More lump names to leave out.
    """
    import os

    found: dict[str, tuple[bytes, bool]] = {}
    for path in wads:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        for name, midi, from_mus in music_lumps(data):
            found.setdefault(name, (midi, from_mus))
    seen: set[bytes] = set()
    pieces = []
    for name in sorted(found):
        midi, from_mus = found[name]
        digest = hashlib.sha1(midi).digest()
        if digest in seen:
            continue
        seen.add(digest)
        if (name in HELD_OUT) != held_out or name in exclude or from_mus:
            continue
        piece = piece_from_midi(name, midi, from_mus=from_mus)
        if _usable(piece):
            pieces.append(piece)
    return pieces


def _usable(piece: WadPiece) -> bool:
    """Long enough, written to its grid, with its notes on the labelled beats (see `find_pieces`)."""
    on_grid, on_beat = grid_fit(piece.timing)
    shares = beat_phase_shares(piece.timing)
    on_phase = bool(shares[0] >= shares[1:].max())
    return piece.duration_s >= MIN_DURATION_S and on_grid >= MIN_ON_GRID and on_beat >= MIN_ON_BEAT and on_phase


def find_file_pieces(
    globs: tuple[str, ...] = GAME_MIDI_GLOBS, *, held_out: bool = False, held_out_names: tuple[str, ...] = HELD_OUT_FILES
) -> list[WadPiece]:
    """The usable Standard MIDI Files matching ``globs`` (empty if none is installed), by the
    rules of `find_pieces`, named by file stem, in path order. ``held_out`` returns only the
    files named in ``held_out_names`` instead of all the others. Unreadable files are skipped;
    ``.gz`` files are read decompressed."""
    import glob
    import gzip
    import os

    seen: set[bytes] = set()
    pieces = []
    for path in sorted(p for g in globs for p in glob.glob(g)):
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
            midi = f.read()
        name = os.path.basename(path).removesuffix(".gz").rsplit(".", 1)[0]
        digest = hashlib.sha1(midi).digest()
        if digest in seen or (name in held_out_names) != held_out:
            continue
        seen.add(digest)
        try:
            piece = piece_from_midi(name, midi)
        except ValueError:
            continue
        if _usable(piece):
            pieces.append(piece)
    return pieces
