"""`lumen render --offline`: deterministic frames from the audio's clock, MP4 with audio, GIF, PNG."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lumen.audio.music import MusicParams, write_wav
from lumen.engine import render_offline
from lumen.show.load import load_show, load_show_text

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LUMEN = [sys.executable, "-m", "lumen.cli"]
SCENES = REPO / "tests" / "golden" / "scenes"

SHOW = f"""\
version: 1
scenes:
  a:
    modulators:
      kick: {{type: envelope, trigger: beat, release_s: 0.2}}
    layers:
      - {{shader: pulse.fs, params: {{hue: bar_phase, flash: "0.5 * kick"}}}}
      - shader: {SCENES / "ramp.fs"}
        blend: multiply
        opacity: 0.5
    effects: [{{shader: {SCENES / "trail.fs"}, params: {{decay: 0.6}}}}]
wall: {{width: 32, height: 16}}
render: {{fps: 25.0}}
"""


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "track.wav"
    write_wav(path, 3.0, MusicParams(bpm=120.0, seed=3), 22050)
    return path


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("show") / "show.yaml"
    path.write_text(SHOW)
    return path


def _frames(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("frame_*.png"))]


def test_png_frames_are_deterministic(track: Path, show: Path, tmp_path: Path) -> None:
    cfg = load_show(show)
    seen: list[tuple[int, int]] = []
    r1 = render_offline(cfg, show, track, tmp_path / "one.png", seconds=2.0, progress=lambda d, n: seen.append((d, n)))
    r2 = render_offline(cfg, show, track, tmp_path / "two", seconds=2.0)
    assert r1.frames == r2.frames == 50 and (r1.width, r1.height, r1.fps) == (32, 16, 25.0)
    assert seen[-1] == (50, 50) and len(seen) == 50
    one, two = _frames(tmp_path / "one"), _frames(tmp_path / "two")
    assert len(one) == len(two) == 50
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    # The music drives the picture: frames differ, and they are neither black nor saturated.
    assert len({f.tobytes() for f in one}) > 40
    assert 10 < float(np.mean(one)) < 245
    assert r1.problems == {} and r1.n_bypassed == 0 and r1.n_hops == 300


def test_mp4_has_video_and_the_audio(track: Path, show: Path, tmp_path: Path) -> None:
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe not installed")
    out = tmp_path / "clip.mp4"
    res = render_offline(load_show(show), show, track, out, fps=30.0, width=64, height=36)
    assert res.frames == 90
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)], capture_output=True, text=True, check=True)
    streams = {s["codec_type"]: s for s in json.loads(probe.stdout)["streams"]}
    assert streams["video"]["codec_name"] == "h264" and (streams["video"]["width"], streams["video"]["height"]) == (64, 36)
    assert int(streams["video"]["nb_frames"]) == 90
    assert streams["audio"]["codec_name"] == "aac"
    assert abs(float(streams["audio"]["duration"]) - 3.0) < 0.1


def test_gif_and_missing_shader_does_not_stop_the_render(track: Path, tmp_path: Path) -> None:
    cfg = load_show_text("version: 1\nscene: {shader: no_such_shader.fs}\nwall: {width: 16, height: 8}\n")
    res = render_offline(cfg, None, track, tmp_path / "x.gif", fps=10.0, seconds=1.0)
    assert res.frames == 10 and res.n_bypassed == 10
    assert "no_such_shader.fs" in res.problems["no_such_shader.fs"]
    with Image.open(tmp_path / "x.gif") as im:  # identical (black) frames merge; the length stays
        total_ms = 0
        for k in range(im.n_frames):
            im.seek(k)
            total_ms += int(im.info["duration"])
    assert total_ms == 1000


def test_cli_render_offline(track: Path, show: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.gif"
    r = subprocess.run(LUMEN + ["render", "--offline", str(track), "--show", str(show), "--out", str(out), "--fps", "10"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "30 frames 32x16 at 10 fps" in r.stdout and out.stat().st_size > 1000
    bad = subprocess.run(LUMEN + ["render", "--offline", str(tmp_path / "nope.wav"), "--show", str(show), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 3 and "nope.wav" in bad.stderr and "Traceback" not in bad.stderr
    wrong = subprocess.run(LUMEN + ["render", "--offline", str(track), "--show", str(show), "--out", str(tmp_path / "x.avi")],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and ".mp4" in wrong.stderr and "Traceback" not in wrong.stderr
