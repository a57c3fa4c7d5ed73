"""MIDI in through JACK: a second JACK MIDI client plays a DJ controller and a clock source.

Layer: tests. Threads: pytest's main thread, lumen's MIDI thread, rtmidi's JACK threads and
a clock-sending thread.

ALSA sequencer ports do not exist on the CI machine; python-rtmidi's UNIX_JACK API works
against the JACK dummy server of the ``jack_server`` fixture. Opening an output port by the
name of lumen's virtual input (``client:midi_in``) connects the two; a controller is played by
a virtual *output* port that lumen opens by a part of its name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import mido
import pytest

from lumen.control.commands import Command
from lumen.control.midi import MIDI_COUNTERS, MidiBinding, MidiInput, learn, list_ports
from lumen.errors import DeviceError
from lumen.rt.clock import sleep_until

pytestmark = [pytest.mark.hardware]

BINDINGS = [
    MidiBinding("cc", 1, 20, "param", arg="drop/tunnel/speed", low=0.5, high=4.0),
    MidiBinding("note", None, 36, "scene", arg="drop"),
    MidiBinding("note", None, 40, "strobe", mode="hold"),
]


class CommandLog:
    """A thread-safe CommandSink."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cmds: list[Command] = []

    def post(self, cmd: Command) -> None:
        with self._lock:
            self.cmds.append(cmd)

    def snapshot(self) -> list[Command]:
        with self._lock:
            return list(self.cmds)


class TempoLog:
    """A thread-safe TempoSink."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reports: list[tuple[float, float | None, float | None]] = []
        self.losses = 0

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        assert source == "midi_clock"
        with self._lock:
            self.reports.append((bpm, beat_t, t))

    def lost(self, source: str) -> None:
        assert source == "midi_clock"
        with self._lock:
            self.losses += 1


def wait_for(cond: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    """Poll ``cond`` until it holds or ``timeout_s`` passes."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


@pytest.fixture
def jack_midi(jack_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """mido's rtmidi backend on the JACK dummy server."""
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    return mido.Backend("mido.backends.rtmidi", api="UNIX_JACK", load=True)


@pytest.fixture
def names() -> Iterator[Callable[[str], str]]:
    """Unique JACK client names (JACK renames duplicates, which would break name lookups)."""
    count = iter(range(1000))
    yield lambda base: f"{base}-{os.getpid()}-{next(count)}"


def send_clock(out: Any, bpm: float, seconds: float) -> None:
    """Start, then MIDI clock at ``bpm`` for ``seconds`` on perf_counter deadlines."""
    dt = 60.0 / (bpm * 24)
    out.send(mido.Message("start"))
    t0 = time.perf_counter() + 0.005
    for i in range(int(seconds / dt)):
        sleep_until(t0 + i * dt)
        out.send(mido.Message("clock"))


def test_virtual_input_maps_cc_and_note_and_follows_clock(jack_midi: Any, names: Callable[[str], str]) -> None:
    client = names("lumen")
    sink, tempo = CommandLog(), TempoLog()
    midi = MidiInput(sink, BINDINGS, tempo=tempo, api="jack", virtual=True, client_name=client)
    midi.start()
    out = None
    try:
        assert midi.port_name == f"{client}:midi_in"
        assert midi.port_name in jack_midi.get_output_names()
        out = jack_midi.open_output(midi.port_name)  # connects to lumen's virtual input

        out.send(mido.Message("control_change", channel=0, control=20, value=64))
        assert wait_for(lambda: len(sink.snapshot()) >= 1)
        (cmd,) = sink.snapshot()
        assert (cmd.name, cmd.arg, cmd.source) == ("param", "drop/tunnel/speed", "midi")
        assert cmd.value == pytest.approx(0.5 + 3.5 * 64 / 127)

        out.send(mido.Message("note_on", note=36, velocity=110))
        out.send(mido.Message("note_off", note=36))
        out.send(mido.Message("control_change", channel=3, control=20, value=1))  # other channel
        out.send(mido.Message("note_on", note=99, velocity=1))  # unmapped
        assert wait_for(lambda: midi.counters["midi_messages"] >= 5)
        assert [(c.name, c.arg) for c in sink.snapshot()[1:]] == [("scene", "drop")]

        sender = threading.Thread(target=send_clock, args=(out, 128.0, 3.0), name="test-clock", daemon=True)
        sender.start()
        sender.join(10.0)
        assert not sender.is_alive()
        assert wait_for(lambda: len(tempo.reports) >= 4)
        bpm, beat_t, t = tempo.reports[-1]
        assert bpm == pytest.approx(128.0, abs=0.5)
        assert beat_t is not None and t is not None and abs(t - beat_t) < 0.05
        # Beats are 60/128 s apart, counted from Start.
        beats = [r[1] for r in tempo.reports if r[1] is not None]
        gaps = [(b - a) / (60 / 128) for a, b in zip(beats, beats[1:])]
        assert all(abs(g - round(g)) < 0.05 for g in gaps), gaps
        n_ticks = int(3.0 / (60.0 / (128.0 * 24)))
        assert wait_for(lambda: midi.counters["midi_clock_ticks"] == n_ticks), midi.counters.snapshot()

        out.send(mido.Message("stop"))
        assert wait_for(lambda: tempo.losses == 1)
        snap = midi.counters.snapshot()
        assert set(snap) == set(MIDI_COUNTERS)
        assert snap["midi_unmapped"] == 2 and snap["midi_errors"] == 0
    finally:
        # lumen's port closes first: closing an rtmidi JACK port in the moment its peer has
        # just disappeared can crash inside libjack (seen once in a full CI run).
        t0 = time.perf_counter()
        midi.stop()
        assert time.perf_counter() - t0 < 0.5
        assert not midi.is_alive()
        if out is not None:
            out.close()


def test_real_port_by_name_survives_the_device_going_away(jack_midi: Any, names: Callable[[str], str]) -> None:
    ctl = names("FakeCtl")
    device = jack_midi.open_output("out", client_name=ctl)  # a controller: a source port
    sink = CommandLog()
    midi = MidiInput(sink, BINDINGS, port=ctl.lower(), api="jack", retry_s=0.3, check_s=0.1)
    assert f"{ctl}:out" in list_ports("jack")
    midi.start()
    try:
        assert midi.port_name == f"{ctl}:out"
        device.send(mido.Message("note_on", note=40, velocity=90))
        device.send(mido.Message("note_on", note=40, velocity=0))
        assert wait_for(lambda: len(sink.snapshot()) == 2)
        assert [(c.name, c.value) for c in sink.snapshot()] == [("strobe", 1.0), ("strobe", 0.0)]

        device.close()  # unplugged
        assert wait_for(lambda: midi.counters["midi_port_lost"] == 1)
        assert midi.port_name is None and midi.is_alive()

        device = jack_midi.open_output("out", client_name=ctl)  # plugged back in
        assert wait_for(lambda: midi.port_name is not None)
        device.send(mido.Message("note_on", note=36, velocity=90))
        assert wait_for(lambda: len(sink.snapshot()) == 3)
        assert sink.snapshot()[-1].arg == "drop"
        assert midi.counters["midi_port_lost"] == 1
    finally:
        midi.stop()  # before the device goes: see the note in the test above
        device.close()
        assert not midi.is_alive()


def test_missing_port_is_a_device_error_listing_the_ports(jack_midi: Any, names: Callable[[str], str]) -> None:
    ctl = names("Deck")
    device = jack_midi.open_output("out", client_name=ctl)
    try:
        midi = MidiInput(CommandLog(), BINDINGS, port="no such controller", api="jack")
        with pytest.raises(DeviceError, match=f"no MIDI input port matching 'no such controller'.*{ctl}:out"):
            midi.start()
        assert not midi.is_alive()
    finally:
        device.close()


def test_learn_from_a_virtual_port(jack_midi: Any, names: Callable[[str], str]) -> None:
    client = names("lumen-learn")
    result: list[str | None] = []
    learner = threading.Thread(
        target=lambda: result.append(learn("jack", "learn_in", 5.0, virtual=True, client_name=client)),
        name="test-learn", daemon=True,
    )
    learner.start()
    port = f"{client}:learn_in"
    assert wait_for(lambda: port in jack_midi.get_output_names())
    out = jack_midi.open_output(port)
    try:
        time.sleep(0.05)
        out.send(mido.Message("clock"))
        out.send(mido.Message("note_on", note=50, velocity=0, channel=1))
        out.send(mido.Message("control_change", control=7, value=90, channel=1))
        learner.join(6.0)
        assert result == ["- {kind: cc, channel: 2, number: 7, command: master}"]
    finally:
        out.close()


JACKD = ["jackd", "-R", "-d", "dummy", "-r", "48000", "-p", "256", "-C", "2", "-P", "2"]

# Runs in a child process: a crash in libjack must fail the test, not kill pytest.
RESTART_SCENARIO = """
import os, subprocess, sys, time
import mido
from lumen.control.midi import MidiBinding, MidiInput, _abandon

def start_server():
    p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["timeout", "10", "jack_wait", "-w", "-s", os.environ["JACK_DEFAULT_SERVER"]], capture_output=True)
    print("server", p.pid, flush=True)
    return p

def wait_for(cond, timeout_s=5.0):
    deadline = time.perf_counter() + timeout_s
    while not cond() and time.perf_counter() < deadline:
        time.sleep(0.02)
    return cond()

got = []
class Sink:
    def post(self, cmd):
        got.append(cmd)

def controller():
    return mido.Backend("mido.backends.rtmidi", api="UNIX_JACK", load=True).open_output("out", client_name="ctl")

server = start_server()
device = controller()
midi = MidiInput(Sink(), [MidiBinding("note", None, 36, "cue_go")], port="ctl", api="jack", retry_s=0.3, check_s=0.1)
midi.start()
device.send(mido.Message("note_on", note=36, velocity=9))
assert wait_for(lambda: len(got) == 1), "no note before the restart"
server.terminate(); server.wait()
assert wait_for(lambda: midi.counters["midi_port_lost"] == 1), "server death not noticed"
_abandon(device)  # this process's controller died with the server too
server = start_server()
device = controller()
assert wait_for(lambda: midi.port_name is not None), "not reopened"
device.send(mido.Message("note_on", note=36, velocity=9))
assert wait_for(lambda: len(got) == 2), "no note after the restart"
midi.stop()
device.close()
server.terminate(); server.wait()
print("ok", midi.counters.snapshot(), flush=True)
"""


@pytest.mark.slow
def test_survives_a_jack_server_restart(tmp_path: Any) -> None:
    """The JACK server dies and comes back: lumen counts the loss, reconnects, does not crash."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"lumen-midi-restart-{os.getpid()}", JACK_NO_AUDIO_RESERVATION="1")
    script = tmp_path / "restart.py"
    script.write_text(RESTART_SCENARIO)
    r = subprocess.run([sys.executable, str(script), *JACKD], env=env, capture_output=True, text=True, timeout=60)
    # A child that crashed or failed an assert may have left its server running: stop it.
    for line in r.stdout.splitlines() if r.returncode != 0 else ():
        if line.startswith("server "):
            try:
                os.kill(int(line.split()[1]), signal.SIGTERM)
            except ProcessLookupError:
                pass
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "ok" in r.stdout and "'midi_port_lost': 1" in r.stdout
