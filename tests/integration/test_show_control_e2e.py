"""Show control end to end: liblo's oscsend drives a running engine; the scene change is seen
in the rendered frames and in the sACN DMX; consoles receive cues; bad packets are counted.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from lumen.engine import Engine, EngineOptions
from lumen.show.load import load_show

pytestmark = [pytest.mark.network, pytest.mark.gpu, pytest.mark.slow]

SOLID = """/*{
    "DESCRIPTION": "test: one flat color",
    "ISFVSN": "2",
    "INPUTS": [
        {"NAME": "r", "TYPE": "float", "DEFAULT": 0.0},
        {"NAME": "g", "TYPE": "float", "DEFAULT": 0.0},
        {"NAME": "b", "TYPE": "float", "DEFAULT": 0.0}
    ]
}*/
void main() { gl_FragColor = vec4(r, g, b, 1.0); }
"""


class Udp:
    """Collects datagrams on a 127.0.0.1 port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.data: list[bytes] = []
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.data.append(self.sock.recv(2048))
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._th.join()
        self.sock.close()

    def last_dmx(self) -> bytes | None:
        for d in reversed(self.data[-50:]):
            if len(d) >= 126 and d[4:16] == b"ASC-E1.17\x00\x00\x00" and d[18:22] == b"\x00\x00\x00\x04":
                return d[126:]
        return None

    def osc(self) -> list[tuple[str, list[object]]]:
        out = []
        for d in list(self.data):
            m = OscMessage(d)
            out.append((m.address, list(m.params)))
        return out


def wait_for(pred: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def oscsend(port: int, path: str, *typed: str) -> None:
    exe = shutil.which("oscsend")
    assert exe is not None, "liblo-tools is not installed: run scripts/setup.sh"
    subprocess.run([exe, "127.0.0.1", str(port), path, *typed], check=True, timeout=10)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Engine, Udp, Udp]]:
    dmx, console = Udp(), Udp()
    (tmp_path / "solid.fs").write_text(SOLID)
    cut = "transition: {kind: cut, quantize: none}"
    (tmp_path / "show.yaml").write_text(f"""\
version: 2
name: control e2e
audio: {{source: signal}}
render: {{fps: 30}}
wall: {{width: 8, height: 4}}
safety: {{flash_limiter: false}}
outputs:
  - {{type: sacn, port: {dmx.port}, rate_hz: 30}}
consoles:
  - {{name: desk, type: generic, port: {console.port}, events: [scene, cue]}}
scenes:
  red:
    layers: [{{shader: solid.fs, params: {{r: 1.0}}}}]
    {cut}
  blue:
    layers: [{{shader: solid.fs, params: {{b: 1.0}}}}]
    {cut}
start_scene: red
cues:
  - {{number: 1, scene: red, label: opener}}
  - {{number: 2, scene: blue}}
automation: {{enabled: false}}
""")
    cfg = load_show(tmp_path / "show.yaml")
    engine = Engine(cfg, tmp_path / "show.yaml", EngineOptions(seconds=60.0, gl_backend="egl", preview_fps=10.0, preview_max=400))
    engine.osc_port = 0  # an ephemeral port: tests never collide
    engine.start()
    try:
        yield engine, dmx, console
    finally:
        engine.stop()
        dmx.close()
        console.close()


def rgb0(dmx: Udp) -> tuple[int, int, int] | None:
    d = dmx.last_dmx()
    return None if d is None else (d[0], d[1], d[2])


def test_oscsend_drives_scenes_cues_master_params_and_tempo(running: tuple[Engine, Udp, Udp]) -> None:
    engine, dmx, console = running
    assert engine.control is not None and engine.control.osc is not None
    port = engine.control.osc.port
    assert wait_for(lambda: (c := rgb0(dmx)) is not None and c[0] > 200 and c[2] < 30, 10.0), rgb0(dmx)

    oscsend(port, "/lumen/scene/blue")
    assert wait_for(lambda: (c := rgb0(dmx)) is not None and c[2] > 200 and c[0] < 30, 5.0), rgb0(dmx)
    assert engine.snapshot()["scene"] == "blue"
    frame = engine.frame.previews[-1] if engine.frame is not None else None  # the rendered output
    assert wait_for(lambda: engine.frame is not None and engine.frame.previews[-1][..., 2].mean() > 200, 3.0)
    assert frame is not None
    assert wait_for(lambda: ("/lumen/scene", ["blue"]) in console.osc(), 3.0), console.osc()

    oscsend(port, "/lumen/param/blue/layer1/b", "f", "0.5")  # a parameter, live
    assert wait_for(lambda: (c := rgb0(dmx)) is not None and 60 < c[2] < 220, 5.0), rgb0(dmx)

    oscsend(port, "/lumen/cue/go")  # cue 1: red, and the console hears the cue
    assert wait_for(lambda: (c := rgb0(dmx)) is not None and c[0] > 200, 5.0), rgb0(dmx)
    assert wait_for(lambda: ("/lumen/cue", [1.0]) in console.osc(), 3.0), console.osc()

    oscsend(port, "/lumen/master", "f", "0.0")
    assert wait_for(lambda: (d := dmx.last_dmx()) is not None and max(d[:96]) == 0, 5.0)
    oscsend(port, "/lumen/master", "f", "1.0")

    oscsend(port, "/lumen/tempo", "f", "140.0")
    assert wait_for(lambda: engine.snapshot()["features"].tempo_source == "osc", 5.0)
    assert wait_for(lambda: abs(engine.snapshot()["features"].bpm - 140.0) < 0.5, 5.0), engine.snapshot()["features"].bpm
    oscsend(port, "/lumen/tempo/release")
    assert wait_for(lambda: engine.snapshot()["features"].tempo_source == "audio", 5.0)

    # bad input is counted and ignored; the show runs on
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\x00garbage", ("127.0.0.1", port))
        s.sendto(b"/lumen/nope\x00,\x00\x00\x00", ("127.0.0.1", port))
        s.sendto(b"/lumen/scene/nowhere\x00\x00\x00\x00,\x00\x00\x00", ("127.0.0.1", port))
    assert wait_for(lambda: engine.snapshot()["control"].get("osc_bad", 0) >= 1, 3.0), engine.snapshot()["control"]
    assert wait_for(lambda: engine.snapshot()["control"].get("osc_unknown", 0) >= 1, 3.0), engine.snapshot()["control"]
    frames = engine.snapshot()["show"]["frames"]
    assert wait_for(lambda: engine.snapshot()["show"]["frames"] > frames + 10, 5.0)
    assert engine.running()
    pixels = np.frombuffer(dmx.last_dmx() or b"", dtype=np.uint8)
    assert pixels.size >= 96 and pixels[0] > 200  # still red


def test_osc_port_taken_is_reported_and_the_show_runs(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = int(taken.getsockname()[1])
        (tmp_path / "show.yaml").write_text(f"version: 2\nrender: {{fps: 20}}\nwall: {{width: 4, height: 2}}\ncontrol: {{osc: {{port: {port}}}}}\n"
                                            "outputs: [{type: sacn, port: 9}]\n")
        cfg = load_show(tmp_path / "show.yaml")
        engine = Engine(cfg, tmp_path / "show.yaml", EngineOptions(seconds=10.0, gl_backend="egl"))
        engine.start()
        try:
            assert engine.control is not None and engine.control.osc is None
            assert "osc" in engine.control.problems and str(port) in engine.control.problems["osc"]
            assert wait_for(lambda: engine.snapshot()["show"]["frames"] > 5, 10.0)
        finally:
            engine.stop()


def test_reloaded_cue_list_and_rig_file_edits(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from lumen.control.commands import Command

    sink = Udp()
    (tmp_path / "solid.fs").write_text(SOLID)
    (tmp_path / "venue.yaml").write_text(f"version: 2\nwall: {{width: 8, height: 4}}\noutputs: [{{type: sacn, port: {sink.port}}}]\n")
    show_text = """\
version: 2
rig: venue.yaml
render: {fps: 30}
scenes:
  red: {layers: [{shader: solid.fs, params: {r: 1.0}}], transition: {kind: cut, quantize: none}}
  blue: {layers: [{shader: solid.fs, params: {b: 1.0}}], transition: {kind: cut, quantize: none}}
cues:
  - {number: 1, scene: red}
control: {osc: {enabled: false}}
"""
    show = tmp_path / "show.yaml"
    show.write_text(show_text)
    engine = Engine(load_show(show), show, EngineOptions(seconds=60.0, gl_backend="egl", preview_fps=30.0, preview_max=10_000))
    caplog.set_level(logging.INFO, logger="lumen")
    engine.start()
    try:
        frame = engine.frame
        assert frame is not None
        assert wait_for(lambda: len(frame.previews) > 3, 10.0)
        assert frame.previews[-1][0, 0].tolist() == [255, 0, 0]
        show.write_text(show_text.replace("{number: 1, scene: red}", "{number: 1, scene: blue}"))
        assert wait_for(engine.poll_show_file, 5.0)
        engine.post(Command("cue_go", source="test"))
        assert wait_for(lambda: frame.previews[-1][0, 0].tolist() == [0, 0, 255], 5.0)  # the reloaded cue list
        (tmp_path / "venue.yaml").write_text((tmp_path / "venue.yaml").read_text().replace("width: 8", "width: 16"))
        assert wait_for(engine.poll_show_file, 5.0)
        assert any("need a restart" in r.getMessage() for r in caplog.records)
        (tmp_path / "venue.yaml").write_text("version: 2\nwall: {width: -1}\n")
        assert not engine.poll_show_file()
        assert any("venue.yaml:2:15: wall.width" in r.getMessage() for r in caplog.records)
        n = len(frame.previews)
        assert wait_for(lambda: len(frame.previews) > n + 3, 5.0)  # the show runs on
    finally:
        engine.stop()
        sink.close()
