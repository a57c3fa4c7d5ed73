"""GL fixtures for the integration tests: a headless EGL context checked for GL errors.

Layer: tests. Threads: pytest's main thread (the context is current only there).

``gl_context`` is module-scoped (creating an EGL context costs tens of milliseconds); each test
gets it through ``ctx``, which asserts ``ctx.error == "GL_NO_ERROR"`` before the test (so a
previous test's leftover error is not blamed on this one) and after it (so this test's GL
errors fail it). Reading ``ctx.error`` also clears the GL error flag.
"""

from __future__ import annotations

from collections.abc import Iterator

import moderngl
import pytest

from lumen.errors import DeviceError
from lumen.render.context import create_context


@pytest.fixture(scope="module")
def gl_context() -> Iterator[moderngl.Context]:
    """A standalone EGL context (Mesa llvmpipe without a GPU), shared by one test module."""
    try:
        ctx = create_context("egl")
    except DeviceError as exc:
        pytest.skip(f"no headless GL: {exc}")
    yield ctx
    ctx.release()


@pytest.fixture
def ctx(gl_context: moderngl.Context) -> Iterator[moderngl.Context]:
    """The module's GL context, with no GL error before and after the test."""
    assert gl_context.error == "GL_NO_ERROR", "a GL error was pending before this test"
    yield gl_context
    assert gl_context.error == "GL_NO_ERROR", "this test left a GL error"
