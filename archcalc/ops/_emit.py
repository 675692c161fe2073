"""The ONNX side of an op module, export direction: the builder an emitter writes nodes into.

Low level on purpose (no onnx, no numpy at import): ``onnx_export`` implements ``Builder`` and
imports ``ops``; an op module only sees this interface.

An emitter (``Op.emit``) gets the builder, the layer, its input tensor names and per-sample
shapes, and the per-sample output shapes the analysis computed; it returns the output tensor
names. The main node carries the layer's name. A layer that needs several nodes, tied or masked
weights records a ``Group`` so import can restore the original layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from archcalc.ir import Layer, plain

Shape = tuple[int, ...]


@dataclass
class Group:
    """Several ONNX nodes (or tied/masked weights) standing for one archcalc layer."""

    layer: str
    kind: str
    attrs: dict[str, Any]
    inputs: list[str]
    output: list[str]
    nodes: list[str] = field(default_factory=list)


class Builder(Protocol):
    """What an emitter may use of the ONNX graph builder (``onnx_export.builder.Builder``)."""

    opset: int
    batch: int | None
    rng: Any  # numpy.random.Generator, seeded
    nodes: list[Any]
    groups: list[Group]
    notes: list[str]

    def unique(self, name: str) -> str: ...

    def const(self, name: str, value: Any, dtype: Any = ...) -> str: ...

    def weight(self, name: str, shape: tuple[int, ...], fan_in: int, fill: Any = None,
               scale: float | None = None) -> str: ...

    def positive(self, name: str, shape: tuple[int, ...]) -> str: ...

    def node(self, op_type: str, inputs: list[str], outputs: list[str] | int, name: str, **attrs: Any) -> list[str]: ...

    def shape_of(self, tensor: str, name: str, sample: tuple[int, ...]) -> str: ...


def record_group(b: Builder, layer: Layer, inputs: list[str], outputs: list[str], first_node: int) -> None:
    """Record that the nodes from ``first_node`` on stand for ``layer`` (restored on import)."""
    attrs = {k: plain(v) for k, v in layer.attrs.items() if v is not None}  # None = the default
    b.groups.append(Group(layer.name, layer.kind, attrs, inputs, outputs,
                          [n.name for n in b.nodes[first_node:] if n.op_type != "ConstantOfShape"]))


def pads_flat(pads: tuple[tuple[int, int], ...]) -> list[int]:
    """Per-axis (before, after) pads as ONNX's [begin..., end...]."""
    return [p[0] for p in pads] + [p[1] for p in pads]


def one(b: Builder, op_type: str, layer: Layer, inputs: list[str], **attrs: Any) -> list[str]:
    """The layer as a single node named after it."""
    return b.node(op_type, inputs, [b.unique(layer.name)], layer.name, **attrs)
