"""Control surfaces of a show: OSC in, MIDI, OS2L, Ableton Link, OSC out, and their pump.

Layer: show. Threads: built, started and stopped on the main thread; each surface runs its
own thread; the *control pump* thread (``lumen-control``) polls the tempo arbiter, sends
state feedback to OSC controllers and, in Link lead mode, publishes lumen's tempo.

A surface that cannot start (the OSC port is taken, no MIDI port, Link unavailable) is
reported as a problem and left out: the show runs on without it, since a lighting rig must
not go dark because a controller is missing. `ControlSurfaces.problems` lists what failed.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from lumen.control.hub import ControlHub
from lumen.errors import LumenError
from lumen.features import Features

__all__ = ["ControlSurfaces", "console_targets", "midi_bindings"]

log = logging.getLogger("lumen.control")

#: The control pump's period, s.
PUMP_S: Final[float] = 0.02
#: Link lead mode publishes lumen's tempo this often, s.
LINK_PUBLISH_S: Final[float] = 0.25
#: rtmidi API names of the show file's ``control.midi.api``.
MIDI_APIS: Final[dict[str, str | None]] = {"default": None, "jack": "UNIX_JACK", "alsa": "LINUX_ALSA"}


def console_targets(cfg: Any) -> list[Any]:
    """`lumen.output.osc.ConsoleTarget` values for a show's ``consoles``."""
    from lumen.output.osc import ConsoleTarget

    return [
        ConsoleTarget(
            name=c.name, type=c.type, port=c.port, address=c.address, events=None if c.events is None else frozenset(c.events),
            templates={k: (t.address, tuple(str(a) for a in t.args)) for k, t in c.templates.items()},
            rate_limit_hz=c.rate_limit_hz, cue_list=c.cue_list, cue_map=dict(c.cue_map), features_hz=c.features_hz,
            latency_ms=c.latency_ms, release_ms=c.release_ms, allow_broadcast=c.allow_broadcast, bind=c.bind,
        )
        for c in cfg.consoles
    ]


def midi_bindings(cfg: Any) -> list[Any]:
    """`lumen.control.midi.MidiBinding` values for a show's ``control.midi.bindings``."""
    from lumen.control.midi import MidiBinding

    return [
        MidiBinding(kind=b.kind, channel=b.channel, number=b.number, command=b.command, arg=b.arg, low=b.low, high=b.high, mode=b.mode)
        for b in cfg.control.midi.bindings
    ]


class ControlSurfaces:
    """Every control surface a show configures, wired to one `ControlHub`.

    Parameters
    ----------
    cfg : lumen.show.schema.ShowConfig
    hub : ControlHub
    feedback : collections.deque
        ``(address, args)`` state messages from the frame thread, sent to OSC controllers.
    osc_port : int, optional
        Overrides ``control.osc.port`` (``--osc-port``).
    features : callable, optional
        The latest features (Link lead mode publishes their tempo and phase).

    Attributes
    ----------
    osc, midi, os2l, link, cues_out : surface or None
        The surfaces that started (None when not configured or failed).
    problems : dict of str to str
        Surface name -> why it is not running.
    """

    def __init__(
        self,
        cfg: Any,
        hub: ControlHub,
        feedback: collections.deque[tuple[str, tuple[Any, ...]]] | None = None,
        *,
        osc_port: int | None = None,
        features: Callable[[], Features] | None = None,
    ) -> None:
        self.cfg = cfg
        self.hub = hub
        self.feedback = feedback if feedback is not None else collections.deque(maxlen=256)
        self.features = features
        self.problems: dict[str, str] = {}
        self.osc: Any = None
        self.midi: Any = None
        self.os2l: Any = None
        self.link: Any = None
        self.cues_out: Any = None
        c = cfg.control
        names = list(cfg.scene_names())
        if c.osc.enabled:
            from lumen.control.osc import OscServer
            from lumen.show.scenes import build_scene_set

            ss = build_scene_set(cfg)
            params = {n: list(ss.nodes(n)) for n in ss.names}
            port = c.osc.port if osc_port is None else osc_port
            self.osc = self._try("osc", lambda: OscServer(
                hub, bind=c.osc.bind, port=port, allow=c.osc.allow, feedback_port=c.osc.feedback_port, scenes=names, params=params,
            ))
        if c.midi.enabled:
            from lumen.control.midi import MidiInput

            self.midi = self._try("midi", lambda: MidiInput(
                hub, midi_bindings(cfg), tempo=hub if c.midi.clock else None, port=c.midi.port,
                api=MIDI_APIS[c.midi.api], virtual=c.midi.virtual,
            ))
        if c.os2l.enabled:
            from lumen.control.os2l import Os2lServer

            buttons = {k: (a.command, a.arg) for k, a in c.os2l.buttons.items()}
            commands = {int(k): (a.command, a.arg) for k, a in c.os2l.commands.items() if k.isdigit()}
            self.os2l = self._try("os2l", lambda: Os2lServer(hub, hub, bind=c.os2l.bind, port=c.os2l.port, buttons=buttons, commands=commands))
        if c.link.enabled:
            from lumen.control.link import LinkSession

            self.link = self._try("link", lambda: LinkSession(hub, mode=c.link.mode, quantum=float(c.link.quantum)))
        if cfg.consoles:
            from lumen.output.osc import OscCueSender

            self.cues_out = self._try("consoles", lambda: OscCueSender(console_targets(cfg)))
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._run, name="lumen-control", daemon=True)

    def _try(self, name: str, make: Callable[[], Any]) -> Any:
        try:
            return make()
        except (LumenError, OSError, ValueError) as e:
            self.problems[name] = str(e)
            log.error("control: %s is not available, the show runs on without it: %s", name, e)
            return None

    def start(self) -> None:
        """Start every surface and the pump."""
        for name in ("osc", "midi", "os2l", "link", "cues_out"):
            s = getattr(self, name)
            if s is None:
                continue
            try:
                s.start()
            except (LumenError, OSError, RuntimeError) as e:
                self.problems[name] = str(e)
                log.error("control: %s did not start, the show runs on without it: %s", name, e)
                setattr(self, name, None)
        self._pump.start()

    def _run(self) -> None:
        last_link = 0.0
        while not self._stop.wait(PUMP_S):
            t = time.perf_counter()
            try:
                self.hub.arbiter.poll(t)
                if self.feedback:
                    batch = []
                    while self.feedback:
                        batch.append(self.feedback.popleft())
                    if self.osc is not None:
                        self.osc.send_state([(a, tuple(args)) for a, args in batch])
                if self.link is not None and self.features is not None and t - last_link >= LINK_PUBLISH_S:
                    last_link = t
                    if self.link.mode == "lead":
                        f = self.features()
                        if f.bpm > 0.0 and f.next_beat_t > 0.0 and math.isfinite(f.bpm):
                            self.link.publish(f.bpm, f.next_beat_t, f.confidence)
            except Exception as e:  # noqa: BLE001 - the pump must outlive any one bad step
                log.error("control pump: %s", e)

    def show_changed(self, cfg: Any) -> None:
        """A reloaded show: the OSC map learns the new scenes (other surfaces need a restart)."""
        self.cfg = cfg
        if self.osc is not None and hasattr(self.osc, "set_names"):
            from lumen.show.scenes import build_scene_set

            ss = build_scene_set(cfg)
            self.osc.set_names(list(ss.names), {n: list(ss.nodes(n)) for n in ss.names})

    def snapshot(self) -> dict[str, Any]:
        """Counters of every running surface, the hub's command counts and the tempo source."""
        out: dict[str, Any] = {}
        for name in ("osc", "midi", "os2l", "link", "cues_out"):
            s = getattr(self, name)
            counters = getattr(s, "counters", None)
            if counters is not None:
                out.update(counters.snapshot())
        out["commands_by_source"] = dict(self.hub.n_commands)
        out["tempo_source"] = self.hub.arbiter.current
        if self.osc is not None:
            out["osc_port"] = self.osc.port
        if self.problems:
            out["problems"] = dict(self.problems)
        return out

    def stop(self) -> None:
        """Stop the pump and every surface (each within about a second)."""
        self._stop.set()
        if self._pump.is_alive():
            self._pump.join(timeout=2.0)
        for name in ("osc", "midi", "os2l", "link", "cues_out"):
            s = getattr(self, name)
            if s is None:
                continue
            try:
                s.stop()
            except (LumenError, OSError, RuntimeError) as e:
                log.warning("control: stopping %s: %s", name, e)
