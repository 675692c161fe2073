"""Issue 11, expressions: comparisons, and/or/not, if/else, min/max, // and %, true/false, each
with its value (Python's meaning, which the expected values below are written in) and each error
with the words it must carry; bounded work on huge values."""

from __future__ import annotations

import time
from typing import Any

import pytest

import archcalc
from archcalc.language.expressions import MAX_MAGNITUDE, evaluate

ENV: dict[str, Any] = {"w": 8, "s": 2, "down": True, "up": False, "name": "x", "big": 10**18}


@pytest.mark.parametrize(("expr", "value"), [
    ("w == 8", True), ("w != 8", False), ("w < 9", True), ("w <= 8", True), ("w > 8", False),
    ("w >= 9", False), ("1 < s < 3", True), ("1 < s > 3", False), ("s == 2 == 2", True),
    ("down == true", True), ("up != false", False),
    ("not down", False), ("not up", True), ("not not down", True),
    ("down and up", False), ("down or up", True), ("up or not up and down", True),
    ("s == 1 and w == 8", False), ("s == 2 and w == 8", True),
    ("w if down else s", 8), ("w if up else s", 2), ("1 if up else 2 if down else 3", 2),
    ("w * 2 if s == 2 else w", 16),
    ("min(w, s)", 2), ("max(w, s, 11)", 11), ("min(w)", 8), ("max(w // 3, s % 3) + 1", 3),
    ("7 // 2", 3), ("-7 // 2", -4), ("7 % 3", 1), ("-7 % 3", 2), ("w / 4", 2), ("-(w - 10)", 2),
    ("+w", 8), ("true", True), ("false", False), ("(w + s) * 2", 20),
    ("w // 0 if up else 1", 1),  # only the chosen branch is evaluated
    ("up and w // 0 == 1", False), ("down or w // 0 == 1", True),  # short circuit
    ("big", 10**18), ("big - 1 + 1", 10**18),
])
def test_expression_values(expr: str, value: Any) -> None:
    result = evaluate(expr, ENV)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(("expr", "words"), [
    ("not w", ("'not' needs true or false, got 8", "position 1")),
    ("w and down", ("'and' needs true or false, got 8",)),
    ("up or 1", ("'or' needs true or false, got 1",)),
    ("w if s else 1", ("the condition of if/else needs true or false, got 2",)),
    ("w if down", ("ends too soon", "allowed:")),
    ("down + 1", ("'+' needs integers, got true",)),
    ("-down", ("unary - needs integers",)),
    ("down < up", ("'<' compares integers, not true/false",)),
    ("w == down", ("compares an integer with true/false",)),
    ("min()", ("unexpected ')'",)),
    ("min(w,)", ("unexpected ')'",)),
    ("max(down, 1)", ("max() needs integers, got true",)),
    ("abs(w)", ("unexpected '('",)),
    ("w ** 2", ("unexpected '*' at position 4", "allowed:")),
    ("w = 2", ("cannot read", "at position 3", "allowed:")),
    ("w & 1", ("cannot read", "at position 3")),
    ("name * 2", ("'name' is 'x'", "needs integers or true/false")),
    ("w // 0", ("division by zero", "position 3")),
    ("w % 0", ("division by zero",)),
    ("w / 3", ("8/3 is not an integer", "use //")),
    ("big * 10", ("larger than 10^18",)),
    ("big + big", ("larger than 10^18",)),
    ("-big - 2", ("larger than 10^18",)),
    ("1" * 25, ("25 digits", "limited to 10^18")),
    ("(" * 100 + "1" + ")" * 100, ("nests deeper than 64",)),
    ("not " * 70 + "down", ("nests deeper than 64",)),
    ("x" * 401, ("longer than 400 characters",)),
    ("nope + 1", ("undefined variable 'nope'",)),
    ("if", ("unexpected 'if'",)),
])
def test_expression_errors(expr: str, words: tuple[str, ...]) -> None:
    with pytest.raises(archcalc.VariableError) as info:
        evaluate(expr, ENV)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_huge_values_are_refused_quickly() -> None:
    start = time.perf_counter()
    for expr in ("big * big * big * big", "1" * 399, "min(" + "big * big, " * 60 + "1)"):
        with pytest.raises(archcalc.VariableError):
            evaluate(expr, ENV)
    huge = {"a": 10**4000}
    with pytest.raises(archcalc.VariableError, match=r"larger than 10\^18"):
        evaluate("a", huge)
    with pytest.raises(archcalc.VariableError, match=r"larger than 10\^18"):
        evaluate("a + 1", huge)
    assert time.perf_counter() - start < 0.5
    assert MAX_MAGNITUDE == 10**18


def test_a_chain_of_variables_stops_at_the_bound() -> None:
    doc = {"variables": {"a": 10**6, "b": "${a * a}", "c": "${b * b}", "d": "${c * c}"},
           "input": [1, 4, 4], "layers": [{"name": "r", "type": "relu"}]}
    with pytest.raises(archcalc.VariableError, match=r"larger than 10\^18") as info:
        archcalc.load(doc)
    assert "'${b * b}'" in str(info.value)  # a = 10^6, b = 10^12, c would be 10^24


def test_when_takes_a_boolean_expression() -> None:
    spec = {
        "input": [4, 8, 8],
        "blocks": {"ir": {
            "params": {"filters": "required", "stride": 1, "cin": "required"},
            "layers": [
                {"name": "conv", "type": "conv", "filters": "${filters}", "kernel": 3, "padding": 1,
                 "stride": "${stride}"},
                {"name": "add", "type": "add", "inputs": ["input", "conv"],
                 "when": "${stride == 1 and cin == filters}"},
            ]}},
        "layers": [
            {"name": "a", "block": "ir", "with": {"filters": 4, "cin": 4}},
            {"name": "b", "block": "ir", "with": {"filters": 8, "cin": 4}},
        ],
    }
    graph = archcalc.load(spec)
    assert "a.add" in graph.layers and "b.add" not in graph.layers


def test_reserved_words_are_not_variable_names() -> None:
    doc = {"variables": {"min": 3}, "input": [1, 4, 4], "layers": ["relu"]}
    with pytest.raises(archcalc.VariableError, match="'min' is a word of the expression language"):
        archcalc.load(doc)


def test_booleans_interpolate_as_true_false() -> None:
    doc = {"variables": {"w": 3, "tag": "${w > 2}-${w if w > 5 else 0}"},
           "input": [1, 4, 4], "layers": ["relu"]}
    assert archcalc.load(doc).variables["tag"] == "true-0"
