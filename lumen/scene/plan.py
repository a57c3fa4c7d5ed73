"""The render plan: what the compositor draws this frame, as immutable values.

Layer: scene (knows no GL). Threads: built by the frame thread (`lumen.scene.graph.SceneSet`)
and read by the render layer's compositor in the same thread; the values are frozen, so they
may also be handed to other threads (a preview, a recorder) as they are.

A frame's plan is a `ScenePlan` (layers bottom to top, each a source node, an effect chain,
an opacity and a blend mode, plus post effects over the whole composite) and, while scenes
change, a `TransitionPlan` holding the outgoing scene's plan and how far the change has gone.
Nodes are named by a stable ``key`` so the compositor can keep one GL node (with its own
persistent buffers, e.g. a feedback trail) per key across frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "BLEND_MODES",
    "QUANTIZE_MODES",
    "TRANSITION_KINDS",
    "WIPE_DIRECTIONS",
    "BlendMode",
    "LayerPlan",
    "NodePlan",
    "Quantize",
    "ScenePlan",
    "TransitionKind",
    "TransitionPlan",
    "WipeDirection",
]

#: How a layer is combined with the layers below it (``a`` below, ``b`` the layer, both
#: linear RGB; the result is then mixed with ``a`` by the layer's opacity):
#: normal ``b``; add ``a + b``; screen ``1 - (1 - a)(1 - b)``; multiply ``a * b``;
#: difference ``|a - b|``; lighten ``max(a, b)``.
BlendMode = Literal["normal", "add", "screen", "multiply", "difference", "lighten"]
#: Every blend mode, in the order of the compositor's mode codes.
BLEND_MODES: Final[tuple[BlendMode, ...]] = ("normal", "add", "screen", "multiply", "difference", "lighten")

#: How one scene gives way to the next: cut (at once), crossfade, wipe (a moving edge), flash
#: (outgoing fades to white, white fades to incoming).
TransitionKind = Literal["cut", "crossfade", "wipe", "flash"]
#: Every transition kind, in the order of the compositor's kind codes.
TRANSITION_KINDS: Final[tuple[TransitionKind, ...]] = ("cut", "crossfade", "wipe", "flash")

#: Direction a wipe's edge travels.
WipeDirection = Literal["left", "right", "up", "down"]
#: Every wipe direction, in the order of the compositor's direction codes.
WIPE_DIRECTIONS: Final[tuple[WipeDirection, ...]] = ("left", "right", "up", "down")

#: Musical moment a scene change waits for: none (the next frame), the next beat, the next
#: bar (downbeat), or the next phrase (every 4 bars).
Quantize = Literal["none", "beat", "bar", "phrase"]
#: Every quantization.
QUANTIZE_MODES: Final[tuple[Quantize, ...]] = ("none", "beat", "bar", "phrase")


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One shader node to run this frame.

    Attributes
    ----------
    key : str
        Stable identity of the node (scene, layer, position, shader); one GL node per key.
    shader : str
        Shader file name as written in the show (the render layer resolves it).
    params : Mapping[str, float]
        The node's own parameter values this frame (finite floats); music uniforms come from
        `lumen.scene.graph.SceneState.uniforms`.
    """

    key: str
    shader: str
    params: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class LayerPlan:
    """One layer: a source node, its effect chain, and how it lands on the layers below.

    Attributes
    ----------
    source : NodePlan
        The generator (or a filter, which then sees the composite below as ``inputImage``).
    effects : tuple of NodePlan
        Filters applied in order to the source's image (each gets the previous as
        ``inputImage``).
    opacity : float, 0..1
        Mix of the blended result over the layers below.
    blend : BlendMode
    """

    source: NodePlan
    effects: tuple[NodePlan, ...]
    opacity: float
    blend: BlendMode


@dataclass(frozen=True, slots=True)
class ScenePlan:
    """A scene for one frame: layers bottom to top, then post effects over the composite.

    Attributes
    ----------
    name : str
        The scene's name.
    layers : tuple of LayerPlan
        Bottom first. The composite starts black.
    effects : tuple of NodePlan
        Filters over the whole composite, in order.
    """

    name: str
    layers: tuple[LayerPlan, ...]
    effects: tuple[NodePlan, ...] = ()

    def nodes(self) -> tuple[NodePlan, ...]:
        """Every node of the plan, in drawing order."""
        out: list[NodePlan] = []
        for layer in self.layers:
            out.append(layer.source)
            out.extend(layer.effects)
        out.extend(self.effects)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    """A scene change in progress.

    Attributes
    ----------
    outgoing : ScenePlan
        The scene being left (still animated); the incoming one is the frame's main plan.
    mix : float, 0..1
        Progress: 0 shows only the outgoing scene, 1 only the incoming one.
    kind : TransitionKind
    direction : WipeDirection
        Where a wipe's edge travels (other kinds ignore it).
    """

    outgoing: ScenePlan
    mix: float
    kind: TransitionKind
    direction: WipeDirection = "left"
