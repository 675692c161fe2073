"""Data movement between channels and space: pixel shuffle, pixel unshuffle, channel shuffle.

No parameters, no FLOPs: every output element is a copy of one input element (kernel class
DATA_MOVEMENT). Shapes, per sample (C, H, W), factor r:

- ``pixel_shuffle`` (depth to space, ONNX DepthToSpace): (C, H, W) -> (C/r², rH, rW); ``mode``
  CRD (PyTorch's ``nn.PixelShuffle``: channel ``c*r² + i*r + j`` goes to (c, ri, rj)) or DCR
  (TensorFlow's depth_to_space: channel ``(i*r + j)*C' + c``).
- ``pixel_unshuffle`` (space to depth): the inverse, (C, H, W) -> (Cr², H/r, W/r); ONNX
  SpaceToDepth orders the channels as DCR; PyTorch's ``nn.PixelUnshuffle`` as CRD (exported as
  Reshape -> Transpose -> Reshape, recognised in that form on import: ``onnx_import/patterns.py``).
- ``channel_shuffle`` (ShuffleNet): (C, ...) unchanged, channel ``i*C/g + j`` goes to ``j*g + i``;
  ONNX has no op for it: exported as Reshape -> Transpose -> Reshape and recognised in that form
  on import.

Receptive fields. Space to depth is a window of r×r with stride r (output position (i, j) holds
the input block rows ri..ri+r-1, columns rj..rj+r-1): the jump multiplies by r and the size
grows by (r-1)·jump, as a stride-r convolution of kernel r. Depth to space sends output (y, x) to
input (y//r, x//r): the rule of nearest upsampling by r (the jump divides by r, the size is
unchanged). A channel shuffle does not move positions: the field passes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from archcalc.errors import ShapeError
from archcalc.ir import Layer
from archcalc.ops._emit import Builder, Shape, one, record_group
from archcalc.ops._onnx import LayerSpec, Node
from archcalc.ops._window import format_shape
from archcalc.ops.base import PASS, Applied, Attr, Cost, Op, Window, choice, pos_int
from archcalc.ops.facts import KernelClass

MODES = ("CRD", "DCR")


def depth_to_space_from_onnx(node: Node) -> LayerSpec:
    """DepthToSpace: ``mode`` from opset 11 (DCR before, and by default)."""
    x = node.act(0)
    if len(x.shape) != 4:
        raise ShapeError(f"DepthToSpace needs a 4-D input, got {list(x.shape)}")
    mode = node.text("mode", "DCR") if node.opset >= 11 else "DCR"
    return LayerSpec("pixel_shuffle", {"factor": int(node.attrs["blocksize"]), "mode": mode.upper()},
                     [node.input_names[0]])


def space_to_depth_from_onnx(node: Node) -> LayerSpec:
    x = node.act(0)
    if len(x.shape) != 4:
        raise ShapeError(f"SpaceToDepth needs a 4-D input, got {list(x.shape)}")
    return LayerSpec("pixel_unshuffle", {"factor": int(node.attrs["blocksize"]), "mode": "DCR"},
                     [node.input_names[0]])


def _chw(shape: tuple[int, ...], kind: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"{kind} needs a (C, H, W) input, got {format_shape(shape)}")
    return shape[0], shape[1], shape[2]


class PixelShuffle(Op):
    kind = "pixel_shuffle"
    family = "rearrange"
    aliases = ("depth_to_space", "pixelshuffle")
    schema = {
        "factor": Attr(pos_int, required=True, doc="upscale factor r"),
        "mode": Attr(choice(*MODES), default="CRD", doc="channel order: CRD (PyTorch) or DCR (TensorFlow)"),
    }
    doc = "depth to space: (C, H, W) -> (C/r², rH, rW)"
    doc_notes = "no parameters; receptive field as nearest upsampling by r (jump / r)"
    kernel_class = KernelClass.DATA_MOVEMENT

    def cost_unit(self, attrs: Mapping[str, Any]) -> str | None:
        return f"move:{self.kind}"  # a strided copy: ORT's DepthToSpace, 6-D and 5-D Transposes
    translators = {"DepthToSpace": depth_to_space_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        c, h, w = _chw(ins[0], self.kind)
        r = attrs["factor"]
        if c % (r * r):
            raise ShapeError(f"pixel_shuffle by {r} needs channels divisible by {r * r}, got {c}")
        step = Fraction(1, r)
        return Applied(outs=((c // (r * r), h * r, w * r),), cost=Cost(), rf=Window(((1, step, step - 1),) * 2))

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        return one(b, "DepthToSpace", layer, ins[:1], blocksize=int(layer.attrs["factor"]), mode=layer.attrs["mode"])


class PixelUnshuffle(Op):
    kind = "pixel_unshuffle"
    family = "rearrange"
    aliases = ("space_to_depth", "pixelunshuffle")
    schema = {
        "factor": Attr(pos_int, required=True, doc="downscale factor r"),
        "mode": Attr(choice(*MODES), default="CRD", doc="channel order: CRD (PyTorch) or DCR (ONNX SpaceToDepth)"),
    }
    doc = "space to depth: (C, H, W) -> (Cr², H/r, W/r)"
    doc_notes = "no parameters; receptive field as a stride-r window of r (jump × r)"
    kernel_class = KernelClass.DATA_MOVEMENT

    def cost_unit(self, attrs: Mapping[str, Any]) -> str | None:
        return f"move:{self.kind}"  # a strided copy: ORT's DepthToSpace, 6-D and 5-D Transposes
    translators = {"SpaceToDepth": space_to_depth_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        c, h, w = _chw(ins[0], self.kind)
        r = attrs["factor"]
        if h % r or w % r:
            raise ShapeError(f"pixel_unshuffle by {r} needs height and width divisible by {r}, got {h}x{w}")
        return Applied(outs=((c * r * r, h // r, w // r),), cost=Cost(), rf=Window(((r, r, r - 1),) * 2))

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        r = int(layer.attrs["factor"])
        if layer.attrs["mode"] == "DCR":
            return one(b, "SpaceToDepth", layer, ins[:1], blocksize=r)
        c, h, w = in_shapes[0]
        name = layer.name
        start = len(b.nodes)
        (split,) = b.node("Reshape", [ins[0], b.const(f"{name}/blocks", [0, c, h // r, r, w // r, r])], 1,
                          f"{name}/blocks")
        (t,) = b.node("Transpose", [split], 1, f"{name}/permute", perm=[0, 1, 3, 5, 2, 4])
        out = b.node("Reshape", [t, b.const(f"{name}/shape", [0, *outs[0]])], [b.unique(name)], name)
        record_group(b, layer, ins, out, start)
        return out


class ChannelShuffle(Op):
    kind = "channel_shuffle"
    family = "rearrange"
    aliases = ("shuffle",)
    schema = {"groups": Attr(pos_int, required=True, doc="channel groups g (must divide the channels)")}
    doc = "channel shuffle (ShuffleNet): interleave g channel groups"
    doc_notes = "no parameters; exported as Reshape -> Transpose -> Reshape, recognised in that form on import"
    kernel_class = KernelClass.DATA_MOVEMENT

    def cost_unit(self, attrs: Mapping[str, Any]) -> str | None:
        return f"move:{self.kind}"  # a strided copy: ORT's DepthToSpace, 6-D and 5-D Transposes
    import_note = "no ONNX op: Reshape (N, g, C/g, ...) -> Transpose (swap 1, 2) -> Reshape (N, C, ...) is recognised"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        g = attrs["groups"]
        if shape[0] % g:
            raise ShapeError(f"channel_shuffle: {g} groups do not divide {shape[0]} channels")
        return Applied(outs=(shape,), cost=Cost(), rf=PASS)

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        shape = in_shapes[0]
        g, name = int(layer.attrs["groups"]), layer.name
        start = len(b.nodes)
        (split,) = b.node("Reshape", [ins[0], b.const(f"{name}/groups", [0, g, shape[0] // g, *shape[1:]])], 1,
                          f"{name}/groups")
        (t,) = b.node("Transpose", [split], 1, f"{name}/swap", perm=[0, 2, 1, *range(3, len(shape) + 2)])
        out = b.node("Reshape", [t, b.const(f"{name}/shape", [0, *shape])], [b.unique(name)], name)
        record_group(b, layer, ins, out, start)
        return out
