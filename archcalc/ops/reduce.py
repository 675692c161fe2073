"""Reductions over axes (ReduceMean, ReduceMax, ...): no parameters; one "pool" FLOP per input
element. Reducing every spatial axis makes the receptive field global.

ReduceMean (ReduceMax) over every spatial axis with keepdims is global average (max) pooling, and imports
as ``global_avgpool`` (``global_maxpool``): PyTorch's dynamo exporter writes ``nn.AdaptiveAvgPool2d(1)`` so,
the legacy exporter GlobalAveragePool, and the counters' presets (fvcore, ptflops) cost global pooling, so
the same model must not count differently by exporter. A ``reduce`` layer of that form exported by archcalc
carries its kind in the model's metadata and comes back as ``reduce``."""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ShapeError, SpecError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num
from archcalc.ops._emit import Builder, Shape, one, record_group
from archcalc.ops._onnx import LayerSpec, Node, optional_axes, sample_axis
from archcalc.ops._window import format_shape
from archcalc.ops.base import GLOBAL, PASS, Applied, Attr, Cost, Op, boolean, choice
from archcalc.ops.facts import KernelClass

#: reduce op -> ONNX op
_ONNX = {"mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin", "sum": "ReduceSum", "prod": "ReduceProd",
         "l1": "ReduceL1", "l2": "ReduceL2", "logsumexp": "ReduceLogSumExp", "sumsquare": "ReduceSumSquare"}
_FROM_ONNX = {v: k for k, v in _ONNX.items()}


def reduce_from_onnx(node: Node) -> LayerSpec:
    """Reduce*: axes as an attribute (opset < 18, < 13 for ReduceSum) or an input; none = all axes."""
    x = node.act(0)
    axes = optional_axes(node, 1)
    rank = len(x.shape)
    if axes is None or len(axes) == 0:
        if node.attrs.get("noop_with_empty_axes", 0):
            return LayerSpec("identity", {}, [node.input_names[0]])
        axes = list(range(rank))
    sample_axes = sorted({sample_axis(int(a), rank, node.op_type) for a in axes})
    keep = bool(node.attrs.get("keepdims", 1))
    if _is_global_pool(node.op_type, sample_axes, rank - 1, keep):
        return LayerSpec("global_avgpool" if node.op_type == "ReduceMean" else "global_maxpool", {},
                         [node.input_names[0]])
    return LayerSpec("reduce", {"op": _FROM_ONNX[node.op_type], "axes": sample_axes, "keepdims": keep},
                     [node.input_names[0]])


def _is_global_pool(op_type: str, sample_axes: list[int], sample_rank: int, keepdims: bool) -> bool:
    """Mean or max over every spatial axis (not the channels), keeping the axes."""
    return (op_type in ("ReduceMean", "ReduceMax") and keepdims and sample_rank >= 2
            and sample_axes == list(range(1, sample_rank)))


def _axes(value: Any, key: str) -> tuple[int, ...]:
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                 for v in value):
        return tuple(sorted(set(value)))
    raise SpecError(f"{key} must be a list of per-sample axes (0 = channels), got {value!r}")


class Reduce(Op):
    kind = "reduce"
    family = "pool"
    schema = {
        "op": Attr(choice("mean", "max", "min", "sum", "prod", "l1", "l2", "logsumexp", "sumsquare"),
                   default="mean"),
        "axes": Attr(_axes, required=True, doc="per-sample axes (0 = channels)"),
        "keepdims": Attr(boolean, default=True),
    }
    doc = "reduction over axes (mean over all spatial axes = global average pooling)"
    doc_notes = "op mean/max/min/sum/prod/l1/l2/logsumexp/sumsquare"
    kernel_class = KernelClass.REDUCE
    translators = dict.fromkeys(_FROM_ONNX, reduce_from_onnx)

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        axes = attrs["axes"]
        if axes[-1] >= len(shape):
            raise ShapeError(f"reduce axes {list(axes)} do not exist in shape {format_shape(shape)}")
        if attrs["keepdims"]:
            out = tuple(1 if i in axes else d for i, d in enumerate(shape))
        else:
            out = tuple(d for i, d in enumerate(shape) if i not in axes)
        n = prod(shape)
        spatial = set(range(1, len(shape)))
        rule = GLOBAL if spatial and spatial <= set(axes) else PASS
        if rule == PASS and set(axes) & spatial:
            rule = GLOBAL  # a partial spatial reduction mixes positions along those axes
        return Applied(outs=(out or (1,),), cost=Cost(connections=n, cheap=(("pool", n),)), rf=rule)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        shape = ins[0]
        n = prod(shape)
        flat = f"{' x '.join(map(str, shape))} = {num(n)}"
        return {"connections": Step(n, f"every input element reaches the {attrs['op']} over axes {list(attrs['axes'])}",
                                    "connections = input elements", flat),
                "cheap:pool": Step(n, "one operation per input element", "pool FLOPs = input elements", flat)}

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        a = layer.attrs
        op = _ONNX[a["op"]]
        axes = [ax + 1 for ax in a["axes"]]
        keep = int(bool(a["keepdims"]))
        start = len(b.nodes)
        if b.opset >= 18 or (op == "ReduceSum" and b.opset >= 13):
            out = one(b, op, layer, [ins[0], b.const(f"{layer.name}/axes", axes)], keepdims=keep)
        else:
            out = one(b, op, layer, ins[:1], axes=axes, keepdims=keep)
        if _is_global_pool(op, list(a["axes"]), len(in_shapes[0]), bool(keep)):
            record_group(b, layer, ins, out, start)  # else it would come back as global pooling
        return out
