"""Read an ONNX model without reading its weights.

Analysis needs tensor dims, never weight values. ``onnx.load`` parses (and copies) every byte of
every initializer; on a VGG-16-sized model that is ~550 MB of work for nothing. Here the file is
memory-mapped and the protobuf wire format of ModelProto -> GraphProto -> TensorProto is walked
by hand: every initializer larger than ``keep_elements`` is re-encoded with its name, data type
and dims only (its data bytes are skipped, so the OS never even reads those pages), the rest of
the model is copied as is, and the small skeleton is parsed by onnx. Small initializers (shape
constants, Resize scales, Pad amounts) keep their values: constant folding needs them.

External data is never loaded (its dims are in the model), so a model whose weight file is
missing is analysed from its dims.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.errors import OnnxFileError

if TYPE_CHECKING:
    import onnx

#: initializers with more elements than this are read as dims only
KEEP_ELEMENTS = 4096

# protobuf field numbers (onnx.proto)
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER = 5
_TENSOR_DIMS, _TENSOR_DTYPE, _TENSOR_NAME = 1, 2, 8
_TENSOR_DATA_LOCATION = 14
_TENSOR_EXTERNAL = 13
_TENSOR_DATA_FIELDS = frozenset({4, 5, 6, 7, 9, 10, 11})

#: elements of a TensorProto data type that are not 1 byte... (used only for reporting)
_DTYPE_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}




@dataclass
class ReadResult:
    model: onnx.ModelProto
    #: initializer name -> dims, for initializers read without their data
    stripped: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: bytes of initializer data that were not read
    skipped_bytes: int = 0
    #: initializers whose data lives in an external file (never loaded)
    external: list[str] = field(default_factory=list)
    file_bytes: int = 0


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
                raise OnnxFileError("truncated or not an ONNX file (a varint runs past the end)")
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
            raise OnnxFileError("truncated or not an ONNX file (a field runs past the end)")
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


def _rebuild_graph(data: memoryview, start: int, end: int, keep: int, result: ReadResult) -> bytes:
    out = bytearray()
    wire = _Wire(data, start, end)
    while wire.pos < wire.end:
        field_start = wire.pos
        number, kind, s, e = wire.field()
        if number == _GRAPH_INITIALIZER and kind == 2:
            dims, dtype, name, external, data_bytes = _tensor_summary(data, s, e)
            if external:
                result.external.append(name)
            if prod(dims) > keep and data_bytes > 0:
                result.stripped[name] = dims
                result.skipped_bytes += data_bytes
                out += _length_delimited(_GRAPH_INITIALIZER, _stripped_tensor(dims, dtype, name))
                continue
        out += data[field_start:wire.pos]
    return bytes(out)


def read_model(path: str | Path, keep_elements: int = KEEP_ELEMENTS) -> ReadResult:
    """The model with large initializers reduced to their dims (data never read)."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.exists():
        raise OnnxFileError("no such file", file=str(path))
    if path.is_dir():
        raise OnnxFileError("is a directory, not an ONNX file", file=str(path))
    size = path.stat().st_size
    if size == 0:
        raise OnnxFileError("empty file, not an ONNX model", file=str(path))
    result = ReadResult(model=onnx.ModelProto(), file_bytes=size)
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = memoryview(mapped)
            try:
                skeleton = bytearray()
                wire = _Wire(data)
                saw_graph = False
                while wire.pos < wire.end:
                    field_start = wire.pos
                    number, kind, s, e = wire.field()
                    if number == _MODEL_GRAPH and kind == 2:
                        saw_graph = True
                        skeleton += _length_delimited(_MODEL_GRAPH, _rebuild_graph(data, s, e, keep_elements, result))
                    else:
                        skeleton += data[field_start:wire.pos]
            finally:
                data.release()
    except OnnxFileError as exc:
        raise exc.located(file=str(path)) from None
    except OSError as exc:
        raise OnnxFileError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if not saw_graph:
        raise OnnxFileError("not an ONNX model (no graph in it)", file=str(path))
    try:
        result.model.ParseFromString(bytes(skeleton))
    except DecodeError as exc:
        raise OnnxFileError(f"not an ONNX model (protobuf: {exc})", file=str(path)) from None
    except RecursionError:
        raise OnnxFileError("not an ONNX model (nesting too deep)", file=str(path)) from None
    _check_text(result.model, path)
    check_external_paths(result.model, path)
    return result


def _check_text(model: onnx.ModelProto, path: Path) -> None:
    """Names must be text: protobuf hands back invalid UTF-8 in string fields as bytes."""
    graph = model.graph
    strings: list[Any] = [graph.name, *(o.domain for o in model.opset_import)]
    for node in graph.node:
        strings += [node.name, node.op_type, node.domain, *node.input, *node.output]
        strings += [a.name for a in node.attribute]
    for group in (graph.input, graph.output, graph.value_info):
        strings += [v.name for v in group]
        strings += [d.dim_param for v in group for d in v.type.tensor_type.shape.dim]
    strings += [t.name for t in graph.initializer]
    strings += [p.key for p in model.metadata_props] + [p.value for p in model.metadata_props]
    for value in strings:
        if not isinstance(value, str):
            shown = bytes(value)[:40].decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
            raise OnnxFileError(f"a name in the model is not valid UTF-8 ({shown!r}): a corrupt file?",
                                file=str(path))


def external_tensors(model: onnx.ModelProto) -> list[tuple[Any, Any]]:
    """(tensor name, location) of every tensor whose data lives in an external file."""
    out: list[tuple[str, str]] = []

    def visit(tensor: object) -> None:
        if getattr(tensor, "data_location", 0) == 1:
            entries = {e.key: e.value for e in tensor.external_data}  # type: ignore[attr-defined]
            out.append((tensor.name, entries.get("location", "")))  # type: ignore[attr-defined]

    for tensor in model.graph.initializer:
        visit(tensor)
    for sparse in model.graph.sparse_initializer:
        visit(sparse.values)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                visit(attr.t)
    return out


def check_external_paths(model: onnx.ModelProto, path: str | Path) -> None:
    """Refuse external-data locations that are absolute or escape the model's folder
    (``../../etc/passwd``): nothing outside the folder is ever read on the model's behalf."""
    folder = Path(path).resolve().parent
    for name, location in external_tensors(model):
        if not isinstance(location, str) or not isinstance(name, str):  # protobuf hands back invalid UTF-8 as bytes
            raise OnnxFileError("an external-data location or tensor name is not valid UTF-8: refused", file=str(path))
        where = Path(location)
        odd = not location or "\x00" in location or "\\" in location
        if odd or where.is_absolute() or ":" in where.parts[0]:
            raise OnnxFileError(f"initializer '{name}' points at external data {location!r}, which is not a path "
                                f"inside the model's folder: refused", file=str(path))
        if not (folder / where).resolve().is_relative_to(folder):
            raise OnnxFileError(f"initializer '{name}' points at external data {location!r} outside the model's "
                                f"folder: refused", file=str(path))
