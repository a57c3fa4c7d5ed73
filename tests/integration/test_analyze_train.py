"""`lumen analyze` and `lumen train beat`, through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lumen.audio.music import MusicGenerator, MusicParams

LUMEN = [sys.executable, "-m", "lumen.cli"]


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUMEN, *args], capture_output=True, text=True, timeout=timeout)


def test_analyze_writes_beats_tempo_and_a_plot(tmp_path: Path) -> None:
    gen = MusicGenerator(MusicParams(bpm=126.0, seed=4), sr=44100)
    wav = tmp_path / "song.wav"
    sf.write(wav, gen.render_seconds(20.0), 44100)
    out, png = tmp_path / "a.json", tmp_path / "a.png"
    r = run("analyze", str(wav), "--json", str(out), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert {"beats", "downbeats", "tempo", "confidence", "energy", "bands"} <= set(doc)
    beats = np.array(doc["beats"])
    assert np.all(np.diff(beats) > 0)
    late = beats[beats > 8.0]  # after the hats-and-pads intro: 12 s at 126 bpm is ~25 beats
    dev = np.abs(np.diff(late) - 60 / 126)  # small phase corrections only
    assert 23 <= len(late) <= 27 and np.median(dev) < 0.01 and dev.max() < 0.06
    assert set(doc["downbeats"]) <= set(doc["beats"])
    t, bpm = np.array(doc["tempo"]).T
    assert abs(np.median(bpm[t > 8]) - 126.0) < 2.5
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_names_an_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "not_audio.wav"
    bad.write_text("hello")
    r = run("analyze", str(bad), "--json", str(tmp_path / "x.json"))
    assert r.returncode == 3 and "not_audio.wav" in r.stderr


@pytest.mark.slow
def test_train_beat_runs_end_to_end_and_the_weights_load(tmp_path: Path) -> None:
    r = run("train", "beat", "--member", "gm", "--out", str(tmp_path), "--clips", "4", "--steps", "3", "--seed", "5", "--workers", "1", timeout=280)
    assert r.returncode == 0, r.stderr
    from lumen.analysis.beat.model import load_weights

    model, meta = load_weights(tmp_path / "beat_gru.pt")
    assert meta["train"]["seed"] == 5 and meta["train"]["steps"] == 3
    assert meta["data"]["clips"] == 5 and meta["data"]["kinds"]
    # The other architecture, on request: its config says so and it loads (strictly) as that.
    other = "gru" if meta["model"]["arch"] == "tcn" else "tcn"
    r = run("train", "beat", "--member", "gm", "--out", str(tmp_path / other), "--clips", "2", "--steps", "2", "--arch", other,
            "--workers", "1", timeout=280)
    assert r.returncode == 0, r.stderr
    model2, meta2 = load_weights(tmp_path / other / "beat_gru.pt")
    assert meta2["model"]["arch"] == other and hasattr(model2, "convs") == (other == "tcn")
    refused = run("train", "beat", "--member", "gm", "--out", str(tmp_path / "x"), "--arch", "gru", "--dropout", "0.1")
    assert refused.returncode != 0 and "--dropout applies to a TCN only" in refused.stderr


@pytest.mark.slow
def test_train_beat_all_members_side_by_side(tmp_path: Path) -> None:
    # Every member, two at a time in their own processes (one torch thread each), tiny settings.
    r = run("train", "beat", "--member", "all", "--jobs", "2", "--out", str(tmp_path), "--clips", "2", "--steps", "2", "--seed", "3",
            "--workers", "2", timeout=280)
    assert r.returncode == 0, r.stderr
    from lumen.analysis.beat.model import MEMBERS, StreamingBeatModel, load_ensemble, member_file

    for name in MEMBERS:
        meta = json.loads((tmp_path / member_file(name)).with_suffix(".json").read_text())
        assert meta["train"]["member"] == name and meta["train"]["seed"] == 3 and meta["train"]["steps"] == 2
        assert meta["torch_threads"] == 1
        assert f"member {name}:" in r.stdout
    ensemble = StreamingBeatModel([m for m, _meta in load_ensemble(tmp_path)])
    act = ensemble.step(np.zeros(ensemble.n_input, np.float32))
    assert act.shape == (2,) and np.all(np.isfinite(act))


@pytest.mark.slow
def test_a_candidate_member_trains_into_its_own_folder_and_joins_that_folders_ensemble(tmp_path: Path) -> None:
    import shutil

    from lumen.analysis.beat.model import MEMBERS, WEIGHTS_DIR, load_ensemble, member_files

    refused = run("train", "beat", "--member", "band", "--steps", "1")
    assert refused.returncode != 0 and "--out" in refused.stderr
    r = run("train", "beat", "--member", "band", "--out", str(tmp_path), "--clips", "1", "--steps", "2", "--seed", "4", "--workers", "2",
            timeout=280)
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "beat_gru_band.json").read_text())
    kinds = meta["data"]["kinds"]
    assert any(k.startswith("mma:") for k in kinds) and any(k.startswith("files:") for k in kinds)
    assert meta["data"]["files_held_out"] and meta["loss_val_files"] > 0
    assert member_files(tmp_path) == [tmp_path / "beat_gru_band.pt"]
    shutil.copy(WEIGHTS_DIR / MEMBERS["gm"], tmp_path / "beat_gru.pt")
    shutil.copy((WEIGHTS_DIR / MEMBERS["gm"]).with_suffix(".json"), tmp_path / "beat_gru.json")
    assert member_files(tmp_path) == [tmp_path / "beat_gru.pt", tmp_path / "beat_gru_band.pt"]  # members first, then candidates
    assert len(load_ensemble(tmp_path)) == 2
    assert "beat_gru_band.pt" not in [p.name for p in member_files()]  # the package folder holds only the shipped members
