"""Turn a validated show's scenes into scene-graph specs (compiled bindings, modulators).

Layer: show. Threads: wherever a show is loaded (main thread at start-up, the engine's
reload watcher on a live edit); the result is immutable and handed to the frame thread.
"""

from __future__ import annotations

from collections.abc import Mapping

from lumen.scene.expr import compile_expr
from lumen.scene.graph import LayerSpec, NodeSpec, SceneSet, SceneSpec, binding_names
from lumen.scene.modulate import EnvelopeSpec, LfoSpec, ModulatorSpec, SmoothSpec
from lumen.scene.transition import TransitionSpec
from lumen.show.schema import (
    MAIN_SCENE,
    EffectConfig,
    EnvelopeConfig,
    LfoConfig,
    SceneGraphConfig,
    ShowConfig,
    SmoothConfig,
    TransitionConfig,
)

__all__ = ["build_scene_set", "scene_specs", "shader_names", "transition_spec"]


def transition_spec(t: TransitionConfig) -> TransitionSpec:
    """The scene layer's `TransitionSpec` for a show's transition section."""
    return TransitionSpec(t.kind, t.duration_beats, t.quantize, t.direction)


def _modulator(m: LfoConfig | EnvelopeConfig | SmoothConfig, names: frozenset[str]) -> ModulatorSpec:
    if isinstance(m, LfoConfig):
        return LfoSpec(m.shape, m.period_beats, m.phase, m.low, m.high, m.seed)
    if isinstance(m, EnvelopeConfig):
        return EnvelopeSpec(m.trigger, m.attack_s, m.release_s, m.low, m.high)
    return SmoothSpec(compile_expr(m.input, names), m.rise_s, m.fall_s)


def _node(shader: str, params: Mapping[str, str | float], names: frozenset[str], name: str | None = None) -> NodeSpec:
    return NodeSpec.compile(shader, params, names, name=name or "")


def _effects(effects: tuple[EffectConfig, ...], names: frozenset[str]) -> tuple[NodeSpec, ...]:
    return tuple(_node(e.shader, e.params, names, e.name) for e in effects)


def _scene(name: str, sc: SceneGraphConfig) -> SceneSpec:
    names = binding_names(sc.modulators)
    layers = tuple(
        LayerSpec(
            source=_node(layer.shader, layer.params, names, layer.name),
            effects=_effects(layer.effects, names),
            opacity=compile_expr(layer.opacity, names),
            blend=layer.blend,
            speed=compile_expr(layer.speed, names),
        )
        for layer in sc.layers
    )
    mods = tuple((m, _modulator(cfg, names)) for m, cfg in sc.modulators.items())
    return SceneSpec(name, layers, _effects(sc.effects, names), mods, transition_spec(sc.transition))


def scene_specs(cfg: ShowConfig) -> tuple[list[SceneSpec], str]:
    """The show's scenes as specs, and the start scene's name.

    A show with a ``scene:`` section and no ``scenes`` gives one one-layer scene named
    `lumen.show.schema.MAIN_SCENE`.

    Examples
    --------
    >>> from lumen.show.load import load_show_text
    >>> specs, start = scene_specs(load_show_text("version: 1\\n"))
    >>> [s.name for s in specs], start, specs[0].layers[0].source.shader
    (['main'], 'main', 'pulse.fs')
    """
    if not cfg.scenes:
        return [SceneSpec.single(MAIN_SCENE, cfg.scene.shader, cfg.scene.params)], MAIN_SCENE
    specs = [_scene(name, sc) for name, sc in cfg.scenes.items()]
    return specs, cfg.start_scene or specs[0].name


def build_scene_set(cfg: ShowConfig) -> SceneSet:
    """A `SceneSet` for the show, on its start scene."""
    specs, start = scene_specs(cfg)
    return SceneSet(specs, start)


def shader_names(cfg: ShowConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Every shader the show names, with the key path it is written at (for checks)."""
    if not cfg.scenes:
        return [(("scene", "shader"), cfg.scene.shader)]
    out: list[tuple[tuple[str | int, ...], str]] = []
    for name, sc in cfg.scenes.items():
        for i, layer in enumerate(sc.layers):
            out.append((("scenes", name, "layers", i, "shader"), layer.shader))
            for j, e in enumerate(layer.effects):
                out.append((("scenes", name, "layers", i, "effects", j, "shader"), e.shader))
        for j, e in enumerate(sc.effects):
            out.append((("scenes", name, "effects", j, "shader"), e.shader))
    return out
