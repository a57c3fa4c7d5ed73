"""Unit tests of the binding expression language (lumen.scene.expr)."""

from __future__ import annotations

import dataclasses
import doctest
import math

import pytest

import lumen.scene.expr as expr_module
from lumen.errors import LumenError
from lumen.features import BANDS, FIELDS
from lumen.scene.expr import (
    FEATURE_NAMES,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    Expr,
    ExprError,
    compile_expr,
)

ENV: dict[str, float] = {
    "energy": 0.5,
    "bass": 0.6,
    "treble": 0.25,
    "beat_phase": 0.1,
    "bar_phase": 0.75,
    "bpm": 124.0,
    "time": 12.5,
    "frame": 750.0,
}

# (expression, expected value with ENV)
GOOD: list[tuple[str, float]] = [
    ("0.2 + 0.8 * energy", 0.2 + 0.8 * 0.5),
    ("bar_phase", 0.75),
    ("smoothstep(0.3, 0.9, bass) * (1 - beat_phase)", 0.5 * 0.9),
    ("  energy\n  * 2 ", 1.0),  # whitespace and line breaks (YAML block scalars)
    ("(energy +\n bass)", 1.1),
    ("1", 1.0),
    ("-1.5", -1.5),
    ("+energy", 0.5),
    ("--energy", 0.5),
    ("2 ** 3 ** 2", 512.0),  # right-associative, as in Python
    ("-2 ** 2", -4.0),
    ("7 // 2", 3.0),
    ("-7 // 2", -4.0),
    ("7 % 3", 1.0),
    ("-1 % 3", 2.0),
    ("1 / 4", 0.25),
    ("1 / 0", 0.0),
    ("energy / (bass - 0.6)", 0.0),
    ("5 // 0", 0.0),
    ("5 % 0", 0.0),
    ("0 ** -1", 0.0),
    ("(-8) ** 0.5", 0.0),
    ("(-2) ** 3", -8.0),
    ("10.0 ** 400", 0.0),  # overflow
    ("1e308 * 10", 0.0),  # infinity
    ("1e308 * 10 - 1e308 * 10", 0.0),
    ("beat_phase < 0.15", 1.0),
    ("beat_phase > 0.15", 0.0),
    ("energy == 0.5", 1.0),
    ("energy != 0.5", 0.0),
    ("0.2 < energy <= 0.5", 1.0),
    ("0.2 < energy < 0.3", 0.0),
    ("0 < 1 > 0.5 >= 0.5", 1.0),
    ("not energy", 0.0),
    ("not 0", 1.0),
    ("energy and bass", 0.6),
    ("0 and bass", 0.0),
    ("energy or bass", 0.5),
    ("0 or bass", 0.6),
    ("0 or 0", 0.0),
    ("1 if beat_phase < 0.5 else 2", 1.0),
    ("1 if beat_phase > 0.5 else 2", 2.0),
    ("True + True", 2.0),
    ("False", 0.0),
    ("pi", math.pi),
    ("tau / 2", math.pi),
    ("sin(pi / 2)", 1.0),
    ("cos(0)", 1.0),
    ("tan(0)", 0.0),
    ("abs(-3)", 3.0),
    ("sign(-3)", -1.0),
    ("sign(0)", 0.0),
    ("sign(energy)", 1.0),
    ("min(energy, bass, treble)", 0.25),
    ("max(energy, bass, treble)", 0.6),
    ("clamp(1.5, 0, 1)", 1.0),
    ("clamp(-1, 0, 1)", 0.0),
    ("clamp(energy, 0, 1)", 0.5),
    ("mix(10, 20, 0.25)", 12.5),
    ("step(0.5, energy)", 1.0),
    ("step(0.6, energy)", 0.0),
    ("smoothstep(0, 1, 0.5)", 0.5),
    ("smoothstep(0, 1, -3)", 0.0),
    ("smoothstep(0, 1, 3)", 1.0),
    ("smoothstep(0.5, 0.5, 0.7)", 1.0),  # degenerate edges: a step
    ("smoothstep(0.5, 0.5, 0.2)", 0.0),
    ("fract(2.75)", 0.75),
    ("fract(-0.25)", 0.75),
    ("floor(-1.5)", -2.0),
    ("ceil(1.2)", 2.0),
    ("sqrt(16)", 4.0),
    ("sqrt(-4)", 0.0),
    ("pow(2, 10)", 1024.0),
    ("pow(-1, 0.5)", 0.0),
    ("exp(0)", 1.0),
    ("exp(1000)", 0.0),  # overflow
    ("log(1)", 0.0),
    ("log(0)", 0.0),
    ("log(-1)", 0.0),
    ("pulse(beat_phase, 0.15)", 1.0),
    ("pulse(bar_phase, 0.15)", 0.0),
    ("pulse(2.05, 0.1)", 1.0),
    ("tri(0.5)", 1.0),
    ("tri(0.25)", 0.5),
    ("tri(3)", 0.0),
    ("time * bpm / 60 % 4", (12.5 * 124.0 / 60) % 4),
    ("frame", 750.0),
    ("missing_feature_is_zero", 0.0),  # allowed but absent from ENV: see test below
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[t for t, _ in GOOD])
def test_good_expressions(text: str, expected: float) -> None:
    allowed = FEATURE_NAMES | {"missing_feature_is_zero"}
    e = compile_expr(text, allowed)
    got = e(ENV)
    assert type(got) is float
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


# (expression, column, words in the message)
BAD: list[tuple[str, int, str]] = [
    ("__import__('os')", 1, "unknown function '__import__'"),
    ("__import__('os').system('ls')", 1, "attribute access"),
    ("energy.real", 1, "attribute access"),
    ("(1).__class__", 1, "attribute access"),
    ("().__class__.__bases__[0]", 1, "subscripts"),
    ("bands[0]", 1, "subscripts"),
    ("energy[0:1]", 1, "subscripts"),
    ("lambda: 1", 1, "lambda"),
    ("(lambda x: x)(1)", 2, "lambda"),
    ("'energy'", 1, "strings are not allowed"),
    ("f'{energy}'", 1, "strings are not allowed"),
    ("b'x'", 1, "strings are not allowed"),
    ("1 + 'a'", 5, "strings are not allowed"),
    ("None", 1, "None is not allowed"),
    ("...", 1, "Ellipsis"),
    ("1j", 1, "complex"),
    ("[energy]", 1, "lists"),
    ("(energy, bass)", 1, "tuples"),
    ("{1: 2}", 1, "dicts"),
    ("{1}", 1, "sets"),
    ("[x for x in y]", 1, "comprehensions"),
    ("(x for x in y)", 1, "generator"),
    ("(x := 1)", 2, "assignment"),
    ("max(*energy)", 5, "unpacking"),
    ("clamp(energy, lo=0, hi=1)", 18, "positional arguments only"),
    ("eval('1')", 1, "unknown function 'eval'"),
    ("exec('1')", 1, "unknown function 'exec'"),
    ("open('/etc/passwd')", 1, "unknown function 'open'"),
    ("getattr(energy, 'x')", 1, "unknown function 'getattr'"),
    ("globals()", 1, "unknown function 'globals'"),
    ("sinn(energy)", 1, "(did you mean 'sin'?)"),
    ("sin()", 1, "sin() takes 1 argument, got 0"),
    ("clamp(1, 2)", 1, "clamp() takes 3 arguments, got 2"),
    ("min(1)", 1, "min() takes at least 2 arguments, got 1"),
    ("sin", 1, "'sin' is a function"),
    ("enrgy", 1, "unknown name 'enrgy' (did you mean 'energy'?)"),
    ("0.2 + 0.8 * enrgy", 13, "did you mean 'energy'"),
    ("  0.2 + zzz", 9, "unknown name 'zzz'"),
    ("__builtins__", 1, "unknown name '__builtins__'"),
    ("1 | 2", 1, "operator '|'"),
    ("1 & 2", 1, "operator '&'"),
    ("1 << 2", 1, "operator '<<'"),
    ("1 @ 2", 1, "operator '@'"),
    ("~1", 1, "operator '~'"),
    ("energy is 1", 1, "operator 'is'"),
    ("energy in bass", 1, "operator 'in'"),
    ("1e400", 1, "number out of range"),
    ("9" * 400, 1, "number out of range"),
    ("", 1, "empty expression"),
    ("   ", 1, "empty expression"),
    ("1 +", 4, "syntax error"),
    ("(1 + 2", 1, "syntax error: '(' was never closed"),
    ("1 2", 3, "syntax error"),
    ("x = 1", 3, "syntax error"),
    ("import os", 1, "syntax error"),
    ("1; 2", 2, "syntax error"),
    ("\x00", 2, "syntax error"),
    ("-" * 200 + "1", MAX_DEPTH + 2, "nested too deeply"),
    ("+".join(["1"] * 150), 1, "nested too deeply"),
    ("(" * 300 + "1" + ")" * 300, 201, "syntax error: too many nested parentheses"),
    ("1 +" * 400 + "1", 1, "too long"),
]


@pytest.mark.parametrize(("text", "col", "words"), BAD, ids=[t[:30] for t, _, _ in BAD])
def test_bad_expressions(text: str, col: int, words: str) -> None:
    with pytest.raises(ExprError) as info:
        compile_expr(text, FEATURE_NAMES)
    err = info.value
    assert words in err.message
    assert err.col == col
    assert err.text == text
    assert isinstance(err, LumenError)
    assert f"at column {col}" in str(err)


def test_columns_count_characters_not_bytes() -> None:
    with pytest.raises(ExprError) as info:
        compile_expr("é + ü + zzz", {"é", "ü"})
    assert info.value.col == 9


def test_feature_names_cover_every_field_plus_time_and_frame() -> None:
    assert frozenset(FIELDS) <= FEATURE_NAMES
    assert set(BANDS) <= FEATURE_NAMES
    assert FEATURE_NAMES - frozenset(FIELDS) == {"time", "frame"}


def test_names_and_is_constant() -> None:
    e = compile_expr("smoothstep(0.3, 0.9, bass) * (1 - beat_phase) + pi", FEATURE_NAMES)
    assert e.names == frozenset({"bass", "beat_phase"})
    assert not e.is_constant
    c = compile_expr("sin(pi / 2) * 3 + 1 / 0", FEATURE_NAMES)
    assert c.is_constant and c.names == frozenset()
    assert c({}) == 3.0
    # Names in a branch that is not taken still count: the binding depends on them.
    assert compile_expr("1 if 1 else energy", FEATURE_NAMES).names == {"energy"}


def test_allowed_names_shadow_constants() -> None:
    e = compile_expr("pi * 2", {"pi"})
    assert e.names == {"pi"} and not e.is_constant
    assert e({"pi": 1.0}) == 2.0


def test_only_allowed_names() -> None:
    with pytest.raises(ExprError, match="unknown name 'energy'"):
        compile_expr("energy", {"bass"})
    assert compile_expr("energy", {"energy"})({"energy": 0.25}) == 0.25


@pytest.mark.parametrize(("value", "expected"), [(0.5, 0.5), (3, 3.0), (-2, -2.0), (0, 0.0)])
def test_numbers_are_constant_expressions(value: float, expected: float) -> None:
    e = compile_expr(value, FEATURE_NAMES)
    assert e.is_constant and e.names == frozenset()
    assert e({}) == expected and type(e({})) is float
    assert e.text == str(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    with pytest.raises(ExprError, match="finite"):
        compile_expr(value, FEATURE_NAMES)


@pytest.mark.parametrize("value", [True, None, [1], b"1"])
def test_other_types_are_rejected(value: object) -> None:
    with pytest.raises(ExprError, match="expected a number or an expression string"):
        compile_expr(value, FEATURE_NAMES)  # type: ignore[arg-type]


def test_missing_and_non_finite_env_values_read_as_zero() -> None:
    e = compile_expr("energy + 1", FEATURE_NAMES)
    assert e({}) == 1.0
    assert e({"energy": float("nan")}) == 1.0
    assert e({"energy": float("inf")}) == 1.0
    assert e({"energy": True}) == 2.0


def test_results_are_always_finite_floats() -> None:
    env = {"energy": 1e308, "bass": -1e308, "treble": 5e-324}
    for text in ["energy * energy", "energy - bass", "energy / treble", "exp(energy)",
                 "energy ** 2", "energy // treble", "tan(energy)", "floor(energy * 10)",
                 "smoothstep(bass, energy, energy * 10)", "fract(energy * 10)"]:
        got = compile_expr(text, FEATURE_NAMES)(env)
        assert type(got) is float and math.isfinite(got), text


def test_short_circuit_evaluates_lazily() -> None:
    calls: list[str] = []

    class Env(dict[str, float]):
        def get(self, key: str, default: float | None = None) -> float:  # type: ignore[override]
            calls.append(key)
            return super().get(key, 0.0)

    compile_expr("energy and bass", FEATURE_NAMES)(Env(energy=0.0, bass=1.0))
    assert calls == ["energy"]
    calls.clear()
    compile_expr("bass if energy else treble", FEATURE_NAMES)(Env(energy=1.0))
    assert calls == ["energy", "bass"]


def test_expr_is_frozen_and_compares_by_text() -> None:
    a = compile_expr("energy * 2", FEATURE_NAMES)
    b = compile_expr("energy * 2", FEATURE_NAMES)
    assert a == b and a is not b
    assert a != compile_expr("energy * 3", FEATURE_NAMES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.text = "1"  # type: ignore[misc]
    assert "energy * 2" in repr(a)
    assert isinstance(a, Expr)


def test_expression_length_limit() -> None:
    ok = "1" + " " * (MAX_LENGTH - 1)
    assert compile_expr(ok, ())({}) == 1.0
    with pytest.raises(ExprError, match="too long"):
        compile_expr(ok + " ", ())


def test_max_depth_is_allowed() -> None:
    text = "-" * (MAX_DEPTH - 1) + "energy"
    assert compile_expr(text, FEATURE_NAMES)({"energy": 1.0}) == -1.0


def test_every_function_is_documented() -> None:
    doc = expr_module.__doc__ or ""
    for name in FUNCTIONS:
        assert f"``{name}(" in doc, name


def test_error_str() -> None:
    err = ExprError("unknown name 'x'", 5, "1 + x")
    assert str(err) == "unknown name 'x' at column 5 of '1 + x'"
    assert (err.message, err.col, err.text) == ("unknown name 'x'", 5, "1 + x")


def test_doctests() -> None:
    result = doctest.testmod(expr_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
