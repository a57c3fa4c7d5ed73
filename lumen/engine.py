"""The engine: wires the listen process and the show process's threads together.

Layer: engine (top; nothing imports it but the CLI). Threads: `Engine` methods run on the
caller's (main) thread; it starts the listen process (audio + analysis threads) and, in this
process, the frame, output and health threads. No domain logic lives here.

Processes and threads (DESIGN.md §2)::

    listen process:  audio callback ──ring──► analysis thread ──shared mailbox──┐
    show process:    frame thread (GL) ◄─────────────────────────────────────────┘
                     frame thread ──DMX double buffer──► output thread ──► UDP
                     health thread reads the counters of both processes

The frame thread draws the show's scenes (`lumen.scene.graph.SceneSet` → render plan →
`lumen.render.compositor.Compositor`), hot-reloads shader files, and applies commands (scene
changes from `Engine.go`, reloaded scenes from the show-file watcher that `Engine.run` polls)
at frame boundaries. `render_offline` wires the same scene and render layers to a file's
analysis, driven by the audio clock instead of the wall clock (``lumen render --offline``).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import logging
import math
import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from lumen.errors import ConfigError, ConfigIssue, DeviceError, LumenError, ShaderError
from lumen.features import IDX, N_FIELDS, TEMPO_SOURCES, Features, from_vector
from lumen.rt.clock import now
from lumen.rt.counters import Counters
from lumen.rt.inbox import Inbox
from lumen.rt.mailbox import Mailbox
from lumen.rt.realtime import prioritize_audio_process
from lumen.control.commands import Command
from lumen.scene.graph import UnknownSceneError
from lumen.show.cues import Action
from lumen.show.load import ShowWatcher

log = logging.getLogger("lumen")

#: Counters of the listen process (audio source counters plus analysis).
LISTEN_COUNTERS: Final[tuple[str, ...]] = (
    "callbacks", "frames", "xruns", "input_overflows", "input_underflows", "device_lost",
    "device_reopened", "late_blocks", "hops", "analysis_overruns", "analysis_ns_total",
    "analysis_ns_max", "bad_tempo_hints",
)
#: Counters of the show process.
SHOW_COUNTERS: Final[tuple[str, ...]] = (
    "frames", "late_frames", "render_errors", "shader_errors", "shader_reloads", "stale_features",
    "nodes_bypassed", "show_reloads", "show_errors", "commands", "bad_commands", "auto_changes",
)

REPO_ROOT: Final[Path] = Path(__file__).resolve().parent.parent
SHADER_DIRS: Final[tuple[Path, ...]] = (REPO_ROOT / "shaders", Path(__file__).resolve().parent / "shaders")


# ---------------------------------------------------------------------------------------------
# listen process


@dataclass(frozen=True)
class ListenSpec:
    """Everything the listen process needs, picklable for a spawned process.

    Attributes
    ----------
    source : {"signal", "device", "file"}
    device : str or int or None
    file : str or None
    sr, blocksize, channels : int
    signal : dict
        `lumen.audio.music.MusicParams` fields for the signal source.
    seconds : float or None
        Stop the source after this long (signal and file sources).
    realtime_pace : bool
        File and signal sources: pace like a sound card (True) or run flat out.
    analyzers : tuple of str
    tempo_min_bpm, tempo_max_bpm : float
    mailbox_name, counters_name : str
        Shared-memory blocks made by the parent.
    """

    source: str
    mailbox_name: str
    counters_name: str
    hints_name: str = ""
    device: str | int | None = None
    file: str | None = None
    sr: int = 48000
    blocksize: int = 256
    channels: int = 2
    signal: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    realtime_pace: bool = True
    loop_file: bool = False
    analyzers: tuple[str, ...] = ("levels", "onset", "beat", "mood", "structure")
    tempo_min_bpm: float = 70.0
    tempo_max_bpm: float = 180.0


def _make_source(spec: ListenSpec) -> Any:
    from lumen.audio.music import MusicParams
    from lumen.audio.sources import DeviceSource, FileSource, SignalSource

    if spec.source == "device":
        return DeviceSource(spec.device, sr=spec.sr, blocksize=spec.blocksize, n_channels=spec.channels)
    if spec.source == "file":
        if spec.file is None:
            raise DeviceError("file source needs a file")
        return FileSource(spec.file, blocksize=spec.blocksize, realtime_pace=spec.realtime_pace, loop=spec.loop_file)
    if spec.source == "signal":
        return SignalSource(
            MusicParams(**spec.signal),
            sr=spec.sr,
            blocksize=spec.blocksize,
            n_channels=spec.channels,
            seconds=spec.seconds,
            realtime_pace=spec.realtime_pace,
        )
    raise DeviceError(f"unknown audio source {spec.source!r}")


#: Layout of the tempo-hint mailbox (show process -> listen process): one float64 each.
HINT_FIELDS: tuple[str, ...] = ("seq", "mode", "bpm", "beat_t", "weight", "source")
#: Hint modes: 0 none, 1 nudge, 2 override, 3 clear an override.
HINT_MODES: dict[str, int] = {"nudge": 1, "override": 2, "clear": 3}


def apply_hint(analyzer: Any, hint: npt.NDArray[np.float64]) -> bool:
    """Hand a tempo hint from the hint mailbox to every analyzer of the chain that takes hints.

    Returns whether one did. The beat tracker's `hint`/`clear_hint` are the one interface for
    tap tempo, Link, MIDI clock and OSC tempo.
    """
    mode = int(hint[1])
    took = False
    for a in analyzer.chain:
        if not hasattr(a, "hint"):
            continue
        took = True
        if mode == HINT_MODES["clear"]:
            a.clear_hint()
        elif mode in (HINT_MODES["nudge"], HINT_MODES["override"]):
            beat_t = float(hint[3]) if hint[3] > 0.0 else None
            a.hint(float(hint[2]), beat_t, mode="override" if mode == HINT_MODES["override"] else "nudge", weight=float(hint[4]))
    return took


def analysis_loop(
    source: Any, ring: Any, analyzer: Any, mailbox: Mailbox, counters: Counters, stop: threading.Event, hints: Mailbox | None = None
) -> None:
    """The analysis thread: pull 10 ms hops from the ring, analyze, publish. Never blocks audio.

    Between hops it looks at the tempo-hint mailbox (a sequence number compare) and hands a
    new hint to the beat tracker.
    """
    spec = analyzer.spec
    hop = np.zeros((spec.hop_length, ring.n_channels), dtype=np.float32)
    hint = np.zeros(len(HINT_FIELDS), dtype=np.float64)
    hint_seen = 0
    s_hops = counters.slot("hops")
    s_over = counters.slot("analysis_overruns")
    s_ns = counters.slot("analysis_ns_total")
    s_max = counters.slot("analysis_ns_max")
    s_badhint = counters.slot("bad_tempo_hints")
    i_source = IDX["tempo_source"]
    source_code = float(TEMPO_SOURCES.index("audio"))
    lost = 0
    while not stop.is_set():
        if not ring.read(hop):
            if source.finished and ring.available() < spec.hop_length:
                break
            time.sleep(0.0005)
            continue
        if ring.lost != lost:
            counters.bump(s_over, ring.lost - lost)
            lost = ring.lost
        if hints is not None and hints.publishes != hint_seen and hints.read(hint):
            hint_seen = hints.publishes
            try:
                apply_hint(analyzer, hint)
                # The source that steers the grid now: the last hint's, until cleared.
                if int(hint[1]) in (HINT_MODES["override"], HINT_MODES["nudge"]):
                    source_code = float(hint[5])
                elif int(hint[1]) == HINT_MODES["clear"]:
                    source_code = float(TEMPO_SOURCES.index("audio"))
            except ValueError:
                counters.bump(s_badhint)
        t0 = time.perf_counter_ns()
        t_end = ring.time_of(ring.read_count - 1) + 1.0 / ring.sr
        vec = analyzer.process(hop, t_end)
        vec[i_source] = source_code
        mailbox.write(vec)
        dt = time.perf_counter_ns() - t0
        counters.bump(s_hops)
        counters.bump(s_ns, dt)
        if dt > counters.values[s_max]:
            counters.values[s_max] = dt


def listen_main(spec: ListenSpec, stop: Any, status: Any) -> None:
    """Entry point of the listen process.

    Reports ``("ready", description)`` or ``("error", exit_code, message)`` on ``status``,
    then runs until ``stop`` is set or a finite source is exhausted.
    """
    mailbox = counters = None
    notes = prioritize_audio_process()
    try:
        from lumen.analysis.analyzer import Analyzer
        from lumen.analysis.base import AnalysisSpec

        mailbox = Mailbox(N_FIELDS, name=spec.mailbox_name)
        hints = Mailbox(len(HINT_FIELDS), name=spec.hints_name) if spec.hints_name else None
        counters = Counters(LISTEN_COUNTERS, shm_name=spec.counters_name)
        source = _make_source(spec)
        aspec = AnalysisSpec.for_rate(source.sr, spec.tempo_min_bpm, spec.tempo_max_bpm)
        analyzer = Analyzer(aspec, spec.analyzers)
        ring = source.make_ring(seconds=2.0)
        local_stop = threading.Event()
        thread = threading.Thread(
            target=analysis_loop, args=(source, ring, analyzer, mailbox, counters, local_stop, hints), name="lumen-analysis", daemon=True
        )
        thread.start()
        source.start(ring, counters)
    except LumenError as e:
        code = 3 if isinstance(e, DeviceError) else 4
        status.put(("error", code, str(e)))
        return
    except Exception as e:  # anything else is a bug: report it whole, exit 4
        status.put(("error", 4, f"listen process failed: {e!r}\n{traceback.format_exc()}"))
        return
    # A cyclic-GC pass can start on whichever thread allocates, the audio callback included,
    # and a full pass over this process's objects takes milliseconds. So: everything built so
    # far is frozen out of collection, automatic collection is off, and this thread collects
    # the young generations (cheap: there is little garbage here) every few seconds.
    gc.freeze()
    gc.disable()
    status.put(("ready", source.describe() + notes))
    try:
        n_polls = 0
        while not stop.is_set() and thread.is_alive():
            source.poll()
            n_polls += 1
            if n_polls % 16 == 0:
                gc.collect(1)
            stop.wait(0.25)
    finally:
        source.stop()
        local_stop.set()
        thread.join(timeout=2.0)
        status.put(("done", ""))
        mailbox.close()
        counters.close()
        # Leave without interpreter teardown: after a lost JACK server, PortAudio's atexit
        # Pa_Terminate asserts and aborts. Everything is closed; flush the status queue first.
        status.close()
        status.join_thread()
        os._exit(0)


class ListenProcess:
    """Parent-side handle of the listen process: shared memory, start, stop."""

    def __init__(self, spec_kw: dict[str, Any]) -> None:
        self.mailbox = Mailbox.create_shared(N_FIELDS)
        self.hints = Mailbox.create_shared(len(HINT_FIELDS))
        self._hint = np.zeros(len(HINT_FIELDS), dtype=np.float64)
        self.counters = Counters(LISTEN_COUNTERS, create=True)
        self.spec = ListenSpec(
            mailbox_name=self.mailbox.name, counters_name=self.counters.shm_name, hints_name=self.hints.name, **spec_kw
        )
        ctx = mp.get_context("spawn")
        self._stop = ctx.Event()
        self._status: Any = ctx.Queue()
        self._proc = ctx.Process(target=listen_main, args=(self.spec, self._stop, self._status), name="lumen-listen", daemon=True)
        self.description = ""
        self.done = False

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the process and wait until its source runs; raise `DeviceError` if it cannot."""
        self._proc.start()
        deadline = now() + timeout_s
        msg: tuple[Any, ...] = ()
        while not msg:
            try:
                msg = self._status.get(timeout=0.2)
            except queue.Empty:
                if not self._proc.is_alive():
                    self.close()
                    raise LumenError(f"listen process exited during start-up (exit code {self._proc.exitcode})") from None
                if now() > deadline:
                    self.stop()
                    raise LumenError(f"listen process did not start within {timeout_s:.0f} s") from None
        if msg[0] == "error":
            self._proc.join(timeout=5.0)
            self.close()
            if msg[1] == 3:
                raise DeviceError(msg[2])
            raise LumenError(msg[2])
        self.description = msg[1]

    def send_hint(self, mode: str, bpm: float = 0.0, beat_t: float = 0.0, weight: float = 0.5, source: str = "audio") -> None:
        """Publish a tempo hint to the listen process's beat tracker (see `apply_hint`).

        ``source`` (one of `lumen.features.TEMPO_SOURCES`) is what `Features.tempo_source`
        says while an override holds.
        """
        if self.hints is None:
            return
        h = self._hint
        h[0] += 1.0
        h[1] = HINT_MODES[mode]
        h[2], h[3], h[4] = bpm, beat_t, weight
        h[5] = TEMPO_SOURCES.index(source)
        self.hints.write(h)

    def poll(self) -> bool:
        """True while the process runs and its source has audio left."""
        try:
            while True:
                msg = self._status.get_nowait()
                if msg[0] == "done":
                    self.done = True
        except queue.Empty:
            pass
        return self._proc.is_alive() and not self.done

    def stop(self) -> None:
        """Ask the process to stop, wait, and release shared memory."""
        self._stop.set()
        if self._proc.pid is not None:
            self._proc.join(timeout=5.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(timeout=2.0)
        self.close()

    def close(self) -> None:
        """Release shared memory (idempotent)."""
        if self.mailbox is not None:
            self.mailbox.close()
            self.mailbox.unlink()
            self.hints.close()
            self.hints.unlink()
            self.counters.close()
            self.counters.unlink()
            self.mailbox = None  # type: ignore[assignment]
            self.hints = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------
# show process


def resolve_shader(name: str, show_dir: Path | None) -> Path:
    """Find a shader by path or in the show's folder or lumen's shader folders.

    Raises
    ------
    ConfigError
        No such file in any of those places (the message lists where it looked).
    """
    p = Path(name)
    candidates = [p] if p.is_absolute() else []
    if show_dir is not None:
        candidates.append(show_dir / p)
        candidates.append(show_dir.parent / "shaders" / p)
    candidates += [d / p for d in SHADER_DIRS]
    for c in candidates:
        if c.is_file():
            return c
    where = ", ".join(dict.fromkeys(str(c.parent) for c in candidates))
    raise ConfigError([ConfigIssue(str(show_dir or "."), 0, 0, "shader", f"shader {name!r} not found (looked in {where})")])


def missing_shaders(cfg: Any, show_dir: Path | None) -> list[tuple[str, str]]:
    """Shaders the show names that cannot be found: ``(name, "key.path: message")`` each."""
    from lumen.show.scenes import shader_names

    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for loc, name in shader_names(cfg):
        if name in seen:
            continue
        seen.add(name)
        try:
            resolve_shader(name, show_dir)
        except ConfigError as e:
            out.append((name, f"{'.'.join(str(k) for k in loc)}: {e.issues[0].message}"))
    return out


def rig_part(cfg: Any) -> dict[str, Any]:
    """Everything of a show a live reload cannot change (all but scenes, cue list and automation)."""
    part: dict[str, Any] = cfg.model_dump(exclude={"scene", "scenes", "start_scene", "name", "cues", "automation", "rig", "version"})
    return part


class FixtureBinding:
    """A patched fixture's bound parameters, compiled once."""

    def __init__(self, fx: Any) -> None:
        from lumen.scene.expr import FEATURE_NAMES, compile_expr

        def opt(v: Any) -> Any:
            return None if v is None else compile_expr(v, FEATURE_NAMES)

        self.name: str = fx.name
        self.intensity = compile_expr(fx.intensity, FEATURE_NAMES)
        self.strobe_hz = compile_expr(fx.strobe_hz, FEATURE_NAMES)
        self.pan_deg = opt(fx.pan_deg)
        self.tilt_deg = opt(fx.tilt_deg)
        self.zoom = opt(fx.zoom)


class Rig:
    """Where DMX goes: the LED wall's pixel map and the fixture patch, in one block of universes.

    The block spans rig universes ``first_universe .. first_universe + n_rows - 1``; the wall
    occupies rows from `wall_row0`. Outputs number universes with their own offset.
    """

    def __init__(self, cfg: Any, show_dir: Path | None) -> None:
        from lumen.patch.pixelmap import MatrixMap
        from lumen.show.rig import build_rig

        self.maps, self.patch, problems = build_rig(cfg, show_dir)
        if problems:
            raise ConfigError([ConfigIssue(str(show_dir or "."), 0, 0, ".".join(str(k) for k in loc), msg) for loc, msg in problems])
        wall = self.maps["wall"]
        assert isinstance(wall, MatrixMap)  # build_rig makes the wall a matrix
        self.pixelmap = wall
        self.fixtures = [FixtureBinding(fx) for fx in cfg.fixtures]
        used = [u for m in self.maps.values() for u in (m.universes[0], m.universes[-1])] + list(self.patch.universes)
        self.first_universe = min(used)
        self.n_rows = max(used) - self.first_universe + 1
        self.wall_row0 = self.pixelmap.universes[0] - self.first_universe

    def map_views(self, dmx: npt.NDArray[np.uint8]) -> list[tuple[Any, npt.NDArray[np.uint8]]]:
        """Each pixel map with the rows of ``dmx`` (the rig block) it writes."""
        out = []
        for m in self.maps.values():
            r0 = m.universes[0] - self.first_universe
            out.append((m, dmx[r0 : r0 + m.n_universes]))
        return out

    def apply_fixtures(self, frame: npt.NDArray[np.float32], env: Any, dmx: npt.NDArray[np.uint8], master: float) -> None:
        """Evaluate fixture bindings and render the fixtures' channels into ``dmx``."""
        from lumen.patch.fixtures import FixtureState

        states = {}
        for b in self.fixtures:
            states[b.name] = FixtureState(
                intensity=min(1.0, max(0.0, b.intensity(env))) * master,
                strobe_hz=max(0.0, b.strobe_hz(env)),
                pan_deg=None if b.pan_deg is None else b.pan_deg(env),
                tilt_deg=None if b.tilt_deg is None else b.tilt_deg(env),
                zoom=None if b.zoom is None else min(1.0, max(0.0, b.zoom(env))),
            )
        self.patch.apply(frame, states, dmx, first_universe=self.first_universe)


@dataclass
class ShowStats:
    """Figures of a finished or running show (read by dashboards and `summary.json`)."""

    frames: int = 0
    late_frames: int = 0
    render_errors: int = 0
    shader_errors: int = 0
    last_shader_error: str = ""
    features: Features = field(default_factory=Features)
    render_ms_max: float = 0.0
    render_ms_total: float = 0.0
    scene: str = ""
    problems: dict[str, str] = field(default_factory=dict)
    last_command_error: str = ""


@dataclass(frozen=True, slots=True)
class SceneCommand:
    """Change scene at the next musical boundary (posted to the frame thread's inbox).

    Attributes
    ----------
    scene : str
    transition : lumen.scene.transition.TransitionSpec or None
        None: the target scene's own transition.
    quantize : str or None
        Overrides the transition's quantization.
    """

    scene: str
    transition: Any = None
    quantize: str | None = None
    name: str = "go"


@dataclass(frozen=True, slots=True)
class ScenesCommand:
    """Swap in reloaded scenes at the next frame boundary (posted by the show-file watcher)."""

    specs: tuple[Any, ...]
    start: str
    director: Any = None
    name: str = "scenes"


def feature_stream(f: Features) -> dict[str, Any]:
    """The features sent to VJ software (`/lumen/features/<name>`)."""
    return {
        "bpm": f.bpm, "beat_phase": f.beat_phase, "bar_phase": f.bar_phase, "energy": f.energy,
        "bands": f.bands, "onset": f.onset, "valence": f.valence, "arousal": f.arousal,
        "confidence": f.confidence, "section": f.section, "novelty": f.novelty, "tempo_source": f.tempo_source,
    }


def preload_shaders(compositor: Any, scenes: Any) -> None:
    """Load every shader the scenes name, so compile errors are known before the first frame."""
    for name in scenes.names:
        spec = scenes.spec(name)
        for layer in spec.layers:
            for node in (layer.source, *layer.effects):
                compositor.program(node.shader)
        for node in spec.effects:
            compositor.program(node.shader)


class FrameThread(threading.Thread):
    """The frame thread: features → scene graph → compositor (GL) → readback → patch → output.

    Owns the GL context (a context works only in the thread that made it). Never waits on
    the listen process (reads the mailbox, reuses the last features when nothing new came)
    or on the network (hands DMX to the output thread's double buffer). Commands (blackout,
    master, scene changes, reloaded scenes) are applied at frame boundaries. Shader files
    hot-reload four times a second; a failed compile keeps the last good program, a missing or
    failing node is bypassed; both are counted and kept in ``stats.problems``.
    """

    def __init__(
        self,
        *,
        mailbox: Mailbox,
        scenes: Any,
        resolve: Callable[[str], Path],
        render_size: tuple[int, int],
        rig: Rig,
        safety: Any,
        audio_lost_after_s: float,
        output: Any,
        fps: float,
        gamma: float,
        brightness: float,
        counters: Counters,
        inbox: Inbox[Any],
        gl_backend: str = "auto",
        latency_s: float = 0.0,
        min_interval_s: float = 0.0,
        preview_every: int = 0,
        preview_max: int = 0,
        on_ready: Callable[[BaseException | None], None] | None = None,
        director: Any = None,
        cues_out: Any = None,
        feedback: Any = None,
        strobe_hz: float = 10.0,
    ) -> None:
        super().__init__(name="lumen-frame", daemon=True)
        self.director = director
        self.cues_out = cues_out
        self.feedback = feedback  # deque of (address, args) for OSC controllers; bounded
        self.strobe_hz = strobe_hz
        self.strobe = False
        self._bars = 0
        self.mailbox = mailbox
        self.scenes = scenes
        self.resolve = resolve
        self.width, self.height = render_size
        self.rig = rig
        self.safety = safety
        self.audio_lost_after_s = audio_lost_after_s
        self.output = output
        self.fps = fps
        self.gamma = gamma
        self.brightness = brightness
        self.counters = counters
        self.inbox = inbox
        self.gl_backend = gl_backend
        self.latency_s = latency_s
        self.min_interval_s = min_interval_s
        self.preview_every = preview_every
        self.preview_max = preview_max
        self.previews: list[npt.NDArray[np.uint8]] = []
        self.stats = ShowStats()
        self.stop_event = threading.Event()
        self._on_ready = on_ready
        self._comp: Any = None
        self.t_start = 0.0

    def run(self) -> None:  # noqa: C901 - one loop, kept in one place on purpose
        from lumen.render.compositor import Compositor
        from lumen.render.context import create_context
        from lumen.render.preview import Preview, feature_lines

        try:
            ctx = create_context(self.gl_backend, width=max(640, self.width), height=max(360, self.height))  # type: ignore[arg-type]
            comp = Compositor(ctx, self.width, self.height, resolve=self.resolve)
            self._comp = comp
            preload_shaders(comp, self.scenes)
            self.stats.problems = dict(comp.problems)
            preview = None
            if ctx.extra.get("lumen_backend") == "window":
                preview = Preview(ctx, max(640, self.width), max(360, self.height))
        except BaseException as e:  # reported to the starter, which exits with the right code
            if self._on_ready:
                self._on_ready(e)
            return
        if self._on_ready:
            self._on_ready(None)
        c = self.counters
        s_frames, s_late, s_rerr = c.slot("frames"), c.slot("late_frames"), c.slot("render_errors")
        s_serr, s_reload, s_stale = c.slot("shader_errors"), c.slot("shader_reloads"), c.slot("stale_features")
        s_bypass = c.slot("nodes_bypassed")
        pix = comp.new_frame()
        rig = self.rig
        dmx = np.zeros((rig.n_rows, 512), dtype=np.uint8)
        views = rig.map_views(dmx)
        vec = np.zeros(N_FIELDS, dtype=np.float64)
        period = 1.0 / self.fps
        # Frames follow the audio: one is rendered as soon as a new hop's features arrive,
        # at most one per frame period (less half a hop, so 60 fps snaps to every 2nd hop),
        # and at least one per two periods when no audio comes (animation keeps moving).
        min_gap = max(0.0, period - 0.005, self.min_interval_s)
        max_gap = 2.0 * period
        self.t_start = now()
        last_frame_t = -1e9
        last_pub = -1
        frame = 0
        last_seq = -1.0
        last_check = 0.0
        bypassed = 0
        while not self.stop_event.is_set():
            while True:
                t_now = now()
                since = t_now - last_frame_t
                if since >= max_gap or self.stop_event.is_set():
                    break
                if since >= min_gap and self.mailbox.publishes != last_pub:
                    break
                time.sleep(0.0005)
            last_frame_t = t_now
            last_pub = self.mailbox.publishes
            for cmd in self.inbox.drain():
                self._apply(cmd)
            if self.mailbox.read(vec):
                if vec[1] == last_seq:
                    c.bump(s_stale)
                last_seq = float(vec[1])
            f = from_vector(vec)
            state = self.scenes.evaluate(f, t_now=t_now, t_target=t_now + self.latency_s, time_s=t_now - self.t_start, frame=frame)
            self._music_events(f, state, t_now)
            if t_now - last_check > 0.25:  # hot reload: a stat() per shader four times a second
                last_check = t_now
                for ev in comp.poll_reload():
                    c.bump(s_reload)
                    if ev.error is not None:
                        c.bump(s_serr)
                        self.stats.last_shader_error = str(ev.error)
                if comp.problems != self.stats.problems:
                    self.stats.problems = dict(comp.problems)
            t0 = now()
            try:
                comp.render(state.uniforms, state.plan, state.transition, pix, spectrum=f.spectrum, wave=f.wave, bands=f.bands)
            except Exception as e:  # noqa: BLE001 - a failing draw keeps the last good frame on the wall
                c.bump(s_rerr)
                self.stats.last_shader_error = str(e)
            if comp.n_bypassed != bypassed:
                c.bump(s_bypass, comp.n_bypassed - bypassed)
                bypassed = comp.n_bypassed
            render_ms = (now() - t0) * 1000.0
            self.stats.render_ms_total += render_ms
            self.stats.render_ms_max = max(self.stats.render_ms_max, render_ms)
            if preview is not None:
                errors = list(comp.problems.values())
                if not preview.show(comp.output, feature_lines(f, scene=self.scenes.current), errors):
                    self.stop_event.set()  # the window was closed
            # Safety before the wire: flash limiter, grand master, blackout, audio-lost look.
            if f.seq > 0:
                audio_ok = t_now - f.t < self.audio_lost_after_s
            else:  # no audio yet: give the listen process a moment before calling it lost
                audio_ok = t_now - self.t_start < self.audio_lost_after_s + 2.0
            if self.strobe:  # the DJ's strobe button: full white on the strobe's half-cycles
                pix[...] = 1.0 if int((t_now - self.t_start) * self.strobe_hz * 2.0) % 2 == 0 else 0.0
            self.safety.process(pix, t_now, audio_ok)
            for pmap, rows in views:
                pmap.apply(pix, rows, brightness=self.brightness, gamma=self.gamma)
            if rig.fixtures:
                rig.apply_fixtures(pix, state.uniforms, dmx, 0.0 if self.safety.blackout else self.safety.grand_master)
            self.output.publish(dmx, f.t, frame)
            if self.preview_every and frame % self.preview_every == 0 and len(self.previews) < self.preview_max:
                self.previews.append((np.clip(pix, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
            frame += 1
            c.bump(s_frames)
            self.stats.features = f
            self.stats.scene = self.scenes.current
            if now() - t_now > period:
                c.bump(s_late)  # this frame took longer than its period
        if preview is not None:
            preview.release()
        comp.release()
        ctx.release()

    def _music_events(self, f: Features, state: Any, t_now: float) -> None:
        """Automation, cue follow and console events for this frame."""
        clock = self.scenes.clock
        self._bars = clock.bars
        if self.director is not None:
            section_before = self.director.section
            action = self.director.step(f, bar=clock.bar, bars=clock.bars, t=t_now, env=state.uniforms)
            if f.section != section_before and self.cues_out is not None:
                kind = f.section if f.section in ("drop", "break", "build") else "section"
                self.cues_out.post("section", t_now, section=f.section)
                if kind != "section":
                    self.cues_out.post(kind, t_now, section=f.section)
            if action is not None:
                self.counters.bump(self.counters.slot("auto_changes"))
                self._act(action, t_now)
        if self.cues_out is not None:
            if clock.beat:
                beat_in_bar = int(clock.beats) % 4 + 1
                self.cues_out.post("beat", t_now, beat=beat_in_bar, bar=clock.bars, bpm=f.bpm, beat_t=f.next_beat_t)
                if clock.bar:
                    self.cues_out.post("downbeat", t_now, beat=1, bar=clock.bars, bpm=f.bpm, beat_t=f.next_beat_t)
            self.cues_out.publish_features(feature_stream(f), t_now)

    def _act(self, action: Any, t_now: float) -> None:
        """Apply a director's scene change and tell consoles and controllers."""
        try:
            self.scenes.go(action.scene, transition=action.transition, quantize=action.quantize)
        except LumenError as e:  # validated against the scenes; a reload may have removed one
            self.counters.bump(self.counters.slot("bad_commands"))
            self.stats.last_shader_error = str(e)
            return
        cue = action.cue
        if self.cues_out is not None:
            fields: dict[str, Any] = {"scene": action.scene, "reason": action.reason}
            if cue is not None:
                fields["cue"] = f"{cue.number:g}"
                self.cues_out.post("cue", t_now, **fields)
            self.cues_out.post("scene", t_now, **fields)
        self._feedback("/lumen/scene", action.scene)
        if cue is not None:
            self._feedback("/lumen/cue", float(cue.number), cue.label_or_number)

    def _feedback(self, address: str, *args: Any) -> None:
        if self.feedback is not None:
            self.feedback.append((address, args))

    def _apply(self, cmd: Any) -> None:  # noqa: C901 - one dispatch table, kept flat
        name = getattr(cmd, "name", "")
        c = self.counters
        c.bump(c.slot("commands"))
        echoed = getattr(cmd, "source", "") == "osc"  # the OSC server echoes these itself
        if name == "blackout":
            self.safety.blackout = bool(cmd.value)
            if not echoed:
                self._feedback("/lumen/blackout", 1 if self.safety.blackout else 0)
            if self.cues_out is not None:
                self.cues_out.post("blackout", now(), value=float(self.safety.blackout))
        elif name == "master":
            self.safety.grand_master = min(1.0, max(0.0, float(cmd.value)))
            if not echoed:
                self._feedback("/lumen/master", float(self.safety.grand_master))
        elif name == "strobe":
            self.strobe = cmd.value > 0.5
            if not echoed:
                self._feedback("/lumen/strobe", 1 if self.strobe else 0)
        elif name == "param":
            try:
                self.scenes.set_param(cmd.arg, float(cmd.value))
            except (LumenError, ValueError) as e:
                c.bump(c.slot("bad_commands"))
                self.stats.last_command_error = str(e)
        elif name in ("scene", "cue_go", "cue_back", "cue_goto", "auto", "release"):
            if name == "scene" and cmd.arg not in self.scenes.names:
                c.bump(c.slot("bad_commands"))
                self.stats.last_command_error = str(UnknownSceneError(cmd.arg, self.scenes.names))
                return
            if self.director is None:
                if name == "scene":
                    self._act(Action(cmd.arg, reason="manual"), now())
                return
            try:
                action = self.director.command(cmd, self._bars)
            except LumenError as e:  # GOTO a cue that is not in the list
                c.bump(c.slot("bad_commands"))
                self.stats.last_command_error = str(e)
                return
            if name in ("auto", "release"):
                self._feedback("/lumen/auto", 0 if (self.director.override or not self.director.enabled) else 1)
            if action is not None:
                self._act(action, now())
        elif name == "go":  # Engine.go: a manual scene change with an optional transition
            if self.director is not None:
                self.director.command(Command("scene", arg=cmd.scene, t=now(), source="api"))
            try:
                self.scenes.go(cmd.scene, transition=cmd.transition, quantize=cmd.quantize)
            except LumenError as e:  # checked by the poster already; a reload may have removed it
                self.stats.last_shader_error = str(e)
                return
            self._feedback("/lumen/scene", cmd.scene)
        elif name == "scenes":
            try:
                self.scenes.replace(cmd.specs, cmd.start)
            except (LumenError, ValueError) as e:
                self.stats.last_shader_error = f"scene reload rejected: {e}"
                return
            if cmd.director is not None:  # the reloaded cue list and rules
                self.director = cmd.director
            if self._comp is not None:  # compile new shaders now, so their errors show at once
                preload_shaders(self._comp, self.scenes)
                self.stats.problems = dict(self._comp.problems)


# ---------------------------------------------------------------------------------------------
# the whole chain


@dataclass
class EngineOptions:
    """Run-time choices that are not part of the show file.

    Attributes
    ----------
    source : dict or None
        Overrides of the show's audio section (``{"source": "file", "file": ...}``).
    seconds : float or None
        Length of finite sources (signal) and of the run.
    gl_backend : {"auto", "egl", "window"}
    preview_fps : float
        Frames per second kept for the preview (0: none).
    preview_max : int
        Most preview frames kept (memory bound).
    realtime_pace : bool
        Pace file and signal sources like a sound card.
    """

    source: dict[str, Any] | None = None
    seconds: float | None = None
    gl_backend: str = "auto"
    preview_fps: float = 0.0
    preview_max: int = 0
    realtime_pace: bool = True


class Engine:
    """Runs a show: the listen process, then the frame, output and health loops here.

    Parameters
    ----------
    cfg : lumen.show.schema.ShowConfig
        A validated show.
    show_path : Path or None
        Where the show file is (relative shader and audio paths resolve against it).
    options : EngineOptions
    """

    def __init__(self, cfg: Any, show_path: Path | None = None, options: EngineOptions | None = None) -> None:
        from lumen.show.scenes import build_scene_set

        self.cfg = cfg
        self.show_path = show_path
        self.options = options or EngineOptions()
        self.show_dir = show_path.resolve().parent if show_path is not None else None
        self.rig = Rig(cfg, self.show_dir)
        self.pixelmap = self.rig.pixelmap
        self.scenes = build_scene_set(cfg)
        self.missing_shaders = missing_shaders(cfg, self.show_dir)
        scene_w, scene_h = self.pixelmap.scene_size  # the wall as seen in the scene (after rotation)
        self.render_size = (cfg.render.width or scene_w, cfg.render.height or scene_h)
        self.show_counters = Counters(SHOW_COUNTERS)
        self.inbox: Inbox[Any] = Inbox()
        self.listen: ListenProcess | None = None
        self.frame: FrameThread | None = None
        self.output: Any = None
        self.outputs: list[Any] = []
        self._responders: list[Any] = []
        self.t_start = 0.0
        self._health = HealthMonitor()
        self.final_snapshot: dict[str, Any] | None = None
        self._show_watch = ShowWatcher(show_path) if show_path is not None else None
        from lumen.control.hub import ControlHub, TempoArbiter
        from lumen.show.cues import build_director

        tc = cfg.control.tempo
        self.arbiter = TempoArbiter(self._send_hint, tc.precedence, manual_hold_s=tc.manual_hold_s, timeout_s=tc.timeout_s)
        self.hub = ControlHub(self.inbox, self.arbiter)
        self.director = build_director(cfg)
        self.feedback: collections.deque[tuple[str, tuple[Any, ...]]] = collections.deque(maxlen=256)
        self.control: Any = None  # lumen.show.surfaces.ControlSurfaces, made by start()
        self.osc_port: int | None = None  # overrides control.osc.port (lumen run/demo --osc-port)
        self._reported: dict[str, str] = {}

    def resolve(self, name: str) -> Path:
        """Find a shader named in the show (see `resolve_shader`)."""
        return resolve_shader(name, self.show_dir)

    def go(self, scene: str, *, transition: Any = None, quantize: str | None = None) -> None:
        """Change scene at the next musical boundary (any thread; applied between frames).

        Raises
        ------
        lumen.scene.graph.UnknownSceneError
            The show has no such scene.
        """
        from lumen.scene.graph import UnknownSceneError

        names = self.cfg.scene_names()
        if scene not in names:
            raise UnknownSceneError(scene, names)
        self.inbox.post(SceneCommand(scene, transition, quantize))

    def _send_hint(self, mode: str, bpm: float, beat_t: float, weight: float, source: str) -> None:
        if self.listen is not None:
            self.listen.send_hint(mode, bpm, beat_t, weight, source)

    def post(self, cmd: Command) -> None:
        """Deliver a control command as any control surface would (thread-safe)."""
        self.hub.post(cmd)

    def tap(self, t: float | None = None) -> float:
        """A tap of the tap-tempo button at ``t`` (perf_counter; default now); returns the bpm.

        From the second tap on, the tapped tempo and phase nudge the beat tracker hard (the
        audio keeps refining it); a pause of more than 2 s starts a new tap sequence. Taps go
        through the tempo arbiter like every other tempo source.
        """
        return self.arbiter.tap(now() if t is None else t)

    def set_tempo(self, bpm: float, beat_t: float = 0.0, *, mode: str = "override", weight: float = 0.5) -> None:
        """An external tempo (Link, MIDI clock, OSC): ``mode`` "override", "nudge" or "clear".

        Raises
        ------
        ValueError
            ``bpm`` outside 20..400 or ``mode`` unknown.
        """
        if mode not in HINT_MODES:
            raise ValueError(f"tempo mode must be one of {', '.join(HINT_MODES)}, got {mode!r}")
        if mode != "clear" and not 20.0 <= bpm <= 400.0:
            raise ValueError(f"bpm must be in 20..400, got {bpm!r}")
        if self.listen is not None:
            self.listen.send_hint(mode, bpm, beat_t, weight, "audio" if mode == "clear" else "osc")

    def _listen_kw(self) -> dict[str, Any]:
        a = self.cfg.audio
        kw: dict[str, Any] = {
            "source": a.source,
            "device": a.device,
            "file": str(self._resolve(a.file)) if a.file else None,
            "sr": a.sr,
            "blocksize": a.blocksize,
            "channels": a.channels,
            "signal": a.signal.model_dump(),
            "seconds": self.options.seconds,
            "realtime_pace": self.options.realtime_pace,
            "analyzers": tuple(self.cfg.analysis.analyzers),
            "tempo_min_bpm": self.cfg.analysis.tempo_min_bpm,
            "tempo_max_bpm": self.cfg.analysis.tempo_max_bpm,
        }
        if self.options.source:
            kw.update(self.options.source)
        return kw

    def _resolve(self, p: str) -> Path:
        path = Path(p)
        if not path.is_absolute() and self.show_path is not None:
            path = self.show_path.parent / path
        return path

    def start(self) -> None:
        """Start listen process, outputs and frame thread; raise on a setup failure.

        Raises
        ------
        DeviceError
            The audio input (or GL) is not available (exit code 3).
        ShaderError, OutputError, ConfigError
            The show cannot start as configured.
        """
        from lumen.output import OutputThread

        n_univ = self.rig.n_rows
        from lumen.output.delay import DelayedOutput

        for o in self.cfg.outputs:
            out = self._build_output(o, n_univ)
            self.outputs.append(DelayedOutput(out, o.delay_ms) if o.delay_ms > 0 else out)
        rate = max(o.rate_hz for o in self.cfg.outputs)
        self.output = OutputThread(self.outputs, n_univ, rate_hz=rate)
        self.listen = ListenProcess(self._listen_kw())
        self.listen.start()
        ready = threading.Event()
        failure: list[BaseException] = []

        def on_ready(e: BaseException | None) -> None:
            if e is not None:
                failure.append(e)
            ready.set()

        fps = self.cfg.render.fps
        latency_s = max(o.latency_ms for o in self.cfg.outputs) / 1000.0 + 0.5 / fps
        every = max(1, int(round(fps / self.options.preview_fps))) if self.options.preview_fps > 0 else 0
        from lumen.patch.safety import Safety

        sc = self.cfg.safety
        safety = Safety(fps, max_flashes_per_s=sc.max_flashes_per_s, enabled=sc.flash_limiter)
        safety.grand_master = sc.grand_master
        safety.on_audio_lost(sc.on_audio_lost, fade_s=sc.fade_s, safe_look=sc.safe_look)
        for name, why in self.missing_shaders:
            log.warning("%s (the nodes using it are bypassed until the file appears)", why)
        self.frame = FrameThread(
            mailbox=self.listen.mailbox, scenes=self.scenes, resolve=self.resolve,
            render_size=self.render_size, rig=self.rig, safety=safety,
            audio_lost_after_s=sc.audio_lost_after_s, output=self.output, fps=fps,
            gamma=self.cfg.wall.gamma, brightness=self.cfg.wall.brightness, counters=self.show_counters,
            inbox=self.inbox, gl_backend=self.options.gl_backend, latency_s=latency_s,
            min_interval_s=1.0 / rate,
            preview_every=every, preview_max=self.options.preview_max, on_ready=on_ready,
            director=self.director, feedback=self.feedback,
        )
        from lumen.show.surfaces import ControlSurfaces

        try:
            self.control = ControlSurfaces(self.cfg, self.hub, self.feedback, osc_port=self.osc_port, features=self._features)
        except LumenError:
            self.listen.stop()
            raise
        self.frame.cues_out = self.control.cues_out
        self.control.start()
        self.output.start()
        self.frame.start()
        ready.wait(timeout=60.0)
        if failure or not ready.is_set():
            self.stop()
            if failure:
                raise failure[0]
            raise LumenError("the frame thread did not start within 60 s")
        self.t_start = now()
        self._report_problems()

    def _build_output(self, o: Any, n_univ: int) -> Any:
        """One output from its config; its `universe` is the number it gives rig universe 1."""
        from lumen.output import outputs
        from lumen.output.artnet import ArtnetOutput, ArtPollResponder

        kind = outputs.get(o.type)
        common = {"address": o.address, "port": o.port, "rate_hz": o.rate_hz, "latency_ms": o.latency_ms}
        if o.type == "ddp":
            # DDP carries the wall's pixels only (170 per DMX row of the rig block).
            return kind(n_pixels=self.rig.n_rows * 170, **common)
        start = self.rig.first_universe - 1 + o.universe
        if o.type == "artnet":
            out = ArtnetOutput(start_universe=start, n_universes=n_univ, sync=o.sync, allow_broadcast=o.allow_broadcast, **common)
            if o.poll_reply:
                responder = ArtPollResponder(out.encoder.universes, bind_address=o.poll_bind)
                responder.start()
                self._responders.append(responder)
            return out
        return kind(
            start_universe=start, n_universes=n_univ, priority=o.priority, source_name=o.source_name,
            allow_multicast=o.allow_multicast, sync_universe=o.sync_universe, discovery=o.discovery, **common,
        )

    def _report_problems(self) -> None:
        """Log shader problems as they appear and when they are fixed (console, main thread)."""
        if self.frame is None:
            return
        now_problems = dict(self.frame.stats.problems)
        for shader, msg in now_problems.items():
            if self._reported.get(shader) != msg:
                log.warning("shader problem: %s (the last good program keeps running; a missing one is bypassed)", msg)
        for shader in self._reported.keys() - now_problems.keys():
            log.warning("shader %s: fixed, running the new version", shader)
        self._reported = now_problems

    def poll_show_file(self) -> bool:
        """Reload the show file if it changed on disk (main thread, between health ticks).

        A valid edit's scenes are swapped in by the frame thread at a frame boundary; edits
        outside the scenes (audio, wall, fixtures, outputs, ...) need a restart, which is
        logged. An invalid edit is logged as its ``file:line:col`` errors and counted; the show
        runs on unchanged.

        Returns
        -------
        bool
            True when new scenes were posted.
        """
        from lumen.show.scenes import scene_specs

        if self._show_watch is None:
            return False
        result = self._show_watch.poll()
        if result is None:
            return False
        c = self.show_counters
        if isinstance(result, ConfigError):
            c.bump(c.slot("show_errors"))
            log.error("show file edit rejected; the show runs on unchanged:\n%s", result)
            return False
        try:
            specs, start = scene_specs(result)
        except LumenError as e:  # schema-checked already; kept as a guard
            c.bump(c.slot("show_errors"))
            log.error("show file edit rejected: %s", e)
            return False
        if rig_part(result) != rig_part(self.cfg):
            log.warning("show file: changes outside the scenes, cues and automation (audio, wall, fixtures, outputs, control, consoles, ...) "
                        "need a restart; scenes, cues and automation reloaded")
        for name, why in missing_shaders(result, self.show_dir):
            log.warning("%s (the nodes using it are bypassed until the file appears)", why)
        self.cfg = result
        from lumen.show.cues import build_director

        self.inbox.post(ScenesCommand(tuple(specs), start, build_director(result)))
        if self.control is not None:
            self.control.show_changed(result)
        c.bump(c.slot("show_reloads"))
        log.warning("show file reloaded: %d scene(s), swapped at the next frame", len(specs))
        return True

    def running(self) -> bool:
        """True while audio flows and the frame thread runs."""
        return bool(self.listen and self.listen.poll() and self.frame and self.frame.is_alive())

    def run(self, seconds: float | None, on_tick: Callable[[dict[str, Any]], None] | None = None, tick_s: float = 0.5) -> None:
        """Run until ``seconds`` pass, the source ends, or Ctrl-C; call ``on_tick`` periodically.

        The main thread acts as the health loop: it reads both processes' counters each tick
        and reports new faults (rate-limited) through logging.
        """
        deadline = None if seconds is None else now() + seconds
        try:
            while self.running() and (deadline is None or now() < deadline):
                time.sleep(tick_s if deadline is None else max(0.0, min(tick_s, deadline - now())))
                snap = self.snapshot()
                self._health.check(snap)
                self._report_problems()
                self.poll_show_file()
                if on_tick is not None:
                    on_tick(snap)
        except KeyboardInterrupt:
            log.info("interrupted; stopping")

    def snapshot(self) -> dict[str, Any]:
        """Counters and figures of both processes, for dashboards and summaries.

        After `stop` this is the snapshot taken just before shutting down.
        """
        if self.final_snapshot is not None:
            return self.final_snapshot
        listen = self.listen.counters.snapshot() if self.listen and self.listen.mailbox is not None else {}
        show = self.show_counters.snapshot()
        out = self.output.stats() if self.output is not None else {}
        f = self.frame.stats.features if self.frame is not None else Features()
        hops = max(1, listen.get("hops", 0))
        return {
            "elapsed_s": now() - self.t_start if self.t_start else 0.0,
            "listen": listen,
            "show": show,
            "output": out,
            "latency_ms": self.output.latency_percentiles() if self.output is not None else {},
            "features": f,
            "analysis_us_mean": listen.get("analysis_ns_total", 0) / hops / 1000.0,
            "render_ms_mean": (self.frame.stats.render_ms_total / max(1, show["frames"])) if self.frame else 0.0,
            "last_shader_error": self.frame.stats.last_shader_error if self.frame else "",
            "last_command_error": self.frame.stats.last_command_error if self.frame else "",
            "scene": self.frame.stats.scene if self.frame else "",
            "problems": dict(self.frame.stats.problems) if self.frame else {},
            "source": self.listen.description if self.listen else "",
            "control": self.control.snapshot() if self.control is not None else {},
            "tempo_source": f.tempo_source,
            "automation": _automation_state(self.frame.director if self.frame is not None else self.director),
        }

    def _features(self) -> Features:
        """The latest features the frame thread used (for Link lead mode)."""
        return self.frame.stats.features if self.frame is not None else Features()

    def stop(self) -> None:
        """Stop everything: frame thread, outputs (with Stream_Terminated), listen process."""
        if self.final_snapshot is None and self.t_start:
            self.final_snapshot = self.snapshot()
        if self.control is not None:
            self.control.stop()
        if self.frame is not None and self.frame.is_alive():
            self.frame.stop_event.set()
            self.frame.join(timeout=10.0)
        if self.output is not None:
            # Clean exit: a black frame goes out first, then Stream_Terminated (sACN).
            if self.output.running:
                self.output.publish(np.zeros((self.rig.n_rows, 512), dtype=np.uint8), now(), -1)
                time.sleep(2.0 / max(o.rate_hz for o in self.cfg.outputs))
            self.output.stop()
        for o in self.outputs:
            o.close()
        for r in self._responders:
            r.stop()
        if self.listen is not None:
            self.listen.stop()


# ---------------------------------------------------------------------------------------------
# offline render


@dataclass
class OfflineResult:
    """What `render_offline` did.

    Attributes
    ----------
    out : Path
    frames : int
    fps : float
    width, height : int, pixels
    seconds : float, s
        Length rendered.
    n_hops : int
        Analysis hops of the audio.
    n_bypassed : int
        Node draws skipped (missing or failing shaders).
    problems : dict of str to str
        Shader problems (``file:line: message``) at the end.
    render_s, analysis_s : float, s
        Wall time spent rendering and analyzing.
    """

    out: Path
    frames: int
    fps: float
    width: int
    height: int
    seconds: float
    n_hops: int
    n_bypassed: int
    problems: dict[str, str]
    render_s: float
    analysis_s: float


def analyze_file(audio: Path, cfg: Any) -> tuple[npt.NDArray[np.float64], float, float, int]:
    """Run the show's analysis chain over a whole audio file, as fast as the CPU allows.

    Returns
    -------
    vectors : ndarray, shape (n_hops, N_FIELDS), float64
        One feature vector per hop; hop ``i`` ends at ``(i + 1) * hop_s`` (audio time, s).
    hop_s : float, s
    duration_s : float, s
    sr : int, Hz
    """
    from lumen.analysis.analyzer import Analyzer
    from lumen.analysis.base import AnalysisSpec
    from lumen.audio.sources import read_audio_file

    data, sr = read_audio_file(audio)
    spec = AnalysisSpec.for_rate(sr, cfg.analysis.tempo_min_bpm, cfg.analysis.tempo_max_bpm)
    an = Analyzer(spec, tuple(cfg.analysis.analyzers))
    h = spec.hop_length
    n_hops = data.shape[0] // h
    out = np.zeros((n_hops, N_FIELDS), dtype=np.float64)
    for i in range(n_hops):
        out[i] = an.process(data[i * h : (i + 1) * h], (i + 1) * h / sr)
    return out, h / sr, data.shape[0] / sr, sr


def hop_at(t: float, hop_s: float) -> int:
    """Index of the latest hop that ended at or before audio time ``t`` (-1: none yet).

    Examples
    --------
    >>> hop_at(0.0, 0.01), hop_at(0.0099, 0.01), hop_at(0.01, 0.01), hop_at(1.0 / 60.0, 0.01)
    (-1, -1, 0, 0)
    """
    return int(math.floor(t / hop_s + 1e-9)) - 1


def render_offline(
    cfg: Any,
    show_path: Path | None,
    audio: Path,
    out: Path,
    *,
    fps: float | None = None,
    width: int | None = None,
    height: int | None = None,
    seconds: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    gl_backend: str = "egl",
) -> OfflineResult:
    """Render a show over an audio file, deterministically, to MP4, GIF or PNG frames.

    Time comes from the audio file, never the wall clock: the file is analyzed hop by hop
    (10 ms) with the show's analysis chain, then frame ``k`` is rendered at audio time
    ``k / fps`` from the latest hop that ended by then (beat and bar phase predicted to that
    instant). The same file and show give the same frames on any run.

    Parameters
    ----------
    cfg : lumen.show.schema.ShowConfig
    show_path : Path or None
        The show file (relative shader paths resolve against its folder).
    audio : Path
        The track.
    out : Path
        ``.mp4`` (audio muxed in), ``.gif``, or ``.png``/a folder for PNG frames.
    fps : float, optional
        Frames per second (default: the show's ``render.fps``).
    width, height : int, optional
        Frame size (default: the show's render size, else the wall's).
    seconds : float, optional
        Render only the first ``seconds`` of the track.
    progress : callable, optional
        ``progress(frames_done, frames_total)``, called after every frame.
    gl_backend : {"egl", "auto", "window"}

    Returns
    -------
    OfflineResult

    Raises
    ------
    DeviceError
        The audio file cannot be read, or no GL context.
    OutputError
        The output cannot be written (ffmpeg missing or failing, bad suffix).
    """
    from lumen.render.compositor import Compositor
    from lumen.render.context import create_context
    from lumen.render.record import check_output_path, open_writer
    from lumen.show.scenes import build_scene_set

    check_output_path(out)
    show_dir = show_path.resolve().parent if show_path is not None else None
    rig = Rig(cfg, show_dir)
    scene_w, scene_h = rig.pixelmap.scene_size
    w = int(width or cfg.render.width or scene_w)
    h = int(height or cfg.render.height or scene_h)
    fps = float(fps or cfg.render.fps)
    for _, why in missing_shaders(cfg, show_dir):
        log.warning("%s (the nodes using it are bypassed)", why)
    t0 = time.perf_counter()
    vectors, hop_s, duration_s, _ = analyze_file(audio, cfg)
    analysis_s = time.perf_counter() - t0
    length_s = duration_s if seconds is None else min(duration_s, max(0.0, seconds))
    n_frames = int(math.floor(length_s * fps + 1e-9))
    scenes = build_scene_set(cfg)
    ctx = create_context(gl_backend)  # type: ignore[arg-type]
    comp = Compositor(ctx, w, h, resolve=lambda name: resolve_shader(name, show_dir))
    writer = open_writer(out, fps, w, h, audio=audio)
    pix = comp.new_frame()
    t1 = time.perf_counter()
    default = Features()
    try:
        preload_shaders(comp, scenes)
        for k in range(n_frames):
            t = k / fps
            i = min(hop_at(t, hop_s), len(vectors) - 1)
            f = from_vector(vectors[i]) if i >= 0 else default
            state = scenes.evaluate(f, t_now=t, t_target=t, time_s=t, frame=k)
            # ISF's DATE is wall-clock; offline it follows the audio so frames stay reproducible.
            uniforms: dict[str, Any] = dict(state.uniforms)
            uniforms["DATE"] = (1970.0, 1.0, 1.0, t)
            comp.render(uniforms, state.plan, state.transition, pix, spectrum=f.spectrum, wave=f.wave, bands=f.bands)
            writer.write(pix)
            if progress is not None:
                progress(k + 1, n_frames)
        writer.close()
    except BaseException:
        with contextlib.suppress(LumenError):  # finish what was written; the first error wins
            writer.close()
        raise
    finally:
        result = OfflineResult(
            out=out, frames=n_frames, fps=fps, width=w, height=h, seconds=n_frames / fps, n_hops=len(vectors),
            n_bypassed=comp.n_bypassed, problems=dict(comp.problems), render_s=time.perf_counter() - t1, analysis_s=analysis_s,
        )
        comp.release()
        ctx.release()
    return result


def _automation_state(director: Any) -> str:
    """``"off"``, ``"manual"`` (a manual command holds the show) or ``"on"``."""
    if not director.enabled:
        return "off"
    return "manual" if director.override else "on"


class HealthMonitor:
    """Turns counter increases into log warnings, at most one per counter every 5 s."""

    WATCH: Final[tuple[tuple[str, str], ...]] = (
        ("listen", "xruns"), ("listen", "input_overflows"), ("listen", "device_lost"),
        ("listen", "analysis_overruns"), ("show", "late_frames"), ("show", "render_errors"),
        ("show", "shader_errors"), ("show", "nodes_bypassed"), ("output", "send_errors"),
        ("show", "bad_commands"), ("control", "osc_bad"), ("control", "osc_unknown"), ("control", "osc_denied"),
        ("control", "midi_port_lost"), ("control", "midi_errors"), ("control", "os2l_bad"), ("control", "link_errors"),
        ("control", "osc_out_errors"), ("control", "osc_out_dropped"),
    )

    def __init__(self, interval_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], int] = {}
        self._reported: dict[tuple[str, str], float] = {}

    def check(self, snap: dict[str, Any]) -> list[str]:
        """Log (and return) messages for counters that grew since last reported."""
        msgs = []
        t = now()
        for part, name in self.WATCH:
            v = int(snap.get(part, {}).get(name, 0))
            key = (part, name)
            if v > self._last.get(key, 0) and t - self._reported.get(key, -1e9) >= self.interval_s:
                msg = f"{part}: {name} rose to {v}"
                if name == "shader_errors" and snap.get("last_shader_error"):
                    msg += f" ({snap['last_shader_error']}; the last good shader keeps running)"
                if name == "bad_commands" and snap.get("last_command_error"):
                    msg += f" ({snap['last_command_error']}; ignored)"
                if part == "control" and name.startswith("osc_") and name != "osc_out_errors":
                    msg += " (ignored; the show runs on)"
                log.warning(msg)
                msgs.append(msg)
                self._last[key] = v
                self._reported[key] = t
        return msgs
