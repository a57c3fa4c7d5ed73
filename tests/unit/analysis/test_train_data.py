"""Training data: the MIDI writer and reader, the composer's labels, the per-hop targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lumen.analysis.train.beat import _targets
from lumen.analysis.train.compose import PPQ, STYLES, compose
from lumen.analysis.train.midi import Note, Track, read_tempo_map, tick_to_seconds, write_midi


def test_tempo_map_round_trips_through_a_midi_file(tmp_path: Path) -> None:
    tempo = [(0, 120.0), (4 * PPQ, 90.0), (9 * PPQ, 150.5)]
    tr = Track(9, 0, [Note(k * PPQ, 60, 36, 100) for k in range(16)])
    path = tmp_path / "t.mid"
    write_midi(str(path), [tr], tempo, ppq=PPQ, time_signature=(3, 4))
    got, ppq, last = read_tempo_map(str(path))
    assert ppq == PPQ and last == 15 * PPQ + 60
    assert [t for t, _ in got] == [t for t, _ in tempo]
    np.testing.assert_allclose([b for _, b in got], [b for _, b in tempo], rtol=1e-5)
    np.testing.assert_allclose(tick_to_seconds([4 * PPQ, 5 * PPQ], got, ppq=ppq), [2.0, 2.0 + 60 / 90], rtol=1e-6)


@pytest.mark.parametrize("style", STYLES)
def test_composed_pieces_have_consistent_labels(style: str) -> None:
    piece = compose(np.random.default_rng(7), 20.0, style=style)
    b, d = piece.beats_s, piece.downbeats_s
    assert b.size > 10 and np.all(np.diff(b) > 0) and b[-1] < 20.0
    assert set(np.round(d, 9)) <= set(np.round(b, 9))
    idx = np.searchsorted(b, d)
    assert np.all(np.diff(idx) == piece.meter)  # a downbeat every bar
    assert piece.tracks and all(t.notes for t in piece.tracks)


def test_a_pushed_piece_anticipates_its_bar_lines_and_keeps_its_labels() -> None:
    plain = compose(np.random.default_rng(11), 20.0, style="rock")
    pushed = compose(np.random.default_rng(11), 20.0, style="rock", push=1.0)
    assert pushed.info["push"] and not plain.info.get("push")
    np.testing.assert_array_equal(pushed.beats_s, plain.beats_s)  # the labels stay on the grid
    np.testing.assert_array_equal(pushed.downbeats_s, plain.downbeats_s)
    bass = next(t for t in pushed.tracks if t.channel == 1)
    onsets = np.array([n.tick for n in bass.notes]) / PPQ  # quarter notes
    sw = 0.5 + pushed.info["swing"] / 6.0  # where the (swung) eighth after a beat falls
    early = np.isclose(onsets % 1.0, sw, atol=0.08)
    assert early.any()  # some bass notes come an eighth before a beat...
    lands = (onsets[early] + 1.0 - sw) % pushed.meter
    assert np.all(np.minimum(lands, pushed.meter - lands) < 0.1)  # ...and only before bar lines
    plain_bass = next(t for t in plain.tracks if t.channel == 1)
    assert not np.isclose(np.array([n.tick for n in plain_bass.notes]) / PPQ % 1.0, sw, atol=0.08).any()


def test_targets_mark_the_hop_of_each_beat_and_its_neighbours() -> None:
    y = _targets(100, 100.0, np.array([0.105, 0.5]), np.array([0.5]))
    assert y.dtype == np.float16
    assert y[10, 0] == 1.0 and y[9, 0] == 0.5 and y[11, 0] == 0.5 and y[50, 0] == 1.0
    assert y[50, 1] == 1.0 and y[10, 1] == 0.0 and y.sum() == pytest.approx(2 * 2 + 2)


def test_each_shipped_member_was_trained_with_its_member_config() -> None:
    """`lumen train beat --member NAME` trains with the settings stored beside the shipped weights."""
    import json
    from dataclasses import asdict

    from lumen.analysis.beat.model import MEMBERS, member_files
    from lumen.analysis.train.beat import MEMBER_CONFIGS

    assert set(MEMBER_CONFIGS) == set(MEMBERS)
    for f in member_files():
        train = json.loads(f.with_suffix(".json").read_text())["train"]
        cfg = {k: v for k, v in asdict(MEMBER_CONFIGS[train["member"]]).items() if k != "model"}
        assert MEMBERS[train["member"]] == f.name
        # Weights trained before a setting existed store no value for it; it must then be off.
        stored = {k: train.get(k, () if isinstance(v, tuple) else 0) for k, v in cfg.items()}
        assert {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()} == cfg, f.name
        model = json.loads(f.with_suffix(".json").read_text())["model"]
        want = asdict(MEMBER_CONFIGS[train["member"]].model)
        assert {k: tuple(v) if isinstance(v, list) else v for k, v in {**want, "arch": "gru", **model}.items()} == want, f.name


def test_a_midi_clip_rendered_with_another_soundfont_keeps_its_labels() -> None:
    """``alt_soundfont_share`` changes the instruments of a render, never the piece or its labels."""
    from lumen.analysis.train.beat import find_alt_soundfont, find_soundfont, make_clip

    sf2, alt = find_soundfont(), (find_alt_soundfont("TimGM6mb.sf2"),)
    plain = make_clip(0, 5, 1, 6.0, sf2, n_dance=0, n_recorded=0)
    other = make_clip(0, 5, 1, 6.0, sf2, n_dance=0, n_recorded=0, alt_sf2=alt, alt_share=1.0)
    again = make_clip(0, 5, 1, 6.0, sf2, n_dance=0, n_recorded=0, alt_sf2=alt, alt_share=1.0)
    assert plain.kind == other.kind and plain.kind.startswith("midi:")
    np.testing.assert_array_equal(plain.y, other.y)
    assert plain.y[:, 0].max() == 1.0
    assert plain.x.shape == other.x.shape
    assert float(np.abs(plain.x.astype(np.float32) - other.x.astype(np.float32)).mean()) > 0.01
    np.testing.assert_array_equal(other.x, again.x)  # deterministic


def test_a_missing_soundfont_names_its_debian_package() -> None:
    from lumen.analysis.train.beat import find_alt_soundfont

    with pytest.raises(FileNotFoundError, match="no-such-font.sf2"):
        find_alt_soundfont("no-such-font.sf2")


@pytest.mark.parametrize("source", ["files", "mma"])
def test_clips_from_game_midi_files_and_mma_charts_are_labelled_and_reproducible(source: str) -> None:
    """``source`` clips: one beat target per labelled beat, downbeats among them, the same clip for the same index."""
    import shutil

    from lumen.analysis.train.beat import _file_pieces, find_soundfont, make_clip

    if source == "files" and not (_file_pieces() and _file_pieces(True)):
        pytest.skip("needs the Debian packages simutrans-data and freedink-data (scripts/setup.sh)")
    if source == "mma" and shutil.which("mma") is None:
        pytest.skip("needs the Debian package mma (scripts/setup.sh)")
    sf2 = find_soundfont()
    a = make_clip(3, 5, 0, 8.0, sf2, n_dance=0, n_recorded=0, source=source)
    b = make_clip(3, 5, 0, 8.0, sf2, n_dance=0, n_recorded=0, source=source)
    assert a.kind.startswith(f"{source}:") and a.kind == b.kind
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.x, b.x)
    beats, downs = a.y[:, 0], a.y[:, 1]
    assert int((beats == 1.0).sum()) >= 4 and 0 < int((downs == 1.0).sum()) < int((beats == 1.0).sum())
    assert np.all(beats[downs == 1.0] == 1.0)
    held = make_clip(0, 5, 0, 8.0, sf2, n_dance=0, n_recorded=0, held_out=True, source="files") if source == "files" else None
    assert held is None or held.kind.startswith("files-held-out:")
    with pytest.raises(ValueError, match="unknown clip source"):
        make_clip(0, 5, 0, 8.0, sf2, n_dance=0, n_recorded=0, source="nope")
