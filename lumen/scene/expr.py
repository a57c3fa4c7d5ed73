"""The binding expression language: safe, compiled-once formulas over music features.

Layer: scene (no GL, no sockets). Threads: `compile_expr` runs where configuration is
loaded (show loading, the control thread on a live reload), never on the audio thread. A
compiled `Expr` is immutable and pure; calling it is thread-safe and meant for the frame
thread, once per parameter per frame. It never raises for an environment of finite floats.

Bindings map features to parameters, for example ``"0.2 + 0.8 * energy"``, ``"bar_phase"`` or
``"smoothstep(0.3, 0.9, bass) * (1 - beat_phase)"``. The text is parsed with `ast` in
``eval`` mode, every node is checked against a whitelist, and the tree is compiled once into
nested Python closures. User text is never passed to `eval`, `exec` or `compile`.

Grammar
-------
- Numbers: int and float literals, ``True`` (1.0) and ``False`` (0.0). Every value is a float.
- Names: the allowed names given to `compile_expr` (for bindings, `FEATURE_NAMES`), and the
  constants ``pi`` and ``tau`` (an allowed name of the same spelling takes precedence).
- Unary ``+x``, ``-x``, ``not x`` (1.0 when ``x == 0``, else 0.0).
- Binary ``+ - * / // % **``. Dividing by zero (``/``, ``//``, ``%``) yields 0.0; ``**`` with
  no real result (``(-8) ** 0.5``, ``0 ** -1``) yields 0.0.
- Comparisons ``< <= > >= == !=``, chains included (``0.2 < x < 0.8``): 1.0 or 0.0.
- ``a and b``, ``a or b``: short-circuit with Python's semantics (the deciding operand is the
  result); a value is true when it is non-zero.
- ``a if c else b``: ``a`` when ``c`` is non-zero.
- Calls to the functions in `FUNCTIONS`, positional arguments only:

  ==============================  ===========================================================
  ``sin(x)`` ``cos(x)`` ``tan(x)``  trigonometry, radians
  ``abs(x)`` ``sign(x)``            absolute value; -1.0, 0.0 or 1.0
  ``min(a, b, ...)``                smallest of two or more values
  ``max(a, b, ...)``                largest of two or more values
  ``clamp(x, lo, hi)``              ``min(max(x, lo), hi)``
  ``mix(a, b, t)``                  linear interpolation ``a + (b - a) * t`` (GLSL ``mix``)
  ``step(edge, x)``                 0.0 when ``x < edge``, else 1.0 (GLSL ``step``)
  ``smoothstep(e0, e1, x)``         Hermite ramp from 0 at ``e0`` to 1 at ``e1`` (GLSL); a step
                                    at ``e0`` when ``e0 == e1``
  ``fract(x)``                      ``x - floor(x)``, in [0, 1)
  ``floor(x)`` ``ceil(x)``          rounding down, up
  ``sqrt(x)``                       square root of ``max(x, 0)``
  ``pow(x, y)``                     same as ``x ** y``
  ``exp(x)``                        e to the ``x``
  ``log(x)``                        natural logarithm; 0.0 when ``x <= 0``
  ``pulse(x, width)``               1.0 while ``fract(x) < width``, else 0.0: a gate at the start
                                    of each cycle, e.g. ``pulse(beat_phase, 0.1)``
  ``tri(x)``                        triangle wave, 0 at integers and 1 halfway between
  ==============================  ===========================================================

Numeric safety: any intermediate or final result that is NaN or infinite becomes 0.0, and a
name missing from the environment reads as 0.0, so evaluation never raises and always returns
a finite float. Expressions are limited to `MAX_LENGTH` characters and `MAX_DEPTH` levels of
nesting, so that compiling and calling them cannot exhaust the stack.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from lumen.errors import LumenError, did_you_mean
from lumen.features import FIELDS

__all__ = [
    "CONSTANTS",
    "FEATURE_NAMES",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Expr",
    "ExprError",
    "compile_expr",
]

#: Names a binding may read: every feature-vector field, plus ``time`` (seconds since the
#: show started) and ``frame`` (frames rendered since the show started).
FEATURE_NAMES: Final[frozenset[str]] = frozenset(FIELDS) | {"time", "frame"}

#: Built-in constant names.
CONSTANTS: Final[Mapping[str, float]] = {"pi": math.pi, "tau": math.tau}

#: Longest accepted expression text, in characters.
MAX_LENGTH: Final[int] = 1000

#: Deepest accepted nesting of operations and calls.
MAX_DEPTH: Final[int] = 100

_Env = Mapping[str, float]
_Fn = Callable[[_Env], float]


class ExprError(LumenError):
    """A binding expression is invalid.

    Parameters
    ----------
    message : str
        What is wrong, with a "did you mean ...?" hint where one helps.
    col : int
        1-based column (character) in the expression text where the problem starts.
    text : str
        The expression text.

    Attributes
    ----------
    message : str
        As given.
    col : int
        As given.
    text : str
        As given.

    Examples
    --------
    >>> str(ExprError("unknown name 'x'", 5, "1 + x"))
    "unknown name 'x' at column 5 of '1 + x'"
    """

    def __init__(self, message: str, col: int, text: str = "") -> None:
        self.message = message
        self.col = col
        self.text = text
        where = f" at column {col}" if col else ""
        of = f" of {text!r}" if text else ""
        super().__init__(f"{message}{where}{of}")


@dataclass(frozen=True, slots=True)
class Expr:
    """A compiled binding expression.

    Call it with a mapping of names to values to get a finite float. Build it with
    `compile_expr`. Equality compares ``text`` and ``names``.

    Attributes
    ----------
    text : str
        The source text (for a number, its ``str``).
    names : frozenset of str
        The allowed names the expression reads (constants such as ``pi`` excluded).
    is_constant : bool
        True when the expression reads no names, so its value never changes.
    """

    text: str
    names: frozenset[str]
    is_constant: bool
    _fn: _Fn = field(repr=False, compare=False)

    def __call__(self, env: Mapping[str, float]) -> float:
        """Evaluate the expression.

        Parameters
        ----------
        env : mapping of str to float
            Values of the names. Names missing from it read as 0.0.

        Returns
        -------
        float
            The result; never NaN or infinite (such results become 0.0).

        Examples
        --------
        >>> e = compile_expr("0.2 + 0.8 * energy", {"energy"})
        >>> e({"energy": 0.5})
        0.6000000000000001
        >>> e({})
        0.2
        """
        return self._fn(env)


def compile_expr(text: str | float | int, allowed_names: Collection[str]) -> Expr:
    """Compile a binding expression (or a plain number) once, for repeated evaluation.

    Parameters
    ----------
    text : str or float or int
        The expression (see the module docstring for the grammar), or a number, which gives
        a constant expression. Leading and trailing whitespace and line breaks are allowed.
    allowed_names : collection of str
        The names the expression may read, e.g. `FEATURE_NAMES`.

    Returns
    -------
    Expr
        The compiled expression.

    Raises
    ------
    ExprError
        On a syntax error, a construct outside the whitelist (attributes, subscripts,
        strings, lambdas, unknown functions, ...), an unknown name, a wrong number of
        arguments, a non-finite number, or an expression that is too long or too deep.
        ``col`` is the 1-based column where the problem starts.

    Examples
    --------
    >>> e = compile_expr("smoothstep(0.3, 0.9, bass) * (1 - beat_phase)", FEATURE_NAMES)
    >>> sorted(e.names)
    ['bass', 'beat_phase']
    >>> round(e({"bass": 0.6, "beat_phase": 0.5}), 3)
    0.25
    >>> compile_expr("beat_phase < 0.15", FEATURE_NAMES)({"beat_phase": 0.1})
    1.0
    >>> compile_expr("1 / 0", ()).is_constant, compile_expr("1 / 0", ())({})
    (True, 0.0)
    >>> compile_expr(0.5, ())({})
    0.5
    >>> compile_expr("2 * enrgy", FEATURE_NAMES)
    Traceback (most recent call last):
    ...
    lumen.scene.expr.ExprError: unknown name 'enrgy' (did you mean 'energy'?) at column 5 of ...
    >>> compile_expr("__import__('os')", FEATURE_NAMES)
    Traceback (most recent call last):
    ...
    lumen.scene.expr.ExprError: unknown function '__import__' at column 1 of "__import__('os')"
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ExprError(
            f"expected a number or an expression string, got {type(text).__name__}", 0
        )
    if not isinstance(text, str):
        try:
            value = float(text)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise ExprError(f"a binding must be a finite number, got {text!r}", 0)
        return Expr(str(text), frozenset(), True, _const(value))
    return _Compiler(text, allowed_names).run()


# --------------------------------------------------------------------------- functions


def _fract(x: float) -> float:
    return x - math.floor(x)


def _sign(x: float) -> float:
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _mix(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def _step(edge: float, x: float) -> float:
    return 0.0 if x < edge else 1.0


def _smoothstep(e0: float, e1: float, x: float) -> float:
    if e0 == e1:
        return _step(e0, x)
    t = _clamp((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x > 0 else 0.0


def _pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except (OverflowError, ValueError, ZeroDivisionError):
        # No finite real result (overflow, negative base with a fractional exponent, 0 ** -1).
        return 0.0


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return 0.0


def _log(x: float) -> float:
    return math.log(x) if x > 0 else 0.0


def _pulse(x: float, width: float) -> float:
    return 1.0 if _fract(x) < width else 0.0


def _tri(x: float) -> float:
    return 1.0 - abs(2.0 * _fract(x) - 1.0)


def _floor(x: float) -> float:
    return float(math.floor(x))


def _ceil(x: float) -> float:
    return float(math.ceil(x))


def _min(*xs: float) -> float:
    return min(xs)


def _max(*xs: float) -> float:
    return max(xs)


@dataclass(frozen=True, slots=True)
class _Function:
    """A whitelisted function: its implementation and how many arguments it takes."""

    impl: Callable[..., float]
    min_args: int
    max_args: int | None  # None: any number from min_args up


#: The functions a binding may call, by name.
FUNCTIONS: Final[Mapping[str, _Function]] = {
    "sin": _Function(math.sin, 1, 1),
    "cos": _Function(math.cos, 1, 1),
    "tan": _Function(math.tan, 1, 1),
    "abs": _Function(abs, 1, 1),
    "sign": _Function(_sign, 1, 1),
    "min": _Function(_min, 2, None),
    "max": _Function(_max, 2, None),
    "clamp": _Function(_clamp, 3, 3),
    "mix": _Function(_mix, 3, 3),
    "step": _Function(_step, 2, 2),
    "smoothstep": _Function(_smoothstep, 3, 3),
    "fract": _Function(_fract, 1, 1),
    "floor": _Function(_floor, 1, 1),
    "ceil": _Function(_ceil, 1, 1),
    "sqrt": _Function(_sqrt, 1, 1),
    "pow": _Function(_pow, 2, 2),
    "exp": _Function(_exp, 1, 1),
    "log": _Function(_log, 1, 1),
    "pulse": _Function(_pulse, 2, 2),
    "tri": _Function(_tri, 1, 1),
}


# --------------------------------------------------------------------------- closures


def _fin(x: float) -> float:
    """``x`` when finite, else 0.0."""
    return x if math.isfinite(x) else 0.0


def _const(value: float) -> _Fn:
    def const(env: _Env) -> float:
        return value

    return const


def _name(key: str) -> _Fn:
    def name(env: _Env) -> float:
        return _fin(float(env.get(key, 0.0)))

    return name


def _add(a: _Fn, b: _Fn) -> _Fn:
    return lambda env: _fin(a(env) + b(env))


def _sub(a: _Fn, b: _Fn) -> _Fn:
    return lambda env: _fin(a(env) - b(env))


def _mul(a: _Fn, b: _Fn) -> _Fn:
    return lambda env: _fin(a(env) * b(env))


def _safe_div(x: float, y: float) -> float:
    return _fin(x / y) if y != 0.0 else 0.0


def _safe_floordiv(x: float, y: float) -> float:
    return _fin(x // y) if y != 0.0 else 0.0


def _safe_mod(x: float, y: float) -> float:
    return _fin(x % y) if y != 0.0 else 0.0


def _binary(op: Callable[[float, float], float], a: _Fn, b: _Fn) -> _Fn:
    return lambda env: op(a(env), b(env))


def _neg(a: _Fn) -> _Fn:
    return lambda env: -a(env)


def _not(a: _Fn) -> _Fn:
    return lambda env: 1.0 if a(env) == 0.0 else 0.0


_CMP: Final[dict[type[ast.cmpop], Callable[[float, float], bool]]] = {
    ast.Lt: lambda x, y: x < y,
    ast.LtE: lambda x, y: x <= y,
    ast.Gt: lambda x, y: x > y,
    ast.GtE: lambda x, y: x >= y,
    ast.Eq: lambda x, y: x == y,
    ast.NotEq: lambda x, y: x != y,
}


def _compare(
    first: _Fn, ops: list[Callable[[float, float], bool]], rest: list[_Fn]
) -> _Fn:
    pairs = list(zip(ops, rest))

    def compare(env: _Env) -> float:
        left = first(env)
        for op, fn in pairs:
            right = fn(env)
            if not op(left, right):
                return 0.0
            left = right
        return 1.0

    return compare


def _and(fns: list[_Fn]) -> _Fn:
    def and_(env: _Env) -> float:
        v = 0.0
        for fn in fns:
            v = fn(env)
            if v == 0.0:
                return v
        return v

    return and_


def _or(fns: list[_Fn]) -> _Fn:
    def or_(env: _Env) -> float:
        v = 0.0
        for fn in fns:
            v = fn(env)
            if v != 0.0:
                return v
        return v

    return or_


def _ifexp(test: _Fn, body: _Fn, orelse: _Fn) -> _Fn:
    return lambda env: body(env) if test(env) != 0.0 else orelse(env)


def _call(impl: Callable[..., float], args: list[_Fn]) -> _Fn:
    if len(args) == 1:
        (a,) = args
        return lambda env: _fin(impl(a(env)))
    if len(args) == 2:
        a, b = args
        return lambda env: _fin(impl(a(env), b(env)))
    if len(args) == 3:
        a, b, c = args
        return lambda env: _fin(impl(a(env), b(env), c(env)))
    return lambda env: _fin(impl(*[f(env) for f in args]))


# --------------------------------------------------------------------------- compiler

_BINOPS: Final[dict[type[ast.operator], Callable[[_Fn, _Fn], _Fn]]] = {
    ast.Add: _add,
    ast.Sub: _sub,
    ast.Mult: _mul,
    ast.Div: lambda a, b: _binary(_safe_div, a, b),
    ast.FloorDiv: lambda a, b: _binary(_safe_floordiv, a, b),
    ast.Mod: lambda a, b: _binary(_safe_mod, a, b),
    ast.Pow: lambda a, b: _binary(_pow, a, b),
}

_OP_SYMBOLS: Final[dict[type[ast.AST], str]] = {
    ast.MatMult: "@",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}

_FORBIDDEN: Final[dict[type[ast.AST], str]] = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Subscript: "subscripts ('[...]') are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment (':=') is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.JoinedStr: "strings are not allowed; bindings are numeric",
    ast.Tuple: "tuples are not allowed",
    ast.List: "lists are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}


class _Compiler:
    """Compiles one expression text; holds the text for error columns."""

    def __init__(self, text: str, allowed_names: Collection[str]) -> None:
        self.text = text
        self.allowed = frozenset(allowed_names)
        self.names: set[str] = set()
        # Line breaks and tabs become spaces (same length), so that a multi-line YAML scalar
        # parses and every column maps to one character of the original text.
        flat = text.translate({ord("\n"): " ", ord("\r"): " ", ord("\t"): " ", ord("\f"): " "})
        self.lead = len(flat) - len(flat.lstrip(" "))
        self.src = flat[self.lead :]

    def error(self, message: str, node: ast.AST | None = None) -> ExprError:
        col = 1
        if node is not None:
            col_offset: int = getattr(node, "col_offset", 0)
            # ast gives UTF-8 byte offsets; ExprError promises character columns.
            chars = len(self.src.encode("utf-8")[:col_offset].decode("utf-8", errors="ignore"))
            col = self.lead + chars + 1
        return ExprError(message, col, self.text)

    def run(self) -> Expr:
        if not self.src.strip():
            raise ExprError("empty expression", 1, self.text)
        if len(self.text) > MAX_LENGTH:
            raise ExprError(
                f"expression is too long ({len(self.text)} characters, at most {MAX_LENGTH})",
                1,
                self.text,
            )
        try:
            tree = ast.parse(self.src, mode="eval")
        except SyntaxError as exc:
            msg = exc.msg or "invalid syntax"
            # CPython reports offset 0 when the text ends too early; point past its end then.
            offset = exc.offset if exc.offset and exc.offset > 0 else len(self.src) + 1
            col = self.lead + min(offset, len(self.src) + 1)
            raise ExprError(f"syntax error: {msg}", col, self.text) from None
        except (MemoryError, RecursionError):
            raise ExprError("expression is nested too deeply", 1, self.text) from None
        except ValueError as exc:  # e.g. a NUL character (a SyntaxError from Python 3.12)
            raise ExprError(f"syntax error: {exc}", 1, self.text) from None
        fn, value = self.node(tree.body, 0)
        return Expr(self.text, frozenset(self.names), value is not None, fn)

    def node(self, node: ast.expr, depth: int) -> tuple[_Fn, float | None]:
        """Compile ``node``; return its closure and, when it is constant, its value."""
        if depth > MAX_DEPTH:
            raise self.error(
                f"expression is nested too deeply (more than {MAX_DEPTH} levels)", node
            )
        return self.build(node, depth + 1)

    def name(self, node: ast.Name) -> tuple[_Fn, float | None]:
        key = node.id
        if key in self.allowed:
            self.names.add(key)
            return _name(key), None
        if key in CONSTANTS:
            return _const(CONSTANTS[key]), CONSTANTS[key]
        if key in FUNCTIONS:
            raise self.error(f"{key!r} is a function; call it as {key}(...)", node)
        hint = did_you_mean(key, sorted(self.allowed | CONSTANTS.keys()))
        raise self.error(f"unknown name {key!r}{hint}", node)

    def build(self, node: ast.expr, depth: int) -> tuple[_Fn, float | None]:
        kids: list[tuple[_Fn, float | None]]
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Invert):
                raise self.error("operator '~' is not allowed", node)
            kid = self.node(node.operand, depth)
            if isinstance(node.op, ast.UAdd):
                return kid
            make_unary = _neg if isinstance(node.op, ast.USub) else _not
            return self.fold(make_unary(kid[0]), [kid])
        if isinstance(node, ast.BinOp):
            make = _BINOPS.get(type(node.op))
            if make is None:
                sym = _OP_SYMBOLS.get(type(node.op), type(node.op).__name__)
                raise self.error(f"operator {sym!r} is not allowed", node)
            kids = [self.node(node.left, depth), self.node(node.right, depth)]
            return self.fold(make(kids[0][0], kids[1][0]), kids)
        if isinstance(node, ast.Compare):
            ops: list[Callable[[float, float], bool]] = []
            for op in node.ops:
                cmp = _CMP.get(type(op))
                if cmp is None:
                    sym = _OP_SYMBOLS.get(type(op), type(op).__name__)
                    raise self.error(f"operator {sym!r} is not allowed", node)
                ops.append(cmp)
            kids = [self.node(node.left, depth)]
            kids += [self.node(c, depth) for c in node.comparators]
            return self.fold(_compare(kids[0][0], ops, [k[0] for k in kids[1:]]), kids)
        if isinstance(node, ast.BoolOp):
            kids = [self.node(v, depth) for v in node.values]
            make_bool = _and if isinstance(node.op, ast.And) else _or
            return self.fold(make_bool([k[0] for k in kids]), kids)
        if isinstance(node, ast.IfExp):
            kids = [
                self.node(node.test, depth),
                self.node(node.body, depth),
                self.node(node.orelse, depth),
            ]
            return self.fold(_ifexp(kids[0][0], kids[1][0], kids[2][0]), kids)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        message = _FORBIDDEN.get(type(node), f"{type(node).__name__} is not allowed in bindings")
        raise self.error(message, node)

    def constant(self, node: ast.Constant) -> tuple[_Fn, float]:
        v = node.value
        if isinstance(v, (str, bytes)):
            raise self.error("strings are not allowed; bindings are numeric", node)
        if isinstance(v, (bool, int, float)):
            try:
                value = float(v)
            except OverflowError:
                value = math.inf
            if not math.isfinite(value):
                raise self.error("number out of range (not a finite float)", node)
            return _const(value), value
        if isinstance(v, complex):
            raise self.error("complex numbers are not allowed", node)
        raise self.error(f"{v!r} is not allowed; bindings are numeric", node)

    def call(self, node: ast.Call, depth: int) -> tuple[_Fn, float | None]:
        if not isinstance(node.func, ast.Name):
            message = _FORBIDDEN.get(type(node.func), "only built-in functions can be called")
            raise self.error(message, node.func)
        fname = node.func.id
        spec = FUNCTIONS.get(fname)
        if spec is None:
            hint = did_you_mean(fname, sorted(FUNCTIONS))
            raise self.error(f"unknown function {fname!r}{hint}", node)
        if node.keywords:
            raise self.error(f"{fname}() takes positional arguments only", node.keywords[0].value)
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.error(_FORBIDDEN[ast.Starred], a)
        n = len(node.args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            if spec.max_args is None:
                want = f"at least {spec.min_args} arguments"
            elif spec.min_args == spec.max_args:
                want = f"{spec.min_args} argument{'s' if spec.min_args != 1 else ''}"
            else:
                want = f"{spec.min_args} to {spec.max_args} arguments"
            raise self.error(f"{fname}() takes {want}, got {n}", node)
        kids = [self.node(a, depth) for a in node.args]
        return self.fold(_call(spec.impl, [k[0] for k in kids]), kids)

    @staticmethod
    def fold(fn: _Fn, kids: list[tuple[_Fn, float | None]]) -> tuple[_Fn, float | None]:
        """Replace ``fn`` by a constant when every operand is constant."""
        if all(v is not None for _, v in kids):
            value = fn({})
            return _const(value), value
        return fn, None
