"""Create the OpenGL context lumen renders with.

Layer: render. Threads: the frame thread only. An OpenGL context is current in exactly one
thread, the one that created it; every GL call on it (compiling programs, rendering, reading
pixels back, releasing objects) must come from that thread. lumen therefore creates the context
*in* the frame thread and never hands GL objects to another thread. `create_context` records
the creating thread in ``ctx.extra["lumen_thread"]`` so callers can check it cheaply.

Two kinds of context are supported:

- **window**: a visible window made with glfw (an optional dependency, for show machines with a
  display and a GPU). The glfw window handle is kept in ``ctx.extra["glfw_window"]``.
- **egl**: a headless standalone context on EGL, which on machines without a GPU is Mesa's
  llvmpipe software rasterizer. This is the path for CI, tests, benchmarks and offline renders.
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any, Final, Literal

import moderngl

from lumen.errors import DeviceError

__all__ = ["Backend", "MIN_GL_VERSION", "create_context", "has_display"]

#: Which context `create_context` makes.
Backend = Literal["auto", "egl", "window"]

#: lumen's shaders are GLSL 330 core, so the context must offer at least OpenGL 3.3.
MIN_GL_VERSION: Final[int] = 330


def has_display() -> bool:
    """Whether a window system seems reachable (``DISPLAY`` or ``WAYLAND_DISPLAY`` is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def create_context(
    backend: Backend = "auto",
    *,
    width: int = 1280,
    height: int = 720,
    title: str = "lumen",
) -> moderngl.Context:
    """Create an OpenGL (>= 3.3 core) context for lumen's renderer.

    Call this from the frame thread: the context works only in the thread that made it.

    Parameters
    ----------
    backend : {"auto", "egl", "window"}
        ``"window"`` opens a visible glfw window and uses its context. ``"egl"`` makes a headless
        standalone EGL context (Mesa llvmpipe when there is no GPU). ``"auto"`` picks
        ``"window"`` only if a display exists (``DISPLAY``/``WAYLAND_DISPLAY``) and glfw is
        importable, and falls back to ``"egl"`` otherwise (also when the window fails).
    width, height : int, pixels
        Size of the window (``"window"`` only; lumen renders into its own framebuffers, so this
        does not limit render sizes).
    title : str
        Window title (``"window"`` only).

    Returns
    -------
    moderngl.Context
        The context, current in the calling thread. ``ctx.extra`` is a dict holding
        ``"lumen_backend"`` (``"window"`` or ``"egl"``), ``"lumen_thread"`` (the creating
        thread's ident) and, for windows, ``"glfw_window"``.

    Raises
    ------
    lumen.errors.DeviceError
        No usable OpenGL context could be created; the message names every backend tried and
        why it failed.
    """
    if backend not in ("auto", "egl", "window"):
        raise ValueError(f"unknown GL backend {backend!r}; expected 'auto', 'egl' or 'window'")
    attempts: list[str] = []
    if backend == "window" or (backend == "auto" and has_display() and _glfw_available()):
        try:
            return _create_window_context(width, height, title)
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            attempts.append(f"window (glfw): {exc}")
            if backend == "window":
                raise DeviceError(_no_gl_message(attempts)) from exc
    elif backend == "auto":
        why = "no DISPLAY/WAYLAND_DISPLAY" if not has_display() else "glfw is not installed"
        attempts.append(f"window (glfw): skipped, {why}")
    try:
        return _create_egl_context()
    except Exception as exc:  # noqa: BLE001 - moderngl/glcontext raise assorted types
        attempts.append(f"egl (standalone): {exc}")
        raise DeviceError(_no_gl_message(attempts)) from exc


def _no_gl_message(attempts: list[str]) -> str:
    tried = "; ".join(attempts)
    return (
        f"no OpenGL >= {MIN_GL_VERSION // 100}.{MIN_GL_VERSION % 100 // 10} context available; tried {tried}. "
        "Headless machines need Mesa's EGL (Debian: libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1); "
        "a window needs a display and `pip install glfw`."
    )


def _glfw_available() -> bool:
    try:
        importlib.import_module("glfw")
    except ImportError:
        return False
    return True


def _tag(ctx: moderngl.Context, backend: str, **extra: Any) -> moderngl.Context:
    if ctx.version_code < MIN_GL_VERSION:
        version = ctx.info.get("GL_VERSION", ctx.version_code)
        ctx.release()
        raise RuntimeError(f"OpenGL {version} is older than the required 3.3 core")
    ctx.extra = {"lumen_backend": backend, "lumen_thread": threading.get_ident(), **extra}
    return ctx


def _create_egl_context() -> moderngl.Context:
    # backend="egl" is required: without it moderngl's standalone context tries GLX/X11.
    settings: dict[str, Any] = {"backend": "egl"}  # (moderngl's stubs mistype **settings)
    ctx = moderngl.create_standalone_context(require=MIN_GL_VERSION, **settings)
    return _tag(ctx, "egl")


def _create_window_context(width: int, height: int, title: str) -> moderngl.Context:
    glfw: Any = importlib.import_module("glfw")  # optional dependency, imported only here
    if not glfw.init():
        raise RuntimeError("glfw.init() failed")
    glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
    glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
    glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
    glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
    window = glfw.create_window(width, height, title, None, None)
    if not window:
        glfw.terminate()
        raise RuntimeError("glfw.create_window() failed (no GL 3.3 core on this display?)")
    glfw.make_context_current(window)
    try:
        ctx = moderngl.create_context(require=MIN_GL_VERSION)
        return _tag(ctx, "window", glfw_window=window)
    except Exception:
        glfw.destroy_window(window)
        glfw.terminate()
        raise
