"""Stochastic depth / DropPath (Huang et al. 2016; timm's ``DropPath``): during training a whole
residual branch is dropped per sample with probability ``rate``; at inference it is the identity.

No parameters, no FLOPs, no buffer of its own (a view); kernel class ELIMINATED (nothing runs).
Exporters write nothing for it at inference, so no ONNX op imports as one: archcalc's export
writes an Identity node with a metadata record, restored on import.
"""

from __future__ import annotations

from archcalc.ir import Layer
from archcalc.ops._emit import Builder, Shape, record_group
from archcalc.ops.base import Attr
from archcalc.ops.shape_ops import Dropout, rate


class DropPath(Dropout):
    """Dropout's rule and facts (a view, identity at inference, a rate in [0, 1)); its own name,
    default rate, ONNX form (Identity plus an export record) and docs."""

    kind = "drop_path"
    family = "shape"
    aliases = ("stochastic_depth", "droppath")
    schema = {"rate": Attr(rate, default=0.0,
                           doc="probability of dropping the branch (training only); a number or a ratio p/q")}
    doc = "stochastic depth / DropPath (identity at inference)"
    doc_notes = "no parameters, no work at inference; `rate` as dropout's"
    translators = {}
    import_note = "exporters write nothing for it at inference; archcalc's export writes Identity and a record"

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        start = len(b.nodes)
        out = b.node("Identity", ins[:1], [b.unique(layer.name)], layer.name)
        record_group(b, layer, ins, out, start)
        return out
