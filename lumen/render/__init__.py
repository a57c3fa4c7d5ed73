"""Render: GL contexts, ISF shader programs with hot reload, multi-pass shader nodes, textures
and offscreen rendering.

Layer: render (after scene, before patch; knows no sockets). Threads: the frame thread only,
the one that created the GL context (pure helpers such as `parse_shader` and
`parse_size_expr` excepted).
"""

from lumen.render.context import create_context
from lumen.render.isf import ShaderNode
from lumen.render.program import (
    ISF_UNIFORMS,
    MUSIC_UNIFORMS,
    ImportedImage,
    ParsedShader,
    PassSpec,
    ShaderInput,
    ShaderProgram,
    SizeExpr,
    UniformValue,
    build_fragment_source,
    parse_shader,
    parse_size_expr,
)
from lumen.render.renderer import Renderer
from lumen.render.textures import AudioTextures, black_texture, load_image

__all__ = [
    "ISF_UNIFORMS",
    "MUSIC_UNIFORMS",
    "AudioTextures",
    "ImportedImage",
    "ParsedShader",
    "PassSpec",
    "Renderer",
    "ShaderInput",
    "ShaderNode",
    "ShaderProgram",
    "SizeExpr",
    "UniformValue",
    "black_texture",
    "build_fragment_source",
    "create_context",
    "load_image",
    "parse_shader",
    "parse_size_expr",
]
