"""Training data from WAD music: the WAD reader, the MUS converter, meters, beat grids, crops."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from lumen.analysis.train.midi import (
    Note,
    Track,
    beat_grid,
    crop_midi,
    read_events,
    read_timing,
    seconds_to_tick,
    smf_bytes,
    tick_to_seconds,
    write_midi,
)
from lumen.analysis.train.wadmidi import (
    MUS_RATE_HZ,
    beat_phase_shares,
    find_file_pieces,
    grid_fit,
    mus_to_midi,
    music_lumps,
    piece_from_midi,
    read_wad,
)


def _mus(score: bytes, instruments: tuple[int, ...] = (0,)) -> bytes:
    """A MUS lump around ``score`` (header, instrument list, score)."""
    start = 16 + 2 * len(instruments)
    head = b"MUS\x1a" + struct.pack("<HHHHHH", len(score), start, 2, 0, len(instruments), 0)
    return head + struct.pack(f"<{len(instruments)}H", *instruments) + score


# Channel 0: instrument 30, play key 60 at volume 100; channel 15 (percussion): play key 36
# with no volume byte (the channel's last, 127 at the start), then wait 140 ticks (1 s, a
# two-byte delay); release both, wait 70 ticks; center the pitch wheel of channel 1; end of
# measure; end of score (what follows is never read).
_SCORE = bytes(
    [
        0x40, 0, 30,  # change controller 0 (instrument) on channel 0
        0x10, 0x80 | 60, 100,  # play note 60, volume 100
        0x80 | 0x1F, 36, 0x81, 0x0C,  # play note 36 on channel 15, then a delay of 140 ticks (varlen 0x81 0x0C)
        0x00, 60,  # release note 60 (channel 0)
        0x80 | 0x0F, 36, 70,  # release 36 on channel 15, then 70 ticks
        0x21, 128,  # pitch wheel on channel 1, centered
        0x50,  # end of measure
        0x60,  # end of score
        0x10, 61, 0,  # after the end: never read
    ]
)  # fmt: skip


def _wad(lumps: list[tuple[str, bytes]], ident: bytes = b"PWAD") -> bytes:
    body = b""
    entries = b""
    for name, data in lumps:
        entries += struct.pack("<ii8s", 12 + len(body), len(data), name.encode())
        body += data
    return ident + struct.pack("<ii", len(lumps), 12 + len(body)) + body + entries


def test_wad_directory_is_read_in_order() -> None:
    wad = _wad([("MAP01", b"xyz"), ("D_RUNNIN", b"MThd..."), ("D_EMPTY", b"")], b"IWAD")
    assert read_wad(wad) == [("MAP01", b"xyz"), ("D_RUNNIN", b"MThd..."), ("D_EMPTY", b"")]


@pytest.mark.parametrize(
    "bad",
    [b"", b"JUNK" + bytes(8), b"PWAD" + struct.pack("<ii", 5, 12), b"PWAD" + struct.pack("<ii", 1, 12) + struct.pack("<ii8s", 0, 99, b"X")],
)
def test_malformed_wads_raise(bad: bytes) -> None:
    with pytest.raises(ValueError):
        read_wad(bad)


def test_mus_lump_converts_to_midi_with_channels_volumes_and_delays() -> None:
    midi = mus_to_midi(_mus(_SCORE))
    ppq, tracks = read_events(midi)
    assert ppq == MUS_RATE_HZ // 2 and len(tracks) == 1
    events = tracks[0]
    assert events[0] == (0, b"\xff\x51\x03" + (500_000).to_bytes(3, "big"))  # 120 BPM: a tick is 1/140 s
    assert events[1:] == [
        (0, bytes([0xC0, 30])),
        (0, bytes([0x90, 60, 100])),
        (0, bytes([0x99, 36, 127])),  # MUS channel 15 is General MIDI percussion (channel 10)
        (140, bytes([0x80, 60, 0])),
        (140, bytes([0x89, 36, 0])),
        (210, bytes([0xE1, 0x00, 0x40])),  # 128 << 6 = 8192, the centered 14-bit wheel
    ]
    t = read_timing(midi)
    assert t.onsets.tolist() == [0, 0] and t.drum_onsets == 1
    np.testing.assert_allclose(tick_to_seconds([140, 210], t.tempo, ppq=t.ppq), [1.0, 1.5])


def test_music_lumps_keep_midi_convert_mus_and_skip_the_rest() -> None:
    smf = smf_bytes([[(0, 0, bytes([0x90, 60, 1]))]], ppq=96)
    wad = _wad([("D_A", smf), ("D_B", _mus(_SCORE)), ("D_C", b"OggS"), ("E1M1", smf)])
    got = music_lumps(wad)
    assert [(n, m) for n, _, m in got] == [("D_A", False), ("D_B", True)]
    assert got[0][1] == smf and got[1][1][:4] == b"MThd"


@pytest.mark.parametrize("score", [b"\x10", b"\x70\x00", b"\x41\x00"])
def test_truncated_or_unknown_mus_events_raise(score: bytes) -> None:
    with pytest.raises(ValueError):
        mus_to_midi(_mus(score))


def test_time_signatures_are_read_and_compound_meters_beat_in_dotted_quarters() -> None:
    ppq = 4
    conductor = [
        (0, 0, b"\xff\x58\x04" + bytes([6, 3, 24, 8])),  # 6/8
        (0, 1, b"\xff\x51\x03" + (500_000).to_bytes(3, "big")),
        (12, 0, b"\xff\x58\x04" + bytes([3, 2, 24, 8])),  # 3/4 from bar 3
    ]
    notes = [(k, 2, bytes([0x90, 60, 90])) for k in (0, 6, 12, 16)] + [(30, 2, bytes([0x80, 60, 0]))]
    t = read_timing(smf_bytes([conductor, notes], ppq=ppq))
    assert t.meter == [(0, 6, 8), (12, 3, 4)] and t.last_tick == 30
    beats, downs = beat_grid(t.meter, ppq, t.last_tick)
    assert beats.tolist() == [0, 6, 12, 16, 20, 24, 28] and downs.tolist() == [0, 12, 24]
    piece = piece_from_midi("D_TEST", smf_bytes([conductor, notes], ppq=ppq))
    np.testing.assert_allclose(piece.beats_s, beats * 0.125)  # 120 BPM, 4 ticks a quarter
    np.testing.assert_allclose(piece.downbeats_s, [0.0, 1.5, 3.0])
    assert grid_fit(piece.timing) == (1.0, 1.0)


def test_beat_phase_shares_find_a_grid_shifted_by_a_sixteenth() -> None:
    ppq = 8  # a sixteenth is 2 ticks

    def piece(offset: int) -> bytes:
        notes = []
        for beat in range(16):  # a note on every beat, another on its "and", all shifted
            for at in (0, ppq // 2):
                tick = beat * ppq + at + offset
                notes += [(tick, 2, bytes([0x90, 60, 90])), (tick + 1, 1, bytes([0x80, 60, 0]))]
        return smf_bytes([sorted(notes)], ppq=ppq)

    on = beat_phase_shares(read_timing(piece(0)))
    assert on[0] == pytest.approx(0.5) and on[2] == pytest.approx(0.5) and on[1] == on[3] == 0.0
    late = beat_phase_shares(read_timing(piece(2)))  # labels a sixteenth before the notes
    assert late[0] == 0.0 and late[1] == pytest.approx(0.5) and late[1] > late[0]


def test_files_without_meter_or_tempo_default_to_4_4_at_120_bpm() -> None:
    t = read_timing(smf_bytes([[(0, 0, bytes([0x90, 60, 90])), (8, 0, bytes([0x80, 60, 0]))]], ppq=2))
    assert t.tempo == [(0, 120.0)] and t.meter == [(0, 4, 4)]
    beats, downs = beat_grid(t.meter, 2, 8)
    assert beats.tolist() == [0, 2, 4, 6] and downs.tolist() == [0]


def test_seconds_to_tick_inverts_tick_to_seconds() -> None:
    tempo = [(0, 120.0), (960, 60.0), (1500, 150.0)]
    ticks = np.array([0, 1, 479, 960, 1200, 1499, 1500, 3000])
    secs = tick_to_seconds(ticks, tempo)
    assert [seconds_to_tick(float(s) + 1e-7, tempo) for s in secs] == ticks.tolist()


def test_crop_keeps_the_setup_shifts_the_excerpt_and_releases_every_channel(tmp_path: Path) -> None:
    path = tmp_path / "t.mid"
    write_midi(str(path), [Track(9, 0, [Note(k * 480, 100, 36, 100) for k in range(8)])], [(0, 120.0), (960, 90.0)], ppq=480)
    data = path.read_bytes()
    out = crop_midi(data, 1200, 2400, tempo_scale=2.0)
    t = read_timing(out)
    assert len(t.tempo) == 1 and t.tempo[0][0] == 0  # only the tempo in force at the cut
    assert t.tempo[0][1] == pytest.approx(180.0, rel=1e-5)  # 90 BPM, played twice as fast
    assert t.onsets.tolist() == [240, 240 + 480]  # notes at 1440 and 1920
    _, tracks = read_events(out)
    assert (0, bytes([0xC9, 0])) in tracks[1]  # the program change before the cut is kept
    release = tracks[-1]
    assert {raw[0] & 0x0F for _, raw in release} == set(range(16)) and {tk for tk, _ in release} == {1200}


def test_midi_files_are_found_filtered_deduplicated_and_held_out_by_name(tmp_path: Path) -> None:
    """`find_file_pieces` keeps long pieces written to their grid, once each, and splits off the held-out names."""
    on_grid = [Track(9, 0, [Note(k * 480, 100, 36 if k % 2 else 38, 100) for k in range(80)])]  # 40 s at 120 BPM
    write_midi(str(tmp_path / "a.mid"), on_grid, [(0, 120.0)], ppq=480)
    (tmp_path / "a_copy.mid").write_bytes((tmp_path / "a.mid").read_bytes())  # an exact duplicate
    write_midi(str(tmp_path / "b.mid"), on_grid, [(0, 96.0)], ppq=480)
    off = [Track(0, 0, [Note(k * 457 + 61, 100, 60, 90) for k in range(90)])]  # notes off any grid
    write_midi(str(tmp_path / "c.mid"), off, [(0, 120.0)], ppq=480)
    write_midi(str(tmp_path / "short.mid"), [Track(9, 0, [Note(k * 480, 100, 36, 100) for k in range(8)])], [(0, 120.0)], ppq=480)
    (tmp_path / "junk.mid").write_bytes(b"MThd not really")
    globs = (str(tmp_path / "*.mid"),)
    train = find_file_pieces(globs, held_out_names=("b",))
    held = find_file_pieces(globs, held_out=True, held_out_names=("b",))
    assert [p.name for p in train] == ["a"]
    assert [p.name for p in held] == ["b"]
    assert held[0].beats_s[:3] == pytest.approx([0.0, 0.625, 1.25])  # 96 BPM
    assert find_file_pieces((str(tmp_path / "none" / "*.mid"),)) == []


def test_gzipped_midi_files_are_read_decompressed_and_named_without_their_suffixes(tmp_path: Path) -> None:
    import gzip

    notes = [Track(9, 0, [Note(k * 480, 100, 36 if k % 2 else 38, 100) for k in range(80)])]
    write_midi(str(tmp_path / "plain.mid"), notes, [(0, 100.0)], ppq=480)
    write_midi(str(tmp_path / "tune.mid"), notes, [(0, 132.0)], ppq=480)
    (tmp_path / "packed.mid.gz").write_bytes(gzip.compress((tmp_path / "tune.mid").read_bytes()))
    (tmp_path / "tune.mid").unlink()
    pieces = find_file_pieces((str(tmp_path / "*.mid"), str(tmp_path / "*.mid.gz")), held_out_names=())
    assert [p.name for p in pieces] == ["packed", "plain"]  # in path order
    assert np.diff(pieces[0].beats_s[:2])[0] == pytest.approx(60.0 / 132.0, abs=1e-5)  # tempo in whole µs per quarter
