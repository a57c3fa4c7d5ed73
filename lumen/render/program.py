"""Shader programs in lumen's ISF-style format: parse, build GLSL 330, compile, hot reload.

Layer: render. Threads: the frame thread only (the one that owns the GL context). The pure
functions `parse_shader` and `build_fragment_source` touch no GL and may run anywhere.

A lumen shader is a fragment shader file (``.fs``) that may start with an ISF JSON header
(``/*{ ... }*/``, see https://isf.video) declaring ``DESCRIPTION``, ``CATEGORIES`` and typed
``INPUTS``. lumen turns the file into a complete GLSL 330 core program:

1. ``#version 330``, then (as source string 1, so errors there are told apart from the user's)
   uniform declarations for ISF's standard uniforms (``TIME``, ``TIMEDELTA``, ``RENDERSIZE``,
   ``FRAMEINDEX``, ``PASSINDEX``, ``DATE``), for lumen's music uniforms (`MUSIC_UNIFORMS`,
   floats, plus ``bands`` as a ``vec4``) and for every declared INPUT; ``isf_FragNormCoord`` as
   an ``in vec2`` (0..1 across the frame, origin bottom-left as in GL); ``gl_FragColor`` mapped
   to an ``out vec4`` through a ``#define``.
2. ``#line N 0`` and the user's code after the header, where ``N`` is the file line the body
   starts on, so compiler messages name real lines of the file, header included.

Compile errors become `lumen.errors.ShaderError` with the file line. `ShaderProgram` keeps the
last program that compiled: a failed load or reload leaves it active.

Not supported yet (they come with multi-pass rendering): ``PASSES`` with more than one pass or
with render targets, ``IMPORTED`` images, inputs of type ``image``/``audio``/``audioFFT``, and
the ``IMG_PIXEL``/``IMG_NORM_PIXEL``/``IMG_THIS_PIXEL`` family. These raise `ShaderError`
when the header is parsed.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeAlias, cast

import moderngl

from lumen.errors import ShaderError
from lumen.features import BANDS, FIELDS

__all__ = [
    "FRAGMENT_OUTPUT",
    "ISF_UNIFORMS",
    "MUSIC_UNIFORMS",
    "VERTEX_SHADER",
    "InputType",
    "ParsedShader",
    "ShaderInput",
    "ShaderProgram",
    "UniformValue",
    "build_fragment_source",
    "parse_compiler_log",
    "parse_shader",
]

#: A uniform value as the scene layer hands it over: a number (bools and ints included) or a
#: short sequence of numbers for ``vec2``/``vec4`` uniforms (``color``, ``point2D``, ``bands``).
UniformValue: TypeAlias = float | Sequence[float]

#: ISF input types lumen supports so far.
InputType = Literal["float", "bool", "long", "color", "point2D", "event"]

#: GLSL type of each supported ISF input type.
_GLSL_TYPE: Final[dict[str, str]] = {
    "float": "float",
    "bool": "bool",
    "event": "bool",
    "long": "int",
    "color": "vec4",
    "point2D": "vec2",
}

#: ISF input types that need features lumen does not have yet.
_UNSUPPORTED_TYPES: Final[frozenset[str]] = frozenset({"image", "audio", "audioFFT"})

#: ISF's standard uniforms and their GLSL types, always declared.
ISF_UNIFORMS: Final[dict[str, str]] = {
    "TIME": "float",  # s since the scene started
    "TIMEDELTA": "float",  # s since the previous frame
    "RENDERSIZE": "vec2",  # pixels; set by the renderer
    "FRAMEINDEX": "int",  # frames since the scene started
    "PASSINDEX": "int",  # always 0 until multi-pass lands
    "DATE": "vec4",  # year, month, day, seconds since midnight
}

#: lumen's music uniforms (all ``float``; ``beat``/``downbeat`` are 0 or 1, ``section`` is the
#: index into `lumen.features.SECTIONS`). ``bands`` is an extra ``vec4`` of the four bands.
MUSIC_UNIFORMS: Final[tuple[str, ...]] = (
    "bpm", "beat_phase", "bar_phase", "beat", "downbeat", "energy", *BANDS,
    "onset", "valence", "arousal", "section", "novelty",
)  # fmt: skip
assert set(MUSIC_UNIFORMS) <= set(FIELDS), "music uniforms must be Features fields"

#: Name of the fragment output ``gl_FragColor`` is mapped to.
FRAGMENT_OUTPUT: Final[str] = "lumen_FragColor"

#: The vertex shader of every lumen program: a fullscreen triangle made from ``gl_VertexID``
#: (draw 3 vertices, no attributes), which also writes ``isf_FragNormCoord``.
VERTEX_SHADER: Final[str] = """#version 330
out vec2 isf_FragNormCoord;
void main() {
    // Vertices 0, 1, 2 -> (-1, -1), (3, -1), (-1, 3): one triangle covering the viewport.
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    isf_FragNormCoord = p * 0.5 + 0.5;
    gl_Position = vec4(p, 0.0, 1.0);
}
"""

_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TOKEN_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION_RE: Final = re.compile(r"^[ \t]*#[ \t]*version\b.*$", re.MULTILINE)
#: Compiler log formats: Mesa ``0:12(3): error: ...``, NVIDIA ``0(12) : error C1234: ...``,
#: AMD/Intel (Windows) ``ERROR: 0:12: ...``. Group 1 is the source string, group 2 the line.
_LOG_RES: Final = (
    re.compile(r"^\s*(\d+):(\d+)\(\d+\):\s*error:\s*(.*)$"),
    re.compile(r"^\s*(\d+)\((\d+)\)\s*:\s*error[^:]*:\s*(.*)$"),
    re.compile(r"^\s*ERROR:\s*(\d+):(\d+):\s*(.*)$"),
)
_USER_SOURCE: Final = 0  # source string number of the user's code (see `build_fragment_source`)
_PRELUDE_SOURCE: Final = 1  # source string number of lumen's generated declarations


@dataclass(frozen=True, slots=True)
class ShaderInput:
    """One ``INPUTS`` entry of an ISF header.

    Attributes
    ----------
    name : str
        Uniform name (a GLSL identifier).
    type : {"float", "bool", "long", "color", "point2D", "event"}
        ISF type; the GLSL types are float, bool, int, vec4, vec2 and bool.
    default : float or tuple of float
        ``DEFAULT`` (a number for scalars, 4 floats RGBA for ``color``, 2 for ``point2D``).
        Missing defaults are ``MIN`` (or 0) for numbers, false, the first of ``VALUES``,
        opaque black and the origin.
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
        """GLSL type of the uniform (``"float"``, ``"int"``, ``"vec4"``, ...)."""
        return _GLSL_TYPE[self.type]


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
    """

    path: str
    description: str
    categories: tuple[str, ...]
    inputs: tuple[ShaderInput, ...]
    body: str
    body_line: int
    header: Mapping[str, object] = field(default_factory=dict)


def parse_shader(source: str, path: str = "<string>") -> ParsedShader:
    """Split a lumen/ISF fragment shader into its JSON header and GLSL body.

    Parameters
    ----------
    source : str
        Text of the ``.fs`` file.
    path : str
        File name used in errors.

    Returns
    -------
    ParsedShader

    Raises
    ------
    lumen.errors.ShaderError
        Invalid JSON, an invalid or duplicate input, or a feature not supported yet (multi-pass
        ``PASSES``, ``IMPORTED``, image/audio inputs); ``line`` points into the header.

    Examples
    --------
    >>> src = '/*{"INPUTS": [{"NAME": "hue", "TYPE": "float", "DEFAULT": 0.5}]}*/\\nvoid main() {}\\n'
    >>> p = parse_shader(src)
    >>> p.inputs[0].name, p.inputs[0].default, p.body_line
    ('hue', 0.5, 1)
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

    passes = header.get("PASSES", [])
    if not isinstance(passes, list) or len(passes) > 1 or any(p for p in passes):
        raise ShaderError(path, line_of('"PASSES"'), "multi-pass ISF (PASSES with targets) is not supported yet")
    if header.get("IMPORTED"):
        raise ShaderError(path, line_of('"IMPORTED"'), "IMPORTED images are not supported yet")
    raw_inputs = header.get("INPUTS", [])
    if not isinstance(raw_inputs, list):
        raise ShaderError(path, line_of('"INPUTS"'), "INPUTS must be a list")
    inputs: list[ShaderInput] = []
    seen: set[str] = set()
    for raw in raw_inputs:
        inputs.append(_parse_input(raw, path, line_of, seen))
    categories = header.get("CATEGORIES", [])
    return ParsedShader(
        path=path,
        description=str(header.get("DESCRIPTION", "")),
        categories=tuple(str(c) for c in categories) if isinstance(categories, list) else (),
        inputs=tuple(inputs),
        body=source[body_start:],
        body_line=body_line,
        header=header,
    )


def _parse_input(raw: object, path: str, line_of: Callable[[str], int], seen: set[str]) -> ShaderInput:
    if not isinstance(raw, dict):
        raise ShaderError(path, line_of('"INPUTS"'), "each INPUTS entry must be a JSON object")
    name = raw.get("NAME")
    if not isinstance(name, str):
        raise ShaderError(path, line_of('"INPUTS"'), "an INPUTS entry has no NAME")
    line = line_of(r'"NAME"\s*:\s*"' + re.escape(name) + '"')
    kind = raw.get("TYPE")
    if kind in _UNSUPPORTED_TYPES:
        raise ShaderError(path, line, f"input {name!r}: TYPE {kind!r} is not supported yet")
    if kind not in _GLSL_TYPE:
        raise ShaderError(path, line, f"input {name!r}: unknown TYPE {kind!r}; expected one of {', '.join(_GLSL_TYPE)}")
    if not _NAME_RE.match(name) or name.startswith("gl_") or "__" in name:
        raise ShaderError(path, line, f"input name {name!r} is not a usable GLSL identifier")
    if name in ISF_UNIFORMS or name in MUSIC_UNIFORMS or name in ("bands", "isf_FragNormCoord", FRAGMENT_OUTPUT):
        raise ShaderError(path, line, f"input name {name!r} clashes with a uniform lumen provides")
    if name in seen:
        raise ShaderError(path, line, f"input {name!r} is declared twice")
    seen.add(name)
    itype = cast(InputType, kind)
    try:
        if kind in ("float", "long"):
            lo = _number(raw.get("MIN"))
            hi = _number(raw.get("MAX"))
            values = tuple(int(v) for v in raw.get("VALUES", ())) if kind == "long" else ()
            fallback = float(values[0]) if values else (lo if lo is not None else 0.0)
            default = _number(raw.get("DEFAULT"))
            return ShaderInput(name, itype, fallback if default is None else default, lo, hi,
                               str(raw.get("LABEL", name)), values, line)  # fmt: skip
        if kind in ("bool", "event"):
            return ShaderInput(name, itype, float(bool(raw.get("DEFAULT", False))), None, None,
                               str(raw.get("LABEL", name)), (), line)  # fmt: skip
        size = 4 if kind == "color" else 2
        zero = (0.0, 0.0, 0.0, 1.0) if kind == "color" else (0.0, 0.0)
        vec_default = _vector(raw.get("DEFAULT"), size)
        return ShaderInput(name, itype, zero if vec_default is None else vec_default,
                           _vector(raw.get("MIN"), size), _vector(raw.get("MAX"), size),
                           str(raw.get("LABEL", name)), (), line)  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise ShaderError(path, line, f"input {name!r}: {exc}") from exc


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


def build_fragment_source(parsed: ParsedShader) -> str:
    """Build the complete GLSL 330 fragment shader for a parsed lumen/ISF shader.

    Music uniforms are declared only when the body mentions their name, so plain ISF files
    that happen to define, say, a global ``bass`` keep compiling. ISF uniforms and inputs are
    always declared.

    Parameters
    ----------
    parsed : ParsedShader

    Returns
    -------
    str
        Source whose user part starts with ``#line <parsed.body_line> 0``.
    """
    tokens = set(_TOKEN_RE.findall(parsed.body))
    lines = ["#version 330", f"#line 1 {_PRELUDE_SOURCE}", "// lumen prelude (generated)"]
    lines += [f"uniform {t} {n};" for n, t in ISF_UNIFORMS.items()]
    lines += [f"uniform float {n};" for n in MUSIC_UNIFORMS if n in tokens]
    if "bands" in tokens:
        lines.append("uniform vec4 bands;")
    lines += [f"uniform {i.glsl_type} {i.name};" for i in parsed.inputs]
    lines.append("in vec2 isf_FragNormCoord;")
    lines.append("#define vv_FragNormCoord isf_FragNormCoord")  # ISF v1 spelling
    if "gl_FragColor" in tokens:
        # With no gl_FragColor the body declares its own `out vec4`; a second, unwritten
        # output would compete with it for location 0.
        lines.append(f"out vec4 {FRAGMENT_OUTPUT};")
        lines.append(f"#define gl_FragColor {FRAGMENT_OUTPUT}")
    # A #version in the body would be a second one: keep the line (for numbering), drop it.
    body = _VERSION_RE.sub("// #version is set by lumen", parsed.body)
    lines.append(f"#line {parsed.body_line} {_USER_SOURCE}")
    return "\n".join(lines) + "\n" + body


def parse_compiler_log(log: str, path: str) -> ShaderError:
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

    Examples
    --------
    >>> e = parse_compiler_log("GLSL Compiler failed\\n\\nfragment_shader\\n===\\n"
    ...                        "0:7(12): error: `foo' undeclared\\n", "a.fs")
    >>> e.line, e.message
    (7, "`foo' undeclared")
    """
    found: list[tuple[int, str]] = []
    stage = "fragment_shader"
    for raw in log.splitlines():
        if raw.strip() in ("vertex_shader", "fragment_shader"):
            stage = raw.strip()
        for rx in _LOG_RES:
            m = rx.match(raw)
            if m:
                source_no, line, msg = int(m.group(1)), int(m.group(2)), m.group(3).strip()
                if stage == "vertex_shader":
                    found.append((0, f"lumen's vertex shader: {msg}"))
                elif source_no == _USER_SOURCE:
                    found.append((line, msg))
                else:
                    found.append((0, f"in lumen's generated declarations: {msg}"))
                break
    if not found:
        text = " ".join(s.strip() for s in log.splitlines() if s.strip() and set(s.strip()) != {"="})
        return ShaderError(path, 0, text or "shader failed to compile (the driver gave no log)")
    line, msg = found[0]
    if len(found) > 1:
        more = len(found) - 1
        msg += f" (and {more} more error{'s' if more > 1 else ''}, next at line {found[1][0]})"
    return ShaderError(path, line, msg)


# Setter kinds of the uniform table (see `_Compiled`).
KIND_FLOAT: Final = 0  # float scalar: value passed through
KIND_INT: Final = 1  # int scalar (ISF long, FRAMEINDEX, PASSINDEX): rounded
KIND_BOOL: Final = 2  # bool (ISF bool/event): true when >= 0.5, as `lumen.features` does
KIND_VEC: Final = 3  # vec2/vec4: a sequence passed through
KIND_RENDERSIZE: Final = 4  # set by the renderer from its size
KIND_PASSINDEX: Final = 5  # set by the renderer (0 until multi-pass)


@dataclass(slots=True, eq=False)
class _Compiled:
    """A compiled program with its VAO and uniform table; immutable after construction."""

    program: moderngl.Program
    vao: moderngl.VertexArray
    #: (name, uniform handle, setter kind) for every *active* uniform of the program.
    uniforms: tuple[tuple[str, moderngl.Uniform, int], ...]
    parsed: ParsedShader
    source: str

    def release(self) -> None:
        self.vao.release()
        self.program.release()


def _setter_kind(name: str, uniform: moderngl.Uniform) -> int:
    if name == "RENDERSIZE":
        return KIND_RENDERSIZE
    if name == "PASSINDEX":
        return KIND_PASSINDEX
    if uniform.dimension > 1:
        return KIND_VEC
    if uniform.fmt == "1f":  # type: ignore[attr-defined]  # missing from moderngl's stubs
        return KIND_FLOAT
    # GL_BOOL is 0x8B56; ints and bools both upload with glUniform1i.
    return KIND_BOOL if uniform.gl_type == 0x8B56 else KIND_INT  # type: ignore[attr-defined]


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


class ShaderProgram:
    """A lumen/ISF shader file compiled into a GL program, with hot reload.

    The object always holds the **last good program**: `load` and `reload` compile a new one
    and swap it in only if it compiled; on failure the previous program stays active, the error
    is kept in `last_error` and counted in `n_errors`. After a failed load the new path is still
    the one watched by `changed`, so fixing the file on disk recovers.

    Use it from the frame thread only (the GL context's thread).

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
        self._stat: tuple[int, int] | None = None
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
    def source(self) -> str:
        """Generated GLSL fragment source of the active program."""
        return self.current().source

    def defaults(self) -> dict[str, float | tuple[float, ...]]:
        """``{name: DEFAULT}`` for every input of the active program."""
        return {i.name: i.default for i in self.inputs}

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
            The file cannot be read, its header is invalid or the GLSL does not compile. The
            previous program (if any) stays active; the error is also kept in `last_error`.
        """
        self.path = Path(path)
        err = self._load_file()
        if err is not None:
            raise err

    def load_source(self, source: str, path: str = "<string>") -> None:
        """Compile shader text (not watched for changes) and make it the active program.

        Raises
        ------
        ShaderError
            As `load`; the previous program stays active.
        """
        self._check_thread()
        err = self._compile(source, path)
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
        missing (an editor mid-save) nothing else happens.
        """
        if self.path is None:
            return False
        return _stat_key(self.path) != self._stat

    def release(self) -> None:
        """Release the GL objects of the active program."""
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
        self._stat = _stat_key(self.path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return self._fail(ShaderError(str(self.path), 0, f"cannot read shader: {exc}"))
        return self._compile(text, str(self.path))

    def _compile(self, text: str, path: str) -> ShaderError | None:
        try:
            parsed = parse_shader(text, path)
            source = build_fragment_source(parsed)
        except ShaderError as err:
            return self._fail(err)
        try:
            program = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=source)
        except moderngl.Error as exc:
            return self._fail(parse_compiler_log(str(exc), path))
        vao = self.ctx.vertex_array(program, [])
        table: list[tuple[str, moderngl.Uniform, int]] = []
        for name in program:
            member = program[name]
            if isinstance(member, moderngl.Uniform):
                table.append((name, member, _setter_kind(name, member)))
        compiled = _Compiled(program, vao, tuple(table), parsed, source)
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


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
