"""In-process FluidSynth rendering of training MIDI, checked against the fluidsynth command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lumen.analysis.train import synth
from lumen.analysis.train.beat import find_alt_soundfont
from lumen.analysis.train.compose import compose
from lumen.analysis.train.synth import BLOCK, FluidRenderer, render_midi

#: A small soundfont (6 MB, fast to load); setup.sh installs it with fluidsynth.
SF2 = find_alt_soundfont("TimGM6mb.sf2")


def piece(tmp_path: Path, seed: int, name: str = "p.mid", seconds: float = 8.0) -> str:
    path = str(tmp_path / name)
    compose(np.random.default_rng(seed), seconds).write(path)
    return path


def test_in_process_render_matches_the_fluidsynth_command(tmp_path: Path) -> None:
    path = piece(tmp_path, 3)
    ours = render_midi(path, 22050, SF2)
    cmd = render_midi(path, 22050, SF2, in_process=False)
    assert ours.dtype == np.float32 and cmd.dtype == np.float32
    assert cmd.size <= ours.size < cmd.size + 2 * BLOCK  # whole blocks: at most one block longer
    assert np.corrcoef(ours[: cmd.size], cmd)[0, 1] > 0.999
    assert np.sqrt(np.mean(ours**2)) > 1e-3  # not silence


def test_a_render_depends_on_nothing_rendered_before_it(tmp_path: Path) -> None:
    a, b = piece(tmp_path, 4, "a.mid"), piece(tmp_path, 5, "b.mid")
    r = FluidRenderer(SF2, 22050)
    try:
        first = r.render(a)
        r.render(b)
        again = r.render(a)
    finally:
        r.close()
    np.testing.assert_array_equal(first, again)


def test_a_render_stopped_early_is_the_start_of_the_whole_render(tmp_path: Path) -> None:
    path = piece(tmp_path, 8)
    whole = render_midi(path, 22050, SF2)
    start = render_midi(path, 22050, SF2, max_s=2.0)
    assert 2.0 * 22050 <= start.size < 2.0 * 22050 + BLOCK < whole.size
    np.testing.assert_array_equal(start, whole[: start.size])
    cmd = render_midi(path, 22050, SF2, in_process=False, max_s=2.0)
    assert cmd.size == 2 * 22050


def test_bad_files_and_a_closed_renderer_raise(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    with pytest.raises(RuntimeError, match="not a standard MIDI file"):
        render_midi(str(bad), 22050, SF2)
    with pytest.raises(RuntimeError, match="could not load the soundfont"):
        FluidRenderer(str(bad), 22050)
    r = FluidRenderer(SF2, 22050)
    r.close()
    with pytest.raises(RuntimeError, match="closed"):
        r.render(piece(tmp_path, 6))


def test_the_per_process_renderers_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "_RENDERERS", {})
    path = piece(tmp_path, 7, seconds=3.0)
    seconds = []
    for sr in (16000, 22050, 32000, 44100, 48000, 8000):
        seconds.append(render_midi(path, sr, SF2).size / sr)
    assert max(seconds) - min(seconds) < 2 * BLOCK / 8000 and min(seconds) > 3.0  # the same piece at every rate
    kept = synth._RENDERERS
    assert len(kept) == synth.MAX_RENDERERS
    assert (SF2, 8000) in kept and (SF2, 16000) not in kept
    for r in kept.values():
        r.close()


def test_without_the_library_the_command_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = piece(tmp_path, 9, seconds=3.0)
    cmd = render_midi(path, 22050, SF2, in_process=False, max_s=2.5)
    monkeypatch.setattr(synth, "_RENDERERS", {})
    monkeypatch.setattr(synth, "_lib", None)
    monkeypatch.setattr(synth, "_lib_error", OSError("libfluidsynth.so.3: cannot open shared object file"))
    np.testing.assert_array_equal(render_midi(path, 22050, SF2, max_s=2.5), cmd)
    assert synth._RENDERERS == {}
