"""Reading the model's view (``view``, read by ``parse``) into python values: node attributes,
initializers, Constant nodes, declared dims, dependency order; and ONNX shape inference (for
unknown ops), the one place onnx is imported, on the file read again as a protobuf."""

from __future__ import annotations

import math
from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ArchcalcError, GraphError, suggest
from archcalc.onnx_import import view
from archcalc.onnx_import.tensors import NO_NUMPY, NUMPY_DTYPES, ListValues, check, data_type, flat, to_array
from archcalc.onnx_import.values import MAX_FOLD_ELEMENTS, Const, ImportError_
from archcalc.onnx_import.view import Node, Tensor, ValueInfo


def node_attrs(proto: Node) -> dict[str, Any]:
    try:
        return _attrs(proto)
    except ArchcalcError:
        raise
    except Exception as exc:  # numpy raises several kinds on malformed tensors
        raise ImportError_(f"malformed attribute: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                           ) from None


def _attrs(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in node.attribute:
        if attr.ref_attr_name:
            raise ValueError(f"Cannot get value of reference attribute: {attr.name}")
        value = attr.value
        if attr.type in (view.FLOAT, view.FLOATS):
            _check_finite(attr.name, value)
        if attr.type == view.TENSOR:
            value = _known(value, None) if value.has_data and value.data_type in NUMPY_DTYPES else _dims_of(value)
        elif isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        elif isinstance(value, list):
            value = list(value)
        out[attr.name] = value
    return out


def _check_finite(name: str, value: Any) -> None:
    """A float attribute (alpha, epsilon, a scale) must be a number: NaN and infinity are refused."""
    for v in value if isinstance(value, list) else [value]:
        if not math.isfinite(v):
            raise ImportError_(f"attribute '{name}' is {'NaN' if math.isnan(v) else 'infinite'} ({v}): refused")


def _dims_of(tensor: Tensor) -> Const:
    """A tensor attribute read without its data (large, external, or of a type numpy has not): dims
    and data type only."""
    if tensor.data_location == view.EXTERNAL:
        why = "its data is external, never loaded"
    elif tensor.data_type in NO_NUMPY and tensor.has_data:
        why = f"{NO_NUMPY[tensor.data_type]} values are not evaluated"
    else:
        why = "a weight, read as dims only"
    return Const(tensor.dims, data_type(tensor.data_type), None, None, why)


class _TensorValues:
    """A tensor's stored values, decoded when first asked (``Const.value`` / ``Const.flat``)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = tensor

    def array(self) -> Any:
        return to_array(self.tensor)

    def flat(self) -> list[Any] | None:
        return flat(self.tensor)


def _known(tensor: Tensor, origin: str | None) -> Const:
    """A tensor with its values stored: checked now (a malformed one fails where it is read),
    decoded when something asks."""
    check(tensor)
    return Const(tensor.dims, data_type(tensor.data_type), None, origin, None, _TensorValues(tensor))


def initializer(tensor: Tensor, stripped: Mapping[str, tuple[int, ...]]) -> Const:
    dims = tensor.dims
    dtype = data_type(tensor.data_type)
    if tensor.name in stripped or not tensor.has_data or prod(dims) > MAX_FOLD_ELEMENTS \
            or tensor.data_type in NO_NUMPY:
        return Const(dims, dtype, None, tensor.name)
    if dtype is None:
        raise ImportError_(f"initializer '{tensor.name}' has an unknown data type ({tensor.data_type})")
    try:
        return _known(tensor, tensor.name)
    except Exception as exc:  # a malformed tensor
        raise ImportError_(f"initializer '{tensor.name}' is malformed: {type(exc).__name__}: {exc}") from None


def constant_node(attrs: dict[str, Any], name: str) -> Const:
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            value = attrs[key]
            if isinstance(value, Const):  # a tensor: its values when stored, else its dims
                return value.with_origin(name)
            return _listed(key, value, name)
    raise ImportError_(f"Constant '{name}' has no value (sparse and string constants are not supported)")


def _listed(key: str, value: Any, name: str) -> Const:
    """value_int(s) as int64, value_float(s) as float32 (rounded as numpy's astype would)."""
    import struct

    values = list(value) if isinstance(value, list) else [value]
    shape: tuple[int, ...] = (len(values),) if isinstance(value, list) else ()
    if key in ("value_int", "value_ints"):
        ints = [int(v) for v in values]
        if any(not -(1 << 63) <= v < 1 << 63 for v in ints):
            raise ImportError_(f"Constant '{name}': {key} does not fit int64")
        return Const(shape, data_type(7), None, name, None, ListValues(ints, "int64", shape))
    floats = list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))
    return Const(shape, data_type(1), None, name, None, ListValues(floats, "float32", shape))


def parse_dims(value_info: ValueInfo) -> list[int | str | None]:
    """Declared dims: an int, a symbolic name, or None (unknown); [] when no shape is declared."""
    return list(value_info.dims or ())


def node_order(nodes: list[Any], available: set[str], file: str) -> list[int]:
    """Node indices in dependency order; dangling inputs and cycles are errors."""
    producer: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out:
                if out in producer or out in available:
                    raise GraphError(f"tensor '{out}' is produced twice (node {i} {node.op_type})", file=file)
                producer[out] = i
    in_order = True  # every node reads only what earlier nodes make (as exporters write graphs)
    for i, node in enumerate(nodes):
        for name in node.input:
            if not name or name in available:
                continue
            j = producer.get(name)
            if j is None:
                label = node.name or f"#{i}"
                raise GraphError(f"node {label} ({node.op_type}) reads '{name}', which no node, initializer or "
                                 f"input provides{suggest(name, list(producer))}", file=file)
            if j >= i:
                in_order = False
    if in_order:  # the file's order is a dependency order, and the one the earliest-first sort below gives
        return list(range(len(nodes)))
    deps = [{producer[name] for name in node.input if name and name not in available} for node in nodes]
    users: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    remaining = [len(d) for d in deps]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    ready = [i for i, r in enumerate(remaining) if r == 0]
    order: list[int] = []
    import heapq

    heapq.heapify(ready)
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            remaining[u] -= 1
            if remaining[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = next(i for i, r in enumerate(remaining) if r > 0)
        node = nodes[stuck]
        raise GraphError(f"the graph has a cycle through node {node.name or f'#{stuck}'} ({node.op_type})", file=file)
    return order


def infer_shapes(file: str, inputs: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape from ONNX shape inference, on the model read again as a protobuf."""
    from onnx import shape_inference

    from archcalc.onnx_import.reader import read_proto

    fixed = read_proto(file)
    for vi in fixed.graph.input:
        if vi.name in inputs:
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for d in inputs[vi.name]:
                dims.add().dim_value = d
    try:
        inferred = shape_inference.infer_shapes(fixed, data_prop=True)
    except Exception as exc:  # onnx raises several kinds of errors
        raise ImportError_(f"ONNX shape inference failed: {str(exc).splitlines()[0]}") from None
    out: dict[str, tuple[int, ...]] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output]:
        tensor_type = vi.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        dims = tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            out[vi.name] = tuple(int(d.dim_value) for d in dims)
    return out


def unknown_shapes(proto: Any, inferred: Mapping[str, tuple[int, ...]], batch: int, label: str) -> list[list[int]]:
    """Per-sample output shapes of an unknown op, from ONNX shape inference."""
    op_type = proto.op_type
    shapes = []
    for out_name in proto.output:
        if not out_name:
            shapes.append([1])  # an unused optional output: a placeholder keeps the indices
            continue
        if out_name not in inferred:
            raise ImportError_(f"ONNX shape inference gives no shape for '{out_name}' of unknown op "
                               f"{op_type} ({label})") from None
        full = inferred[out_name]
        if not full or full[0] != batch:
            raise ImportError_(f"unknown op {op_type} ({label}) output '{out_name}' has shape {list(full)} "
                               f"without the batch axis") from None
        shapes.append(list(full[1:]) or [1])
    return shapes
