"""The compositor: draws a scene's render plan with GL, layer by layer, and reads it back.

Layer: render. Threads: the frame thread only (the one that owns the GL context); every method
makes GL calls.

`Compositor.render` takes a `lumen.scene.graph.SceneState` (its frozen
`lumen.scene.plan.ScenePlan` and, during a scene change, its
`lumen.scene.plan.TransitionPlan`) and:

1. runs every layer's source node (`lumen.render.isf.ShaderNode`, one per plan key, created on
   first use and kept while it is used, so a feedback effect keeps its trail), then the
   layer's effect chain (each effect gets the previous image as ``inputImage``; a layer's
   source gets the composite below it as ``inputImage``, so a filter can be a layer);
2. blends the layer over the composite below it (normal, add, screen, multiply, difference,
   lighten) with its opacity, ping-ponging between two accumulation textures (the bottom
   layer, when fully opaque, *is* the composite: no blend pass; its alpha is ignored);
3. applies the scene's post effects;
4. for a transition, renders the outgoing scene the same way into its own buffers and mixes
   the two (crossfade, wipe, flash) into an RGBA32F target;
5. reads the result back into the caller's ``(height, width, 3)`` float32 array, flipping
   GL's bottom-up rows so row 0 is the top.

Every draw counts on a software rasterizer, so no pass is made that the plan does not need.

Faults never stop the show: a shader file that is missing or never compiled, or a node that
fails to render, is **bypassed** (a layer is left out, an effect passes its input through) and
counted; the problem is kept in `Compositor.problems` (``file:line: message``) for the console
and the preview overlay. NaN or infinite pixel values from a shader are drawn as black. Shader
files hot-reload (`Compositor.poll_reload`): a failed compile keeps the last good program.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import moderngl
import numpy as np
import numpy.typing as npt

from lumen.errors import LumenError, ShaderError
from lumen.render.program import UV_VERTEX_SHADER, UniformValue
from lumen.scene.plan import BLEND_MODES, TRANSITION_KINDS, WIPE_DIRECTIONS, NodePlan, ScenePlan, TransitionPlan

__all__ = ["Compositor", "ReloadEvent", "ShaderResolver"]

#: Finds a shader file from the name a show gives; raises `LumenError` when there is none.
ShaderResolver = Callable[[str], Path]

#: Frames a node may go unused before its GL objects are released.
_EVICT_AFTER_FRAMES: Final[int] = 600


_BLEND: Final[str] = """#version 330
in vec2 uv;
out vec4 color;
uniform sampler2D below;
uniform sampler2D layer;
uniform float opacity;
uniform int mode;  // index into BLEND_MODES
void main() {
    vec3 a = texture(below, uv).rgb;
    vec4 l = texture(layer, uv);
    vec3 b = l.rgb;
    if (any(isnan(b)) || any(isinf(b))) b = vec3(0.0);
    float alpha = clamp(l.a, 0.0, 1.0);
    if (isnan(l.a)) alpha = 0.0;
    vec3 c = b;
    if (mode == 1) c = a + b;
    else if (mode == 2) c = 1.0 - (1.0 - a) * (1.0 - b);
    else if (mode == 3) c = a * b;
    else if (mode == 4) c = abs(a - b);
    else if (mode == 5) c = max(a, b);
    color = vec4(mix(a, c, opacity * alpha), 1.0);
}
"""

_FINAL: Final[str] = """#version 330
in vec2 uv;
out vec4 color;
uniform sampler2D incoming;
uniform sampler2D outgoing;
uniform float progress;   // 0 = outgoing only, 1 = incoming only
uniform int kind;         // index into TRANSITION_KINDS
uniform int direction;    // index into WIPE_DIRECTIONS
uniform vec2 size;        // pixels
vec3 clean(vec3 c) { return (any(isnan(c)) || any(isinf(c))) ? vec3(0.0) : c; }
void main() {
    vec2 p = uv;
    vec3 b = clean(texture(incoming, p).rgb);
    vec3 c = b;
    if (progress < 1.0 && kind != 0) {
        vec3 a = clean(texture(outgoing, p).rgb);
        float m = clamp(progress, 0.0, 1.0);
        if (kind == 1) {
            c = mix(a, b, m);
        } else if (kind == 2) {
            float s = direction == 0 ? 1.0 - p.x : direction == 1 ? p.x : direction == 2 ? p.y : 1.0 - p.y;
            float px = 0.5 / max(direction < 2 ? size.x : size.y, 1.0);  // a 1-pixel soft edge
            c = mix(a, b, 1.0 - smoothstep(m - px, m + px, s));
        } else {
            c = m < 0.5 ? mix(a, vec3(1.0), m * 2.0) : mix(vec3(1.0), b, m * 2.0 - 1.0);
        }
    }
    color = vec4(c, 1.0);
}
"""


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    """One shader file that changed on disk and was recompiled.

    Attributes
    ----------
    shader : str
        The name the show gives.
    error : ShaderError or None
        Why the new version was rejected (the last good program keeps running), or None.
    """

    shader: str
    error: ShaderError | None


class _Target:
    """A texture with a framebuffer around it."""

    def __init__(self, ctx: moderngl.Context, width: int, height: int, dtype: str) -> None:
        self.texture = ctx.texture((width, height), 4, dtype=dtype)
        self.texture.repeat_x = self.texture.repeat_y = False
        self.fbo = ctx.framebuffer(color_attachments=[self.texture])

    def release(self) -> None:
        self.fbo.release()
        self.texture.release()


class _Slot:
    """Two accumulation targets for one scene (ping-pong)."""

    def __init__(self, ctx: moderngl.Context, width: int, height: int, dtype: str) -> None:
        self.targets = (_Target(ctx, width, height, dtype), _Target(ctx, width, height, dtype))

    def release(self) -> None:
        for t in self.targets:
            t.release()


class Compositor:
    """Turns render plans into frames (see the module docstring).

    Parameters
    ----------
    ctx : moderngl.Context
        The GL context, created in this thread.
    width, height : int, pixels
        Frame size.
    resolve : callable
        ``resolve(name) -> Path`` finds a shader file from its name in the show; it raises
        `LumenError` (e.g. `ConfigError`) when there is none.
    dtype : {"f4", "f2"}
        Storage of the node outputs and intermediate images: float (default) or half float.
        Both keep linear values above 1 for add/screen; on llvmpipe f4 is ~5 % faster per
        frame (no half-float conversion), on a GPU f2 halves the memory traffic.

    Attributes
    ----------
    n_frames : int
        Frames rendered.
    n_bypassed : int
        Node draws skipped because their shader is missing, never compiled, or failed.
    n_node_errors : int
        Node draws that raised (each also counts as bypassed).
    n_reloads, n_reload_errors : int
        Shader files recompiled after a change on disk, and how many of those failed.
    problems : dict of str to str
        Current problem per shader name (``file:line: message``); cleared when it is fixed.
    """

    def __init__(self, ctx: moderngl.Context, width: int, height: int, *, resolve: ShaderResolver, dtype: str = "f4") -> None:
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self.ctx = ctx
        self.width = int(width)
        self.height = int(height)
        self.shape: tuple[int, int, int] = (self.height, self.width, 3)
        self.resolve = resolve
        self.dtype = dtype
        self.n_frames = 0
        self.n_bypassed = 0
        self.n_node_errors = 0
        self.n_reloads = 0
        self.n_reload_errors = 0
        self.problems: dict[str, str] = {}
        self._thread = threading.get_ident()
        self._programs: dict[str, Any] = {}  # shader name -> ShaderProgram (maybe not ok yet)
        self._missing: dict[str, str] = {}  # shader name -> why it could not be found
        self._nodes: dict[str, Any] = {}  # plan key -> ShaderNode
        self._node_shader: dict[str, str] = {}  # plan key -> shader name
        self._last_used: dict[str, int] = {}
        self._uniforms: dict[str, Any] = {}
        self._vec_cache: dict[str, tuple[int, frozenset[str]]] = {}
        self._audio: Any = None
        self._blend = ctx.program(vertex_shader=UV_VERTEX_SHADER, fragment_shader=_BLEND)
        self._final = ctx.program(vertex_shader=UV_VERTEX_SHADER, fragment_shader=_FINAL)
        self._blend_vao = ctx.vertex_array(self._blend, [])
        self._final_vao = ctx.vertex_array(self._final, [])
        self._blend["below"].value = 0  # type: ignore[union-attr]
        self._blend["layer"].value = 1  # type: ignore[union-attr]
        self._final["incoming"].value = 0  # type: ignore[union-attr]
        self._final["outgoing"].value = 1  # type: ignore[union-attr]
        self._allocate()

    # ------------------------------------------------------------------ buffers
    def _allocate(self) -> None:
        ctx, w, h = self.ctx, self.width, self.height
        self._slots = (_Slot(ctx, w, h, self.dtype), _Slot(ctx, w, h, self.dtype))
        self._black = ctx.texture((1, 1), 4, data=np.zeros(4, dtype=np.float32).tobytes(), dtype="f4")
        self._out = _Target(ctx, w, h, "f4")
        self._final["size"].value = (float(w), float(h))  # type: ignore[union-attr]
        self._readback: npt.NDArray[np.float32] = np.zeros(self.shape, dtype=np.float32)
        self._flipped = self._readback[::-1]
        self._result: moderngl.Texture = self._black
        # Framebuffers to read textures back, by GL name, with the texture they were made for
        # (a released texture's name can be reused by a new one).
        self._read_fbos: dict[int, tuple[moderngl.Texture, moderngl.Framebuffer]] = {
            t.texture.glo: (t.texture, t.fbo) for s in self._slots for t in s.targets
        }
        self._read_fbos[self._out.texture.glo] = (self._out.texture, self._out.fbo)
        self._own_fbos = set(self._read_fbos)

    def _release_buffers(self) -> None:
        self.ctx.detect_framebuffer(0).use()  # never leave a deleted framebuffer bound
        for glo, (_, fbo) in self._read_fbos.items():
            if glo not in self._own_fbos:
                fbo.release()
        self._read_fbos.clear()
        for s in self._slots:
            s.release()
        self._black.release()
        self._out.release()

    def resize(self, width: int, height: int) -> None:
        """Change the frame size (every node and buffer is remade)."""
        self._check_thread()
        self._release_buffers()  # also the read framebuffers of node outputs, which resize replaces
        for node in self._nodes.values():
            node.resize(width, height)
        self.width, self.height = int(width), int(height)
        self.shape = (self.height, self.width, 3)
        self._allocate()

    @property
    def output(self) -> moderngl.Texture:
        """The last rendered frame as a texture (GL orientation: row 0 at the bottom).

        It may be one of the compositor's buffers or a node's output: read it before the
        next `render`.
        """
        return self._result

    def new_frame(self) -> npt.NDArray[np.float32]:
        """A zeroed float32 array of shape `shape` for `render` (allocate it once)."""
        return np.zeros(self.shape, dtype=np.float32)

    # ------------------------------------------------------------------ shaders
    def program(self, shader: str) -> Any:
        """The `ShaderProgram` for a shader name, loading it on first use; None if missing.

        A file that does not compile still gets a program object (so fixing the file on
        disk recovers it), but it is not ``ok`` and its nodes are bypassed.
        """
        prog = self._programs.get(shader)
        if prog is not None or shader in self._missing:
            return prog
        from lumen.render.program import ShaderProgram

        try:
            path = self.resolve(shader)
        except LumenError as e:
            why = str(e).splitlines()[0] if str(e) else f"shader {shader!r} not found"
            self._missing[shader] = why
            self.problems[shader] = why
            return None
        prog = ShaderProgram(self.ctx)
        try:
            prog.load(path)
        except ShaderError as e:
            self.problems[shader] = str(e)
        self._programs[shader] = prog
        return prog

    def poll_reload(self) -> list[ReloadEvent]:
        """Recompile shader files changed on disk; retry shaders that were missing.

        Call it a few times a second between frames. A failed compile keeps the last good
        program running and is reported in the event and in `problems`.

        Returns
        -------
        list of ReloadEvent
            One per shader that changed.
        """
        self._check_thread()
        events: list[ReloadEvent] = []
        for name, prog in self._programs.items():
            if prog.changed():
                err = prog.reload()
                self.n_reloads += 1
                if err is not None:
                    self.n_reload_errors += 1
                    self.problems[name] = str(err)
                else:
                    self.problems.pop(name, None)  # nodes pick the new program up themselves
                events.append(ReloadEvent(name, err))
        for name in list(self._missing):
            del self._missing[name]
            self.problems.pop(name, None)
            prog = self.program(name)
            if prog is not None:
                events.append(ReloadEvent(name, prog.last_error))
        return events

    def _release_node(self, key: str) -> None:
        node = self._nodes.pop(key, None)
        self._node_shader.pop(key, None)
        self._last_used.pop(key, None)
        if node is not None:
            cached = self._read_fbos.pop(node.output.glo, None)
            if cached is not None:
                cached[1].release()
            node.release()

    def _node(self, plan: NodePlan) -> Any:
        node = self._nodes.get(plan.key)
        if node is not None:
            self._last_used[plan.key] = self.n_frames
            return node
        prog = self.program(plan.shader)
        if prog is None or not prog.ok:
            return None
        from lumen.render.isf import ShaderNode

        try:
            node = ShaderNode(self.ctx, prog, self.width, self.height, dtype=self.dtype)
        except LumenError as e:
            self.problems[plan.shader] = str(e)
            return None
        self._nodes[plan.key] = node
        self._node_shader[plan.key] = plan.shader
        self._last_used[plan.key] = self.n_frames
        return node

    # ------------------------------------------------------------------ drawing
    def render(
        self,
        uniforms: Mapping[str, UniformValue],
        plan: ScenePlan | None,
        transition: TransitionPlan | None,
        out: npt.NDArray[np.float32] | None = None,
        *,
        spectrum: Sequence[float] | None = None,
        wave: Sequence[float] | None = None,
        bands: Sequence[float] | None = None,
    ) -> moderngl.Texture:
        """Draw a frame; optionally read it back into ``out``.

        Parameters
        ----------
        uniforms : Mapping[str, float or sequence of float]
            Uniforms shared by all nodes (`lumen.scene.graph.SceneState.uniforms`, plus any
            extra such as a fixed ``DATE``).
        plan : ScenePlan or None
            What to draw (None draws black).
        transition : TransitionPlan or None
            A scene change in progress.
        out : ndarray, shape (height, width, 3), float32, C-contiguous, optional
            Receives linear RGB, row 0 at the top.
        spectrum, wave : sequence of float, optional
            `lumen.features.Features.spectrum` and ``wave`` for the audio textures.
        bands : sequence of 4 float, optional
            The ``bands`` vec4 uniform.

        Returns
        -------
        moderngl.Texture
            `output`.
        """
        self._check_thread()
        if out is not None and (out.shape != self.shape or out.dtype != np.float32 or not out.flags.c_contiguous):
            raise ValueError(f"out must be a C-contiguous float32 array of shape {self.shape}, got {out.dtype} {out.shape}")
        u = self._uniforms
        u.clear()
        u.update(uniforms)
        if bands is not None:
            u["bands"] = tuple(bands)
        audio = self._audio_textures(spectrum, wave)
        tv = uniforms.get("TIME", 0.0)
        time_s = float(tv) if isinstance(tv, (int, float)) and math.isfinite(tv) else 0.0
        fv = uniforms.get("FRAMEINDEX", self.n_frames)
        frame = int(fv) if isinstance(fv, (int, float)) and math.isfinite(fv) else self.n_frames
        self.ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST)
        incoming = self._draw_scene(plan, self._slots[0], audio, time_s, frame) if plan is not None else self._black
        outgoing = self._black
        progress, kind, direction = 1.0, 0, 0
        if transition is not None and transition.kind != "cut" and transition.mix < 1.0:
            outgoing = self._draw_scene(transition.outgoing, self._slots[1], audio, time_s, frame)
            progress = transition.mix if math.isfinite(transition.mix) else 1.0
            kind = TRANSITION_KINDS.index(transition.kind)
            direction = WIPE_DIRECTIONS.index(transition.direction)
        f = self._final
        f["progress"].value = progress  # type: ignore[union-attr]
        f["kind"].value = kind  # type: ignore[union-attr]
        f["direction"].value = direction  # type: ignore[union-attr]
        result = incoming
        if kind != 0:
            incoming.use(location=0)
            outgoing.use(location=1)
            self._out.fbo.use()
            self._final_vao.render(moderngl.TRIANGLES, vertices=3)
            result = self._out.texture
        self._result = result
        if out is not None:
            self._read(result, out)
        self.n_frames += 1
        if self.n_frames % 64 == 0:
            self._evict()
        return result

    def _read(self, texture: moderngl.Texture, out: npt.NDArray[np.float32]) -> None:
        """Read ``texture`` into ``out`` (row 0 at the top)."""
        if texture is self._black:
            out.fill(0.0)
            return
        cached = self._read_fbos.get(texture.glo)
        if cached is None or cached[0] is not texture:  # a node's output, read directly: no copy pass
            if cached is not None:
                cached[1].release()
            fbo = self.ctx.framebuffer(color_attachments=[texture])
            self._read_fbos[texture.glo] = (texture, fbo)
        else:
            fbo = cached[1]
        fbo.read_into(self._readback, components=3, alignment=1, dtype="f4")
        np.copyto(out, self._flipped)

    def _audio_textures(self, spectrum: Sequence[float] | None, wave: Sequence[float] | None) -> Any:
        if spectrum is None or wave is None:
            return self._audio
        if self._audio is None:
            from lumen.render.textures import AudioTextures

            self._audio = AudioTextures(self.ctx)
        self._audio.update(spectrum, wave)
        return self._audio

    def _vector_inputs(self, shader: str) -> frozenset[str]:
        """Names of the vector (color, point2D) inputs of a shader's active program."""
        prog = self._programs.get(shader)
        if prog is None or not prog.ok:
            return frozenset()
        gen = prog.generation
        cached = self._vec_cache.get(shader)
        if cached is None or cached[0] != gen:
            names = frozenset(i.name for i in prog.inputs if i.type in ("color", "point2D"))
            cached = (gen, names)
            self._vec_cache[shader] = cached
        return cached[1]

    def _run(self, plan: NodePlan, image: moderngl.Texture | None, audio: Any, time_s: float, frame: int) -> moderngl.Texture | None:
        """Render one node; None when it is bypassed."""
        node = self._node(plan)
        if node is None:
            self.n_bypassed += 1
            return None
        u = self._uniforms
        params = plan.params
        vec = self._vector_inputs(plan.shader)
        if vec and not vec.isdisjoint(params):
            # Bindings give numbers; a color/point2D input keeps its DEFAULT instead.
            bad = sorted(vec.intersection(params))
            self.problems[plan.shader] = f"{plan.shader}: {', '.join(bad)}: color/point2D inputs cannot be bound to a number; DEFAULT used"
            params = {k: v for k, v in params.items() if k not in vec}
        saved = [(k, u.get(k)) for k in params]
        u.update(params)
        n_errors = node.n_errors
        try:
            tex: moderngl.Texture = node.render(
                u, images={"inputImage": image} if image is not None else None, audio=audio, time_s=time_s, frame=frame
            )
            if node.n_errors != n_errors and node.last_error:
                self.problems[plan.shader] = str(node.last_error)
            return tex
        except Exception as e:  # noqa: BLE001 - a failing node is bypassed, never fatal
            self.n_node_errors += 1
            self.n_bypassed += 1
            self.problems[plan.shader] = f"{plan.shader}: render failed: {e}"
            return None
        finally:
            for k, v in saved:
                if v is None:
                    u.pop(k, None)
                else:
                    u[k] = v

    def _draw_scene(self, plan: ScenePlan, slot: _Slot, audio: Any, time_s: float, frame: int) -> moderngl.Texture:
        targets = slot.targets
        cur = 0
        composite: moderngl.Texture = self._black
        for layer in plan.layers:
            if layer.opacity <= 0.0:
                continue
            img = self._run(layer.source, composite, audio, time_s, frame)
            if img is None:
                continue  # bypassed: the layer is left out
            for fx in layer.effects:
                img = self._run(fx, img, audio, time_s, frame) or img
            if composite is self._black and layer.opacity >= 1.0 and layer.blend != "multiply":
                composite = img  # over black every other mode gives the layer itself: no pass
                continue
            dst = targets[cur]
            composite.use(location=0)
            img.use(location=1)
            self._blend["opacity"].value = layer.opacity  # type: ignore[union-attr]
            self._blend["mode"].value = BLEND_MODES.index(layer.blend)  # type: ignore[union-attr]
            dst.fbo.use()
            self._blend_vao.render(moderngl.TRIANGLES, vertices=3)
            composite = dst.texture
            cur ^= 1
        for fx in plan.effects:
            composite = self._run(fx, composite, audio, time_s, frame) or composite
        return composite

    def _evict(self) -> None:
        stale = [k for k, t in self._last_used.items() if self.n_frames - t > _EVICT_AFTER_FRAMES]
        for key in stale:
            self._release_node(key)

    # ------------------------------------------------------------------ lifecycle
    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread:
            raise RuntimeError("Compositor used outside the thread that owns its GL context")

    @property
    def n_nodes(self) -> int:
        """Live GL nodes."""
        return len(self._nodes)

    def release(self) -> None:
        """Release every GL object (from the context's thread)."""
        for key in list(self._nodes):
            self._release_node(key)
        for prog in self._programs.values():
            prog.release()
        self._programs.clear()
        if self._audio is not None and hasattr(self._audio, "release"):
            self._audio.release()
        self._release_buffers()
        self._blend_vao.release()
        self._final_vao.release()
        self._blend.release()
        self._final.release()
