"""Render a shader program into an offscreen framebuffer and read the pixels back.

Layer: render. Threads: the frame thread only (the thread that created the GL context);
`Renderer.render` checks this and raises ``RuntimeError`` from any other thread, because a GL
call without the context current would fail or crash.

Frames leave the renderer as ``(height, width, 3)`` float32 linear RGB arrays, **row 0 at the
top** of the image, ready for the patch stage. GL stores rows bottom-up, so the readback is
flipped while it is copied into the caller's buffer.

The framebuffer is RGBA32F by default, read back as float RGB straight into a float32 buffer.
Measured on llvmpipe (``benchmarks/render.py``), an RGBA8 framebuffer read as uint8 and
scaled to float32 costs the same for real shaders at every wall size (the shading dominates)
and saves ~2 ms only for a trivial shader at 1920x1080. The float path keeps full precision for
the gamma and dimming curves of the patch stage (8-bit frames band at low LED levels) and keeps
values outside 0..1 unclamped (the patch stage clamps). ``fbo_dtype="f1"`` selects RGBA8.

Programs with several ``PASSES``, pass targets or textures (image/audio inputs, IMPORTED
images, ``spectrum``/``waveform``) are drawn through an internal `lumen.render.isf.ShaderNode`
of the renderer's size. `Renderer.read` reads back any RGBA texture (e.g. a node's output).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Final, Literal

import moderngl
import numpy as np
import numpy.typing as npt

from lumen.render.isf import ShaderNode
from lumen.render.program import KIND_RENDERSIZE, ShaderProgram, UniformValue, set_uniform
from lumen.render.textures import AudioTextures

__all__ = ["Renderer"]

_U8_TO_FLOAT: Final = np.float32(1.0 / 255.0)
#: numpy dtype of a texture's raw readback, by moderngl texture dtype (see `Renderer.read`).
_READ_DTYPES: Final[dict[str, type[np.generic]]] = {"f1": np.uint8, "f2": np.float16, "f4": np.float32}


class Renderer:
    """Draws lumen shader programs into a framebuffer of fixed size and reads them back.

    Every frame is one fullscreen triangle (three vertices generated in lumen's vertex shader
    from ``gl_VertexID``, so there is no vertex buffer; the attribute-less VAO belongs to each
    compiled program because moderngl ties a VAO to its program, which also means a hot reload
    swaps it without the renderer noticing). All buffers are allocated here, once; `render`
    allocates only small Python objects.

    Parameters
    ----------
    ctx : moderngl.Context
        The GL context, created in this thread.
    width, height : int, pixels
        Frame size (an LED wall's pixel grid, or a video size).
    fbo_dtype : {"f4", "f1"}
        Framebuffer storage: ``"f4"`` (RGBA32F, default) or ``"f1"`` (RGBA8, clamped to 0..1
        and quantized to 1/255; converted to float32 on readback).

    Attributes
    ----------
    width, height : int, pixels
    shape : tuple of int
        ``(height, width, 3)``, the shape `render` fills.
    n_frames : int
        Frames rendered so far.
    """

    def __init__(self, ctx: moderngl.Context, width: int, height: int, *, fbo_dtype: Literal["f4", "f1"] = "f4") -> None:
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        if fbo_dtype not in ("f4", "f1"):
            raise ValueError(f"fbo_dtype must be 'f4' or 'f1', got {fbo_dtype!r}")
        self.ctx = ctx
        self.width = int(width)
        self.height = int(height)
        self.shape: tuple[int, int, int] = (self.height, self.width, 3)
        self.fbo_dtype = fbo_dtype
        self.n_frames = 0
        self._thread = threading.get_ident()
        self._rendersize = (float(self.width), float(self.height))
        self._texture = ctx.texture((self.width, self.height), 4, dtype=fbo_dtype)
        self.fbo = ctx.framebuffer(color_attachments=[self._texture])
        # Rows arrive bottom-up (GL order); `render` copies them flipped into the caller's array.
        # float32 for "f4", uint8 for "f1".
        self._readback: npt.NDArray[np.generic] = np.zeros(self.shape, dtype=np.float32 if fbo_dtype == "f4" else np.uint8)
        self._flipped: npt.NDArray[np.generic] = self._readback[::-1]
        self._node: ShaderNode | None = None  # draws multi-pass/texture programs (see `render`)
        self._read_buffers: dict[tuple[int, int, int, str], npt.NDArray[np.generic]] = {}

    @property
    def gl_renderer(self) -> str:
        """The GL renderer string, e.g. ``"llvmpipe (LLVM 15.0.6, 256 bits)"``."""
        return str(self.ctx.info["GL_RENDERER"])

    def new_frame(self) -> npt.NDArray[np.float32]:
        """A zeroed float32 array of shape `shape` to pass to `render` (allocate it once)."""
        return np.zeros(self.shape, dtype=np.float32)

    def render(
        self,
        program: ShaderProgram,
        uniforms: Mapping[str, UniformValue],
        out: npt.NDArray[np.float32],
        *,
        images: Mapping[str, moderngl.Texture] | None = None,
        audio: AudioTextures | None = None,
    ) -> None:
        """Render ``program`` with ``uniforms`` and write the image into ``out``.

        Only uniforms the active program actually uses are set (its handles are cached when it
        compiles); other names in ``uniforms`` are ignored, and uniforms not in ``uniforms``
        keep their previous value (initially the ISF ``DEFAULT``, else 0), so pass every bound
        value each frame. ``RENDERSIZE`` (and ``PASSINDEX``) are set by the renderer.

        Errors are not handled here: the frame thread catches them at the layer boundary,
        counts them and bypasses the node (black or last frame).

        Parameters
        ----------
        program : ShaderProgram
            Its last good program is drawn.
        uniforms : Mapping[str, float or sequence of float]
            Uniform values by name: numbers for ``float``/``int``/``bool`` uniforms (bools are
            true at >= 0.5, ints are rounded), 2 or 4 numbers for ``vec2``/``vec4``.
        out : ndarray, shape (height, width, 3), float32, C-contiguous
            Receives linear RGB, **row 0 = top of the image**, column 0 = left. Values are not
            clamped with the default float framebuffer.
        images : Mapping[str, moderngl.Texture], optional
            Textures for the program's ``image`` inputs (see `ShaderNode.render`).
        audio : AudioTextures, optional
            lumen's spectrum and waveform textures, for programs that sample them.

        Programs with several passes, pass targets or textures are drawn by a `ShaderNode`
        (made on first use, remade when ``program`` changes), which counts run-time faults in
        its ``n_errors`` instead of raising; ``TIME`` and ``FRAMEINDEX`` come from
        ``uniforms`` (default 0 and the renderer's frame count).

        Raises
        ------
        lumen.errors.ShaderError
            ``program`` never compiled.
        ValueError
            ``out`` has the wrong shape or dtype.
        RuntimeError
            Called from a thread other than the one that created the renderer.
        moderngl.Error
            The driver failed to draw or read back.
        """
        if threading.get_ident() != self._thread:
            raise RuntimeError("Renderer.render called outside the thread that owns the GL context")
        if out.shape != self.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {self.shape}, got {out.dtype} {out.shape}")
        compiled = program.current()
        passes = compiled.parsed.passes
        if compiled.samplers or len(passes) > 1 or passes[0].target is not None:
            node = self._node
            if node is None or node.program is not program:
                if node is not None:
                    node.release()
                dtype = "f4" if self.fbo_dtype == "f4" else "f1"
                node = self._node = ShaderNode(self.ctx, program, self.width, self.height, dtype=dtype)
            time_s = uniforms.get("TIME", 0.0)
            node.render(uniforms, images=images, audio=audio, time_s=time_s if isinstance(time_s, int | float) else 0.0, frame=self.n_frames)
            self.read(node.output, out)
            self.n_frames += 1
            return
        for name, uniform, kind in compiled.uniforms:
            if kind >= KIND_RENDERSIZE:
                uniform.value = self._rendersize if kind == KIND_RENDERSIZE else 0
                continue
            value = uniforms.get(name)
            if value is not None:
                set_uniform(uniform, kind, value)
        self.fbo.use()
        self.ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST)
        compiled.vao.render(moderngl.TRIANGLES, vertices=3)
        self.fbo.read_into(self._readback, components=3, alignment=1, dtype=self.fbo_dtype)
        if self.fbo_dtype == "f4":
            np.copyto(out, self._flipped)
        else:
            np.multiply(self._flipped, _U8_TO_FLOAT, out=out)
        self.n_frames += 1

    def read(self, texture: moderngl.Texture, out: npt.NDArray[np.float32]) -> None:
        """Read an RGBA (or RGB) texture back into ``out``, row 0 = top of the image.

        Works for RGBA8, half and float textures of any size (a node's ``output``, a pass
        target); the raw readback goes into a buffer kept per texture size and format, so
        repeated reads allocate nothing frame-sized.

        Parameters
        ----------
        texture : moderngl.Texture
            ``dtype`` ``"f1"`` (converted to 0..1), ``"f2"`` or ``"f4"``; 3 or 4 components
            (alpha is dropped; a 1-component texture fills all three channels).
        out : ndarray, shape (texture height, texture width, 3), float32, C-contiguous
            Receives linear RGB, row 0 = top, column 0 = left.

        Raises
        ------
        ValueError
            ``out`` has the wrong shape or dtype, or the texture format is not supported.
        RuntimeError
            Called from a thread other than the one that created the renderer.
        """
        if threading.get_ident() != self._thread:
            raise RuntimeError("Renderer.read called outside the thread that owns the GL context")
        width, height = texture.size
        shape = (height, width, 3)
        if out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {shape}, got {out.dtype} {out.shape}")
        dtype = texture.dtype
        np_dtype = _READ_DTYPES.get(dtype)
        if np_dtype is None:
            raise ValueError(f"cannot read back a texture of dtype {dtype!r}")
        key = (width, height, texture.components, dtype)
        buf = self._read_buffers.get(key)
        if buf is None:
            buf = self._read_buffers[key] = np.empty((height, width, texture.components), dtype=np_dtype)
        texture.read_into(buf, alignment=1)
        flipped = buf[::-1, :, :3]
        if dtype == "f1":
            np.multiply(flipped, _U8_TO_FLOAT, out=out)
        else:
            np.copyto(out, flipped)

    def release(self) -> None:
        """Release the framebuffer and its texture (from the GL context's thread)."""
        # Bind the default framebuffer first: moderngl restores the bound framebuffer after
        # creating new ones, and restoring a deleted one is a GL_INVALID_OPERATION.
        self.ctx.detect_framebuffer(0).use()
        self.fbo.release()
        self._texture.release()
        if self._node is not None:
            self._node.release()
            self._node = None
