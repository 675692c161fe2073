"""An operation archcalc does not model (an imported ONNX op let through with --allow-unknown).

Its output shapes come from ONNX shape inference; it is counted as nothing and every report says
so (table footer, JSON ``uncounted``, CSV comment); its receptive field is unknown, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archcalc.errors import SpecError
from archcalc.ops.base import UNKNOWN, Applied, Attr, Cost, Op, text
from archcalc.ops.facts import KernelClass


def _shapes(value: Any, key: str) -> tuple[tuple[int, ...], ...]:
    if isinstance(value, (list, tuple)) and value and all(
        isinstance(s, (list, tuple)) and all(isinstance(v, int) and v >= 0 for v in s) for s in value
    ):
        return tuple(tuple(s) for s in value)
    raise SpecError(f"{key} must be a list of shapes, got {value!r}")


class Unknown(Op):
    kind = "unknown"
    family = "unknown"
    arity = (0, None)
    schema = {
        "op_type": Attr(text, required=True, doc="the op it stands for"),
        "shapes": Attr(_shapes, required=True, doc="per-sample output shapes (from shape inference)"),
    }
    doc = "an op that is not modelled: shapes from ONNX shape inference, counted as nothing"
    kernel_class = KernelClass.UNKNOWN
    import_note = "made by the importer for ONNX ops archcalc does not model (with --allow-unknown)"
    export_refusal = "an unknown layer stands for an ONNX op archcalc does not model: it has no ONNX form to write"

    def n_outputs(self, attrs: Mapping[str, Any]) -> int:
        return len(attrs["shapes"])

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=attrs["shapes"], cost=Cost(), rf=UNKNOWN)
