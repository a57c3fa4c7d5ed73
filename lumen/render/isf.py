"""`ShaderNode`: one ISF shader, all its PASSES, rendering into its own texture.

Layer: render. Threads: the frame thread only (the thread that created the GL context);
`ShaderNode.render` raises ``RuntimeError`` from any other thread.

The scene's compositor owns one node per shader layer: each frame it calls `ShaderNode.render`
with the layer's uniform values, the layer below as the ``inputImage`` image (the ISF filter
convention) and lumen's `lumen.render.textures.AudioTextures`, then blends ``node.output``.

Render targets
--------------
``node.output`` (RGBA, the node's size, ``dtype`` storage, default ``"f2"`` half float) receives
the last pass. Each distinct pass ``TARGET`` gets its own texture, sized by the pass's
``WIDTH``/``HEIGHT`` expressions (default: the node's size):

- ``FLOAT`` targets are RGBA32F (``"f4"``); the others are RGBA8, clamped to 0..1 and quantized
  to 1/255 as in other ISF hosts (community feedback shaders rely on that clamping).
- ``PERSISTENT`` targets are ping-pong pairs: a pass samples the target's previous content
  (from the last frame, or from an earlier pass this frame) while it writes the other texture,
  and the pair swaps after the pass. They start (and restart after `resize` or a shader reload
  that changes them) transparent black.
- A non-persistent target is one texture; a pass that samples its own non-persistent target
  sees black (GL cannot read and write one texture at once), other passes see its latest
  content.
- When the last pass has a ``TARGET`` the result is copied into ``output`` (scaled if sizes
  differ).

All textures sample with linear filtering and clamp to the edge. Targets are created only
when the program changes (its `ShaderProgram.generation`) or the node is resized, never per
frame; a target sized from an input (``"$WIDTH/$div"``) is reallocated when that size changes.

Faults
------
`render` never raises for run-time faults: a missing image input (bound as transparent black;
so is an image input that is the node's own ``output``, a GL feedback loop),
a NaN/Inf uniform value (replaced by the input's DEFAULT, or 0), a program that never compiled
(output cleared to black), a GL error or ``moderngl.Error`` are counted in ``n_errors`` and
described in ``last_error``, for the health thread to report.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import moderngl

from lumen.render.program import (
    KIND_PASSINDEX,
    KIND_RENDERSIZE,
    VERTEX_SHADER,
    PassSpec,
    ShaderProgram,
    UniformValue,
    _Compiled,
    set_uniform,
)
from lumen.render.textures import AudioTextures, black_texture, configure_texture

__all__ = ["ShaderNode"]

# Where a sampler's texture comes from (see `ShaderNode._bind`).
_SRC_IMAGE: Final = 0  # images[name] from the caller
_SRC_TARGET: Final = 1  # a pass target
_SRC_IMPORTED: Final = 2  # an IMPORTED texture of the program
_SRC_SPECTRUM: Final = 3  # AudioTextures.spectrum
_SRC_WAVEFORM: Final = 4  # AudioTextures.waveform
_SRC_WAVEFORM_ISF: Final = 5  # AudioTextures.waveform_isf (ISF "audio" inputs)
_SRC_NONE: Final = 6  # nothing: black

_BLIT_FRAGMENT: Final = """#version 330
uniform sampler2D src;
in vec2 isf_FragNormCoord;
out vec4 color;
void main() { color = texture(src, isf_FragNormCoord); }
"""


class _Target:
    """One pass target: one texture, or a ping-pong pair when persistent."""

    __slots__ = ("name", "persistent", "float", "spec", "size", "textures", "fbos", "front")

    def __init__(self, ctx: moderngl.Context, name: str, spec: PassSpec, size: tuple[int, int]) -> None:
        self.name = name
        self.persistent = spec.persistent
        self.float = spec.float
        self.spec = spec
        self.size = size
        dtype = "f4" if spec.float else "f1"
        n = 2 if spec.persistent else 1
        self.textures = [configure_texture(ctx.texture(size, 4, dtype=dtype)) for _ in range(n)]
        self.fbos = [ctx.framebuffer(color_attachments=[t]) for t in self.textures]
        for fbo in self.fbos:
            fbo.clear(0.0, 0.0, 0.0, 0.0)
        self.front = 0

    @property
    def key(self) -> tuple[str, bool, bool, tuple[int, int]]:
        return (self.name, self.persistent, self.float, self.size)

    @property
    def read(self) -> moderngl.Texture:
        """The texture holding the target's latest content."""
        return self.textures[self.front]

    @property
    def write(self) -> moderngl.Framebuffer:
        """The framebuffer a pass renders into."""
        return self.fbos[1 - self.front] if self.persistent else self.fbos[0]

    def swap(self) -> None:
        if self.persistent:
            self.front = 1 - self.front

    def release(self) -> None:
        for fbo in self.fbos:
            fbo.release()
        for tex in self.textures:
            tex.release()


@dataclass(slots=True)
class _Pass:
    index: int
    target: _Target | None


class ShaderNode:
    """One ISF shader (all its PASSES) rendering into its own texture; frame thread only.

    Parameters
    ----------
    ctx : moderngl.Context
        The GL context, created in this thread.
    program : ShaderProgram
        The shader; its last good program is drawn, and a hot reload (a new
        ``program.generation``) rebuilds the pass targets on the next `render`.
    width, height : int, pixels
        Size of ``output`` (and of ``$WIDTH``/``$HEIGHT`` in size expressions).
    dtype : {"f2", "f4", "f1"}
        Storage of ``output``: half float (default), float, or RGBA8.

    Attributes
    ----------
    width, height : int, pixels
    output : moderngl.Texture
        The final pass's result: RGBA, ``(width, height)``, linear filtering, clamp to edge,
        row 0 at the bottom (GL). The same object from frame to frame; `resize` replaces it.
    n_errors : int
        Render faults caught (missing image, NaN uniform replaced, GL error, no program).
    last_error : str or None
        Description of the most recent fault.
    n_frames : int
        Frames rendered.
    """

    def __init__(self, ctx: moderngl.Context, program: ShaderProgram, width: int, height: int, *, dtype: str = "f2") -> None:
        if dtype not in ("f1", "f2", "f4"):
            raise ValueError(f"dtype must be 'f1', 'f2' or 'f4', got {dtype!r}")
        self.ctx = ctx
        self.program = program
        self.dtype = dtype
        self.n_errors = 0
        self.last_error: str | None = None
        self.n_frames = 0
        self._thread = threading.get_ident()
        self._black = black_texture(ctx)
        self._blit: tuple[moderngl.Program, moderngl.VertexArray] | None = None
        self._targets: dict[str, _Target] = {}
        self._passes: list[_Pass] = []
        self._compiled: _Compiled | None = None
        self._generation = -1
        self._bindings: list[tuple[str, int, int, object]] = []  # (sampler, unit, source kind, key)
        self._missing_msgs: dict[str, str] = {}
        self._feedback_msgs: dict[str, str] = {}
        self._nan_msgs: dict[str, str] = {}
        self._fallbacks: dict[str, UniformValue] = {}
        self._dynamic = False  # a target size depends on an input value
        self._prev_time_s: float | None = None
        self._rendersize_u: list[moderngl.Uniform] = []
        self._passindex_u: list[moderngl.Uniform] = []
        self.width = 0
        self.height = 0
        self._allocate_output(width, height)

    def target_texture(self, name: str) -> moderngl.Texture:
        """The texture holding pass target ``name``'s latest content (for previews and tests).

        Raises
        ------
        KeyError
            No such target (or nothing rendered since the program changed).
        """
        return self._targets[name].read

    # -- lifecycle -------------------------------------------------------------------------
    def _allocate_output(self, width: int, height: int) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"node size must be positive, got {width}x{height}")
        self.width = int(width)
        self.height = int(height)
        self.output = configure_texture(self.ctx.texture((self.width, self.height), 4, dtype=self.dtype))
        self._output_fbo = self.ctx.framebuffer(color_attachments=[self.output])
        self._output_fbo.clear(0.0, 0.0, 0.0, 0.0)

    def resize(self, width: int, height: int) -> None:
        """Reallocate ``output`` and every target at a new size (persistent buffers restart black)."""
        self._check_thread()
        self.ctx.detect_framebuffer(0).use()  # never leave a released framebuffer bound
        self._release_targets()
        self._output_fbo.release()
        self.output.release()
        self._allocate_output(width, height)
        self._generation = -1  # rebuild the targets on the next render

    def release(self) -> None:
        """Release every GL object the node owns (not the program, images or audio textures)."""
        self.ctx.detect_framebuffer(0).use()
        self._release_targets()
        self._output_fbo.release()
        self.output.release()
        self._black.release()
        if self._blit is not None:
            self._blit[1].release()
            self._blit[0].release()
            self._blit = None
        self._compiled = None

    def _release_targets(self) -> None:
        for t in self._targets.values():
            t.release()
        self._targets = {}
        self._passes = []

    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread:
            raise RuntimeError("ShaderNode used outside the thread that owns its GL context")

    def _fault(self, message: str) -> None:
        self.n_errors += 1
        self.last_error = message

    # -- rebuilding after a (re)compile -------------------------------------------------------
    def _size_vars(self, uniforms: Mapping[str, UniformValue], compiled: _Compiled) -> dict[str, float]:
        variables: dict[str, float] = {"WIDTH": float(self.width), "HEIGHT": float(self.height)}
        for inp in compiled.parsed.inputs:
            if inp.type in ("float", "long", "bool", "event"):
                v = uniforms.get(inp.name, inp.default)
                variables[inp.name] = float(v) if isinstance(v, int | float) and math.isfinite(v) else float(inp.default)  # type: ignore[arg-type]
        return variables

    def _target_size(self, spec: PassSpec, variables: Mapping[str, float]) -> tuple[int, int]:
        try:
            w = spec.width.size(variables) if spec.width is not None else self.width
            h = spec.height.size(variables) if spec.height is not None else self.height
        except ValueError as exc:
            self._fault(f"{self.program.path or '<string>'}:{spec.line}: {exc}; using the node's size")
            return (self.width, self.height)
        return (w, h)

    def _rebuild(self, compiled: _Compiled, uniforms: Mapping[str, UniformValue]) -> None:
        parsed = compiled.parsed
        variables = self._size_vars(uniforms, compiled)
        first_spec: dict[str, PassSpec] = {}
        for spec in parsed.passes:
            if spec.target is not None and spec.target not in first_spec:
                first_spec[spec.target] = spec
        self._output_fbo.use()  # a released framebuffer must not be the bound one
        old = {t.key: t for t in self._targets.values()}
        targets: dict[str, _Target] = {}
        for name, spec in first_spec.items():
            size = self._target_size(spec, variables)
            key = (name, spec.persistent, spec.float, size)
            reused = old.pop(key, None)  # same name, flags and size: keep its content (trails survive a reload)
            targets[name] = reused if reused is not None else _Target(self.ctx, name, spec, size)
            if reused is not None:
                reused.spec = spec
        for t in old.values():
            t.release()
        self._targets = targets
        self._passes = [_Pass(i, targets[s.target] if s.target is not None else None) for i, s in enumerate(parsed.passes)]
        self._dynamic = any(
            (s.width is not None and s.width.variables - {"WIDTH", "HEIGHT"})
            or (s.height is not None and s.height.variables - {"WIDTH", "HEIGHT"})
            for s in first_spec.values()
        )
        kinds = {i.name: i.type for i in parsed.inputs if i.is_image}
        imported = compiled.imported
        bindings: list[tuple[str, int, int, object]] = []
        for name, unit in compiled.samplers:
            if name in kinds:
                kind = kinds[name]
                source = _SRC_IMAGE if kind == "image" else _SRC_SPECTRUM if kind == "audioFFT" else _SRC_WAVEFORM_ISF
                bindings.append((name, unit, source, name))
            elif name in targets:
                bindings.append((name, unit, _SRC_TARGET, targets[name]))
            elif name in imported:
                bindings.append((name, unit, _SRC_IMPORTED, imported[name]))
            elif name == "spectrum":
                bindings.append((name, unit, _SRC_SPECTRUM, None))
            elif name == "waveform":
                bindings.append((name, unit, _SRC_WAVEFORM, None))
            else:  # a sampler the user declared for something lumen does not provide
                bindings.append((name, unit, _SRC_NONE, None))
        self._bindings = bindings
        where = str(self.program.path or parsed.path)
        self._missing_msgs = {n: f"{where}: image input {n!r} was not given; bound black" for n, k in kinds.items() if k == "image"}
        self._feedback_msgs = {n: f"{where}: image input {n!r} is this node's own output; bound black" for n in self._missing_msgs}
        defaults = {i.name: i.default for i in parsed.inputs if not i.is_image}
        self._fallbacks = {}
        self._nan_msgs = {}
        for name, u, _kind in compiled.uniforms:
            self._fallbacks[name] = defaults.get(name, 0.0 if u.dimension == 1 else (0.0,) * u.dimension)
            self._nan_msgs[name] = f"{where}: uniform {name!r} is NaN or infinite; used {self._fallbacks[name]!r}"
        self._rendersize_u = [u for _, u, k in compiled.uniforms if k == KIND_RENDERSIZE]
        self._passindex_u = [u for _, u, k in compiled.uniforms if k == KIND_PASSINDEX]
        self._compiled = compiled
        self._generation = self.program.generation

    def _resize_dynamic(self, compiled: _Compiled, uniforms: Mapping[str, UniformValue]) -> None:
        variables = self._size_vars(uniforms, compiled)
        for t in self._targets.values():
            size = self._target_size(t.spec, variables)
            if size != t.size:
                self._generation = -1  # sizes moved: rebuild (reallocates just the changed targets)
                self._rebuild(compiled, uniforms)
                return

    # -- rendering -------------------------------------------------------------------------
    def render(
        self,
        uniforms: Mapping[str, UniformValue],
        *,
        images: Mapping[str, moderngl.Texture] | None = None,
        audio: AudioTextures | None = None,
        time_s: float = 0.0,
        frame: int = 0,
    ) -> moderngl.Texture:
        """Run every pass in order and return ``output``.

        Sets ``PASSINDEX`` and ``RENDERSIZE`` (the pass target's size) per pass, ``TIME``
        (``time_s``), ``TIMEDELTA`` (``time_s`` minus the previous call's, 0 at first),
        ``FRAMEINDEX`` (``frame``) and ``DATE`` (local date and seconds since midnight); a value
        for one of these in ``uniforms`` wins. Other uniforms the program uses are set from
        ``uniforms``; names it does not use are ignored, and uniforms not given take the ISF
        ``DEFAULT`` (0 for undeclared ones) every call: nodes that share one compiled program
        (two scenes drawing one shader) never see each other's values. Blending and depth
        testing are disabled.

        Parameters
        ----------
        uniforms : Mapping[str, float or sequence of float]
            Uniform values by name (numbers for float/int/bool, 2 or 4 numbers for vectors).
        images : Mapping[str, moderngl.Texture], optional
            Textures for the ``image`` inputs, by input name (``inputImage`` for filters). A
            missing one is bound as transparent black and counted.
        audio : AudioTextures, optional
            Bound to ``spectrum``/``waveform`` and to ``audioFFT``/``audio`` inputs; without it
            those sample black.
        time_s : float, s
            Time since the scene started.
        frame : int
            Frames since the scene started.

        Returns
        -------
        moderngl.Texture
            ``output``.

        Raises
        ------
        RuntimeError
            Called from a thread other than the one that created the node.
        """
        self._check_thread()
        program = self.program
        if not program.ok:
            self._fault(f"{program.path or '<string>'}: no program has compiled; output is black")
            self._output_fbo.clear(0.0, 0.0, 0.0, 0.0)
            return self.output
        compiled = program.current()
        try:
            if program.generation != self._generation or compiled is not self._compiled:
                self._rebuild(compiled, uniforms)
            elif self._dynamic:
                self._resize_dynamic(compiled, uniforms)
            self._set_uniforms(compiled, uniforms, time_s, frame)
            self.ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST)
            vao = compiled.vao
            last: _Target | None = None
            for p in self._passes:
                target = p.target
                if target is None:
                    fbo = self._output_fbo
                    size = (float(self.width), float(self.height))
                else:
                    fbo = target.write
                    size = (float(target.size[0]), float(target.size[1]))
                for u in self._rendersize_u:
                    u.value = size
                for u in self._passindex_u:
                    u.value = p.index
                self._bind(compiled, target, images, audio)
                fbo.use()
                vao.render(moderngl.TRIANGLES, vertices=3)
                if target is not None:
                    target.swap()
                last = target
            if last is not None:
                self._copy_to_output(last.read)
            err = self.ctx.error
            if err != "GL_NO_ERROR":
                self._fault(f"{program.path or '<string>'}: GL error {err} while rendering")
        except moderngl.Error as exc:
            self._fault(f"{program.path or '<string>'}: {exc}")
        self.n_frames += 1
        return self.output

    def _set_uniforms(self, compiled: _Compiled, uniforms: Mapping[str, UniformValue], time_s: float, frame: int) -> None:
        dt = 0.0 if self._prev_time_s is None else max(0.0, time_s - self._prev_time_s)
        self._prev_time_s = time_s
        fallbacks = self._fallbacks
        for name, uniform, kind in compiled.uniforms:
            if kind >= KIND_RENDERSIZE:
                continue
            value = uniforms.get(name)
            if value is None:
                if name == "TIME":
                    value = time_s
                elif name == "TIMEDELTA":
                    value = dt
                elif name == "FRAMEINDEX":
                    value = frame
                elif name == "DATE":
                    value = _date()
                else:  # nodes share a compiled program: never let another node's value leak in
                    value = fallbacks[name]
            if not _finite(value):
                self._fault(self._nan_msgs[name])
                value = fallbacks[name]
            set_uniform(uniform, kind, value)

    def _bind(
        self,
        compiled: _Compiled,
        target: _Target | None,
        images: Mapping[str, moderngl.Texture] | None,
        audio: AudioTextures | None,
    ) -> None:
        black = self._black
        for name, unit, source, key in self._bindings:
            tex: moderngl.Texture
            if source == _SRC_TARGET:
                t = key
                assert isinstance(t, _Target)
                # A non-persistent target cannot be read by the pass that writes it.
                tex = black if (t is target and not t.persistent) else t.read
            elif source == _SRC_IMAGE:
                got = images.get(name) if images is not None else None
                if got is None:
                    self._fault(self._missing_msgs[name])
                    tex = black
                elif got is self.output:
                    # Reading the texture being written is undefined in GL; feedback belongs
                    # in a PERSISTENT target.
                    self._fault(self._feedback_msgs[name])
                    tex = black
                else:
                    tex = got
            elif source == _SRC_IMPORTED:
                assert isinstance(key, moderngl.Texture)
                tex = key
            elif audio is not None and source == _SRC_SPECTRUM:
                tex = audio.spectrum
            elif audio is not None and source == _SRC_WAVEFORM:
                tex = audio.waveform
            elif audio is not None and source == _SRC_WAVEFORM_ISF:
                tex = audio.waveform_isf
            else:
                tex = black
            tex.use(location=unit)
        for image, what, uniform in compiled.image_uniforms:
            w, h = self._image_size(image, target, images, audio)
            if what == "size":
                uniform.value = (w, h)
            elif what == "rect":
                uniform.value = (0.0, 0.0, w, h)
            else:
                uniform.value = False

    def _image_size(
        self, name: str, target: _Target | None, images: Mapping[str, moderngl.Texture] | None, audio: AudioTextures | None
    ) -> tuple[float, float]:
        # Size in pixels of what is bound to the image ``name`` (its `_<name>_imgSize`).
        tex: moderngl.Texture | None = None
        t = self._targets.get(name)
        if t is not None:
            return (float(t.size[0]), float(t.size[1]))
        if images is not None:
            tex = images.get(name)
        if tex is None and self._compiled is not None:
            tex = self._compiled.imported.get(name)
        if tex is None and audio is not None:
            for bname, _unit, source, _key in self._bindings:
                if bname == name and source in (_SRC_SPECTRUM, _SRC_WAVEFORM, _SRC_WAVEFORM_ISF):
                    tex = audio.spectrum if source == _SRC_SPECTRUM else audio.waveform
        if tex is None:
            return (1.0, 1.0)
        return (float(tex.size[0]), float(tex.size[1]))

    def _copy_to_output(self, texture: moderngl.Texture) -> None:
        if self._blit is None:
            prog = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=_BLIT_FRAGMENT)
            self._blit = (prog, self.ctx.vertex_array(prog, []))
        texture.use(location=0)
        self._output_fbo.use()
        self._blit[1].render(moderngl.TRIANGLES, vertices=3)


def _finite(value: UniformValue) -> bool:
    if isinstance(value, int | float):
        return math.isfinite(value)
    for v in value:
        if not math.isfinite(v):
            return False
    return True


def _date() -> tuple[float, float, float, float]:
    # ISF DATE: year, month, day, seconds since local midnight (display only, not scheduling).
    t = time.localtime()
    return (float(t.tm_year), float(t.tm_mon), float(t.tm_mday), float(t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec))
