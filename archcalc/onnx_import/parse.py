"""An ONNX model read from the protobuf wire format by hand, over a memory map, into the plain
values of ``view`` (no ``import onnx``, no protobuf library). Every tensor, wherever it sits
(graph initializers, Constant values and other tensor attributes, sparse tensors, subgraphs at any
depth, functions, training graphs), is read as its name, data type and dims; its data bytes are
kept only when small (shape constants, Resize scales, Pad amounts: folding needs them), so the
pages of a weight are never touched.

Bounds, checked as the bytes are walked: every field lies inside its message; varints are at most
10 bytes; subgraphs nest at most ``MAX_GRAPH_DEPTH`` deep; a name, list or other field that is not
tensor data is at most ``MAX_FIELD_BYTES``; the structure (everything but large tensors' data,
a nested graph counted again for every level above it, as a protobuf parser re-reads it) is at most
``MAX_SKELETON_BYTES``; at most ``MAX_ITEMS`` nodes, tensors and value infos are read. Names must be
UTF-8. A field of the wrong wire type is skipped, as protobuf keeps it as an unknown field. A
graph's ``value_info`` (declarations the importer never needs) is kept as stored and read, with
these checks, when asked (``value_infos``).
"""

from __future__ import annotations

from math import prod

from archcalc.errors import OnnxFileError
from archcalc.onnx_import.parse_node import read_attribute, read_dim, read_entry, read_node, tensor_fields
from archcalc.onnx_import.view import (
    EXTERNAL,
    Entry,
    Function,
    Graph,
    Model,
    Node,
    OpsetId,
    Sparse,
    Tensor,
    ValueInfo,
)
from archcalc.onnx_import.walk import RUNS_PAST, VARINT_PAST, _varint, fields, iter_fields, signed, skip
from archcalc.onnx_import.wire import KEEP_BYTES, MAX_FIELD_BYTES, MAX_GRAPH_DEPTH, MAX_SKELETON_BYTES

_TENSOR_DATA = frozenset({4, 5, 6, 7, 9, 10, 11})
#: the most nodes, initializers and value infos (all graphs together) read: 40x the largest CNN
#: graphs of the model zoos, and a bound on what a hostile file makes the reader hold
MAX_ITEMS = 2_000_000
#: a graph's ``value_info`` message up to this size is kept as its bytes, read only when asked
#: (``value_infos``); a larger one (no exporter writes one) is read at once, with its checks
RAW_VALUE_INFO_BYTES = 1 << 16


def value_infos(graph: Graph) -> tuple[ValueInfo, ...]:
    """A graph's ``value_info`` declarations, read from the bytes the parser kept. Why kept: the
    importer never needs them (it computes every shape), and a dynamo export declares one per
    tensor, four nested messages each: reading them was ~7% of importing such a graph."""
    out = []
    for item in graph.value_info_raw:
        if isinstance(item, ValueInfo):
            out.append(item)
            continue
        data = memoryview(item)
        try:
            out.append(Parser(data, 0).value_info(0, len(item)))
        finally:
            data.release()
    return tuple(out)


class Parser:
    """One model's walk; what it read without data is counted here (``reader.ReadResult``)."""

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
        self.structure = 0
        #: nodes, initializers and value infos read so far (bounded: memory holds every one)
        self.items = 0

    def text(self, start: int, end: int) -> str:
        if end - start > MAX_FIELD_BYTES:
            raise OnnxFileError(f"a field of {end - start:,} bytes that is not tensor data (the limit is "
                                f"{MAX_FIELD_BYTES // 2**20} MiB): a corrupt or hostile file?")
        try:
            return str(self.data[start:end], "utf-8")
        except UnicodeDecodeError:
            shown = bytes(self.data[start:start + 40]).decode("utf-8", "replace")
            raise OnnxFileError(f"a name in the model is not valid UTF-8 ({shown!r}): a corrupt file?") from None

    def blob(self, start: int, end: int) -> bytes:
        if end - start > MAX_FIELD_BYTES:
            raise OnnxFileError(f"a field of {end - start:,} bytes that is not tensor data (the limit is "
                                f"{MAX_FIELD_BYTES // 2**20} MiB): a corrupt or hostile file?")
        return bytes(self.data[start:end])

    def model(self) -> tuple[Model, bool]:
        data = self.data
        ir = 0
        opsets: list[OpsetId] = []
        producer = version = ""
        graph_spans: list[tuple[int, int]] = []
        meta: list[Entry] = []
        functions: list[Function] = []
        training: list[Graph] = []
        for number, wire, a, b in iter_fields(data, 0, len(data)):
            if wire == 0:
                if number == 1:
                    ir = signed(a)
                continue
            if wire != 2:
                continue
            if number == 7:
                graph_spans.append((a, b))
            elif number == 8:
                opsets.append(self.opset(a, b))
            elif number == 2:
                producer = self.text(a, b)
            elif number == 3:
                version = self.text(a, b)
            elif number == 14:
                meta.append(self.entry(a, b))
            elif number == 20:
                training += [self.graph([(s, e)], 0) for n, w, s, e in fields(data, a, b) if w == 2 and n in (1, 2)]
            elif number == 25:
                functions.append(self.function(a, b))
        graph = self.graph(graph_spans, 0, top=True) if graph_spans else Graph()
        model = Model(ir, tuple(opsets), producer, version, graph, tuple(meta), tuple(functions), tuple(training))
        return model, bool(graph_spans)

    def opset(self, start: int, end: int) -> OpsetId:
        domain, version = "", 0
        for number, wire, a, b in fields(self.data, start, end):
            if number == 1 and wire == 2:
                domain = self.text(a, b)
            elif number == 2 and wire == 0:
                version = signed(a)
        return OpsetId(domain, version)

    def function(self, start: int, end: int) -> Function:
        name = ""
        nodes = []
        for number, wire, a, b in fields(self.data, start, end):
            if wire == 2 and number == 1:
                name = self.text(a, b)
            elif wire == 2 and number == 7:
                nodes.append(self.node(a, b, 0))
        return Function(name, tuple(nodes))

    def graph(self, spans: list[tuple[int, int]], depth: int, top: bool = False) -> Graph:
        if depth > MAX_GRAPH_DEPTH:
            raise OnnxFileError(f"subgraphs nest more than {MAX_GRAPH_DEPTH} deep: refused")
        skipped_before = self.skipped_bytes
        name = ""
        nodes: list[Node] = []
        inits: list[Tensor] = []
        sparse: list[Sparse] = []
        groups: dict[int, list[ValueInfo]] = {11: [], 12: []}
        declared: list[bytes | ValueInfo] = []  # value_info: kept as stored (see ``value_infos``)
        node, value_info = self.node, self.value_info
        data = self.data
        for start, end in spans:
            # ``iter_fields`` written out (a graph has a field per node, tensor and value info),
            # with its checks in its order
            pos = start
            try:
                while pos < end:
                    key = data[pos]
                    pos += 1
                    if key >= 0x80:
                        key, pos = _varint(data, pos - 1)
                    if key < 8:
                        raise OnnxFileError(RUNS_PAST)
                    if key & 7 != 2:
                        pos = skip(data, key, pos, end)
                        continue
                    length = data[pos]
                    pos += 1
                    if length >= 0x80:
                        length, pos = _varint(data, pos - 1)
                    a = pos
                    pos += length
                    if pos > end:
                        raise OnnxFileError(RUNS_PAST)
                    self.items += 1
                    if self.items > MAX_ITEMS:
                        raise OnnxFileError(f"the model has more than {MAX_ITEMS:,} nodes, tensors and value "
                                            f"infos: refused")
                    number = key >> 3
                    if number == 1:
                        nodes.append(node(a, pos, depth))
                    elif number == 13:
                        declared.append(bytes(data[a:pos]) if pos - a <= RAW_VALUE_INFO_BYTES else value_info(a, pos))
                    elif number in groups:
                        groups[number].append(value_info(a, pos))
                    elif number == 5:
                        inits.append(self.tensor(a, pos, initializer=top))
                    elif number == 2:
                        name = self.text(a, pos)
                    elif number == 15:
                        sparse.append(self.sparse(a, pos))
            except IndexError:
                raise OnnxFileError(VARINT_PAST) from None
        size = sum(e - s for s, e in spans) - (self.skipped_bytes - skipped_before)
        # a subgraph is read again at every level above it by a protobuf parser: count those reads too
        self.structure += size * (3 if depth else 1)
        if self.structure > MAX_SKELETON_BYTES:
            raise OnnxFileError(f"the model's structure (everything but its weights) passes "
                                f"{MAX_SKELETON_BYTES // 2**20} MiB: refused")
        return Graph(name, tuple(nodes), tuple(inits), tuple(sparse), tuple(groups[11]), tuple(groups[12]),
                     tuple(declared))

    #: NodeProto and AttributeProto are read by the one-pass readers of ``parse_node``
    node = read_node
    attribute = read_attribute

    def sparse(self, start: int, end: int) -> Sparse:
        values = indices = Tensor("", (), 0)
        for number, wire, a, b in fields(self.data, start, end):
            if wire == 2 and number == 1:
                values = self.tensor(a, b)
            elif wire == 2 and number == 2:
                indices = self.tensor(a, b)
        return Sparse(values, indices)

    def value_info(self, start: int, end: int) -> ValueInfo:
        common = common_value_info(self.data, start, end)
        if common is not None:
            return common
        return self.any_value_info(start, end)

    def any_value_info(self, start: int, end: int) -> ValueInfo:
        """ValueInfoProto in any layout, each level walked whole before it is acted on (``fields``)."""
        data = self.data
        name = ""
        elem = 0
        dims: list[int | str | None] | None = None
        for number, wire, a, b in fields(data, start, end):
            if number == 1 and wire == 2:
                name = self.text(a, b)
            elif number == 2 and wire == 2:  # TypeProto
                for n2, w2, a2, b2 in fields(data, a, b):
                    if n2 != 1 or w2 != 2:
                        continue
                    for n3, w3, a3, b3 in fields(data, a2, b2):  # TypeProto.Tensor
                        if n3 == 1 and w3 == 0:
                            elem = signed(a3)
                        elif n3 == 2 and w3 == 2:
                            dims = [] if dims is None else dims
                            dims += [self.dim(a4, b4) for n4, w4, a4, b4 in fields(data, a3, b3)
                                     if n4 == 1 and w4 == 2]
        return ValueInfo(name, elem, None if dims is None else tuple(dims))

    #: Dimension, StringStringEntryProto: one-pass readers too
    dim = read_dim
    entry = read_entry

    def tensor(self, start: int, end: int, initializer: bool = False) -> Tensor:
        data = self.data
        dims, dtype, name, location, entries, stored, data_bytes = tensor_fields(self, start, end)
        shape = tuple(dims)
        external = location == EXTERNAL
        if external and initializer:
            self.external.append(name)
        kept: tuple[tuple[int, int, bytes], ...] | None
        if data_bytes > 0 and not external and (prod(shape) > self.keep or data_bytes > KEEP_BYTES):
            if initializer:
                self.stripped[name] = shape
            else:
                self.stripped_other += 1
            self.skipped_bytes += data_bytes
            kept = None
        else:
            kept = tuple([(n, w, bytes(data[a:b]) if w != 0 else a.to_bytes(8, "little")) for n, w, a, b in stored])
        return Tensor(name, shape, dtype, location, tuple(entries), kept)


def common_value_info(data: memoryview, start: int, end: int) -> ValueInfo | None:
    """A ValueInfoProto laid out as every exporter writes it (name; type: tensor_type with elem_type
    and a shape of dims, each a dim_value or a dim_param), read in one pass; None for anything else,
    which ``Parser.any_value_info`` reads. Why: a model can declare a value info per tensor, each four
    nested messages deep, and ``fields`` lists every level before reading it: that was a quarter of
    reading a DenseNet. Nothing here raises: a field out of place, out of bounds, a varint past 10
    bytes, a name too long or not UTF-8 all give None, so a file the general reader refuses gets its
    message, from it, as before (``tests/test_onnx_reader.py`` checks the two agree).
    """
    try:
        pos = start
        if data[pos] != 0x0A:  # 1: name
            return None
        pos, a = _length(data, pos + 1)
        if pos > end or pos - a > MAX_FIELD_BYTES:
            return None
        name = str(data[a:pos], "utf-8")
        if pos == end:
            return ValueInfo(name, 0, None)
        if data[pos] != 0x12:  # 2: type (TypeProto), the last field
            return None
        pos, a = _length(data, pos + 1)
        if pos != end or data[a] != 0x0A:  # TypeProto.1: tensor_type, its only field
            return None
        pos, a = _length(data, a + 1)
        if pos != end or data[a] != 0x08:  # Tensor.1: elem_type, a varint
            return None
        elem, pos = data[a + 1], a + 2
        if elem >= 0x80:
            elem, pos = _varint(data, a + 1)
        if pos > end:
            return None
        if pos == end:
            return ValueInfo(name, signed(elem), None)
        if data[pos] != 0x12:  # Tensor.2: shape, the last field
            return None
        pos, a = _length(data, pos + 1)
        if pos != end:
            return None
        dims: list[int | str | None] = []
        while a < end:  # TensorShapeProto.1: dim, repeated
            if data[a] != 0x0A:
                return None
            stop, b = _length(data, a + 1)
            if stop > end:
                return None
            if b == stop:
                dims.append(None)
            elif data[b] == 0x08:  # Dimension.1: dim_value
                value, after = data[b + 1], b + 2
                if value >= 0x80:
                    value, after = _varint(data, b + 1)
                if after != stop:
                    return None
                dims.append(signed(value))
            elif data[b] == 0x12:  # Dimension.2: dim_param
                after, c = _length(data, b + 1)
                if after != stop or after - c > MAX_FIELD_BYTES:
                    return None
                dims.append(str(data[c:after], "utf-8"))
            else:
                return None
            a = stop
        return ValueInfo(name, signed(elem), tuple(dims))
    except (IndexError, OnnxFileError, UnicodeDecodeError):
        return None


def _length(data: memoryview, pos: int) -> tuple[int, int]:
    """(end, start) of the length-delimited payload whose length varint is at ``pos``."""
    length = data[pos]
    if length >= 0x80:
        length, pos = _varint(data, pos)
        return pos + length, pos
    return pos + 1 + length, pos + 1
