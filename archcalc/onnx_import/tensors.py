"""The values of a small tensor read by ``parse``, as ``onnx.numpy_helper.to_array`` gives them,
for the data types constant folding meets: as a numpy array (:func:`to_array`, numpy imported only
then) or as a flat list of Python numbers (:func:`flat`, no numpy: what a Reshape shape, Slice
starts, Resize scales or a pattern's exponent needs). :func:`check` validates the stored data
without decoding it, so a malformed tensor is refused where it is read. Types numpy has no dtype
for (bfloat16, the float8 and 4-bit types) keep only their dims. :class:`DType` names an element
type without numpy (name, bytes per element, numpy's kind letter)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from math import prod
from typing import Any

from archcalc.onnx_import.view import Tensor

#: TensorProto.DataType -> numpy dtype name
NUMPY_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "object",
                9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
                15: "complex128"}
#: data types numpy cannot hold (their values are never evaluated)
NO_NUMPY = {16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz",
            21: "uint4", 22: "int4", 23: "float4e2m1"}
#: bytes per element of each of those
NO_NUMPY_ITEMSIZE = {16: 2, 17: 1, 18: 1, 19: 1, 20: 1}
_FIELDS = {4: "float_data", 5: "int32_data", 6: "string_data", 7: "int64_data", 10: "double_data",
           11: "uint64_data"}


#: struct format letter of each data type's little-endian raw bytes
_STRUCT = {1: "f", 2: "B", 3: "b", 4: "H", 5: "h", 6: "i", 7: "q", 9: "?", 10: "e", 11: "d", 12: "I", 13: "Q"}
#: (bits, signed) of the integer types stored as varints in int32_data / int64_data / uint64_data
_INT_BITS = {2: (8, False), 3: (8, True), 4: (16, False), 5: (16, True), 6: (32, True), 7: (64, True),
             12: (32, False), 13: (64, False)}
#: data type -> the field its values are stored in when not raw (TensorProto: float_data 4, int32_data 5,
#: string_data 6, int64_data 7, double_data 10, uint64_data 11)
_VALUE_FIELD = {8: 6, 1: 4, 14: 4, 11: 10, 15: 10, 7: 7, 12: 11, 13: 11}


@dataclass(frozen=True, slots=True)
class DType:
    """A tensor's element type as the file names it, without numpy: numpy's name for it, bytes per
    element and numpy's kind letter ("f", "i", "u", "b", "c", "O"). ``numpy()`` gives numpy's dtype."""

    name: str
    itemsize: int
    kind: str

    @property
    def dtype(self) -> Any:
        """numpy's dtype (numpy accepts any object with a ``dtype`` attribute where it wants one)."""
        import numpy as np

        return np.dtype(self.name)

    def numpy(self) -> Any:
        return self.dtype

    def __str__(self) -> str:
        return self.name


_KIND = {"float": "f", "uint": "u", "int": "i", "bool": "b", "object": "O", "complex": "c"}
DTYPES: dict[int, DType] = {}
for _code, _name in NUMPY_DTYPES.items():
    _letter = _STRUCT.get(_code)
    _size = struct.calcsize("<" + _letter) if _letter else {8: 8, 14: 8, 15: 16}[_code]
    DTYPES[_code] = DType(_name, _size, _KIND[_name.rstrip("0123456789")])


class ListValues:
    """A constant's values as Python numbers, in order, of a shape and an element type (numpy's name
    for it); numpy's array is made only when asked (``Const.value``)."""

    __slots__ = ("dtype_name", "shape", "values")

    def __init__(self, values: list[Any], dtype_name: str, shape: tuple[int, ...]) -> None:
        self.values, self.dtype_name, self.shape = values, dtype_name, shape

    def array(self) -> Any:
        import numpy as np

        return np.asarray(self.values, dtype=self.dtype_name).reshape(self.shape)

    def flat(self) -> list[Any]:
        return list(self.values)


def data_type(code: int) -> DType | None:
    """The element type of a TensorProto data type, without numpy; None when numpy has none."""
    return DTYPES.get(code)


def as_numpy(dtype: Any) -> Any:
    """A :class:`DType` as numpy's dtype; anything else (a numpy dtype, None) as it is."""
    return dtype.numpy() if isinstance(dtype, DType) else dtype


_DTYPES: dict[int, Any] = {}


def numpy_dtype(data_type: int) -> Any:
    """The numpy dtype of a TensorProto data type; None when numpy has none."""
    if not _DTYPES:
        import numpy as np

        _DTYPES.update({k: np.dtype(v) for k, v in NUMPY_DTYPES.items()})
    return _DTYPES.get(data_type)


def check(tensor: Tensor) -> None:
    """Raises ValueError where :func:`to_array` would (``tensor.has_data`` must hold): an unknown
    data type, raw bytes of the wrong length, a value count that does not match the dims."""
    dtype = data_type(tensor.data_type)
    if dtype is None:
        raise ValueError(f"data type {NO_NUMPY.get(tensor.data_type, tensor.data_type)} is not evaluated")
    count = prod(tensor.dims)
    stored = tensor.data or ()
    raw = sum(len(p) for n, _, p in stored if n == 9)
    if raw:
        if tensor.data_type == 8:
            raise ValueError("a string tensor cannot hold raw data")
        if raw != count * dtype.itemsize:
            raise ValueError(f"raw data of {raw} bytes cannot hold {count} {dtype} values")
        return
    number = _VALUE_FIELD.get(tensor.data_type, 5)
    chunks = [(w, p) for n, w, p in stored if n == number]
    if number == 6:
        values = len(chunks)
    elif number in (4, 10):
        width = 4 if number == 4 else 8
        if any(len(p) % width for _, p in chunks):
            raise ValueError(f"buffer size must be a multiple of element size ({width} bytes)")
        values = sum(len(p) // width for _, p in chunks)
    else:
        values = len(_varint_values(chunks))
    if tensor.data_type in (14, 15):
        if values % 2:
            raise ValueError("a complex tensor needs pairs of values")
        values //= 2
    if values != count:
        raise ValueError(f"{values} values stored for dims {list(tensor.dims)} ({count} elements)")


def flat(tensor: Tensor) -> list[Any] | None:
    """The tensor's values in order as Python numbers (int, float or bool), without numpy; None for
    the types that need numpy (strings, complex numbers). ``check`` must have passed."""
    code = tensor.data_type
    letter = _STRUCT.get(code)
    if letter is None:
        return None
    count = prod(tensor.dims)
    stored = tensor.data or ()
    raw = b"".join(p for n, _, p in stored if n == 9)
    if raw:
        return list(struct.unpack(f"<{count}{letter}", raw))
    number = _VALUE_FIELD.get(code, 5)
    chunks = [(w, p) for n, w, p in stored if n == number]
    if number == 4:
        return [v for _, p in chunks for v in struct.unpack(f"<{len(p) // 4}f", p)]
    if number == 10:
        return [v for _, p in chunks for v in struct.unpack(f"<{len(p) // 8}d", p)]
    words = _varint_values(chunks)
    if code == 10:  # float16 bits in int32_data
        return list(struct.unpack(f"<{len(words)}e", struct.pack(f"<{len(words)}H", *(w & 0xFFFF for w in words))))
    if code == 9:
        return [w != 0 for w in words]
    bits, signed = _INT_BITS[code]
    out = []
    for w in words:  # as numpy: the 64-bit word wraps to the type's width
        w &= (1 << bits) - 1
        out.append(w - (1 << bits) if signed and w >> (bits - 1) else w)
    return out


def to_array(tensor: Tensor) -> Any:
    """The tensor's values (``tensor.has_data`` must hold); a malformed tensor raises ValueError
    (``check``, the one validation of stored data)."""
    import numpy as np

    check(tensor)
    dtype = numpy_dtype(tensor.data_type)
    dims = tensor.dims
    stored = tensor.data or ()
    raw = b"".join(p for n, _, p in stored if n == 9)
    if raw:
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims)
    number = _VALUE_FIELD.get(tensor.data_type, 5)
    chunks = [(w, p) for n, w, p in stored if n == number]
    if number == 6:
        values: Any = np.array([p.decode("utf-8") for _, p in chunks], dtype=object)
    elif number == 4:
        values = np.concatenate([np.frombuffer(p, "<f4") for _, p in chunks]) if chunks else np.zeros(0, "<f4")
    elif number == 10:
        values = np.concatenate([np.frombuffer(p, "<f8") for _, p in chunks]) if chunks else np.zeros(0, "<f8")
    else:
        values = np.array(_varint_values(chunks), dtype=np.uint64)
        if number != 11:
            values = values.view(np.int64)
    if tensor.data_type in (14, 15):  # complex numbers are stored as (real, imaginary) pairs
        values = values[0::2] + 1j * values[1::2]
    if tensor.data_type == 10:  # float16 bits in int32_data
        return values.astype(np.uint16).view(np.float16).reshape(dims)
    return values.astype(dtype).reshape(dims)


def _varint_values(chunks: list[tuple[int, bytes]]) -> list[int]:
    out: list[int] = []
    for wire, payload in chunks:
        if wire == 0:
            out.append(int.from_bytes(payload, "little"))
            continue
        value = shift = 0
        for byte in payload:
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                out.append(value & (2**64 - 1))
                value = shift = 0
            elif shift > 63:
                raise ValueError("a varint is longer than 10 bytes")
        if shift:
            raise ValueError("a packed varint list runs past its end")
    return out
