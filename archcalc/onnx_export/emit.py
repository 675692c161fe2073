"""archcalc layer -> ONNX nodes: the dispatch.

The emitters live with their layer families (``archcalc/ops/<family>.py``, each op's ``emit``,
or its ``export_refusal`` saying why it is not exported); the builder interface they write into
is ``archcalc/ops/_emit.py``.
"""

from __future__ import annotations

from archcalc.errors import ExportError
from archcalc.ir import Layer
from archcalc.ops import REGISTRY
from archcalc.ops._emit import Builder, Shape

__all__ = ["ExportError", "emit_layer"]


def emit_layer(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    """The output tensor names of ``layer``, written as nodes into ``b`` by its op."""
    return REGISTRY[layer.kind].emit(b, layer, ins, in_shapes, outs)
