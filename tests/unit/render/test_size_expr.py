"""Unit tests of ISF size expressions (``PASSES`` ``WIDTH``/``HEIGHT``): pure, no GL.

Layer: tests. Threads: any.
"""

from __future__ import annotations

import pytest

from lumen.render.program import MAX_TARGET_SIZE, parse_size_expr

VARS = {"WIDTH": 640.0, "HEIGHT": 360.0, "blur": 4.0}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$WIDTH", 640.0),
        ("$WIDTH/2", 320.0),
        ("$WIDTH / 2.0 + 1", 321.0),
        ("floor($HEIGHT*0.5)", 180.0),
        ("floor($HEIGHT/7)", 51.0),
        ("ceil($HEIGHT/7)", 52.0),
        ("round(2.5) + round(3.5)", 6.0),  # Python's round: half to even
        ("trunc(-2.7)", -2.0),
        ("max(floor($WIDTH*0.02), 1.0)", 12.0),
        ("min($WIDTH, $HEIGHT)", 360.0),
        ("pow(2, 3)", 8.0),
        ("sqrt(16) * abs(-2)", 8.0),
        ("-(2 - 8) / 4", 1.5),
        ("--3", 3.0),
        ("+3", 3.0),
        ("2 * (3 + 4) - 6 / 3", 12.0),
        ("1e2 + .5", 100.5),
        ("$WIDTH/$blur", 160.0),
        ("  $HEIGHT  ", 360.0),
        (256, 256.0),
        (12.5, 12.5),
    ],
)
def test_values(text: str | float, value: float) -> None:
    assert parse_size_expr(text, ("WIDTH", "HEIGHT", "blur")).value(VARS) == pytest.approx(value)


def test_variables_are_reported() -> None:
    assert parse_size_expr("max($WIDTH, $blur) + 1", ("WIDTH", "HEIGHT", "blur")).variables == {"WIDTH", "blur"}
    assert parse_size_expr("16").variables == frozenset()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("$WIDTH/", "ends too early"),
        ("$WIDTH 2", "unexpected"),
        ("($WIDTH", "expected"),
        ("$DEPTH", "unknown variable"),
        ("$blur", "unknown variable"),  # inputs only when the caller allows them
        ("exp(2)", "unknown function"),
        ("max(1)", "takes 2"),
        ("floor(1, 2)", "takes 1"),
        ("__import__('os')", "unknown function|unexpected"),
        ("$WIDTH ** 2", "unexpected"),
        ("2 % 3", "unexpected"),
        ("(" * 40 + "1" + ")" * 40, "nested too deeply"),
        ("1+" * 200 + "1", "longer than"),
        (True, "number or a string"),
        (float("nan"), "not finite"),
    ],
)
def test_errors(text: str | float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_size_expr(text)


def test_evaluation_errors() -> None:
    with pytest.raises(ValueError, match="division by zero|float division"):
        parse_size_expr("$WIDTH / ($HEIGHT - $HEIGHT)").value(VARS)
    with pytest.raises(ValueError, match="not finite"):
        parse_size_expr("pow(10, 300) * pow(10, 300)").value(VARS)
    with pytest.raises(ValueError, match="has no value"):
        parse_size_expr("$WIDTH").value({})
    with pytest.raises(ValueError):
        parse_size_expr("sqrt(-1)").value(VARS)


def test_size_truncates_and_clamps() -> None:
    e = parse_size_expr("$WIDTH/3")
    assert e.size({"WIDTH": 10, "HEIGHT": 1}) == 3
    assert parse_size_expr("$WIDTH - 100").size({"WIDTH": 10, "HEIGHT": 1}) == 1
    assert parse_size_expr("$WIDTH * 1000").size({"WIDTH": 1000, "HEIGHT": 1}) == MAX_TARGET_SIZE
