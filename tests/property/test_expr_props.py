"""Property tests of the binding expression language (lumen.scene.expr).

Random expression trees are rendered to text, compiled with `compile_expr` and compared with a
small reference evaluator written here from the documented semantics; evaluation must never
raise and must always give a finite float.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from lumen.scene.expr import FEATURE_NAMES, ExprError, compile_expr

VARS = ("energy", "bass", "beat_phase", "bar_phase", "time", "frame")

Env = Mapping[str, float]


@dataclass(frozen=True)
class Tree:
    """An expression tree: ``kind`` is "num", "var", "neg", "not", a binary operator, "and",
    "or", "if" (kids: test, body, orelse), "cmp" (``ops`` between the kids) or "call"
    (``name`` is the function)."""

    kind: str
    value: float = 0.0
    name: str = ""
    ops: tuple[str, ...] = ()
    kids: tuple[Tree, ...] = ()


def fin(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def ref_pow(a: float, b: float) -> float:
    try:
        r = a**b
    except (OverflowError, ZeroDivisionError):
        return 0.0
    if isinstance(r, complex):
        return 0.0
    return fin(r)


def ref_div(op: Callable[[float, float], float]) -> Callable[[float, float], float]:
    return lambda a, b: 0.0 if b == 0 else fin(op(a, b))


BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: fin(a + b),
    "-": lambda a, b: fin(a - b),
    "*": lambda a, b: fin(a * b),
    "/": ref_div(operator.truediv),
    "//": ref_div(operator.floordiv),
    "%": ref_div(operator.mod),
    "**": ref_pow,
}

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def ref_smoothstep(e0: float, e1: float, x: float) -> float:
    if e0 == e1:
        return 0.0 if x < e0 else 1.0
    t = min(max((x - e0) / (e1 - e0), 0.0), 1.0)
    return fin(t * t * (3 - 2 * t))


CALLS: dict[str, tuple[int, Callable[..., float]]] = {
    "abs": (1, abs),
    "min": (3, min),
    "max": (2, max),
    "clamp": (3, lambda x, lo, hi: min(max(x, lo), hi)),
    "mix": (3, lambda a, b, t: a + (b - a) * t),
    "smoothstep": (3, ref_smoothstep),
    "step": (2, lambda e, x: 0.0 if x < e else 1.0),
    "sqrt": (1, lambda x: math.sqrt(x) if x > 0 else 0.0),
    "floor": (1, lambda x: float(math.floor(x))),
    "fract": (1, lambda x: fin(x - math.floor(x))),
    "sin": (1, math.sin),
    "log": (1, lambda x: math.log(x) if x > 0 else 0.0),
}


def ref(tree: Tree, env: Env) -> float:
    """Evaluate ``tree`` with the documented semantics."""
    kind, kids = tree.kind, tree.kids
    if kind == "num":
        return tree.value
    if kind == "var":
        return fin(float(env.get(tree.name, 0.0)))
    vals = [ref(k, env) for k in kids] if kind not in ("and", "or", "if") else []
    if kind == "neg":
        return -vals[0]
    if kind == "not":
        return 1.0 if vals[0] == 0 else 0.0
    if kind in BINARY:
        return BINARY[kind](vals[0], vals[1])
    if kind == "cmp":
        ok = all(COMPARE[o](a, b) for o, a, b in zip(tree.ops, vals, vals[1:]))
        return 1.0 if ok else 0.0
    if kind == "and":
        a = ref(kids[0], env)
        return a if a == 0 else ref(kids[1], env)
    if kind == "or":
        a = ref(kids[0], env)
        return a if a != 0 else ref(kids[1], env)
    if kind == "if":
        return ref(kids[1], env) if ref(kids[0], env) != 0 else ref(kids[2], env)
    if kind == "call":
        return fin(CALLS[tree.name][1](*vals))
    raise AssertionError(kind)


def render(tree: Tree) -> str:
    """The expression text of ``tree``, fully parenthesized."""
    kind, kids = tree.kind, [render(k) for k in tree.kids]
    if kind == "num":
        return f"({tree.value!r})"
    if kind == "var":
        return tree.name
    if kind == "neg":
        return f"(-{kids[0]})"
    if kind == "not":
        return f"(not {kids[0]})"
    if kind in BINARY or kind in ("and", "or"):
        return f"({kids[0]} {kind} {kids[1]})"
    if kind == "cmp":
        parts = [kids[0]]
        for o, k in zip(tree.ops, kids[1:]):
            parts += [o, k]
        return "(" + " ".join(parts) + ")"
    if kind == "if":
        return f"({kids[1]} if {kids[0]} else {kids[2]})"
    if kind == "call":
        return f"{tree.name}(" + ", ".join(kids) + ")"
    raise AssertionError(kind)


finite = st.floats(allow_nan=False, allow_infinity=False)
numbers = st.one_of(
    st.integers(-5, 5).map(float),
    st.floats(-2.0, 2.0, allow_nan=False),
    finite,
)
leaves = st.one_of(
    numbers.map(lambda x: Tree("num", value=x)),
    st.sampled_from(VARS).map(lambda n: Tree("var", name=n)),
)


def extend(kids: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    def node(kind: str, n: int) -> st.SearchStrategy[Tree]:
        return st.tuples(*[kids] * n).map(lambda ks: Tree(kind, kids=ks))

    def compare(n: int) -> st.SearchStrategy[Tree]:
        ops = st.tuples(*[st.sampled_from(sorted(COMPARE))] * n)
        operands = st.tuples(*[kids] * (n + 1))
        return st.builds(lambda o, ks: Tree("cmp", ops=o, kids=ks), ops, operands)

    def call(name: str) -> st.SearchStrategy[Tree]:
        n = CALLS[name][0]
        return st.tuples(*[kids] * n).map(lambda ks: Tree("call", name=name, kids=ks))

    return st.one_of(
        node("neg", 1),
        node("not", 1),
        st.sampled_from(sorted(BINARY) + ["and", "or"]).flatmap(lambda k: node(k, 2)),
        node("if", 3),
        st.integers(1, 3).flatmap(compare),
        st.sampled_from(sorted(CALLS)).flatmap(call),
    )


trees = st.recursive(leaves, extend, max_leaves=24)
envs = st.fixed_dictionaries({}, optional={n: finite for n in VARS})
unit_envs = st.fixed_dictionaries({n: st.floats(0.0, 1.0) for n in VARS})


@settings(max_examples=500, deadline=None)
@given(trees, envs)
def test_compiled_agrees_with_reference(tree: Tree, env: dict[str, float]) -> None:
    text = render(tree)
    e = compile_expr(text, FEATURE_NAMES)
    got = e(env)
    want = ref(tree, env)
    assert type(got) is float and math.isfinite(got)
    assert got == want, (text, got, want)


@settings(max_examples=300, deadline=None)
@given(trees, unit_envs)
def test_agrees_for_typical_feature_values(tree: Tree, env: dict[str, float]) -> None:
    text = render(tree)
    assert compile_expr(text, FEATURE_NAMES)(env) == ref(tree, env), text


@settings(max_examples=300, deadline=None)
@given(trees, st.lists(envs, min_size=1, max_size=4))
def test_never_raises_and_reports_its_names(tree: Tree, env_list: list[dict[str, float]]) -> None:
    e = compile_expr(render(tree), FEATURE_NAMES)
    assert e.names <= set(VARS)
    assert e.is_constant == (not e.names)
    for env in env_list:
        v = e(env)
        assert type(v) is float and math.isfinite(v)
    if e.is_constant:
        assert e({}) == ref(tree, {})


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("abeginrstxy_019.+-*/%()<>=!, \n'[]:@~&|^{}"), max_size=40))
def test_arbitrary_text_compiles_or_raises_expr_error(text: str) -> None:
    try:
        e = compile_expr(text, FEATURE_NAMES)
    except ExprError as err:
        assert 1 <= err.col <= len(text) + 1
        return
    v = e({"energy": 0.5})
    assert type(v) is float and math.isfinite(v)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_any_unicode_text_compiles_or_raises_expr_error(text: str) -> None:
    try:
        compile_expr(text, FEATURE_NAMES)
    except ExprError:
        pass

