"""What the importer sees of an ONNX model: plain python values read from the protobuf wire
format by ``parse`` (no ``import onnx``). The classes keep onnx.proto's field names (``node``,
``initializer``, ``op_type``, ``input``, ``attribute``, ...), so code written against the protos
reads them the same way. Everything is immutable except a node's name (``patterns`` names unnamed
nodes as the importer labels them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, NamedTuple

from archcalc.frozen import quick_init

#: AttributeProto.AttributeType
UNDEFINED, FLOAT, INT, STRING, TENSOR, GRAPH, FLOATS, INTS, STRINGS, TENSORS, GRAPHS = range(11)
SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTO, TYPE_PROTOS = 11, 12, 13, 14
#: TensorProto.DataLocation.EXTERNAL
EXTERNAL = 1


@dataclass(frozen=True, slots=True)
class Entry:
    """StringStringEntryProto (metadata, external-data location); invalid UTF-8 is kept as bytes."""

    key: str | bytes
    value: str | bytes


@dataclass(frozen=True, slots=True)
class OpsetId:
    domain: str
    version: int


@quick_init
@dataclass(frozen=True, slots=True)
class Tensor:
    name: str
    dims: tuple[int, ...]
    data_type: int
    data_location: int = 0
    external_data: tuple[Entry, ...] = ()
    #: the data fields as stored, ``(field number, wire type, payload)``; ``None``: read as dims only
    data: tuple[tuple[int, int, bytes], ...] | None = ()

    @property
    def size(self) -> int:
        return prod(self.dims)

    @property
    def has_data(self) -> bool:
        """Values stored in the file and kept (an empty tensor has its values: none)."""
        return self.data_location != EXTERNAL and self.data is not None and (bool(self.data) or self.size == 0)


@dataclass(frozen=True, slots=True)
class Sparse:
    values: Tensor
    indices: Tensor


@dataclass(frozen=True, slots=True)
class ValueInfo:
    name: str
    elem_type: int = 0
    #: declared dims (an int, a symbolic name, or None for an unnamed unknown); None: no shape declared
    dims: tuple[int | str | None, ...] | None = None


class Attribute(NamedTuple):
    """A NamedTuple (immutable, and several times faster to make than a frozen dataclass: a model
    has one per node attribute)."""

    name: str
    type: int
    #: the value as onnx.helper.get_attribute_value gives it (tensors and graphs as views)
    value: Any
    ref_attr_name: str = ""
    #: every tensor and graph stored in the attribute whatever its type says (checks look at all)
    tensors: tuple[Tensor, ...] = ()
    graphs: tuple[Graph, ...] = ()


@dataclass(slots=True)
class Node:
    name: str
    op_type: str
    domain: str
    input: tuple[str, ...]
    output: tuple[str, ...]
    attribute: tuple[Attribute, ...]


@dataclass(frozen=True, slots=True)
class Graph:
    name: str = ""
    node: tuple[Node, ...] = ()
    initializer: tuple[Tensor, ...] = ()
    sparse_initializer: tuple[Sparse, ...] = ()
    input: tuple[ValueInfo, ...] = ()
    output: tuple[ValueInfo, ...] = ()
    #: ``value_info`` as stored, each message's bytes (or, if large, read): ``parse.value_infos`` reads them
    value_info_raw: tuple[bytes | ValueInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    node: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Model:
    ir_version: int = 0
    opset_import: tuple[OpsetId, ...] = ()
    producer_name: str = ""
    producer_version: str = ""
    graph: Graph = field(default_factory=Graph)
    metadata_props: tuple[Entry, ...] = ()
    functions: tuple[Function, ...] = ()
    #: TrainingInfoProto's graphs (initialization, algorithm)
    training_graphs: tuple[Graph, ...] = ()
