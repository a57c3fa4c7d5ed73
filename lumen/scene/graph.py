"""The scene graph: scenes of layered shader nodes, evaluated into a per-frame render plan.

Layer: scene (knows no GL and no sockets). Threads: specs (`NodeSpec`, `LayerSpec`,
`SceneSpec`) are immutable and built wherever configuration is loaded; `SceneSet` and `Scene`
keep per-frame state (the music clock, modulators, transitions) and are used by the frame
thread only. Control surfaces do not call `SceneSet.go` directly: they post a command that the
frame thread applies at a frame boundary.

A scene is a small graph: layers bottom to top, each a source node (a generator shader, or a
filter that sees the composite below as ``inputImage``) followed by an effect chain, combined
with an opacity and a blend mode; then post effects over the whole composite. Parameters are
constants, expressions over features (`lumen.scene.expr`) or over the scene's modulators
(`lumen.scene.modulate`). `SceneSet.evaluate` turns the latest `Features` into a `SceneState`
holding a frozen `lumen.scene.plan.ScenePlan` (and, while scenes change, a
`lumen.scene.plan.TransitionPlan`); the render layer's compositor draws it.

The scene also *predicts*: features describe the audio up to the last hop, but the frame
will reach the wire a little later, so beat and bar phase are extrapolated from the tracker's
``next_beat_t`` and tempo to the moment the light is expected to land.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lumen.errors import LumenError, did_you_mean
from lumen.features import Features
from lumen.scene.expr import FEATURE_NAMES, Expr, compile_expr
from lumen.scene.modulate import Modulator, ModulatorSpec, MusicClock
from lumen.scene.plan import BlendMode, LayerPlan, NodePlan, Quantize, ScenePlan, TransitionPlan
from lumen.scene.transition import TransitionSpec, Transitioner

__all__ = [
    "LayerSpec",
    "NodeSpec",
    "Scene",
    "SceneSet",
    "SceneSpec",
    "SceneState",
    "UnknownSceneError",
    "binding_names",
    "predict_phases",
]


@dataclass(frozen=True, slots=True)
class SceneState:
    """What the renderer needs for one frame.

    Attributes
    ----------
    t_audio : float, s
        Audio time of the features this frame is built from (perf_counter clock).
    t_target : float, s
        When the frame is expected to reach the wire / the eye.
    uniforms : Mapping[str, float]
        Music uniforms shared by every node: features (with extrapolated phases), ``TIME``,
        ``FRAMEINDEX``, ``time``, ``frame`` and the current scene's modulator values (for
        `Scene`, its parameter bindings too). Every value is finite.
    plan : ScenePlan or None
        What to draw (the incoming scene while a transition runs).
    transition : TransitionPlan or None
        The scene change in progress, if any.
    """

    t_audio: float
    t_target: float
    uniforms: Mapping[str, float]
    plan: ScenePlan | None = None
    transition: TransitionPlan | None = None


def predict_phases(f: Features, t: float) -> tuple[float, float, bool, bool]:
    """Beat phase, bar phase and whether a beat/downbeat falls between the hop and ``t``.

    Parameters
    ----------
    f : Features
        The latest features.
    t : float, s
        Target time on the perf_counter clock.

    Returns
    -------
    beat_phase, bar_phase : float, 0..1
    beat, downbeat : bool
        A beat (downbeat) lies in ``(f.t, t]`` or was reported by the hop itself.

    Examples
    --------
    >>> f = Features(t=10.0, bpm=120.0, beat_phase=0.8, bar_phase=0.95, next_beat_t=10.1)
    >>> bp, barp, beat, down = predict_phases(f, 10.15)
    >>> round(bp, 3), round(barp, 3), beat, down
    (0.1, 0.025, True, True)
    """
    if f.bpm <= 0.0 or f.next_beat_t <= 0.0 or t <= f.t:
        return f.beat_phase, f.bar_phase, f.beat, f.downbeat
    period = 60.0 / f.bpm
    ahead = (t - f.next_beat_t) / period  # beats past the predicted next beat
    if ahead < 0.0:
        beat_phase = 1.0 + ahead
        crossed = 0
    else:
        crossed = int(ahead) + 1
        beat_phase = ahead - int(ahead)
    beat_in_bar = int(f.bar_phase * 4.0 + 1e-9)
    new_beat_in_bar = (beat_in_bar + crossed) % 4
    bar_phase = (new_beat_in_bar + beat_phase) / 4.0
    beat = f.beat or crossed > 0
    downbeat = f.downbeat or (crossed > 0 and any((beat_in_bar + k) % 4 == 0 for k in range(1, crossed + 1)))
    return beat_phase, bar_phase, beat, downbeat


class UnknownSceneError(LumenError, KeyError):
    """`SceneSet.go` was given a scene name the show does not have."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        self.name = name
        self.message = f"unknown scene {name!r}{did_you_mean(name, known)}; scenes: {', '.join(known) or 'none'}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


def _music_env(env: dict[str, float], f: Features, t_target: float, time_s: float, frame: int) -> int:
    """Fill ``env`` with this frame's music values; returns how many were not finite (set 0)."""
    env.update(f.scalars())
    bp, barp, beat, down = predict_phases(f, t_target)
    env["beat_phase"] = bp
    env["bar_phase"] = barp
    env["beat"] = 1.0 if beat else 0.0
    env["downbeat"] = 1.0 if down else 0.0
    env["time"] = time_s
    env["frame"] = float(frame)
    n_bad = 0
    for k, v in env.items():
        if not math.isfinite(v):
            env[k] = 0.0
            n_bad += 1
    return n_bad


class Scene:
    """One shader node with bound parameters (a one-layer scene; see `SceneSet` for more).

    Parameters
    ----------
    shader : str
        Shader file name (resolved by the engine; the scene never opens files).
    params : mapping of str to (str or float)
        Parameter bindings: numbers or expressions over feature names.
    """

    def __init__(self, shader: str, params: Mapping[str, str | float]) -> None:
        self.shader = shader
        self.bindings: dict[str, Expr] = {k: compile_expr(v, FEATURE_NAMES) for k, v in params.items()}
        self._env: dict[str, float] = {}
        self._key = f"main:0:{shader}"

    def evaluate(self, f: Features, *, t_now: float, t_target: float, time_s: float, frame: int) -> SceneState:
        """Uniform values for a frame rendered at ``t_now`` that will be seen at ``t_target``.

        Parameters
        ----------
        f : Features
            Latest features from the listen process.
        t_now, t_target : float, s
            perf_counter times of rendering and of the light's expected arrival.
        time_s : float, s
            Seconds since the show started (``TIME`` in shaders).
        frame : int
            Frame counter.
        """
        env = self._env
        _music_env(env, f, t_target, time_s, frame)
        uniforms = dict(env)
        params = {name: expr(env) for name, expr in self.bindings.items()}
        uniforms.update(params)
        uniforms["TIME"] = time_s
        uniforms["FRAMEINDEX"] = float(frame)
        node = NodePlan(self._key, self.shader, params)
        plan = ScenePlan("main", (LayerPlan(node, (), 1.0, "normal"),))
        return SceneState(t_audio=f.t, t_target=t_target, uniforms=uniforms, plan=plan)


# --------------------------------------------------------------------------- specs


def binding_names(modulators: Iterable[str] = ()) -> frozenset[str]:
    """Names a scene's bindings may read: `FEATURE_NAMES` plus its modulator names."""
    return FEATURE_NAMES | frozenset(modulators)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A shader node of a scene: the shader file and its compiled parameter bindings.

    Attributes
    ----------
    shader : str
        Shader file name as written in the show.
    params : Mapping[str, Expr]
        Parameter name -> compiled binding.
    """

    shader: str
    params: Mapping[str, Expr] = field(default_factory=dict)
    name: str = ""

    @classmethod
    def compile(cls, shader: str, params: Mapping[str, str | float], names: Iterable[str] = FEATURE_NAMES, *, name: str = "") -> NodeSpec:
        """Compile ``params`` (numbers or expressions over ``names``).

        Raises
        ------
        lumen.scene.expr.ExprError
            A binding is invalid.
        """
        allowed = frozenset(names)
        return cls(shader, {k: compile_expr(v, allowed) for k, v in params.items()}, name)


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """A layer: source node, effect chain, opacity binding and blend mode.

    Attributes
    ----------
    source : NodeSpec
    effects : tuple of NodeSpec
    opacity : Expr
        Evaluated per frame and clamped to 0..1.
    blend : BlendMode
    speed : Expr
        Time scale of the layer's shaders, clamped to -16..16: their ``TIME`` advances by
        ``speed`` seconds per second. The layer clock *integrates* it, so binding speed to the
        music (``"0.5 + energy"``) speeds the motion up and down smoothly instead of making the
        pattern jump, as multiplying ``TIME`` inside a shader would.
    """

    source: NodeSpec
    effects: tuple[NodeSpec, ...] = ()
    opacity: Expr = field(default_factory=lambda: compile_expr(1.0, ()))
    blend: BlendMode = "normal"
    speed: Expr = field(default_factory=lambda: compile_expr(1.0, ()))


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """A named scene.

    Attributes
    ----------
    name : str
    layers : tuple of LayerSpec
        Bottom first.
    effects : tuple of NodeSpec
        Post effects over the composite.
    modulators : tuple of (str, ModulatorSpec)
        Named modulators, computed in this order every frame the scene is drawn.
    transition : TransitionSpec
        How the show changes *to* this scene unless `SceneSet.go` says otherwise.
    """

    name: str
    layers: tuple[LayerSpec, ...]
    effects: tuple[NodeSpec, ...] = ()
    modulators: tuple[tuple[str, ModulatorSpec], ...] = ()
    transition: TransitionSpec = field(default_factory=TransitionSpec)

    @classmethod
    def single(cls, name: str, shader: str, params: Mapping[str, str | float]) -> SceneSpec:
        """A one-layer scene (what a show's ``scene:`` section describes)."""
        return cls(name, (LayerSpec(NodeSpec.compile(shader, params)),))


@dataclass(frozen=True, slots=True)
class _Keys:
    """Precomputed node keys of a scene (no string building per frame)."""

    layers: tuple[tuple[str, tuple[str, ...]], ...]
    effects: tuple[str, ...]


NodeNames = tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]


def node_names(spec: SceneSpec) -> NodeNames:
    """Live-control names of a scene's nodes: ``((layer, (layer.fx, ...)), ...), (post.fx, ...)``.

    A layer is called by its ``name`` or ``layer<n>``; an effect ``<layer>.<name or fx<n>>``;
    a post effect ``post.<name or fx<n>>`` (n counts from 1).

    Examples
    --------
    >>> spec = SceneSpec("a", (LayerSpec(NodeSpec("x.fs"), (NodeSpec("fb.fs"),)), LayerSpec(NodeSpec("y.fs", name="top"))))
    >>> node_names(spec)
    ((('layer1', ('layer1.fx1',)), ('top', ())), ())
    """
    layers = []
    for i, layer in enumerate(spec.layers):
        ln = layer.source.name or f"layer{i + 1}"
        layers.append((ln, tuple(f"{ln}.{e.name or f'fx{j + 1}'}" for j, e in enumerate(layer.effects))))
    return tuple(layers), tuple(f"post.{e.name or f'fx{j + 1}'}" for j, e in enumerate(spec.effects))


def _keys(spec: SceneSpec) -> _Keys:
    layers = tuple(
        (f"{spec.name}:{i}:{layer.source.shader}", tuple(f"{spec.name}:{i}:fx{j}:{e.shader}" for j, e in enumerate(layer.effects)))
        for i, layer in enumerate(spec.layers)
    )
    return _Keys(layers, tuple(f"{spec.name}:post{j}:{e.shader}" for j, e in enumerate(spec.effects)))


class SceneSet:
    """The scenes of a show, which one is shown, and the changes between them.

    Use it from the frame thread only: `evaluate` once per frame; `go` and `replace` between
    frames (control surfaces post commands that the frame thread applies).

    Parameters
    ----------
    scenes : iterable of SceneSpec
        At least one; names must be unique.
    start : str, optional
        The scene shown first (default: the first one).

    Attributes
    ----------
    current : str
        The scene shown (the incoming one while a transition runs).
    clock : MusicClock
        Beats, bars and phrases counted from the features.
    n_nonfinite : int
        Feature values that were NaN or infinite and were replaced by 0 (bad input counted,
        never passed to a shader).

    Raises
    ------
    ValueError
        No scenes, or two with one name.
    UnknownSceneError
        ``start`` is not one of them.
    """

    def __init__(self, scenes: Iterable[SceneSpec], start: str | None = None) -> None:
        self.clock = MusicClock()
        self.n_nonfinite = 0
        self._base: dict[str, float] = {}
        self._trans = Transitioner()
        self._specs: dict[str, SceneSpec] = {}
        self._keys: dict[str, _Keys] = {}
        self._mods: dict[str, tuple[tuple[str, Modulator], ...]] = {}
        self._envs: dict[str, dict[str, float]] = {}
        self._layer_t: dict[str, list[float]] = {}  # each layer's integrated clock (its TIME)
        self._last_time: dict[str, float] = {}
        self._names: dict[str, NodeNames] = {}
        self._overrides: dict[str, dict[str, dict[str, float]]] = {}  # scene -> node -> param -> value
        self.current = ""
        self.replace(scenes, start)

    @property
    def names(self) -> tuple[str, ...]:
        """Scene names, in show order."""
        return tuple(self._specs)

    @property
    def pending(self) -> str | None:
        """The scene a requested change waits to go to, if any."""
        p = self._trans.pending
        return None if p is None else p[0]

    def spec(self, name: str) -> SceneSpec:
        """The spec of scene ``name`` (raises `UnknownSceneError`)."""
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownSceneError(name, self._specs) from None

    def go(self, name: str, *, transition: TransitionSpec | None = None, quantize: Quantize | None = None) -> None:
        """Change to scene ``name`` on the next musical boundary.

        Parameters
        ----------
        name : str
            Target scene.
        transition : TransitionSpec, optional
            How (default: the target scene's own ``transition``).
        quantize : {"none", "beat", "bar", "phrase"}, optional
            Overrides the transition's quantization.

        Raises
        ------
        UnknownSceneError
            No such scene (nothing changes).
        """
        spec = transition if transition is not None else self.spec(name).transition
        self.spec(name)
        if quantize is not None:
            spec = TransitionSpec(spec.kind, spec.duration_beats, quantize, spec.direction)
        self._trans.request(name, spec)

    def nodes(self, scene: str) -> tuple[str, ...]:
        """Live-control node names of ``scene`` (see `node_names`)."""
        layers, post = self._names[self.spec(scene).name]
        return tuple(n for ln, fx in layers for n in (ln, *fx)) + post

    def set_param(self, path: str, value: float) -> None:
        """Override a parameter live: ``path`` is ``"scene/node/param"``; NaN releases it.

        The value replaces the parameter's binding (a shader input, or a layer's ``opacity`` /
        ``speed``) until released or the show is reloaded.

        Raises
        ------
        UnknownSceneError
            No such scene.
        ValueError
            A malformed path or an unknown node (the message lists the scene's nodes).
        """
        parts = path.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"parameter path must be 'scene/node/param', got {path!r}")
        scene, node, param = parts
        known = self.nodes(scene)
        if node not in known:
            raise ValueError(f"scene {scene!r} has no node {node!r}; nodes: {', '.join(known)}")
        params = self._overrides.setdefault(scene, {}).setdefault(node, {})
        if math.isnan(value):
            params.pop(param, None)
        else:
            params[param] = float(value)

    def replace(self, scenes: Iterable[SceneSpec], start: str | None = None) -> None:
        """Swap in new scene specs (a show-file reload) at a frame boundary.

        The shown scene stays if it still exists (else ``start``, else the first scene);
        the music clock keeps counting; modulators restart; a running or pending change to a
        scene that no longer exists is dropped.

        Raises
        ------
        ValueError, UnknownSceneError
            As the constructor; the previous scenes stay in place.
        """
        specs: dict[str, SceneSpec] = {}
        for s in scenes:
            if s.name in specs:
                raise ValueError(f"two scenes are named {s.name!r}")
            specs[s.name] = s
        if not specs:
            raise ValueError("a scene set needs at least one scene")
        if start is not None and start not in specs:
            raise UnknownSceneError(start, specs)
        self._specs = specs
        self._keys = {n: _keys(s) for n, s in specs.items()}
        self._names = {n: node_names(s) for n, s in specs.items()}
        self._overrides = {}  # a reload restores the show's own bindings
        self._mods = {n: tuple((m, Modulator(ms)) for m, ms in s.modulators) for n, s in specs.items()}
        self._envs = {n: {} for n in specs}
        # Layer clocks survive a reload (a live edit must not restart the motion).
        old_t = self._layer_t
        self._layer_t = {n: (old_t.get(n, []) + [0.0] * len(sp.layers))[: len(sp.layers)] for n, sp in specs.items()}
        if self.current not in specs:
            self.current = start if start is not None else next(iter(specs))
        self._trans.drop_missing(specs)

    def evaluate(self, f: Features, *, t_now: float, t_target: float, time_s: float, frame: int) -> SceneState:
        """This frame's state: music uniforms, the plan, and any transition.

        Parameters
        ----------
        f : Features
            Latest features.
        t_now, t_target : float, s
            perf_counter times of rendering and of the light's expected arrival (phases are
            predicted to ``t_target``).
        time_s : float, s
            Show time (``TIME``); offline renders pass the audio time, so they are
            deterministic.
        frame : int
            Frame counter.
        """
        base = self._base
        self.n_nonfinite += _music_env(base, f, t_target, time_s, frame)
        self.clock.update(base["beat_phase"], base["bar_phase"], base["bpm"])
        current, outgoing, mix, tspec = self._trans.step(self.current, self.clock, time_s)
        self.current = current
        plan, env = self._plan(current, time_s)
        tplan = None
        if outgoing is not None and tspec is not None:
            out_plan, _ = self._plan(outgoing, time_s)
            tplan = TransitionPlan(out_plan, mix, tspec.kind, tspec.direction)
        uniforms = dict(env)
        uniforms["TIME"] = time_s
        uniforms["FRAMEINDEX"] = float(frame)
        return SceneState(t_audio=f.t, t_target=t_target, uniforms=uniforms, plan=plan, transition=tplan)

    def _plan(self, name: str, time_s: float) -> tuple[ScenePlan, dict[str, float]]:
        spec = self._specs[name]
        keys = self._keys[name]
        env = self._envs[name]
        env.update(self._base)
        clock = self.clock
        for mname, mod in self._mods[name]:
            env[mname] = mod.value(clock, env, time_s)
        layers = []
        clocks = self._layer_t[name]
        dt = time_s - self._last_time.get(name, time_s)
        self._last_time[name] = time_s
        dt = dt if 0.0 <= dt < 1.0 else 0.0  # a paused scene resumes where it was
        ov = self._overrides.get(name)
        layer_names, post_names = self._names[name]
        for li, (layer, (src_key, fx_keys)) in enumerate(zip(spec.layers, keys.layers)):
            lov = ov.get(layer_names[li][0]) if ov else None
            opacity = lov["opacity"] if lov and "opacity" in lov else layer.opacity(env)
            opacity = min(1.0, max(0.0, opacity))
            speed = lov["speed"] if lov and "speed" in lov else layer.speed(env)
            speed = min(16.0, max(-16.0, speed)) if math.isfinite(speed) else 1.0
            clocks[li] += dt * speed
            t_layer = clocks[li]
            src_u = {k: e(env) for k, e in layer.source.params.items()}
            src_u.setdefault("TIME", t_layer)
            if lov:
                src_u.update(lov)
            source = NodePlan(src_key, layer.source.shader, src_u)
            effects = []
            for fx, key, fx_name in zip(layer.effects, fx_keys, layer_names[li][1]):
                u = {"TIME": t_layer, **{k: e(env) for k, e in fx.params.items()}}
                if ov and fx_name in ov:
                    u.update(ov[fx_name])
                effects.append(NodePlan(key, fx.shader, u))
            layers.append(LayerPlan(source, tuple(effects), opacity, layer.blend))
        post = []
        for fx, key, fx_name in zip(spec.effects, keys.effects, post_names):
            u = {k: e(env) for k, e in fx.params.items()}
            if ov and fx_name in ov:
                u.update(ov[fx_name])
            post.append(NodePlan(key, fx.shader, u))
        return ScenePlan(name, tuple(layers), tuple(post)), env
