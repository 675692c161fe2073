"""The protobuf wire format of an ONNX model, walked by hand over a memory map: ``Rebuild``, the
model's skeleton (every message copied as is) with every large tensor, wherever it sits, re-encoded as its name,
data type and dims only, so that its data bytes are never read (``reader.read_proto``)."""

from __future__ import annotations

from math import prod

from archcalc.errors import OnnxFileError
from archcalc.onnx_import.walk import RUNS_PAST, VARINT_PAST

#: a tensor with more data bytes than this is read as dims only whatever its dims say
KEEP_BYTES = 1 << 16
#: subgraphs (If branches, Loop bodies) nested deeper than this are refused (protobuf itself
#: parses at most 100 levels of messages, three per subgraph)
MAX_GRAPH_DEPTH = 32
#: the most bytes of a model's structure (everything but large tensors' data) that is parsed
MAX_SKELETON_BYTES = 128 * 2**20
#: the longest single field copied into the skeleton (a name, a doc string, an attribute's list)
MAX_FIELD_BYTES = 16 * 2**20

# protobuf field numbers (onnx.proto)
_MODEL_GRAPH, _MODEL_TRAINING, _MODEL_FUNCTIONS = 7, 20, 25
_TRAINING_GRAPHS = frozenset({1, 2})  # TrainingInfoProto.initialization, .algorithm
_FUNCTION_NODE = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_TENSOR, _ATTR_GRAPH, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_SPARSE_TENSORS = frozenset({1, 2})  # SparseTensorProto.values, .indices
_TENSOR_DIMS, _TENSOR_DTYPE, _TENSOR_NAME = 1, 2, 8
_TENSOR_DATA_LOCATION = 14
_TENSOR_EXTERNAL = 13
_TENSOR_DATA_FIELDS = frozenset({4, 5, 6, 7, 9, 10, 11})



class _Wire:
    """Minimal protobuf wire-format reader over a memoryview."""

    def __init__(self, data: memoryview, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def varint(self) -> int:
        result = 0
        shift = 0
        data = self.data
        while True:
            if self.pos >= self.end:
                raise OnnxFileError(VARINT_PAST)
            byte = data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise OnnxFileError("not an ONNX file (a varint is longer than 10 bytes)")

    def field(self) -> tuple[int, int, int, int]:
        """(field number, wire type, value start, value end) of the next field; varints are read."""
        key = self.varint()
        number, wire = key >> 3, key & 7
        start = self.pos
        if wire == 0:
            self.varint()
        elif wire == 1:
            self.pos += 8
        elif wire == 2:
            length = self.varint()
            start = self.pos
            self.pos += length
        elif wire == 5:
            self.pos += 4
        else:
            raise OnnxFileError(f"not an ONNX file (protobuf wire type {wire} in field {number})")
        if self.pos > self.end or number == 0:
            raise OnnxFileError(RUNS_PAST)
        return number, wire, start, self.pos


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _encode_varint((number << 3) | wire)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def _tensor_summary(data: memoryview, start: int, end: int) -> tuple[tuple[int, ...], int, str, bool, int]:
    """dims, data type, name, external?, data bytes of a TensorProto, without reading its data."""
    wire = _Wire(data, start, end)
    dims: list[int] = []
    dtype = 0
    name = ""
    external = False
    data_bytes = 0
    while wire.pos < wire.end:
        number, kind, s, e = wire.field()
        if number == _TENSOR_DIMS:
            if kind == 2:  # packed
                inner = _Wire(data, s, e)
                while inner.pos < inner.end:
                    dims.append(inner.varint())
            else:
                dims.append(_Wire(data, s, e).varint())
        elif number == _TENSOR_DTYPE:
            dtype = _Wire(data, s, e).varint()
        elif number == _TENSOR_NAME:
            name = bytes(data[s:e]).decode("utf-8", "replace")
        elif number == _TENSOR_DATA_LOCATION:
            external = _Wire(data, s, e).varint() == 1
        elif number in _TENSOR_DATA_FIELDS:
            data_bytes += e - s
    return tuple(dims), dtype, name, external, data_bytes


def _stripped_tensor(dims: tuple[int, ...], dtype: int, name: str) -> bytes:
    out = bytearray()
    if dims:
        packed = b"".join(_encode_varint(d) for d in dims)
        out += _length_delimited(_TENSOR_DIMS, packed)
    out += _key(_TENSOR_DTYPE, 0) + _encode_varint(dtype)
    out += _length_delimited(_TENSOR_NAME, name.encode("utf-8"))
    return bytes(out)


class Rebuild:
    """The skeleton of a message: its fields copied, except the tensors inside it (at any depth:
    graph -> node -> attribute -> tensor or subgraph) re-encoded without their data when large."""

    def __init__(self, data: memoryview, keep: int) -> None:
        self.data, self.keep = data, keep
        #: initializer name -> dims, for initializers of the main graph read without their data
        self.stripped: dict[str, tuple[int, ...]] = {}
        #: other tensors read without their data (Constant nodes, tensor attributes, subgraphs)
        self.stripped_other = 0
        #: bytes of tensor data not read
        self.skipped_bytes = 0
        #: initializers of the main graph whose data lives in an external file
        self.external: list[str] = []
        self.copied = 0

    def copy(self, start: int, end: int) -> memoryview:
        """Bytes copied into the skeleton as they are, within its bounds."""
        if end - start > MAX_FIELD_BYTES:
            raise OnnxFileError(f"a field of {end - start:,} bytes that is not tensor data (the limit is "
                                f"{MAX_FIELD_BYTES // 2**20} MiB): a corrupt or hostile file?")
        self.copied += end - start
        if self.copied > MAX_SKELETON_BYTES:
            raise OnnxFileError(f"the model's structure (everything but its weights) passes "
                                f"{MAX_SKELETON_BYTES // 2**20} MiB: refused")
        return self.data[start:end]

    def model(self, start: int, end: int) -> tuple[bytes, bool]:
        out, saw_graph = bytearray(), False
        wire = _Wire(self.data, start, end)
        while wire.pos < wire.end:
            field_start = wire.pos
            number, kind, s, e = wire.field()
            if kind == 2 and number == _MODEL_GRAPH:
                saw_graph = True
                out += _length_delimited(number, self.graph(s, e, 0, top=True))
            elif kind == 2 and number == _MODEL_TRAINING:
                out += _length_delimited(number, self.message(s, e, 0, graphs=_TRAINING_GRAPHS))
            elif kind == 2 and number == _MODEL_FUNCTIONS:
                out += _length_delimited(number, self.message(s, e, 0, nodes=frozenset({_FUNCTION_NODE})))
            else:
                out += self.copy(field_start, wire.pos)
        return bytes(out), saw_graph

    def message(self, start: int, end: int, depth: int, *, graphs: frozenset[int] = frozenset(),
                nodes: frozenset[int] = frozenset()) -> bytes:
        out = bytearray()
        wire = _Wire(self.data, start, end)
        while wire.pos < wire.end:
            field_start = wire.pos
            number, kind, s, e = wire.field()
            if kind == 2 and number in graphs:
                out += _length_delimited(number, self.graph(s, e, depth + 1))
            elif kind == 2 and number in nodes:
                out += _length_delimited(number, self.node(s, e, depth))
            else:
                out += self.copy(field_start, wire.pos)
        return bytes(out)

    def graph(self, start: int, end: int, depth: int, top: bool = False) -> bytes:
        if depth > MAX_GRAPH_DEPTH:
            raise OnnxFileError(f"subgraphs nest more than {MAX_GRAPH_DEPTH} deep: refused")
        out = bytearray()
        wire = _Wire(self.data, start, end)
        while wire.pos < wire.end:
            field_start = wire.pos
            number, kind, s, e = wire.field()
            if kind == 2 and number == _GRAPH_INITIALIZER:
                out += _length_delimited(number, self.tensor(s, e, initializer=top))
            elif kind == 2 and number == _GRAPH_SPARSE_INITIALIZER:
                out += _length_delimited(number, self.sparse(s, e))
            elif kind == 2 and number == _GRAPH_NODE:
                out += _length_delimited(number, self.node(s, e, depth))
            else:
                out += self.copy(field_start, wire.pos)
        if depth:  # a subgraph is re-encoded at every level above it: count those copies too (bounded work)
            self.copied += len(out) * 3
            self.copy(0, 0)
        return bytes(out)

    def node(self, start: int, end: int, depth: int) -> bytes:
        out = bytearray()
        wire = _Wire(self.data, start, end)
        while wire.pos < wire.end:
            field_start = wire.pos
            number, kind, s, e = wire.field()
            if kind == 2 and number == _NODE_ATTRIBUTE:
                out += _length_delimited(number, self.attribute(s, e, depth))
            else:
                out += self.copy(field_start, wire.pos)
        return bytes(out)

    def attribute(self, start: int, end: int, depth: int) -> bytes:
        out = bytearray()
        wire = _Wire(self.data, start, end)
        while wire.pos < wire.end:
            field_start = wire.pos
            number, kind, s, e = wire.field()
            if kind == 2 and number in (_ATTR_TENSOR, _ATTR_TENSORS):
                out += _length_delimited(number, self.tensor(s, e))
            elif kind == 2 and number in (_ATTR_SPARSE, _ATTR_SPARSES):
                out += _length_delimited(number, self.sparse(s, e))
            elif kind == 2 and number in (_ATTR_GRAPH, _ATTR_GRAPHS):
                out += _length_delimited(number, self.graph(s, e, depth + 1))
            else:
                out += self.copy(field_start, wire.pos)
        return bytes(out)

    def sparse(self, start: int, end: int) -> bytes:
        out = bytearray()
        wire = _Wire(self.data, start, end)
        while wire.pos < wire.end:
            field_start = wire.pos
            number, kind, s, e = wire.field()
            if kind == 2 and number in _SPARSE_TENSORS:
                out += _length_delimited(number, self.tensor(s, e))
            else:
                out += self.copy(field_start, wire.pos)
        return bytes(out)

    def tensor(self, start: int, end: int, initializer: bool = False) -> bytes:
        dims, dtype, name, external, data_bytes = _tensor_summary(self.data, start, end)
        result = self
        if external and initializer:
            result.external.append(name)
        # an external tensor keeps its location (the runtime reads it: checks.py must see it)
        if data_bytes > 0 and not external and (prod(dims) > self.keep or data_bytes > KEEP_BYTES):
            if initializer:
                result.stripped[name] = dims
            else:
                result.stripped_other += 1
            result.skipped_bytes += data_bytes
            return _stripped_tensor(dims, dtype, name)
        return bytes(self.copy(start, end))
