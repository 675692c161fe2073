"""How an op's figure comes out: the value with its formula in words, in symbols and with the
numbers substituted. Each layer family's ``derive`` builds these from the same helpers its
``apply`` uses, so that ``archcalc explain`` shows the arithmetic the report did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Step:
    """One op figure (``weights``, ``biases``, ``connections``, ``macs``, ``output``, ...)."""

    value: int | str
    words: str
    symbols: str
    numbers: str


def num(value: int) -> str:
    """An exact integer with thousands separators (1,516)."""
    return f"{value:,}"


def times(*factors: int) -> str:
    """``100 x 60 x 25`` (exact factors, with separators)."""
    return " x ".join(num(f) for f in factors)


def none(figure: str, kind: str) -> Step:
    """A figure the layer does not have (0)."""
    return Step(0, f"a {kind} layer has no {figure}", f"{figure} = 0", "0")
