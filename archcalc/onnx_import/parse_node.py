"""NodeProto and AttributeProto, each read in one pass over its bytes (``parse.Parser`` uses these
as its ``node`` and ``attribute``).

Why not ``walk.fields`` as the other messages: a model has a node per layer and an attribute or
more per node, and a list of ``(number, wire, a, b)`` tuples per message, built and then unpacked,
was most of the reader's time on small models. Here the loop decodes each key and length itself and
acts on the field at once: strings and nested messages (length-delimited) inline, the other wire
types through ``walk.skip`` (or read in place: an attribute's ``type``, ``i`` and ``f``). The
checks are ``walk.fields``' own: every field inside its message, varints at most 10 bytes, field
number 0 and the group wire types refused, with the same messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archcalc.errors import OnnxFileError
from archcalc.onnx_import.view import (
    FLOAT,
    FLOATS,
    GRAPH,
    GRAPHS,
    INT,
    INTS,
    SPARSE_TENSOR,
    SPARSE_TENSORS,
    STRING,
    STRINGS,
    TENSOR,
    TENSORS,
    TYPE_PROTO,
    TYPE_PROTOS,
    UNDEFINED,
    Attribute,
    Entry,
    Node,
)
from archcalc.onnx_import.walk import FLOAT32, RUNS_PAST, VARINT_PAST, _varint, add_floats, fields, packed_ints, skip
from archcalc.onnx_import.wire import MAX_FIELD_BYTES

if TYPE_CHECKING:
    from archcalc.onnx_import.parse import Parser

#: AttributeProto: the field holding the value of each of the less common types (0: none read)
_OTHER_KIND_FIELD = {UNDEFINED: 0, TENSOR: 5, GRAPH: 6, STRINGS: 9, TENSORS: 10, GRAPHS: 11, SPARSE_TENSOR: 22,
                     SPARSE_TENSORS: 23, TYPE_PROTO: 0, TYPE_PROTOS: 0}
#: ... the repeated ones: an empty list when the file has none
_REPEATED = frozenset({9, 10, 11, 23})
#: AttributeProto fields holding tensors or graphs (read again by the checks: kept apart)
_NESTED = frozenset({5, 6, 10, 11, 22, 23})
#: TensorProto fields holding its values
_TENSOR_DATA = frozenset({4, 5, 6, 7, 9, 10, 11})


def read_node(parser: Parser, start: int, end: int, depth: int) -> Node:
    data = parser.data
    text = parser.text
    inputs: list[str] = []
    outputs: list[str] = []
    attrs: list[Attribute] = []
    name = op_type = domain = ""
    pos = start
    try:
        while pos < end:
            key = data[pos]
            pos += 1
            if key >= 0x80:
                key, pos = _varint(data, pos - 1)
            if key & 7 != 2:
                pos = skip(data, key, pos, end)
                continue
            length = data[pos]
            pos += 1
            if length >= 0x80:
                length, pos = _varint(data, pos - 1)
            a = pos
            pos += length
            if pos > end or key < 8:
                raise OnnxFileError(RUNS_PAST)
            number = key >> 3
            if number == 1 or number == 2:
                # a tensor name, most of a node's fields: decoded here; one too long goes through
                # ``text`` for its error, and so does one that is not UTF-8 (below)
                if length > MAX_FIELD_BYTES:
                    text(a, pos)
                (inputs if number == 1 else outputs).append(str(data[a:pos], "utf-8"))
            elif number == 5:
                attrs.append(read_attribute(parser, a, pos, depth))
            elif number == 4:
                op_type = text(a, pos)
            elif number == 3:
                name = text(a, pos)
            elif number == 7:
                domain = text(a, pos)
    except IndexError:
        raise OnnxFileError(VARINT_PAST) from None
    except UnicodeDecodeError:
        text(a, pos)  # raises the reader's one-line error for the name at [a, pos)
        raise
    return Node(name, op_type, domain, tuple(inputs), tuple(outputs), tuple(attrs))


def read_attribute(parser: Parser, start: int, end: int, depth: int) -> Attribute:
    """The common kinds (INT, INTS, FLOAT, FLOATS, STRING) are read into locals; tensors, graphs,
    sparse tensors and string lists go into ``got`` (field number -> value), as ``parse`` had it."""
    data = parser.data
    name = ref = ""
    kind = UNDEFINED
    i = 0
    f = 0.0
    s = b""
    ints: list[int] | None = None
    floats: list[float] | None = None
    got: dict[int, Any] | None = None
    pos = start
    try:
        while pos < end:
            key = data[pos]
            pos += 1
            if key >= 0x80:  # a field number from 16 (every attribute has ``type``, 20): two bytes
                second = data[pos]
                if second < 0x80:
                    key = (key & 0x7F) | second << 7
                    pos += 1
                else:
                    key, pos = _varint(data, pos - 1)
            wire = key & 7
            number = key >> 3
            if wire == 0:
                value = data[pos]
                pos += 1
                if value >= 0x80:
                    value, pos = _varint(data, pos - 1)
                if pos > end or key < 8:
                    raise OnnxFileError(RUNS_PAST)
                signed = value - (1 << 64) if value >> 63 else value
                if number == 20:
                    kind = signed
                elif number == 3:
                    i = signed
                elif number == 8:
                    if ints is None:
                        ints = []
                    ints.append(signed)
                continue
            if wire != 2:
                if wire == 5 and key >= 8 and pos + 4 <= end:
                    if number == 2:
                        f = FLOAT32.unpack_from(data, pos)[0]
                    elif number == 7:
                        if floats is None:
                            floats = []
                        floats.append(FLOAT32.unpack_from(data, pos)[0])
                pos = skip(data, key, pos, end)
                continue
            length = data[pos]
            pos += 1
            if length >= 0x80:
                length, pos = _varint(data, pos - 1)
            a = pos
            pos += length
            if pos > end or key < 8:
                raise OnnxFileError(RUNS_PAST)
            if number == 1:
                name = parser.text(a, pos)
            elif number == 8:
                more = packed_ints(data, a, pos)
                if ints is None:
                    ints = more
                else:
                    ints.extend(more)
            elif number == 7:
                if floats is None:
                    floats = []
                add_floats(data, (7, 2, a, pos), floats)
            elif number == 4:
                s = parser.blob(a, pos)
            elif number == 21:
                ref = parser.text(a, pos)
            elif number in (5, 6, 9, 10, 11, 22, 23):
                got = {} if got is None else got
                _nested(parser, got, number, a, pos, depth)
    except IndexError:
        raise OnnxFileError(VARINT_PAST) from None
    if kind == INT:
        return Attribute(name, kind, i, ref, *_inside(got))
    if kind == INTS:
        return Attribute(name, kind, [] if ints is None else ints, ref, *_inside(got))
    if kind == FLOAT:
        return Attribute(name, kind, f, ref, *_inside(got))
    if kind == FLOATS:
        return Attribute(name, kind, [] if floats is None else floats, ref, *_inside(got))
    if kind == STRING:
        return Attribute(name, kind, s, ref, *_inside(got))
    if kind not in _OTHER_KIND_FIELD:
        raise OnnxFileError(f"not an ONNX model (attribute '{name}' has an unknown type {kind})")
    number = _OTHER_KIND_FIELD[kind]
    stored = (got or {}).get(number) if number else [] if kind == TYPE_PROTOS else None
    if number in _REPEATED and stored is None:
        stored = []
    return Attribute(name, kind, stored, ref, *_inside(got))


def _nested(parser: Parser, got: dict[int, Any], number: int, a: int, b: int, depth: int) -> None:
    """A tensor, graph, sparse tensor or string of an attribute (the last one wins where the field
    is single; a repeated one is a list)."""
    if number == 5:
        got[5] = parser.tensor(a, b)
    elif number == 6:
        got[6] = parser.graph([(a, b)], depth + 1)
    elif number == 9:
        got.setdefault(9, []).append(parser.blob(a, b))
    elif number == 10:
        got.setdefault(10, []).append(parser.tensor(a, b))
    elif number == 11:
        got.setdefault(11, []).append(parser.graph([(a, b)], depth + 1))
    elif number == 22:
        got[22] = parser.sparse(a, b)
    else:
        got.setdefault(23, []).append(parser.sparse(a, b))


def _inside(got: dict[int, Any] | None) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Every tensor and graph stored in the attribute, whatever its type says (the checks look at all)."""
    if not got or _NESTED.isdisjoint(got):
        return (), ()
    tensors = ([got[5]] if 5 in got else []) + got.get(10, [])
    tensors += [x for y in ([got[22]] if 22 in got else []) + got.get(23, []) for x in (y.values, y.indices)]
    graphs = ([got[6]] if 6 in got else []) + got.get(11, [])
    return tuple(tensors), tuple(graphs)


def tensor_fields(parser: Parser, start: int, end: int
                  ) -> tuple[list[int], int, str, int, list[Entry], list[tuple[int, int, int, int]], int]:
    """TensorProto's fields in one pass (a model has a tensor per weight): dims, data type, name,
    data location, external-data entries, the data fields as ``(number, wire, a, b)`` and their
    bytes (``Parser.tensor`` decides what is kept)."""
    data = parser.data
    dims: list[int] = []
    dtype = location = data_bytes = 0
    name = ""
    entries: list[Entry] = []
    stored: list[tuple[int, int, int, int]] = []
    pos = start
    try:
        while pos < end:
            key = data[pos]
            pos += 1
            if key >= 0x80:
                key, pos = _varint(data, pos - 1)
            wire = key & 7
            number = key >> 3
            if wire == 2:
                length = data[pos]
                pos += 1
                if length >= 0x80:
                    length, pos = _varint(data, pos - 1)
                a = pos
                pos += length
                if pos > end or key < 8:
                    raise OnnxFileError(RUNS_PAST)
                if number in _TENSOR_DATA:
                    stored.append((number, 2, a, pos))
                    data_bytes += pos - a
                elif number == 1:
                    dims.extend(packed_ints(data, a, pos))
                elif number == 8:
                    name = bytes(data[a:pos]).decode("utf-8", "replace")
                elif number == 13:
                    entries.append(read_entry(parser, a, pos))
            elif wire == 0:
                value = data[pos]
                pos += 1
                if value >= 0x80:
                    value, pos = _varint(data, pos - 1)
                if pos > end or key < 8:
                    raise OnnxFileError(RUNS_PAST)
                if number == 1:
                    dims.append(value - (1 << 64) if value >> 63 else value)
                elif number == 2:
                    dtype = value - (1 << 64) if value >> 63 else value
                elif number in _TENSOR_DATA:
                    stored.append((number, 0, value, 0))
                    data_bytes += 1
                elif number == 14:
                    location = value - (1 << 64) if value >> 63 else value
            else:
                after = skip(data, key, pos, end)
                if number in _TENSOR_DATA:
                    stored.append((number, wire, pos, after))
                    data_bytes += after - pos
                pos = after
    except IndexError:
        raise OnnxFileError(VARINT_PAST) from None
    return dims, dtype, name, location, entries, stored, data_bytes


def read_entry(parser: Parser, start: int, end: int) -> Entry:
    """StringStringEntryProto (an external-data location, offset, length; metadata): invalid UTF-8
    is kept as bytes (``checks`` refuses it where it matters). A few per tensor at most: the
    generic field walk serves (the hot messages above are read inline)."""
    texts: dict[int, str | bytes] = {1: "", 2: ""}
    for number, wire, a, b in fields(parser.data, start, end):
        if wire == 2 and number in texts:
            raw = parser.blob(a, b)
            try:
                texts[number] = raw.decode("utf-8")
            except UnicodeDecodeError:
                texts[number] = raw
    return Entry(texts[1], texts[2])


def read_dim(parser: Parser, start: int, end: int) -> int | str | None:
    """TensorShapeProto.Dimension: ``dim_value`` (an int), ``dim_param`` (a name) or neither (None);
    the last one in the message wins."""
    data = parser.data
    out: int | str | None = None
    pos = start
    try:
        while pos < end:
            key = data[pos]
            pos += 1
            if key >= 0x80:
                key, pos = _varint(data, pos - 1)
            if key == 8:  # dim_value, a varint
                value = data[pos]
                pos += 1
                if value >= 0x80:
                    value, pos = _varint(data, pos - 1)
                if pos > end:
                    raise OnnxFileError(RUNS_PAST)
                out = value - (1 << 64) if value >> 63 else value
            elif key & 7 == 2:
                length = data[pos]
                pos += 1
                if length >= 0x80:
                    length, pos = _varint(data, pos - 1)
                a = pos
                pos += length
                if pos > end or key < 8:
                    raise OnnxFileError(RUNS_PAST)
                if key == 18:  # dim_param
                    out = parser.text(a, pos)
            else:
                pos = skip(data, key, pos, end)
    except IndexError:
        raise OnnxFileError(VARINT_PAST) from None
    return out
