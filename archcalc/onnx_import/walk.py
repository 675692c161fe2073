"""One protobuf message's fields, walked fast over a memory map (``parse`` reads models with
it): ``fields`` as a list for small messages, ``iter_fields`` one at a time for large ones, and the
packed lists of ints and floats. Every field must lie inside its message; a varint is at most 10
bytes; field number 0 and the group wire types are refused."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from archcalc.errors import OnnxFileError

#: ``(field number, wire type, a, b)``: a varint's value in ``a``; else the payload span ``[a, b)``
Field = tuple[int, int, int, int]
#: one little-endian float32
FLOAT32 = struct.Struct("<f")
#: the messages of a field that runs past its message and of a varint that runs past the data
RUNS_PAST = "truncated or not an ONNX file (a field runs past the end)"
VARINT_PAST = "truncated or not an ONNX file (a varint runs past the end)"


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise OnnxFileError("not an ONNX file (a varint is longer than 10 bytes)")


def fields(data: memoryview, pos: int, end: int) -> list[Field]:
    """``(number, wire type, a, b)`` of every field of a message: a varint's value in ``a``; the
    payload span ``[a, b)`` of the others."""
    out: list[Field] = []
    append = out.append
    try:
        while pos < end:
            key = data[pos]
            pos += 1
            if key >= 0x80:
                key, pos = _varint(data, pos - 1)
            wire = key & 7
            if wire == 2:
                length = data[pos]
                pos += 1
                if length >= 0x80:
                    length, pos = _varint(data, pos - 1)
                append((key >> 3, 2, pos, pos + length))
                pos += length
            elif wire == 0:
                value = data[pos]
                pos += 1
                if value >= 0x80:
                    value, pos = _varint(data, pos - 1)
                append((key >> 3, 0, value, 0))
            elif wire == 5:
                append((key >> 3, 5, pos, pos + 4))
                pos += 4
            elif wire == 1:
                append((key >> 3, 1, pos, pos + 8))
                pos += 8
            else:
                raise OnnxFileError(f"not an ONNX file (protobuf wire type {wire} in field {key >> 3})")
            if pos > end or key < 8:
                raise OnnxFileError(RUNS_PAST)
    except IndexError:
        raise OnnxFileError(VARINT_PAST) from None
    return out


def iter_fields(data: memoryview, pos: int, end: int) -> Iterator[Field]:
    """``fields``, one at a time: for the large messages (a graph, the model), so that memory holds
    only what the reader keeps, however many fields a hostile file has."""
    try:
        while pos < end:
            key = data[pos]
            pos += 1
            if key >= 0x80:
                key, pos = _varint(data, pos - 1)
            if key < 8:
                raise OnnxFileError(RUNS_PAST)
            wire = key & 7
            if wire == 2:
                length = data[pos]
                pos += 1
                if length >= 0x80:
                    length, pos = _varint(data, pos - 1)
                start = pos
                pos += length
                if pos > end:
                    raise OnnxFileError(RUNS_PAST)
                yield key >> 3, 2, start, pos
            elif wire == 0:
                value = data[pos]
                pos += 1
                if value >= 0x80:
                    value, pos = _varint(data, pos - 1)
                if pos > end:
                    raise OnnxFileError(RUNS_PAST)
                yield key >> 3, 0, value, 0
            elif wire == 5:
                pos += 4
                if pos > end:
                    raise OnnxFileError(RUNS_PAST)
                yield key >> 3, 5, pos - 4, pos
            elif wire == 1:
                pos += 8
                if pos > end:
                    raise OnnxFileError(RUNS_PAST)
                yield key >> 3, 1, pos - 8, pos
            else:
                raise OnnxFileError(f"not an ONNX file (protobuf wire type {wire} in field {key >> 3})")
    except IndexError:
        raise OnnxFileError(VARINT_PAST) from None


def skip(data: memoryview, key: int, pos: int, end: int) -> int:
    """Past a field that is not length-delimited (``pos``: just after its key ``key``), checked as
    ``fields`` checks it; an IndexError is the caller's to report (``VARINT_PAST``)."""
    wire = key & 7
    if wire == 0:
        value = data[pos]
        pos += 1
        if value >= 0x80:
            value, pos = _varint(data, pos - 1)
    elif wire == 5:
        pos += 4
    elif wire == 1:
        pos += 8
    else:
        raise OnnxFileError(f"not an ONNX file (protobuf wire type {wire} in field {key >> 3})")
    if pos > end or key < 8:
        raise OnnxFileError(RUNS_PAST)
    return pos


def signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def packed_ints(data: memoryview, start: int, end: int) -> list[int]:
    """A packed repeated int64 field."""
    out = []
    pos = start
    try:
        while pos < end:
            value = data[pos]
            pos += 1
            if value >= 0x80:
                value, pos = _varint(data, pos - 1)
            out.append(value - (1 << 64) if value >> 63 else value)
    except IndexError:
        raise OnnxFileError(VARINT_PAST) from None
    if pos > end:
        raise OnnxFileError(VARINT_PAST)
    return out


def add_ints(data: memoryview, f: Field, into: list[int]) -> None:
    if f[1] == 2:
        into.extend(packed_ints(data, f[2], f[3]))
    elif f[1] == 0:
        into.append(signed(f[2]))


def add_floats(data: memoryview, f: Field, into: list[float]) -> None:
    if f[1] == 2:
        if (f[3] - f[2]) % 4:
            raise OnnxFileError("not an ONNX file (a packed float list is not a whole number of floats)")
        into.extend(v for (v,) in FLOAT32.iter_unpack(data[f[2]:f[3]]))
    elif f[1] == 5:
        into.append(FLOAT32.unpack_from(data, f[2])[0])



