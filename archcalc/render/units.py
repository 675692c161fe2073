"""Exact integers shortened for a drawing: ``118013952`` -> ``118M`` (the exact value goes in a
tooltip or table cell beside it; decimal SI prefixes, as papers quote MACs and parameters)."""

from __future__ import annotations

_PREFIXES = ((10**3, "K"), (10**6, "M"), (10**9, "G"), (10**12, "T"), (10**15, "P"))
_BINARY = ((2**10, " KiB"), (2**20, " MiB"), (2**30, " GiB"), (2**40, " TiB"), (2**50, " PiB"))


def _three_digits(value: float) -> str:
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scaled(n: int, steps: tuple[tuple[int, str], ...]) -> str:
    """``n`` with three significant digits at the first step where it reads below 1,000 (so
    999,999 is 1M, never 1000K)."""
    for scale, prefix in steps:
        text = _three_digits(n / scale)
        if abs(float(text)) < 1000 or prefix == steps[-1][1]:
            return text + prefix
    raise AssertionError("unreachable")


def si(n: int) -> str:
    """``n`` with three significant digits and a decimal prefix: 512, 9.41K, 118M, 4.09G."""
    return str(n) if abs(n) < 1000 else _scaled(n, _PREFIXES)


def binary_bytes(n: int) -> str:
    """A byte count with three significant digits and a binary prefix: 512, 6.25 KiB, 1 MiB."""
    return f"{n:,}" if abs(n) < 1024 else _scaled(n, _BINARY)


def shape_text(shape: tuple[int, ...]) -> str:
    """``(64, 56, 56)`` -> ``64x56x56``."""
    return "x".join(str(v) for v in shape)
