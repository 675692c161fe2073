"""The values of a small tensor read by ``parse`` (numpy, imported only when a value is needed),
as ``onnx.numpy_helper.to_array`` gives them, for the data types constant folding meets. Types
numpy has no dtype for (bfloat16, the float8 and 4-bit types) keep only their dims."""

from __future__ import annotations

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


_DTYPES: dict[int, Any] = {}


def numpy_dtype(data_type: int) -> Any:
    """The numpy dtype of a TensorProto data type; None when numpy has none."""
    if not _DTYPES:
        import numpy as np

        _DTYPES.update({k: np.dtype(v) for k, v in NUMPY_DTYPES.items()})
    return _DTYPES.get(data_type)


def to_array(tensor: Tensor) -> Any:
    """The tensor's values (``tensor.has_data`` must hold); a malformed tensor raises ValueError."""
    import numpy as np

    dtype = numpy_dtype(tensor.data_type)
    if dtype is None:
        raise ValueError(f"data type {NO_NUMPY.get(tensor.data_type, tensor.data_type)} is not evaluated")
    dims = tensor.dims
    count = prod(dims)
    stored = tensor.data or ()
    raw = b"".join(p for n, _, p in stored if n == 9)
    if raw:
        if tensor.data_type == 8:
            raise ValueError("a string tensor cannot hold raw data")
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"raw data of {len(raw)} bytes cannot hold {count} {dtype} values")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims)
    number = {8: 6, 1: 4, 14: 4, 11: 10, 15: 10, 7: 7, 12: 11, 13: 11}.get(tensor.data_type, 5)
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
        if values.size % 2:
            raise ValueError("a complex tensor needs pairs of values")
        values = values[0::2] + 1j * values[1::2]
    if values.size != count:
        raise ValueError(f"{values.size} values stored for dims {list(dims)} ({count} elements)")
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
