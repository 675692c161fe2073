"""Exact integers shortened for a drawing: ``118013952`` -> ``118M`` (the exact value goes in a
tooltip or table cell beside it; decimal SI prefixes, as papers quote MACs and parameters)."""

from __future__ import annotations

_PREFIXES = ((10**3, "K"), (10**6, "M"), (10**9, "G"), (10**12, "T"), (10**15, "P"))


def _three_digits(value: float) -> str:
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def si(n: int) -> str:
    """``n`` with three significant digits and a decimal prefix: 512, 9.41K, 118M, 4.09G."""
    if abs(n) < 1000:
        return str(n)
    for scale, prefix in _PREFIXES:
        text = _three_digits(n / scale)
        if abs(float(text)) < 1000 or prefix == _PREFIXES[-1][1]:
            return text + prefix
    raise AssertionError("unreachable")


def shape_text(shape: tuple[int, ...]) -> str:
    """``(64, 56, 56)`` -> ``64x56x56``."""
    return "x".join(str(v) for v in shape)
