"""Render: GL contexts, lumen/ISF shader programs with hot reload, and offscreen rendering.

Layer: render (after scene, before patch; knows no sockets). Threads: the frame thread only,
the one that created the GL context (pure helpers such as `parse_shader` excepted).
"""

from lumen.render.context import create_context
from lumen.render.program import (
    ISF_UNIFORMS,
    MUSIC_UNIFORMS,
    ParsedShader,
    ShaderInput,
    ShaderProgram,
    UniformValue,
    build_fragment_source,
    parse_shader,
)
from lumen.render.renderer import Renderer

__all__ = [
    "ISF_UNIFORMS",
    "MUSIC_UNIFORMS",
    "ParsedShader",
    "Renderer",
    "ShaderInput",
    "ShaderProgram",
    "UniformValue",
    "build_fragment_source",
    "create_context",
    "parse_shader",
]
