"""The network input: a tensor of a given per-sample shape (channels first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archcalc.ops.base import Applied, Attr, Cost, Op, sizes
from archcalc.ops.facts import KernelClass


class Input(Op):
    kind = "input"
    family = "input"
    arity = (0, 0)
    schema = {"shape": Attr(sizes, required=True, doc="[channels, *spatial]")}
    doc = "the network input"
    kernel_class = KernelClass.NONE
    import_note = "the model's graph inputs (not nodes) become input layers"
    export_refusal = "an input layer is a graph input of the exported model, not a node"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=(attrs["shape"],), cost=Cost())
