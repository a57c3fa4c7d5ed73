"""Live coding: shaders and show files reload on save; errors are reported, the show runs on."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import moderngl
import numpy as np
import pytest

from lumen.errors import ConfigError, ConfigIssue
from lumen.render.compositor import Compositor
from lumen.scene.plan import LayerPlan, NodePlan, ScenePlan

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "golden" / "scenes"

GOOD = """/*{"INPUTS": [{"NAME": "level", "TYPE": "float", "DEFAULT": 1.0}]}*/
void main() {
    gl_FragColor = vec4(level, 0.0, 0.0, 1.0);
}
"""
BROKEN = GOOD.replace("vec4(level, 0.0, 0.0, 1.0)", "vec4(level, oops, 0.0, 1.0)")  # line 3
FIXED = GOOD.replace("vec4(level, 0.0, 0.0, 1.0)", "vec4(0.0, level, 0.0, 1.0)")


def _write(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))  # distinct mtimes: saves within one clock tick count


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def _plan(shader: str) -> ScenePlan:
    return ScenePlan("s", (LayerPlan(NodePlan("k", shader, {"level": 0.5}), (), 1.0, "normal"),))


@pytest.fixture
def comp(ctx: moderngl.Context, folder: Path) -> Iterator[Compositor]:
    def resolve(name: str) -> Path:
        p = folder / name
        if not p.is_file():
            raise ConfigError([ConfigIssue(str(folder), 0, 0, "shader", f"shader {name!r} not found")])
        return p

    c = Compositor(ctx, 8, 4, resolve=resolve)
    yield c
    c.release()


def test_shader_error_keeps_the_last_good_program_then_the_fix_runs(comp: Compositor, folder: Path) -> None:
    shader = folder / "live.fs"
    _write(shader, GOOD, 1_000_000_000)
    out = comp.new_frame()
    comp.render({}, _plan("live.fs"), None, out)
    assert out[0, 0].tolist() == pytest.approx([0.5, 0.0, 0.0], abs=2e-3)
    assert comp.poll_reload() == []

    _write(shader, BROKEN, 2_000_000_000)
    (event,) = comp.poll_reload()
    assert event.error is not None and event.error.line == 3 and "oops" in event.error.message
    assert comp.problems["live.fs"].startswith(f"{shader}:3:")
    comp.render({}, _plan("live.fs"), None, out)
    assert out[0, 0].tolist() == pytest.approx([0.5, 0.0, 0.0], abs=2e-3)  # last good frame continues
    assert comp.n_reload_errors == 1 and comp.n_bypassed == 0

    _write(shader, FIXED, 3_000_000_000)
    (event,) = comp.poll_reload()
    assert event.error is None and "live.fs" not in comp.problems
    comp.render({}, _plan("live.fs"), None, out)
    assert out[0, 0].tolist() == pytest.approx([0.0, 0.5, 0.0], abs=2e-3)  # the new program runs
    assert comp.n_reloads == 2


def test_a_shader_that_never_compiled_is_bypassed_until_fixed(comp: Compositor, folder: Path) -> None:
    _write(folder / "base.fs", GOOD, 1_000_000_000)
    _write(folder / "bad.fs", BROKEN, 1_000_000_000)
    plan = ScenePlan("s", (LayerPlan(NodePlan("a", "base.fs", {"level": 0.5}), (), 1.0, "normal"),
                           LayerPlan(NodePlan("b", "bad.fs", {"level": 1.0}), (), 1.0, "add"),
                           LayerPlan(NodePlan("c", "late.fs", {"level": 0.25}), (), 1.0, "add")))
    out = comp.new_frame()
    comp.render({}, plan, None, out)
    assert out[0, 0, 0] == pytest.approx(0.5, abs=2e-3) and comp.n_bypassed == 2
    assert set(comp.problems) == {"bad.fs", "late.fs"}
    _write(folder / "bad.fs", GOOD, 2_000_000_000)
    _write(folder / "late.fs", GOOD, 2_000_000_000)  # a missing file that appears later
    events = {e.shader: e.error for e in comp.poll_reload()}
    assert events == {"bad.fs": None, "late.fs": None}
    comp.render({}, plan, None, out)
    assert out[0, 0, 0] == pytest.approx(0.5 + 1.0 + 0.25, abs=3e-3)
    assert comp.problems == {}


# -- the engine: a show file edited while it runs --------------------------------------------------

SHOW = """\
version: 1
scenes:
  a:
    layers: [{{shader: solid.fs, params: {{level: 1.0}}}}]
  b:
    layers: [{{shader: ramp.fs, params: {{level: 1.0}}}}]
    transition: {{kind: cut, quantize: none}}
wall: {{width: 16, height: 8}}
render: {{fps: 30.0}}
outputs: [{{type: sacn, address: 127.0.0.1, port: {port}}}]
"""


def _wait(cond: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.network
def test_show_file_edits_swap_scenes_or_are_rejected_while_the_show_runs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from lumen.engine import Engine, EngineOptions
    from lumen.show.load import load_show

    for name in ("solid.fs", "ramp.fs"):
        shutil.copy(SCENES / name, tmp_path / name)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))  # the show's sACN goes here and is dropped
    show = tmp_path / "show.yaml"
    text = SHOW.format(port=sink.getsockname()[1])
    _write(show, text, 1_000_000_000)
    engine = Engine(load_show(show), show, EngineOptions(seconds=60.0, gl_backend="egl", preview_fps=30.0, preview_max=10_000))
    caplog.set_level(logging.INFO, logger="lumen")
    engine.start()
    try:
        frame = engine.frame
        assert frame is not None
        assert _wait(lambda: len(frame.previews) > 3)
        assert frame.previews[-1][0, 0].tolist() == [255, 0, 0]  # scene a: solid red

        engine.go("b")
        assert _wait(lambda: frame.stats.scene == "b")
        assert _wait(lambda: frame.previews[-1][0, 0, 1] > 200)  # ramp: green at the top

        bad = text.replace("shader: ramp.fs", "shader: ramp.fs, blend: scren")
        _write(show, bad, 2_000_000_000)
        assert engine.poll_show_file() is False
        line = next(i for i, l in enumerate(bad.splitlines(), 1) if "scren" in l)
        assert any(f"{show}:{line}:" in r.getMessage() and "blend" in r.getMessage() for r in caplog.records)
        n = len(frame.previews)
        assert _wait(lambda: len(frame.previews) > n + 3)  # the show runs on
        assert frame.stats.scene == "b" and engine.show_counters.snapshot()["show_errors"] == 1

        good = text.replace("layers: [{shader: ramp.fs, params: {level: 1.0}}]", "layers: [{shader: solid.fs, params: {level: 0.5}}]")
        _write(show, good, 3_000_000_000)
        assert engine.poll_show_file() is True
        assert _wait(lambda: frame.previews[-1][0, 0].tolist() == [128, 0, 0])  # swapped at a frame boundary
        assert frame.stats.scene == "b"
        snap = engine.show_counters.snapshot()
        assert snap["show_reloads"] == 1 and snap["frames"] > 10 and snap["render_errors"] == 0

        # A shader broken on disk: its file:line is reported, the last good program keeps running.
        solid = tmp_path / "solid.fs"
        good_src = solid.read_text()
        _write(solid, good_src.replace("color.rgb * level", "color.rgb * levl"), 5_000_000_000)
        assert _wait(lambda: "solid.fs" in frame.stats.problems)
        assert f"{solid}:5:" in frame.stats.problems["solid.fs"]
        engine._report_problems()
        assert any(f"{solid}:5:" in r.getMessage() for r in caplog.records)
        n = len(frame.previews)
        assert _wait(lambda: len(frame.previews) > n + 3)
        assert frame.previews[-1][0, 0].tolist() == [128, 0, 0]  # still the last good program
        _write(solid, good_src.replace("color.rgb * level", "color.brg * level"), 6_000_000_000)  # fixed: now green
        assert _wait(lambda: frame.previews[-1][0, 0].tolist() == [0, 128, 0])
        assert "solid.fs" not in frame.stats.problems
        assert engine.show_counters.snapshot()["shader_errors"] == 1

        # A rig edit is applied to the scenes only, and the log says a restart is needed.
        _write(show, good.replace("width: 16", "width: 32"), 4_000_000_000)
        assert engine.poll_show_file() is True
        assert any("need a restart" in r.getMessage() for r in caplog.records)
        assert np.asarray(frame.previews[-1]).shape == (8, 16, 3)
    finally:
        engine.stop()
        sink.close()


def test_engine_go_checks_the_name_and_posts_a_command() -> None:
    from lumen.engine import Engine, SceneCommand
    from lumen.scene.graph import UnknownSceneError
    from lumen.show.load import load_show_text

    engine = Engine(load_show_text(SHOW.format(port=5568)))
    with pytest.raises(UnknownSceneError, match="did you mean 'b'"):
        engine.go("bb")
    engine.go("b", quantize="beat")
    assert engine.inbox.drain() == [SceneCommand("b", None, "beat")]
    assert engine.missing_shaders == [("solid.fs", engine.missing_shaders[0][1]), ("ramp.fs", engine.missing_shaders[1][1])]
    assert "scenes.a.layers.0.shader: shader 'solid.fs' not found" in engine.missing_shaders[0][1]
