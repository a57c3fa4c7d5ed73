"""Shader programs in the ISF format (plus lumen's music uniforms): parse, build GLSL 330, compile.

Layer: render. Threads: `ShaderProgram` is for the frame thread only (the one that owns the GL
context). The pure functions (`parse_shader`, `parse_size_expr`, `build_fragment_source`,
`build_vertex_source`, `parse_compiler_log`) touch no GL and may run anywhere.

A shader is a fragment shader file (``.fs``) that may start with an ISF 2.0 JSON header
(``/*{ ... }*/``, see https://isf.video) declaring ``DESCRIPTION``, ``CATEGORIES``, typed
``INPUTS``, render ``PASSES`` and ``IMPORTED`` images. Plain ISF files from the VJ community
load unchanged. lumen turns the file into a complete GLSL 330 core program:

1. ``#version 330``, then (as source string 1, so errors there are told apart from the user's):

   - ISF's standard uniforms (``TIME``, ``TIMEDELTA``, ``RENDERSIZE``, ``FRAMEINDEX``,
     ``PASSINDEX``, ``DATE``) and one uniform per INPUT (``image``, ``audio`` and ``audioFFT``
     inputs are ``sampler2D``);
   - a ``sampler2D`` per pass ``TARGET`` and per ``IMPORTED`` image, and for every image
     (inputs, targets, imported) a ``vec2 _<name>_imgSize`` in pixels (``_<name>_imgRect`` and
     ``_<name>_flip`` too when the code mentions them);
   - lumen's extras, each declared only when the code mentions its name (so plain ISF files
     that define, say, a global ``bass`` keep compiling): the music uniforms
     (`MUSIC_UNIFORMS`, floats), ``bands`` (``vec4``), ``spectrum`` (a `SPECTRUM_BINS` x 1
     texture, 0..1, low to high frequency) and ``waveform`` (`WAVE_SAMPLES` x 1, -1..1);
   - ``isf_FragNormCoord`` (``in vec2``, 0..1 across the pass target, origin bottom-left as in
     GL; ``vv_FragNormCoord`` is an alias);
   - the ISF image macros ``IMG_PIXEL(img, px)``, ``IMG_NORM_PIXEL(img, uv)``,
     ``IMG_THIS_PIXEL(img)``, ``IMG_THIS_NORM_PIXEL(img)``, ``IMG_SIZE(img)`` (and the ISF 1
     ``IMG_PIXEL_2D``/``IMG_NORM_PIXEL_2D``);
   - GLSL 1.x compatibility: ``gl_FragColor``/``gl_FragData`` become ``out`` variables,
     ``texture2D``/``texture2DProj``/``texture2DLod`` map to ``texture``/``textureProj``/
     ``textureLod`` and ``varying`` to ``in``, each only when the code uses it.

2. ``#line N 0`` and the user's code after the header, where ``N`` is the file line the body
   starts on, so compiler messages name real lines of the file, header included. A
   ``#version`` line in the body, and a body declaration of ``isf_FragNormCoord`` or
   ``vv_FragNormCoord``, are commented out in place (line numbers do not move); a uniform the
   body declares itself is not declared again by the prelude.

The vertex shader (`build_vertex_source`) draws one fullscreen triangle and writes
``isf_FragNormCoord``. An ISF ``.vs`` file next to the ``.fs`` (same name) is compiled as the
vertex stage, with the same prelude and ``isf_vertShaderInit()``; without one, any other
``varying``/``in`` the fragment code declares gets a zero-valued output so the program links.

``PASSES`` entries may have ``TARGET`` (a texture name the later passes, and the next frame,
can sample), ``PERSISTENT``, ``FLOAT`` and ``WIDTH``/``HEIGHT`` size expressions such as
``"$WIDTH/2"`` or ``"floor($HEIGHT*0.5)"`` (`parse_size_expr`: numbers, ``+ - * /``,
parentheses, ``$WIDTH``, ``$HEIGHT``, ``$<input>``, and ``floor ceil round trunc abs min max
sqrt pow``; never Python's ``eval``). `lumen.render.isf.ShaderNode` renders the passes.

Compile errors become `lumen.errors.ShaderError` with the file line. `ShaderProgram` keeps the
last program that compiled: a failed load or reload leaves it active.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeAlias, cast

import moderngl

from lumen.errors import ShaderError
from lumen.rt.files import stat_key
from lumen.features import BANDS, FIELDS, SPECTRUM_BINS, WAVE_SAMPLES
from lumen.render.textures import load_image

__all__ = [
    "AUDIO_TEXTURES",
    "FRAGMENT_OUTPUT",
    "IMAGE_TYPES",
    "ISF_UNIFORMS",
    "MUSIC_UNIFORMS",
    "UV_VERTEX_SHADER",
    "VERTEX_SHADER",
    "ImportedImage",
    "InputType",
    "ParsedShader",
    "PassSpec",
    "ShaderInput",
    "ShaderProgram",
    "SizeExpr",
    "UniformValue",
    "build_fragment_source",
    "build_vertex_source",
    "parse_compiler_log",
    "parse_shader",
    "parse_size_expr",
]

#: A uniform value as the scene layer hands it over: a number (bools and ints included) or a
#: short sequence of numbers for ``vec2``/``vec4`` uniforms (``color``, ``point2D``, ``bands``).
UniformValue: TypeAlias = float | Sequence[float]

#: ISF input types lumen supports.
InputType = Literal["float", "bool", "long", "color", "point2D", "event", "image", "audio", "audioFFT"]

#: GLSL type of each supported ISF input type.
_GLSL_TYPE: Final[dict[str, str]] = {
    "float": "float",
    "bool": "bool",
    "event": "bool",
    "long": "int",
    "color": "vec4",
    "point2D": "vec2",
    "image": "sampler2D",
    "audio": "sampler2D",
    "audioFFT": "sampler2D",
}

#: Input types that are textures (bound by the renderer, not set as values).
IMAGE_TYPES: Final[frozenset[str]] = frozenset({"image", "audio", "audioFFT"})

#: ISF's standard uniforms and their GLSL types, always declared.
ISF_UNIFORMS: Final[dict[str, str]] = {
    "TIME": "float",  # s since the scene started
    "TIMEDELTA": "float",  # s since the previous frame
    "RENDERSIZE": "vec2",  # pixels of the current pass's target; set by the renderer
    "FRAMEINDEX": "int",  # frames since the scene started
    "PASSINDEX": "int",  # index of the pass being drawn (0-based); set by the renderer
    "DATE": "vec4",  # year, month, day, seconds since midnight
}

#: lumen's music uniforms (all ``float``; ``beat``/``downbeat`` are 0 or 1, ``section`` is the
#: index into `lumen.features.SECTIONS`). ``bands`` is an extra ``vec4`` of the four bands.
MUSIC_UNIFORMS: Final[tuple[str, ...]] = (
    "bpm", "beat_phase", "bar_phase", "beat", "downbeat", "energy", *BANDS,
    "onset", "valence", "arousal", "section", "novelty",
)  # fmt: skip
assert set(MUSIC_UNIFORMS) <= set(FIELDS), "music uniforms must be Features fields"

#: lumen's audio textures: ``spectrum`` (`SPECTRUM_BINS` x 1, 0..1, low to high frequency) and
#: ``waveform`` (`WAVE_SAMPLES` x 1, -1..1, oldest sample first), declared when mentioned.
AUDIO_TEXTURES: Final[dict[str, tuple[int, int]]] = {
    "spectrum": (SPECTRUM_BINS, 1),
    "waveform": (WAVE_SAMPLES, 1),
}

#: Name of the fragment output ``gl_FragColor`` is mapped to.
FRAGMENT_OUTPUT: Final[str] = "lumen_FragColor"

#: A fullscreen triangle with a ``uv`` output (0..1, GL orientation): the vertex stage of
#: lumen's own helper passes (compositing, transitions, the preview).
UV_VERTEX_SHADER: Final[str] = """#version 330
out vec2 uv;
void main() {
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    uv = p * 0.5 + 0.5;
    gl_Position = vec4(p, 0.0, 1.0);
}
"""

#: The base vertex shader of every lumen program: a fullscreen triangle made from
#: ``gl_VertexID`` (draw 3 vertices, no attributes), which also writes ``isf_FragNormCoord``.
#: `build_vertex_source` adds outputs for extra varyings of the fragment code.
VERTEX_SHADER: Final[str] = """#version 330
out vec2 isf_FragNormCoord;
void main() {
    // Vertices 0, 1, 2 -> (-1, -1), (3, -1), (-1, 3): one triangle covering the viewport.
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    isf_FragNormCoord = p * 0.5 + 0.5;
    gl_Position = vec4(p, 0.0, 1.0);
}
"""

#: Names lumen declares itself, which inputs, targets and imported images may not take.
_RESERVED: Final[frozenset[str]] = frozenset(
    {*ISF_UNIFORMS, *MUSIC_UNIFORMS, "bands", "isf_FragNormCoord", "vv_FragNormCoord", FRAGMENT_OUTPUT}
)

#: Music uniforms an ISF input may shadow.
_MUSIC_NAMES: Final[frozenset[str]] = frozenset({*MUSIC_UNIFORMS, "bands"})

_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TOKEN_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION_RE: Final = re.compile(r"^[ \t]*#[ \t]*version\b.*$", re.MULTILINE)
_QUALIFIERS: Final = r"(?:(?:flat|smooth|noperspective|centroid|lowp|mediump|highp)[ \t]+)*"
#: A global ``varying``/``in`` declaration of the fragment code (one variable, maybe an array).
_VARYING_RE: Final = re.compile(
    r"^[ \t]*" + _QUALIFIERS + r"(?:varying|in)[ \t]+" + _QUALIFIERS
    + r"([A-Za-z_]\w*)[ \t]+([A-Za-z_]\w*)[ \t]*(?:\[[ \t]*(\d+)[ \t]*\])?[ \t]*;[^\n]*$",
    re.MULTILINE,
)  # fmt: skip
#: A uniform the body declares itself: group 1 is the name.
_BODY_UNIFORM_RE: Final = re.compile(r"\buniform\s+" + _QUALIFIERS + r"[A-Za-z_]\w*\s+([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;")
#: Compiler log formats: Mesa ``0:12(3): error: ...``, NVIDIA ``0(12) : error C1234: ...``,
#: AMD/Intel (Windows) ``ERROR: 0:12: ...``. Group 1 is the source string, group 2 the line.
_LOG_RES: Final = (
    re.compile(r"^\s*(\d+):(\d+)\(\d+\):\s*error:\s*(.*)$"),
    re.compile(r"^\s*(\d+)\((\d+)\)\s*:\s*error[^:]*:\s*(.*)$"),
    re.compile(r"^\s*ERROR:\s*(\d+):(\d+):\s*(.*)$"),
)
_USER_SOURCE: Final = 0  # source string number of the user's code (see `build_fragment_source`)
_PRELUDE_SOURCE: Final = 1  # source string number of lumen's generated declarations

#: Largest pass target side lumen allocates, in pixels (a size expression is clamped to it).
MAX_TARGET_SIZE: Final[int] = 8192


# -- size expressions ------------------------------------------------------------------------
_FUNCTIONS: Final[dict[str, tuple[int, Callable[..., float]]]] = {
    "floor": (1, math.floor),
    "ceil": (1, math.ceil),
    "round": (1, round),
    "trunc": (1, math.trunc),
    "abs": (1, abs),
    "sqrt": (1, math.sqrt),
    "min": (2, min),
    "max": (2, max),
    "pow": (2, math.pow),
}
_EXPR_TOKEN_RE: Final = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<var>\$[A-Za-z_]\w*)"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/(),]))"
)
_MAX_EXPR_CHARS: Final = 256
_MAX_EXPR_DEPTH: Final = 32

# Expression tree nodes: ("num", value) | ("var", name) | ("neg", node) |
# ("bin", op, left, right) | ("call", function name, (args...)).
_Node: TypeAlias = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class SizeExpr:
    """A parsed ISF ``WIDTH``/``HEIGHT`` expression, e.g. ``"floor($WIDTH / 2.0)"``.

    Built by `parse_size_expr`; evaluating it walks a small tree (no Python ``eval``).

    Attributes
    ----------
    text : str
        The expression as written.
    variables : frozenset of str
        Variable names it reads, without the ``$`` (``"WIDTH"``, ``"HEIGHT"`` or inputs).
    """

    text: str
    variables: frozenset[str]
    _tree: _Node

    def value(self, variables: Mapping[str, float]) -> float:
        """The expression's value with ``variables`` (``{"WIDTH": ..., ...}``).

        Raises
        ------
        ValueError
            A variable is missing, a division by zero, or a non-finite result.
        """
        try:
            v = _eval(self._tree, variables)
        except (ZeroDivisionError, OverflowError) as exc:
            raise ValueError(f"size expression {self.text!r}: {exc}") from exc
        if not math.isfinite(v):
            raise ValueError(f"size expression {self.text!r} is not finite")
        return v

    def size(self, variables: Mapping[str, float]) -> int:
        """The expression as a texture side in pixels: truncated, clamped to 1..`MAX_TARGET_SIZE`.

        Examples
        --------
        >>> parse_size_expr("$WIDTH/2").size({"WIDTH": 7, "HEIGHT": 5})
        3
        >>> parse_size_expr("max(floor($HEIGHT*0.1), 1.0)").size({"WIDTH": 7, "HEIGHT": 5})
        1
        """
        return max(1, min(MAX_TARGET_SIZE, int(self.value(variables))))


def _eval(node: _Node, variables: Mapping[str, float]) -> float:
    kind = node[0]
    if kind == "num":
        return cast(float, node[1])
    if kind == "var":
        name = cast(str, node[1])
        if name not in variables:
            raise ValueError(f"size expression variable ${name} has no value")
        return float(variables[name])
    if kind == "neg":
        return -_eval(cast(_Node, node[1]), variables)
    if kind == "bin":
        a = _eval(cast(_Node, node[2]), variables)
        b = _eval(cast(_Node, node[3]), variables)
        op = node[1]
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return a / b
    fn = _FUNCTIONS[cast(str, node[1])][1]
    return float(fn(*(_eval(a, variables) for a in cast(tuple[_Node, ...], node[2]))))


def parse_size_expr(text: str | float, variables: Sequence[str] = ("WIDTH", "HEIGHT")) -> SizeExpr:
    """Parse an ISF size expression (``PASSES`` ``WIDTH``/``HEIGHT``).

    Grammar: numbers, ``+ - * /``, unary minus, parentheses, ``$NAME`` variables, and the
    functions ``floor ceil round trunc abs sqrt`` (one argument) and ``min max pow`` (two).

    Parameters
    ----------
    text : str or float
        The expression (a JSON number is accepted as is).
    variables : sequence of str
        Names allowed after ``$`` (ISF's ``WIDTH`` and ``HEIGHT``, plus numeric inputs).

    Raises
    ------
    ValueError
        A syntax error, an unknown function or variable, or an expression that is too long.

    Examples
    --------
    >>> e = parse_size_expr("floor($HEIGHT*0.5) + 1")
    >>> sorted(e.variables), e.value({"WIDTH": 10.0, "HEIGHT": 9.0})
    (['HEIGHT'], 5.0)
    >>> parse_size_expr("-(2 - 8) / 4").value({})
    1.5
    """
    if isinstance(text, bool):
        raise ValueError(f"size expression must be a number or a string, got {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise ValueError(f"size {text!r} is not finite")
        return SizeExpr(str(text), frozenset(), ("num", float(text)))
    if not isinstance(text, str):
        raise ValueError(f"size expression must be a number or a string, got {text!r}")
    if len(text) > _MAX_EXPR_CHARS:
        raise ValueError(f"size expression is longer than {_MAX_EXPR_CHARS} characters")
    tokens: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _EXPR_TOKEN_RE.match(stripped, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"size expression {text!r}: unexpected {stripped[pos:].strip()[:10]!r}")
        kind = cast(str, m.lastgroup)
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    if not tokens:
        raise ValueError("size expression is empty")
    allowed = set(variables)
    used: set[str] = set()
    i = 0

    def peek() -> str:
        return tokens[i][1] if i < len(tokens) else ""

    def expect(tok: str) -> None:
        nonlocal i
        if peek() != tok:
            got = repr(peek()) if peek() else "the end"
            raise ValueError(f"size expression {text!r}: expected {tok!r}, got {got}")
        i += 1

    def expr(depth: int) -> _Node:
        nonlocal i
        if depth > _MAX_EXPR_DEPTH:
            raise ValueError(f"size expression {text!r} is nested too deeply")
        node = term(depth)
        while peek() in ("+", "-"):
            op = peek()
            i += 1
            node = ("bin", op, node, term(depth))
        return node

    def term(depth: int) -> _Node:
        nonlocal i
        node = unary(depth)
        while peek() in ("*", "/"):
            op = peek()
            i += 1
            node = ("bin", op, node, unary(depth))
        return node

    def unary(depth: int) -> _Node:
        nonlocal i
        if peek() in ("-", "+"):
            op = peek()
            i += 1
            inner = unary(depth + 1)
            return ("neg", inner) if op == "-" else inner
        return primary(depth)

    def primary(depth: int) -> _Node:
        nonlocal i
        if i >= len(tokens):
            raise ValueError(f"size expression {text!r} ends too early")
        kind, tok = tokens[i]
        i += 1
        if kind == "num":
            return ("num", float(tok))
        if kind == "var":
            name = tok[1:]
            if name not in allowed:
                raise ValueError(f"size expression {text!r}: unknown variable {tok}; known: "
                                 + ", ".join("$" + v for v in variables))  # fmt: skip
            used.add(name)
            return ("var", name)
        if kind == "name":
            if tok not in _FUNCTIONS:
                raise ValueError(f"size expression {text!r}: unknown function {tok!r}; known: {', '.join(_FUNCTIONS)}")
            n_args = _FUNCTIONS[tok][0]
            expect("(")
            args = [expr(depth + 1)]
            while peek() == ",":
                i += 1
                args.append(expr(depth + 1))
            expect(")")
            if len(args) != n_args:
                raise ValueError(f"size expression {text!r}: {tok}() takes {n_args} argument(s), got {len(args)}")
            return ("call", tok, tuple(args))
        if tok == "(":
            node = expr(depth + 1)
            expect(")")
            return node
        raise ValueError(f"size expression {text!r}: unexpected {tok!r}")

    tree = expr(0)
    if i != len(tokens):
        raise ValueError(f"size expression {text!r}: unexpected {peek()!r}")
    return SizeExpr(text, frozenset(used), tree)


# -- the header ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ShaderInput:
    """One ``INPUTS`` entry of an ISF header.

    Attributes
    ----------
    name : str
        Uniform name (a GLSL identifier).
    type : {"float", "bool", "long", "color", "point2D", "event", "image", "audio", "audioFFT"}
        ISF type; the GLSL types are float, bool, int, vec4, vec2, bool and ``sampler2D`` for
        the last three (textures bound by the renderer: ``image`` from the caller, ``audio``
        and ``audioFFT`` from lumen's waveform and spectrum).
    default : float or tuple of float
        ``DEFAULT`` (a number for scalars, 4 floats RGBA for ``color``, 2 for ``point2D``, 0 for
        textures). Missing defaults are ``MIN`` (or 0) for numbers, false, the first of
        ``VALUES``, opaque black and the origin.
    min, max : float or tuple of float or None
        ``MIN``/``MAX`` when given (the scene layer clamps with them; the renderer does not).
    label : str
        ``LABEL``, or the name.
    values : tuple of int
        ``VALUES`` of a ``long`` input (empty otherwise).
    line : int
        1-based line of the entry in the shader file.
    """

    name: str
    type: InputType
    default: float | tuple[float, ...]
    min: float | tuple[float, ...] | None = None
    max: float | tuple[float, ...] | None = None
    label: str = ""
    values: tuple[int, ...] = ()
    line: int = 0

    @property
    def glsl_type(self) -> str:
        """GLSL type of the uniform (``"float"``, ``"int"``, ``"vec4"``, ``"sampler2D"``...)."""
        return _GLSL_TYPE[self.type]

    @property
    def is_image(self) -> bool:
        """Whether the input is a texture (``image``, ``audio`` or ``audioFFT``)."""
        return self.type in IMAGE_TYPES


@dataclass(frozen=True, slots=True)
class PassSpec:
    """One ``PASSES`` entry of an ISF header (a shader without PASSES has one default pass).

    Attributes
    ----------
    target : str or None
        ``TARGET``: the texture this pass renders into, sampled by that name in later passes
        (and in the next frame). None: the pass renders into the node's output.
    persistent : bool
        ``PERSISTENT``: the target keeps its content across frames (ISF 1's
        ``PERSISTENT_BUFFERS`` also sets it).
    float : bool
        ``FLOAT``: a 32-bit float target instead of 8 bits per channel.
    width, height : SizeExpr or None
        ``WIDTH``/``HEIGHT`` expressions; None means the node's size.
    line : int
        1-based file line of the entry (of ``PASSES`` for the implicit single pass).
    """

    target: str | None = None
    persistent: bool = False
    float: bool = False
    width: SizeExpr | None = None
    height: SizeExpr | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class ImportedImage:
    """One ``IMPORTED`` image of an ISF header (a texture loaded once, when the shader compiles).

    Attributes
    ----------
    name : str
        The ``sampler2D`` name.
    path : str
        The image file, resolved relative to the shader file's directory.
    line : int
        1-based file line of the entry.
    """

    name: str
    path: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class ParsedShader:
    """A shader file split into its ISF header and its GLSL body.

    Attributes
    ----------
    path : str
        The file (or ``"<string>"``).
    description : str
        ISF ``DESCRIPTION`` ("" when absent).
    categories : tuple of str
        ISF ``CATEGORIES``.
    inputs : tuple of ShaderInput
        ISF ``INPUTS`` in file order.
    body : str
        GLSL after the header (the whole file when there is no header).
    body_line : int
        1-based file line on which ``body`` starts.
    header : dict
        The whole parsed JSON header (empty when there is none).
    passes : tuple of PassSpec
        ``PASSES`` in order; one default pass (no target) when the header has none.
    imported : tuple of ImportedImage
        ``IMPORTED`` images.
    """

    path: str
    description: str
    categories: tuple[str, ...]
    inputs: tuple[ShaderInput, ...]
    body: str
    body_line: int
    header: Mapping[str, object] = field(default_factory=dict)
    passes: tuple[PassSpec, ...] = (PassSpec(),)
    imported: tuple[ImportedImage, ...] = ()

    @property
    def targets(self) -> tuple[str, ...]:
        """Distinct pass ``TARGET`` names, in order of first use."""
        return tuple(dict.fromkeys(p.target for p in self.passes if p.target is not None))

    @property
    def image_names(self) -> tuple[str, ...]:
        """Every ``sampler2D`` of the shader: image/audio inputs, targets, imported images."""
        return (*(i.name for i in self.inputs if i.is_image), *self.targets, *(m.name for m in self.imported))

    @property
    def is_simple(self) -> bool:
        """One pass into the output and no textures: what `Renderer` draws directly."""
        return len(self.passes) == 1 and self.passes[0].target is None and not self.image_names


def parse_shader(source: str, path: str = "<string>") -> ParsedShader:
    """Split an ISF (or lumen) fragment shader into its JSON header and GLSL body.

    Parameters
    ----------
    source : str
        Text of the ``.fs`` file.
    path : str
        File name used in errors; ``IMPORTED`` paths are resolved relative to its directory.

    Returns
    -------
    ParsedShader

    Raises
    ------
    lumen.errors.ShaderError
        Invalid JSON (``line`` is the file line where the JSON parser stopped), an invalid or
        duplicate input, pass or imported image, or a bad size expression; ``line`` points into
        the header.

    Examples
    --------
    >>> src = '/*{"INPUTS": [{"NAME": "hue", "TYPE": "float", "DEFAULT": 0.5}]}*/\\nvoid main() {}\\n'
    >>> p = parse_shader(src)
    >>> p.inputs[0].name, p.inputs[0].default, p.body_line, len(p.passes)
    ('hue', 0.5, 1, 1)
    """
    stripped = source.lstrip()
    if not (stripped.startswith("/*") and stripped[2:].lstrip().startswith("{")):
        return ParsedShader(path, "", (), (), source, 1, {})
    start = len(source) - len(stripped)
    end = source.find("*/", start + 2)
    header_line = source.count("\n", 0, start) + 1
    if end < 0:
        raise ShaderError(path, header_line, "ISF header comment '/*{' is never closed with '}*/'")
    text = source[start + 2 : end]
    try:
        header = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ShaderError(path, header_line + exc.lineno - 1, f"invalid ISF JSON header: {exc.msg}") from exc
    if not isinstance(header, dict):
        raise ShaderError(path, header_line, "the ISF header must be a JSON object")
    body_start = end + 2
    body_line = source.count("\n", 0, body_start) + 1

    def line_of(pattern: str) -> int:
        # File line of the first match of the regex ``pattern`` inside the header.
        m = re.compile(pattern).search(source, start, end)
        return source.count("\n", 0, m.start()) + 1 if m else header_line

    raw_inputs = header.get("INPUTS", [])
    if not isinstance(raw_inputs, list):
        raise ShaderError(path, line_of('"INPUTS"'), "INPUTS must be a list")
    inputs: list[ShaderInput] = []
    seen: set[str] = set()
    for raw in raw_inputs:
        inputs.append(_parse_input(raw, path, line_of, seen))
    passes_pos = re.compile(r'"PASSES"\s*:').search(source, start, end)
    spans = _array_items(source, passes_pos.end(), end) if passes_pos else []

    def line_at(pattern: str, lo: int, hi: int) -> int:
        m = re.compile(pattern).search(source, lo, hi)
        return source.count("\n", 0, (m.start() if m else lo)) + 1

    passes = _parse_passes(header, path, line_at, spans, line_of('"PASSES"'), seen, inputs)
    imported = _parse_imported(header, path, line_of, seen)
    categories = header.get("CATEGORIES", [])
    return ParsedShader(
        path=path,
        description=str(header.get("DESCRIPTION", "")),
        categories=tuple(str(c) for c in categories) if isinstance(categories, list) else (),
        inputs=tuple(inputs),
        body=source[body_start:],
        body_line=body_line,
        header=header,
        passes=passes,
        imported=imported,
    )


def _check_name(name: str, what: str, path: str, line: int, seen: set[str]) -> None:
    if not _NAME_RE.match(name) or name.startswith("gl_") or "__" in name:
        raise ShaderError(path, line, f"{what} name {name!r} is not a usable GLSL identifier")
    # A community ISF file may well have an input called "bass" or "energy": the input then
    # takes the place of lumen's music uniform of that name (it receives the feature's value
    # unless the show binds the parameter), so such files load unchanged.
    if name in _RESERVED and not (what == "input" and name in _MUSIC_NAMES):
        raise ShaderError(path, line, f"{what} name {name!r} clashes with a uniform lumen provides")
    if name in seen:
        raise ShaderError(path, line, f"{what} {name!r} is declared twice (names of inputs, targets and imported images must differ)")
    seen.add(name)


def _parse_input(raw: object, path: str, line_of: Callable[[str], int], seen: set[str]) -> ShaderInput:
    if not isinstance(raw, dict):
        raise ShaderError(path, line_of('"INPUTS"'), "each INPUTS entry must be a JSON object")
    name = raw.get("NAME")
    if not isinstance(name, str):
        raise ShaderError(path, line_of('"INPUTS"'), "an INPUTS entry has no NAME")
    line = line_of(r'"NAME"\s*:\s*"' + re.escape(name) + '"')
    kind = raw.get("TYPE")
    if kind not in _GLSL_TYPE:
        raise ShaderError(path, line, f"input {name!r}: unknown TYPE {kind!r}; expected one of {', '.join(_GLSL_TYPE)}")
    _check_name(name, "input", path, line, seen)
    itype = cast(InputType, kind)
    label = str(raw.get("LABEL", name))
    try:
        if kind in IMAGE_TYPES:
            return ShaderInput(name, itype, 0.0, None, None, label, (), line)
        if kind in ("float", "long"):
            lo = _number(raw.get("MIN"))
            hi = _number(raw.get("MAX"))
            values = tuple(int(v) for v in raw.get("VALUES", ())) if kind == "long" else ()
            fallback = float(values[0]) if values else (lo if lo is not None else 0.0)
            default = _number(raw.get("DEFAULT"))
            return ShaderInput(name, itype, fallback if default is None else default, lo, hi, label, values, line)
        if kind in ("bool", "event"):
            return ShaderInput(name, itype, float(bool(raw.get("DEFAULT", False))), None, None, label, (), line)
        size = 4 if kind == "color" else 2
        zero = (0.0, 0.0, 0.0, 1.0) if kind == "color" else (0.0, 0.0)
        vec_default = _vector(raw.get("DEFAULT"), size)
        return ShaderInput(name, itype, zero if vec_default is None else vec_default,
                           _vector(raw.get("MIN"), size), _vector(raw.get("MAX"), size),
                           label, (), line)  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise ShaderError(path, line, f"input {name!r}: {exc}") from exc


def _flag(v: object) -> bool:
    # ISF files spell booleans as true, 1, "true" or "1".
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return bool(v)


def _array_items(source: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) offsets of the items of the JSON array that begins at the first ``[`` at or
    after ``start`` (strings and nesting respected); empty when there is none before ``end``."""
    begin = source.find("[", start, end)
    if begin < 0:
        return []
    items: list[tuple[int, int]] = []
    depth = 0
    item_start = -1
    in_string = False
    i = begin
    while i < end:
        c = source[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            if depth == 1 and item_start < 0:
                item_start = i
        elif c in "[{":
            depth += 1
            if depth == 2 and item_start < 0:
                item_start = i
        elif c in "]}":
            depth -= 1
            if depth == 0:
                break
        elif c == "," and depth == 1 and item_start >= 0:
            items.append((item_start, i))
            item_start = -1
        elif depth == 1 and item_start < 0 and not c.isspace():
            item_start = i
        i += 1
    if item_start >= 0:
        items.append((item_start, i))
    return items


def _parse_passes(
    header: Mapping[str, object], path: str, line_at: Callable[[str, int, int], int], spans: Sequence[tuple[int, int]],
    passes_line: int, seen: set[str], inputs: Sequence[ShaderInput],
) -> tuple[PassSpec, ...]:
    raw_passes = header.get("PASSES", [])
    if not isinstance(raw_passes, list):
        raise ShaderError(path, passes_line, "PASSES must be a list of objects")
    # ISF 1: "PERSISTENT_BUFFERS": ["name", ...] or {"name": {...}} marks targets persistent.
    legacy = header.get("PERSISTENT_BUFFERS", [])
    persistent_names = {str(n) for n in legacy} if isinstance(legacy, list | dict) else set()
    size_vars = ("WIDTH", "HEIGHT", *(i.name for i in inputs if i.type in ("float", "long", "bool", "event")))
    out: list[PassSpec] = []
    targets: dict[str, tuple[bool, bool]] = {}
    for index, raw in enumerate(raw_passes):
        lo, hi = spans[index] if index < len(spans) else (-1, -1)

        def line_of(pattern: str, lo: int = lo, hi: int = hi) -> int:
            return line_at(pattern, lo, hi) if lo >= 0 else passes_line

        line = line_of(r"\S")
        if not isinstance(raw, dict):
            raise ShaderError(path, line, f"PASSES entry {index} must be a JSON object")
        target = raw.get("TARGET")
        if target is not None and not isinstance(target, str):
            raise ShaderError(path, line_of('"TARGET"'), f"PASSES entry {index}: TARGET must be a string")
        persistent = _flag(raw.get("PERSISTENT", False)) or (target in persistent_names)
        is_float = _flag(raw.get("FLOAT", False))
        if target:
            if target in targets:
                # A target written by several passes is one texture; later passes inherit its
                # flags unless they contradict them.
                if ("PERSISTENT" in raw or "FLOAT" in raw) and targets[target] != (persistent, is_float):
                    raise ShaderError(path, line, f"pass target {target!r}: PERSISTENT/FLOAT differ from its first pass")
                persistent, is_float = targets[target]
            else:
                _check_name(target, "pass target", path, line_of('"TARGET"'), seen)
                targets[target] = (persistent, is_float)
        sizes: list[SizeExpr | None] = []
        for key in ("WIDTH", "HEIGHT"):
            value = raw.get(key)
            if value is None or value == "":
                sizes.append(None)
                continue
            try:
                sizes.append(parse_size_expr(cast("str | float", value), size_vars))
            except ValueError as exc:
                raise ShaderError(path, line_of(f'"{key}"'), f"PASSES entry {index} {key}: {exc}") from exc
        out.append(PassSpec(target or None, persistent, is_float, sizes[0], sizes[1], line))
    if not out:
        return (PassSpec(line=passes_line),)
    return tuple(out)


def _parse_imported(
    header: Mapping[str, object], path: str, line_of: Callable[[str], int], seen: set[str]
) -> tuple[ImportedImage, ...]:
    raw = header.get("IMPORTED")
    if raw is None or raw == [] or raw == {}:
        return ()
    # ISF 2: {"name": {"PATH": "file.png"}}; ISF 1: [{"NAME": "name", "PATH": "file.png"}].
    entries: list[tuple[object, object]] = []
    if isinstance(raw, dict):
        entries = [(k, v.get("PATH") if isinstance(v, dict) else v) for k, v in raw.items()]
    elif isinstance(raw, list):
        entries = [(e.get("NAME"), e.get("PATH")) if isinstance(e, dict) else (None, None) for e in raw]
    else:
        raise ShaderError(path, line_of('"IMPORTED"'), "IMPORTED must be an object of {name: {PATH: file}}")
    base = Path(path).parent if path != "<string>" else Path.cwd()
    out: list[ImportedImage] = []
    for name, file in entries:
        if not isinstance(name, str):
            raise ShaderError(path, line_of('"IMPORTED"'), "an IMPORTED entry has no name")
        line = line_of(r'"' + re.escape(name) + r'"\s*:') if isinstance(raw, dict) else line_of(r'"NAME"\s*:\s*"' + re.escape(name) + '"')
        if not isinstance(file, str) or not file:
            raise ShaderError(path, line, f"IMPORTED image {name!r} has no PATH")
        _check_name(name, "IMPORTED image", path, line, seen)
        out.append(ImportedImage(name, str(base / file), line))
    return tuple(out)


def _number(v: object) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(f"expected a number, got {v!r}")
    return float(v)


def _vector(v: object, size: int) -> tuple[float, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list) or len(v) != size:
        raise TypeError(f"expected a list of {size} numbers, got {v!r}")
    out: list[float] = []
    for x in v:
        n = _number(x)
        if n is None:
            raise TypeError(f"expected a list of {size} numbers, got {v!r}")
        out.append(n)
    return tuple(out)


# -- GLSL generation -------------------------------------------------------------------------
#: ISF image macros. IMG_SIZE asks the texture itself, so it is right for any bound texture.
_IMAGE_MACROS: Final[tuple[str, ...]] = (
    "#define IMG_SIZE(img) vec2(textureSize(img, 0))",
    "#define IMG_NORM_PIXEL(img, coord) texture(img, coord)",
    "#define IMG_PIXEL(img, coord) texture(img, (coord) / IMG_SIZE(img))",
    "#define IMG_THIS_NORM_PIXEL(img) texture(img, isf_FragNormCoord)",
    "#define IMG_THIS_PIXEL(img) texture(img, isf_FragNormCoord)",
    "#define IMG_NORM_PIXEL_2D(img, size, coord) texture(img, coord)",
    "#define IMG_PIXEL_2D(img, size, coord) texture(img, (coord) / (size))",
)
#: GLSL 1.x names mapped to GLSL 330, each defined only when the code uses it.
_LEGACY_DEFINES: Final[dict[str, str]] = {
    "texture2D": "texture",
    "texture2DProj": "textureProj",
    "texture2DLod": "textureLod",
    "texture2DGrad": "textureGrad",
    "textureCube": "texture",
    "varying": "in",
}
#: Body declarations of the coordinates lumen provides; commented out in place.
_COORD_DECL_RE: Final = re.compile(
    r"^[ \t]*" + _QUALIFIERS + r"(?:varying|in)[ \t]+vec2[ \t]+(?:isf|vv)_FragNormCoord[ \t]*;", re.MULTILINE
)


def _extra_varyings(body: str) -> list[tuple[str, str, int]]:
    # (type, name, array length or 0) of the body's global in/varying declarations other than
    # the coordinates lumen provides.
    return [
        (m.group(1), m.group(2), int(m.group(3) or 0))
        for m in _VARYING_RE.finditer(body)
        if m.group(2) not in ("isf_FragNormCoord", "vv_FragNormCoord")
    ]


def build_fragment_source(parsed: ParsedShader) -> str:
    """Build the complete GLSL 330 fragment shader for a parsed ISF/lumen shader.

    lumen's extras (music uniforms, ``bands``, ``spectrum``, ``waveform``) and the GLSL 1.x
    mappings are declared only when the body mentions their name; ISF uniforms, inputs, pass
    targets and imported images are always declared (unless the body declares the uniform
    itself).

    Parameters
    ----------
    parsed : ParsedShader

    Returns
    -------
    str
        Source whose user part starts with ``#line <parsed.body_line> 0``.

    Examples
    --------
    >>> src = build_fragment_source(parse_shader("void main() { gl_FragColor = texture(spectrum, vec2(0.5)); }"))
    >>> "uniform sampler2D spectrum;" in src, "uniform float bass;" in src
    (True, False)
    """
    body = parsed.body
    tokens = set(_TOKEN_RE.findall(body))
    lines = ["#version 330", f"#line 1 {_PRELUDE_SOURCE}", "// lumen prelude (generated)"]
    lines += _declarations(parsed, body)
    lines.append("in vec2 isf_FragNormCoord;")
    lines.append("#define vv_FragNormCoord isf_FragNormCoord")  # ISF v1 spelling
    lines += _IMAGE_MACROS
    lines += [f"#define {old} {new}" for old, new in _LEGACY_DEFINES.items() if old in tokens]
    if "gl_FragColor" in tokens:
        # With no gl_FragColor the body declares its own `out vec4`; a second, unwritten
        # output would compete with it for location 0.
        lines.append(f"out vec4 {FRAGMENT_OUTPUT};")
        lines.append(f"#define gl_FragColor {FRAGMENT_OUTPUT}")
    elif "gl_FragData" in tokens:
        lines.append(f"out vec4 {FRAGMENT_OUTPUT}[1];")
        lines.append(f"#define gl_FragData {FRAGMENT_OUTPUT}")
    # A #version in the body would be a second one, and the coordinates are declared above:
    # comment those lines out in place so line numbers do not move.
    body = _VERSION_RE.sub("// #version is set by lumen", body)
    body = _COORD_DECL_RE.sub("// (declared by lumen)", body)
    lines.append(f"#line {parsed.body_line} {_USER_SOURCE}")
    return "\n".join(lines) + "\n" + body


def _declarations(parsed: ParsedShader, body: str) -> list[str]:
    # Uniform declarations of the prelude for the code ``body`` (fragment or vertex stage).
    tokens = set(_TOKEN_RE.findall(body))
    declared = set(_BODY_UNIFORM_RE.findall(body))
    lines: list[str] = []

    def uniform(glsl_type: str, name: str) -> None:
        if name not in declared:
            lines.append(f"uniform {glsl_type} {name};")

    for n, t in ISF_UNIFORMS.items():
        uniform(t, n)
    input_names = {i.name for i in parsed.inputs}
    for n in MUSIC_UNIFORMS:
        if n in tokens and n not in input_names:
            uniform("float", n)
    if "bands" in tokens and "bands" not in input_names:
        uniform("vec4", "bands")
    for i in parsed.inputs:
        uniform(i.glsl_type, i.name)
    for name in (*parsed.targets, *(m.name for m in parsed.imported)):
        uniform("sampler2D", name)
    images = parsed.image_names
    for name in AUDIO_TEXTURES:
        if name in tokens and name not in images:
            uniform("sampler2D", name)
    for name in images:
        uniform("vec2", f"_{name}_imgSize")
        if f"_{name}_imgRect" in tokens:
            uniform("vec4", f"_{name}_imgRect")
        if f"_{name}_flip" in tokens:
            uniform("bool", f"_{name}_flip")
    return lines


def build_vertex_source(parsed: ParsedShader, vertex_body: str | None = None) -> str:
    """Build the vertex shader for a parsed shader.

    With ``vertex_body`` (the text of an ISF ``.vs`` file next to the ``.fs``), the result is
    lumen's prelude for the vertex stage (the same uniforms, ``isf_FragNormCoord`` as an
    ``out``, ``varying`` mapped to ``out``, and ``isf_vertShaderInit()``, which positions the
    fullscreen triangle and writes ``isf_FragNormCoord``), then ``#line 1 0`` and the file, so
    errors name its lines. Without it: `VERTEX_SHADER`, plus a zero-valued output for every
    extra ``varying``/``in`` the fragment code declares, so the program links on every driver.

    Parameters
    ----------
    parsed : ParsedShader
    vertex_body : str, optional
        The ``.vs`` text.

    Examples
    --------
    >>> vs = build_vertex_source(parse_shader("varying vec2 left_coord;\\nvoid main() {}\\n"))
    >>> "out vec2 left_coord;" in vs and "left_coord = vec2(0.0);" in vs
    True
    """
    if vertex_body is not None:
        return _build_isf_vertex_source(parsed, vertex_body)
    extra = _extra_varyings(parsed.body)
    if not extra:
        return VERTEX_SHADER
    decls: list[str] = []
    writes: list[str] = []
    for glsl_type, name, n in extra:
        flat = "flat " if glsl_type.startswith(("int", "uint", "ivec", "uvec", "bool")) else ""
        if n:
            decls.append(f"{flat}out {glsl_type} {name}[{n}];")
            writes.append(f"    for (int i = 0; i < {n}; ++i) {name}[i] = {glsl_type}(0);")
        else:
            decls.append(f"{flat}out {glsl_type} {name};")
            writes.append(f"    {name} = {glsl_type}(0.0);" if glsl_type.startswith(("vec", "float", "mat")) else f"    {name} = {glsl_type}(0);")
    head, main = VERTEX_SHADER.split("void main() {\n", 1)
    return head + "\n".join(decls) + "\nvoid main() {\n" + "\n".join(writes) + "\n" + main


def _build_isf_vertex_source(parsed: ParsedShader, body: str) -> str:
    tokens = set(_TOKEN_RE.findall(body))
    lines = ["#version 330", f"#line 1 {_PRELUDE_SOURCE}", "// lumen vertex prelude (generated)"]
    lines += _declarations(parsed, body)
    lines.append("out vec2 isf_FragNormCoord;")
    lines.append("#define vv_FragNormCoord isf_FragNormCoord")
    lines += _IMAGE_MACROS
    legacy = {**_LEGACY_DEFINES, "varying": "out", "attribute": "in"}
    lines += [f"#define {old} {new}" for old, new in legacy.items() if old in tokens]
    lines += [
        "void isf_vertShaderInit() {",
        "    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);",
        "    isf_FragNormCoord = p * 0.5 + 0.5;",
        "    gl_Position = vec4(p, 0.0, 1.0);",
        "}",
    ]
    body = _VERSION_RE.sub("// #version is set by lumen", body)
    body = _COORD_DECL_RE.sub("// (declared by lumen)", body)
    lines.append(f"#line 1 {_USER_SOURCE}")
    return "\n".join(lines) + "\n" + body


def parse_compiler_log(log: str, path: str, vertex_path: str | None = None) -> ShaderError:
    """Turn a GLSL compiler or linker log into a `ShaderError` for the first error.

    Lines are those of the user's file (the program was built by `build_fragment_source`).
    Errors in lumen's generated prelude or vertex shader get line 0. Further errors are counted
    in the message.

    Parameters
    ----------
    log : str
        The message of ``moderngl.Error`` (it contains the driver's log).
    path : str
        The shader file.
    vertex_path : str, optional
        The ISF ``.vs`` file, when the program was built with one: vertex-stage errors in its
        code then name it and its line.

    Examples
    --------
    >>> e = parse_compiler_log("GLSL Compiler failed\\n\\nfragment_shader\\n===\\n"
    ...                        "0:7(12): error: `foo' undeclared\\n", "a.fs")
    >>> e.line, e.message
    (7, "`foo' undeclared")
    """
    found: list[tuple[str, int, str]] = []
    stage = "fragment_shader"
    for raw in log.splitlines():
        if raw.strip() in ("vertex_shader", "fragment_shader"):
            stage = raw.strip()
        for rx in _LOG_RES:
            m = rx.match(raw)
            if m:
                source_no, line, msg = int(m.group(1)), int(m.group(2)), m.group(3).strip()
                if stage == "vertex_shader" and vertex_path is not None and source_no == _USER_SOURCE:
                    found.append((vertex_path, line, msg))
                elif stage == "vertex_shader":
                    found.append((path, 0, f"lumen's vertex shader: {msg}"))
                elif source_no == _USER_SOURCE:
                    found.append((path, line, msg))
                else:
                    found.append((path, 0, f"in lumen's generated declarations: {msg}"))
                break
    if not found:
        text = " ".join(s.strip() for s in log.splitlines() if s.strip() and set(s.strip()) != {"="})
        return ShaderError(path, 0, text or "shader failed to compile (the driver gave no log)")
    where, line, msg = found[0]
    if len(found) > 1:
        more = len(found) - 1
        msg += f" (and {more} more error{'s' if more > 1 else ''}, next at line {found[1][1]})"
    return ShaderError(where, line, msg)


# -- compiling -------------------------------------------------------------------------------
# Setter kinds of the uniform table (see `_Compiled`).
KIND_FLOAT: Final = 0  # float scalar: value passed through
KIND_INT: Final = 1  # int scalar (ISF long, FRAMEINDEX, PASSINDEX): rounded
KIND_BOOL: Final = 2  # bool (ISF bool/event): true when >= 0.5, as `lumen.features` does
KIND_VEC: Final = 3  # vec2/vec4: a sequence passed through
KIND_RENDERSIZE: Final = 4  # set by the renderer from its size
KIND_PASSINDEX: Final = 5  # set by the renderer (the pass being drawn)

_GL_BOOL: Final = 0x8B56
_GL_SAMPLER_2D: Final = 0x8B5E


@dataclass(slots=True, eq=False)
class _Compiled:
    """A compiled program with its VAO, uniform and texture tables; immutable after construction."""

    program: moderngl.Program
    vao: moderngl.VertexArray
    #: (name, uniform handle, setter kind) for every *active* non-texture uniform, except the
    #: ``_<image>_imgSize``-style ones (in `image_uniforms`).
    uniforms: tuple[tuple[str, moderngl.Uniform, int], ...]
    parsed: ParsedShader
    source: str
    #: (sampler name, texture unit) for every active ``sampler2D``; units are fixed at compile.
    samplers: tuple[tuple[str, int], ...] = ()
    #: (image name, "size" | "rect" | "flip", uniform) for the active image metadata uniforms.
    image_uniforms: tuple[tuple[str, str, moderngl.Uniform], ...] = ()
    #: IMPORTED textures by name, owned by this program.
    imported: Mapping[str, moderngl.Texture] = field(default_factory=dict)
    vertex_source: str = VERTEX_SHADER

    def release(self) -> None:
        self.vao.release()
        self.program.release()
        for tex in self.imported.values():
            tex.release()


def _setter_kind(name: str, uniform: moderngl.Uniform) -> int:
    if name == "RENDERSIZE":
        return KIND_RENDERSIZE
    if name == "PASSINDEX":
        return KIND_PASSINDEX
    if uniform.dimension > 1:
        return KIND_VEC
    if uniform.fmt == "1f":  # type: ignore[attr-defined]  # missing from moderngl's stubs
        return KIND_FLOAT
    # ints and bools both upload with glUniform1i.
    return KIND_BOOL if uniform.gl_type == _GL_BOOL else KIND_INT  # type: ignore[attr-defined]


def set_uniform(uniform: moderngl.Uniform, kind: int, value: UniformValue) -> None:
    """Upload one value to a uniform of the given setter kind (see `_Compiled`)."""
    if kind == KIND_FLOAT:
        uniform.value = value
    elif kind == KIND_BOOL:
        uniform.value = 1 if value >= 0.5 else 0  # type: ignore[operator]
    elif kind == KIND_INT:
        uniform.value = int(round(value))  # type: ignore[arg-type]
    else:
        uniform.value = value if isinstance(value, tuple) else tuple(value)  # type: ignore[arg-type]


_IMAGE_UNIFORM_RE: Final = re.compile(r"_([A-Za-z_]\w*?)_(imgSize|imgRect|flip)\Z")
_IMAGE_UNIFORM_WHAT: Final[dict[str, str]] = {"imgSize": "size", "imgRect": "rect", "flip": "flip"}


class ShaderProgram:
    """An ISF/lumen shader file compiled into a GL program, with hot reload.

    The object always holds the **last good program**: `load` and `reload` compile a new one
    and swap it in only if it compiled; on failure the previous program stays active, the error
    is kept in `last_error` and counted in `n_errors`. After a failed load the new path is still
    the one watched by `changed`, so fixing the file on disk recovers. ``IMPORTED`` images are
    loaded with the program (a missing one fails the load) and released with it.

    All ``PASSES`` share this one program (``PASSINDEX`` tells them apart);
    `lumen.render.isf.ShaderNode` draws them. Use it from the frame thread only (the GL
    context's thread).

    Parameters
    ----------
    ctx : moderngl.Context
        The context (created by `lumen.render.context.create_context` in this thread).
    path : str or os.PathLike, optional
        Load this file now; raises `ShaderError` if it does not compile.

    Attributes
    ----------
    path : pathlib.Path or None
        The file being watched (the last one passed to `load`).
    last_error : ShaderError or None
        Error of the most recent load/reload attempt (None after a success).
    n_errors : int
        Failed loads and reloads so far.
    generation : int
        Successful compiles so far (changes whenever the active program changes).

    Examples
    --------
    Hot reload in the frame loop::

        if shader.changed():
            err = shader.reload()   # the old program keeps rendering if err is not None
            if err is not None:
                counters.bump(shader_errors_slot)
        renderer.render(shader, uniforms, frame)
    """

    def __init__(self, ctx: moderngl.Context, path: str | os.PathLike[str] | None = None) -> None:
        self.ctx = ctx
        self.path: Path | None = None
        self.last_error: ShaderError | None = None
        self.n_errors = 0
        self.generation = 0
        self._current: _Compiled | None = None
        self._stat: tuple[tuple[int, int] | None, tuple[int, int] | None] | None = None
        self._thread = threading.get_ident()
        if path is not None:
            self.load(path)

    # -- state ---------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """Whether a program has compiled (so rendering is possible)."""
        return self._current is not None

    @property
    def program(self) -> moderngl.Program:
        """The active (last good) GL program; raises `ShaderError` if none ever compiled."""
        return self.current().program

    @property
    def inputs(self) -> tuple[ShaderInput, ...]:
        """ISF INPUTS of the active program."""
        return self.current().parsed.inputs

    @property
    def passes(self) -> tuple[PassSpec, ...]:
        """ISF PASSES of the active program (one default pass when the file has none)."""
        return self.current().parsed.passes

    @property
    def source(self) -> str:
        """Generated GLSL fragment source of the active program."""
        return self.current().source

    def defaults(self) -> dict[str, float | tuple[float, ...]]:
        """``{name: DEFAULT}`` for every non-texture input of the active program."""
        return {i.name: i.default for i in self.inputs if not i.is_image}

    def current(self) -> _Compiled:
        """The active compiled program (for the renderer).

        Raises
        ------
        ShaderError
            No program has compiled yet (repeats the last error when there was one).
        """
        if self._current is None:
            err = self.last_error
            if err is not None:
                raise ShaderError(err.path, err.line, err.message)
            raise ShaderError(str(self.path or "<none>"), 0, "no shader has been loaded")
        return self._current

    # -- loading -------------------------------------------------------------------------
    def load(self, path: str | os.PathLike[str]) -> None:
        """Read, parse and compile ``path``, and make it the active program.

        Raises
        ------
        ShaderError
            The file cannot be read, its header is invalid, an IMPORTED image is missing or
            unreadable, or the GLSL does not compile. The previous program (if any) stays
            active; the error is also kept in `last_error`.
        """
        self.path = Path(path)
        err = self._load_file()
        if err is not None:
            raise err

    def load_source(self, source: str, path: str = "<string>", *, vertex: str | None = None) -> None:
        """Compile shader text (not watched for changes) and make it the active program.

        ``path`` names the text in errors; IMPORTED paths are resolved relative to its
        directory (the working directory for ``"<string>"``). ``vertex`` is the text of an ISF
        ``.vs`` vertex shader, if any (`load` reads ``<name>.vs`` next to the file itself).

        Raises
        ------
        ShaderError
            As `load`; the previous program stays active.
        """
        self._check_thread()
        err = self._compile(source, path, vertex, str(Path(path).with_suffix(".vs")))
        if err is not None:
            raise err

    def reload(self, *, raise_errors: bool = False) -> ShaderError | None:
        """Recompile the watched file.

        Parameters
        ----------
        raise_errors : bool
            Raise the `ShaderError` instead of returning it.

        Returns
        -------
        ShaderError or None
            The error when the new version failed (the previous program stays active), None
            when the new program is active.
        """
        if self.path is None:
            raise ValueError("reload() needs a file; call load(path) first")
        err = self._load_file()
        if err is not None and raise_errors:
            raise err
        return err

    def changed(self) -> bool:
        """Whether the watched file changed since the last load attempt (one ``stat``).

        A file that disappeared counts as a change once (so `reload` reports it); while it is
        missing (an editor mid-save) nothing else happens. The companion ``.vs`` file is
        watched too; IMPORTED images are not.
        """
        if self.path is None:
            return False
        return (stat_key(self.path), stat_key(self.path.with_suffix(".vs"))) != self._stat

    def release(self) -> None:
        """Release the GL objects of the active program (and its IMPORTED textures)."""
        if self._current is not None:
            self._current.release()
            self._current = None

    # -- internals -----------------------------------------------------------------------
    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread:
            raise RuntimeError("ShaderProgram used outside the thread that owns its GL context")

    def _fail(self, err: ShaderError) -> ShaderError:
        self.last_error = err
        self.n_errors += 1
        return err

    def _load_file(self) -> ShaderError | None:
        self._check_thread()
        assert self.path is not None
        # Stat before reading, so a write that lands during the read shows up as a change.
        vs_path = self.path.with_suffix(".vs")
        self._stat = (stat_key(self.path), stat_key(vs_path))
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return self._fail(ShaderError(str(self.path), 0, f"cannot read shader: {exc}"))
        vertex: str | None = None
        if self._stat[1] is not None:  # an ISF vertex shader next to the fragment shader
            try:
                vertex = vs_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return self._fail(ShaderError(str(vs_path), 0, f"cannot read vertex shader: {exc}"))
        return self._compile(text, str(self.path), vertex, str(vs_path))

    def _compile(self, text: str, path: str, vertex: str | None = None, vertex_path: str | None = None) -> ShaderError | None:
        try:
            parsed = parse_shader(text, path)
            source = build_fragment_source(parsed)
            vertex_source = build_vertex_source(parsed, vertex)
        except ShaderError as err:
            return self._fail(err)
        try:
            program = self.ctx.program(vertex_shader=vertex_source, fragment_shader=source)
        except moderngl.Error as exc:
            return self._fail(parse_compiler_log(str(exc), path, vertex_path if vertex is not None else None))
        imported: dict[str, moderngl.Texture] = {}
        try:
            for image in parsed.imported:
                imported[image.name] = load_image(self.ctx, image.path, source=path, line=image.line)
        except ShaderError as err:
            for tex in imported.values():
                tex.release()
            program.release()
            return self._fail(err)
        vao = self.ctx.vertex_array(program, [])
        table: list[tuple[str, moderngl.Uniform, int]] = []
        samplers: list[tuple[str, int]] = []
        image_uniforms: list[tuple[str, str, moderngl.Uniform]] = []
        images = set(parsed.image_names) | set(AUDIO_TEXTURES)
        for name in program:
            member = program[name]
            if not isinstance(member, moderngl.Uniform):
                continue
            if member.gl_type == _GL_SAMPLER_2D:  # type: ignore[attr-defined]
                member.value = len(samplers)  # texture unit, fixed for the program's life
                samplers.append((name, len(samplers)))
                continue
            m = _IMAGE_UNIFORM_RE.match(name)
            if m and m.group(1) in images:
                image_uniforms.append((m.group(1), _IMAGE_UNIFORM_WHAT[m.group(2)], member))
                continue
            table.append((name, member, _setter_kind(name, member)))
        compiled = _Compiled(program, vao, tuple(table), parsed, source, tuple(samplers),
                             tuple(image_uniforms), imported, vertex_source)  # fmt: skip
        by_name = {name: (u, kind) for name, u, kind in table}
        for inp in parsed.inputs:  # start every input at its ISF DEFAULT
            if inp.name in by_name:
                u, kind = by_name[inp.name]
                set_uniform(u, kind, inp.default)
        if self._current is not None:
            self._current.release()
        self._current = compiled
        self.generation += 1
        self.last_error = None
        return None


