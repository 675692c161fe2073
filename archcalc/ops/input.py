"""The network input: a tensor of a given per-sample shape (channels first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archcalc.ops.base import Applied, Attr, Cost, Op, SpecError


def _shape(value: Any, key: str) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)) and value and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        if any(v < 1 for v in value):
            raise SpecError(f"{key} sizes must be positive, got {list(value)}")
        return tuple(int(v) for v in value)
    raise SpecError(f"{key} must be a list of positive sizes (channels first), got {value!r}")


class Input(Op):
    kind = "input"
    family = "input"
    arity = (0, 0)
    schema = {"shape": Attr(_shape, required=True, doc="[channels, *spatial]")}
    doc = "the network input"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=(attrs["shape"],), cost=Cost())
