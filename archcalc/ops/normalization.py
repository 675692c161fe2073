"""Normalisation with statistics computed at run time: layer, group and instance normalisation.

Unlike BatchNorm at inference (a folded per-channel affine), these compute a mean and a variance
of each normalisation group for every sample. Counting:

- parameters: the scale and shift (``affine``, the BN scale/shift convention): per channel for
  GroupNorm and InstanceNorm (per group for ONNX GroupNormalization-18, ``affine: per_group``),
  per normalised element for LayerNorm (``prod`` of the normalised axes). No buffers.
- FLOPs, "norm" category, per element: mean 1 (add), variance 3 (subtract, square, add),
  normalise 2 (subtract the mean, multiply by the reciprocal standard deviation), scale 1 and
  shift 1 when affine: ``(6 + 2) * elements`` (``6 * elements`` without affine, 7 without shift).
  The per-group ``sqrt(var + eps)`` is not counted (a few FLOPs per group, not per element).
- receptive field: the data path (each output reads its own input position); the statistics, to
  which a whole group contributes, are not counted as a field (as BatchNorm's batch statistics
  are not).
- kernel class REDUCE: a reduction plus an elementwise pass, memory-bound; never fuses into a conv.

ONNX: LayerNormalization (opset 17+), GroupNormalization (opset 18: scale per group; opset 21:
per channel), InstanceNormalization. A scale of all ones with a shift of all zeros (what exporters
write for ``affine=False``) is the identity: not counted as parameters, with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ExportError, OnnxImportError, ShapeError, SpecError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num
from archcalc.ops._emit import Builder, Shape, record_group
from archcalc.ops._onnx import Const, LayerSpec, Node
from archcalc.ops.base import Applied, Attr, Cost, Op, boolean, choice, number, pos_int
from archcalc.ops.facts import KernelClass

IDENTITY_NOTE = "scale all ones and shift all zeros (the exporter's affine=False): not counted as parameters"


def norm_flops(elements: int, affine: bool, shift: bool = True) -> int:
    """The documented per-element count: mean 1, variance 3, normalise 2, scale 1, shift 1."""
    return (6 + (1 + int(shift) if affine else 0)) * elements


def norm_steps(affine: int, per: str, elements: int, has_affine: bool, shift: bool = True) -> dict[str, Step]:
    """Steps of a normalisation: ``affine`` scale/shift parameters (``per`` says of what) and its
    FLOPs, by :func:`norm_flops`."""
    flops = norm_flops(elements, has_affine, shift)
    per_element = flops // elements if elements else 0
    terms = "mean 1, variance 3, normalise 2" + (", scale 1" if has_affine else "") + \
        (", shift 1" if has_affine and shift else "")
    return {
        "affine": Step(affine, f"a scale{' and a shift' if shift else ''} {per}" if affine else "no scale or shift",
                       "affine = (1 + shift) x normalised elements" if affine else "affine = 0", num(affine)),
        "cheap:norm": Step(flops, f"{per_element} FLOPs per element ({terms})", "norm FLOPs = per element x elements",
                           f"{per_element} x {num(elements)} = {num(flops)}"),
    }


def is_identity(scale: Const | None, shift: Const | None) -> bool:
    """Scale all ones and shift (if any) all zeros, with known values."""
    scales = scale.flat() if scale is not None else None
    if scales is None or any(v != 1 for v in scales):
        return False
    shifts = shift.flat() if shift is not None else []
    return shifts is not None and all(v == 0 for v in shifts)


def _affine_params(node: Node, c: int | None, what: str) -> tuple[Const, Const | None, list[str]]:
    scale = node.const(1, "scale")
    shift = node.const(2, "bias") if node.get(2) is not None else None
    for t, name in ((scale, "scale"), (shift, "bias")):
        if t is not None and c is not None and t.size != c:
            raise OnnxImportError(f"{node.op_type} {name} has {t.size} values for {c} {what}")
    names = [node.input_names[1]] + ([node.input_names[2]] if shift is not None else [])
    return scale, shift, names


def layernorm_from_onnx(node: Node) -> LayerSpec:
    """LayerNormalization (opset 17+): normalises over the axes from ``axis`` on (default -1)."""
    x = node.act(0)
    rank = len(x.shape)
    axis = int(node.attrs.get("axis", -1))
    a = axis % rank
    if a == 0:
        raise OnnxImportError(f"LayerNormalization axis {axis} normalises over the batch axis too")
    scale, shift, names = _affine_params(node, prod(x.shape[a:]), "normalised elements")
    identity = is_identity(scale, shift)
    attrs = {"over": "last", "axes": rank - a, "affine": not identity, "bias": shift is not None,
             "eps": float(node.attrs.get("epsilon", 1e-5))}
    return LayerSpec("layernorm", attrs, [node.input_names[0]], {} if identity else {"affine": names},
                     notes=[IDENTITY_NOTE] if identity else [])


def groupnorm_from_onnx(node: Node) -> LayerSpec:
    """GroupNormalization: scale and bias per group at opset 18-20, per channel from opset 21."""
    x = node.act(0)
    groups = int(node.attrs["num_groups"])
    per_group = node.opset < 21
    scale, shift, names = _affine_params(node, groups if per_group else x.sample[0],
                                         "groups" if per_group else "channels")
    identity = is_identity(scale, shift)
    affine: bool | str = False if identity else ("per_group" if per_group else True)
    return LayerSpec("groupnorm", {"groups": groups, "affine": affine, "eps": float(node.attrs.get("epsilon", 1e-5))},
                     [node.input_names[0]], {} if identity else {"affine": names},
                     notes=[IDENTITY_NOTE] if identity else [])


def instancenorm_from_onnx(node: Node) -> LayerSpec:
    x = node.act(0)
    scale, shift, names = _affine_params(node, x.sample[0], "channels")
    identity = is_identity(scale, shift)
    return LayerSpec("instancenorm", {"affine": not identity, "eps": float(node.attrs.get("epsilon", 1e-5))},
                     [node.input_names[0]], {} if identity else {"affine": names},
                     notes=[IDENTITY_NOTE] if identity else [])


def _affine_choice(value: Any, key: str) -> bool | str:
    if isinstance(value, bool) or value == "per_group":
        return value
    raise SpecError(f"{key} must be true, false or per_group, got {value!r}")


def _scale_shift(b: Builder, layer: Layer, shape: tuple[int, ...], affine: bool, shift: bool = True) -> list[str]:
    import numpy as np

    name = layer.name
    scale = b.weight(f"{name}.scale", shape, 1, fill=None if affine else np.ones(shape, np.float32), scale=0.1)
    if not shift:
        return [scale]
    return [scale, b.weight(f"{name}.shift", shape, 1, fill=None if affine else np.zeros(shape, np.float32),
                            scale=0.1)]


class LayerNorm(Op):
    kind = "layernorm"
    family = "norm"
    aliases = ("layer_norm", "layernorm2d", "layer_normalization")
    schema = {
        "over": Attr(choice("channels", "last"), default="channels",
                     doc="channels: each position over its channels (ConvNeXt's LayerNorm2d); last: the last axes"),
        "axes": Attr(pos_int, default=1, doc="over: last: how many trailing axes are normalised together"),
        "affine": Attr(boolean, default=True, doc="learned scale (and shift) per normalised element"),
        "bias": Attr(boolean, default=True, doc="with the shift"),
        "eps": Attr(number, default=1e-5),
    }
    doc = "layer normalisation (over the channels at each position, or over the last axes)"
    doc_notes = ("`over: channels` (default) or `over: last` with `axes: k`; parameters: scale and shift per "
                 "normalised element; (6 + 2) FLOPs per element (mean 1, variance 3, normalise 2, scale, shift)")
    kernel_class = KernelClass.REDUCE

    def cost_unit(self, attrs: Mapping[str, Any]) -> str | None:
        """ORT's LayerNormalization (between two transposes over the channels of an NCHW map)."""
        return f"norm:layernorm:{'channels' if attrs.get('over') == 'channels' else 'last'}"
    translators = {"LayerNormalization": layernorm_from_onnx}
    export_refusal = "layernorm needs LayerNormalization: export at opset 17 or newer"

    def normalised(self, attrs: Mapping[str, Any], shape: tuple[int, ...]) -> tuple[int, ...]:
        if attrs["over"] == "channels":
            return shape[:1]
        if attrs["axes"] > len(shape):
            raise ShapeError(f"layernorm over the last {attrs['axes']} axes of a {len(shape)}-axis sample")
        return shape[len(shape) - attrs["axes"]:]

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        per = prod(self.normalised(attrs, shape))
        affine = (1 + int(attrs["bias"])) * per if attrs["affine"] else 0
        return Applied(outs=(shape,), cost=Cost(affine=affine, cheap=(
            ("norm", norm_flops(prod(shape), attrs["affine"], attrs["bias"])),)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        shape = ins[0]
        per = prod(self.normalised(attrs, shape))
        affine = (1 + int(attrs["bias"])) * per if attrs["affine"] else 0
        return norm_steps(affine, f"per normalised element ({per})", prod(shape), attrs["affine"], attrs["bias"])

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        if b.opset < 17:
            raise ExportError(self.export_refusal)
        a = layer.attrs
        shape = in_shapes[0]
        start = len(b.nodes)
        name = layer.name
        params = _scale_shift(b, layer, self.normalised(a, shape), a["affine"], a["bias"])
        eps = float(a["eps"])
        r = len(shape) + 1
        if a["over"] == "channels" and r > 2:
            (t,) = b.node("Transpose", ins[:1], 1, f"{name}/to_last", perm=[0, *range(2, r), 1])
            (n,) = b.node("LayerNormalization", [t, *params], 1, f"{name}/norm", axis=-1, epsilon=eps)
            out = b.node("Transpose", [n], [b.unique(name)], name, perm=[0, r - 1, *range(1, r - 1)])
        else:
            axes = 1 if a["over"] == "channels" else int(a["axes"])
            out = b.node("LayerNormalization", [ins[0], *params], [b.unique(name)], name, axis=-axes, epsilon=eps)
        record_group(b, layer, ins, out, start)
        return out


class GroupNorm(Op):
    kind = "groupnorm"
    family = "norm"
    aliases = ("group_norm", "group_normalization")
    schema = {
        "groups": Attr(pos_int, required=True, doc="channel groups (each normalised over its channels and positions)"),
        "affine": Attr(_affine_choice, default=True,
                       doc="true: scale and shift per channel; per_group (ONNX GroupNormalization-18); false"),
        "eps": Attr(number, default=1e-5),
    }
    doc = "group normalisation (statistics per sample and channel group)"
    doc_notes = ("`groups` must divide the channels; parameters: scale and shift per channel (`affine: per_group`: "
                 "per group); 8 FLOPs per element (see layernorm)")
    kernel_class = KernelClass.REDUCE

    def cost_unit(self, attrs: Mapping[str, Any]) -> str | None:
        return "norm:groupnorm"
    translators = {"GroupNormalization": groupnorm_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        c, g = shape[0], attrs["groups"]
        if c % g:
            raise ShapeError(f"groupnorm: {g} groups do not divide {c} channels")
        affine = {True: 2 * c, "per_group": 2 * g, False: 0}[attrs["affine"]]
        return Applied(outs=(shape,), cost=Cost(affine=affine, cheap=(
            ("norm", norm_flops(prod(shape), attrs["affine"] is not False)),)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        shape = ins[0]
        c, g = shape[0], attrs["groups"]
        affine = {True: 2 * c, "per_group": 2 * g, False: 0}[attrs["affine"]]
        per = f"per group ({g})" if attrs["affine"] == "per_group" else f"per channel ({c})"
        return norm_steps(affine, per, prod(shape), attrs["affine"] is not False)

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        """GroupNormalization at opset 21+ for a per-channel affine; otherwise Reshape ->
        InstanceNormalization -> Reshape (-> Mul -> Add), as PyTorch writes it."""
        a = layer.attrs
        shape = in_shapes[0]
        c, g, eps, name = shape[0], int(a["groups"]), float(a["eps"]), layer.name
        affine = a["affine"]
        start = len(b.nodes)
        if affine is True and b.opset >= 21:  # (GroupNormalization-18 is deprecated: onnx.checker refuses it)
            params = _scale_shift(b, layer, (c,), True)
            out = b.node("GroupNormalization", [ins[0], *params], [b.unique(name)], name, num_groups=g, epsilon=eps)
            return out
        (r,) = b.node("Reshape", [ins[0], b.const(f"{name}/groups", [0, g, -1])], 1, f"{name}/to_groups")
        (n,) = b.node("InstanceNormalization", [r, *_scale_shift(b, layer, (g,), affine == "per_group")], 1,
                      f"{name}/norm", epsilon=eps)
        target = b.const(f"{name}/shape", [0, *shape])
        if affine is not True:
            out = b.node("Reshape", [n, target], [b.unique(name)], name)
        else:
            (back,) = b.node("Reshape", [n, target], 1, f"{name}/back")
            side = (c,) + (1,) * (len(shape) - 1)
            (m,) = b.node("Mul", [back, b.weight(f"{name}.scale", side, 1, scale=0.1)], 1, f"{name}/scale")
            out = b.node("Add", [m, b.weight(f"{name}.shift", side, 1, scale=0.1)], [b.unique(name)], name)
        record_group(b, layer, ins, out, start)
        return out


class InstanceNorm(Op):
    kind = "instancenorm"
    family = "norm"
    aliases = ("instance_norm", "instancenorm2d", "instance_normalization")
    schema = {
        "affine": Attr(boolean, default=False, doc="learned scale and shift per channel (PyTorch's default: false)"),
        "eps": Attr(number, default=1e-5),
    }
    doc = "instance normalisation (statistics per sample and channel)"
    doc_notes = "parameters: scale and shift per channel when `affine: true`; 6 FLOPs per element, 8 with affine"
    kernel_class = KernelClass.REDUCE

    def cost_unit(self, attrs: Mapping[str, Any]) -> str | None:
        return "norm:instancenorm"
    translators = {"InstanceNormalization": instancenorm_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        return Applied(outs=(shape,), cost=Cost(affine=2 * shape[0] if attrs["affine"] else 0, cheap=(
            ("norm", norm_flops(prod(shape), attrs["affine"])),)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        shape = ins[0]
        affine = 2 * shape[0] if attrs["affine"] else 0
        return norm_steps(affine, f"per channel ({shape[0]})", prod(shape), attrs["affine"])

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        start = len(b.nodes)
        params = _scale_shift(b, layer, (in_shapes[0][0],), layer.attrs["affine"])
        out = b.node("InstanceNormalization", [ins[0], *params], [b.unique(layer.name)], layer.name,
                     epsilon=float(layer.attrs["eps"]))
        if not layer.attrs["affine"]:
            record_group(b, layer, ins, out, start)
        return out
