"""The preview: the rendered frame in a window (or offscreen), with a text overlay.

Layer: render. Threads: the frame thread only (GL calls; glfw calls on the window's thread).

`Preview.show` draws the compositor's output texture scaled to the preview size, then an
overlay of text lines (features, counters and, above all, errors: a shader that failed to
compile shows its ``file:line: message`` here while the last good program keeps running). The
text is rasterized with Pillow into an RGBA texture, only when it changes.

With a window context (`lumen.render.context.create_context` with ``"window"``), it draws to
the window and swaps buffers; headless (EGL) it draws into an offscreen target that
`Preview.snapshot` reads back, so the same overlay ends up in the demo's preview images and in
tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Final

import moderngl
import numpy as np
import numpy.typing as npt

from lumen.features import Features
from lumen.render.program import UV_VERTEX_SHADER

__all__ = ["Overlay", "Preview", "feature_lines"]


_FRAGMENT: Final[str] = """#version 330
in vec2 uv;
out vec4 color;
uniform sampler2D frame;    // GL orientation: row 0 at the bottom (the compositor's output)
uniform sampler2D overlay;  // RGBA text uploaded from an image: row 0 at the top
uniform bool has_overlay;
uniform bool srgb;
void main() {
    vec2 p = vec2(uv.x, 1.0 - uv.y);
    vec3 c = clamp(texture(frame, uv).rgb, 0.0, 1.0);
    if (srgb) c = pow(c, vec3(1.0 / 2.2));
    if (has_overlay) {
        vec4 o = texture(overlay, p);
        c = mix(c, o.rgb, o.a);
    }
    color = vec4(c, 1.0);
}
"""


def feature_lines(f: Features, *, fps: float = 0.0, scene: str = "") -> list[str]:
    """Short overlay lines describing the features (and the frame rate and scene).

    Examples
    --------
    >>> feature_lines(Features(bpm=124.0, energy=0.5), scene="intro")[0]
    'intro  124.0 bpm  beat 0.00  bar 0.00'
    """
    head = f"{scene}  " if scene else ""
    lines = [f"{head}{f.bpm:5.1f} bpm  beat {f.beat_phase:.2f}  bar {f.bar_phase:.2f}"]
    lines.append(f"energy {f.energy:.2f}  bass {f.bass:.2f}  treble {f.treble:.2f}  {f.section}")
    if fps > 0:
        lines.append(f"{fps:.0f} fps")
    return lines


class Overlay:
    """Text lines rasterized with Pillow into an RGBA texture (remade only when text changes).

    Parameters
    ----------
    ctx : moderngl.Context
    width, height : int, pixels
        Texture size (the preview's).
    """

    def __init__(self, ctx: moderngl.Context, width: int, height: int) -> None:
        from PIL import ImageFont

        self.ctx = ctx
        self.width = width
        self.height = height
        self.texture = ctx.texture((width, height), 4, dtype="f1")
        self.texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._text: tuple[tuple[str, bool], ...] = ()
        self._font: Any = ImageFont.load_default()
        self.image: npt.NDArray[np.uint8] = np.zeros((height, width, 4), dtype=np.uint8)

    def set(self, lines: Sequence[str], errors: Sequence[str] = ()) -> bool:
        """Show ``lines`` (white) and ``errors`` (red, first); returns whether there is text."""
        text = tuple((e, True) for e in errors) + tuple((s, False) for s in lines)
        if text != self._text:
            self._text = text
            self.image = self._rasterize(text)
            self.texture.write(self.image.tobytes())
        return bool(text)

    def _rasterize(self, text: Sequence[tuple[str, bool]]) -> npt.NDArray[np.uint8]:
        from PIL import Image, ImageDraw

        img = Image.new("RGBA", (self.width, self.height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        y = 2
        for line, is_error in text:
            box = draw.textbbox((4, y), line, font=self._font)
            draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(0, 0, 0, 170))
            draw.text((4, y), line, font=self._font, fill=(255, 80, 60, 255) if is_error else (255, 255, 255, 255))
            y = int(box[3]) + 3
            if y >= self.height:
                break
        return np.asarray(img, dtype=np.uint8).copy()

    def release(self) -> None:
        """Release the texture."""
        self.texture.release()


class Preview:
    """Shows frames with an overlay in a glfw window, or offscreen when headless.

    Parameters
    ----------
    ctx : moderngl.Context
        The frame thread's context; a window context (``ctx.extra["glfw_window"]``) gets a
        window preview.
    width, height : int, pixels
        Preview size (the window's framebuffer size when there is a window).
    srgb : bool
        Encode linear frames for the monitor (gamma 1/2.2).

    Attributes
    ----------
    closed : bool
        The window was closed by the user.
    """

    def __init__(self, ctx: moderngl.Context, width: int, height: int, *, srgb: bool = True) -> None:
        self.ctx = ctx
        self.width = width
        self.height = height
        extra = getattr(ctx, "extra", None) or {}
        self._window = extra.get("glfw_window")
        self._glfw: Any = importlib.import_module("glfw") if self._window is not None else None
        self.closed = False
        self.overlay = Overlay(ctx, width, height)
        self._prog = ctx.program(vertex_shader=UV_VERTEX_SHADER, fragment_shader=_FRAGMENT)
        self._prog["frame"].value = 0  # type: ignore[union-attr]
        self._prog["overlay"].value = 1  # type: ignore[union-attr]
        self._prog["srgb"].value = srgb  # type: ignore[union-attr]
        self._vao = ctx.vertex_array(self._prog, [])
        self._tex = ctx.texture((width, height), 4, dtype="f1")
        self._fbo = ctx.framebuffer(color_attachments=[self._tex])
        self._screen = ctx.detect_framebuffer(0)  # the window's own framebuffer
        if self._glfw is not None:
            self._glfw.swap_interval(0)  # never wait for vsync on the frame thread

    @property
    def has_window(self) -> bool:
        """Whether frames go to a visible window."""
        return self._window is not None

    def show(self, frame: moderngl.Texture, lines: Sequence[str] = (), errors: Sequence[str] = ()) -> bool:
        """Draw ``frame`` (GL orientation) with the overlay; returns False once the window closed."""
        has_text = self.overlay.set(lines, errors)
        self._prog["has_overlay"].value = has_text  # type: ignore[union-attr]
        frame.use(location=0)
        self.overlay.texture.use(location=1)
        if self._window is not None:
            self._screen.use()
            w, h = self._glfw.get_framebuffer_size(self._window)
            self.ctx.viewport = (0, 0, w, h)
        else:
            self._fbo.use()
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        if self._window is not None:
            self._glfw.swap_buffers(self._window)
            self._glfw.poll_events()
            self.closed = bool(self._glfw.window_should_close(self._window))
        return not self.closed

    def snapshot(self) -> npt.NDArray[np.uint8]:
        """The last offscreen preview as uint8 RGB ``(height, width, 3)``, row 0 at the top."""
        raw = np.frombuffer(self._fbo.read(components=3, alignment=1), dtype=np.uint8)
        img: npt.NDArray[np.uint8] = raw.reshape(self.height, self.width, 3)[::-1].copy()
        return img

    def release(self) -> None:
        """Release GL objects (the window stays with its context)."""
        self.ctx.detect_framebuffer(0).use()
        self._fbo.release()
        self._tex.release()
        self.overlay.release()
        self._vao.release()
        self._prog.release()
