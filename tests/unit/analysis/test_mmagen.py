"""Training data from MMA: grooves of the standard library, charts played and labelled from the MIDI file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lumen.analysis.train.mmagen import grooves, mma_piece
from lumen.analysis.train.wadmidi import beat_phase_shares

pytestmark = pytest.mark.skipif(shutil.which("mma") is None or not grooves(), reason="needs the Debian package mma (scripts/setup.sh)")


def test_grooves_leave_out_intros_endings_fills_and_click_tracks() -> None:
    lib = dict(grooves())
    assert len(lib) > 50 and sum(len(g) for g in lib.values()) > 300
    assert "metronome" not in lib and "none" not in lib
    names = [g.lower() for gs in lib.values() for g in gs]
    assert not any(w in n for n in names for w in ("intro", "end", "fill"))
    assert "swing" in names and "waltz" in names


def test_a_chart_is_labelled_from_its_tempo_and_meter() -> None:
    """Beats are evenly spaced at the chart's tempo, downbeats start bars, and the notes fall on the beats."""
    for seed in range(6):
        piece, style = mma_piece(np.random.default_rng([11, seed]), 20.0, bpm=120.0)
        assert piece.name.startswith(f"mma:{style}:") and piece.duration_s >= 20.0
        ibi = np.diff(piece.beats_s)
        num, den = piece.timing.meter[0][1:]
        compound = den == 8 and num % 3 == 0  # 6/8, 12/8: a beat is a dotted quarter
        assert ibi == pytest.approx(np.full(ibi.size, 0.75 if compound else 0.5), abs=1e-6)
        assert set(np.round(piece.downbeats_s, 6)) <= set(np.round(piece.beats_s, 6))
        per_bar = num // 3 if compound else num
        assert np.diff(piece.downbeats_s) == pytest.approx(np.full(piece.downbeats_s.size - 1, per_bar * ibi[0]), abs=1e-6)
        assert beat_phase_shares(piece.timing)[0] > 0.15  # well above chance: MMA plays on its grid


def test_the_same_seed_gives_the_same_piece() -> None:
    a, _ = mma_piece(np.random.default_rng(5), 15.0)
    b, _ = mma_piece(np.random.default_rng(5), 15.0)
    assert a.midi == b.midi
