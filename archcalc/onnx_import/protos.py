"""Reading ONNX protos into python values: node attributes, initializers, Constant nodes,
declared dims, dependency order, ONNX shape inference (for unknown ops). onnx is imported
inside the functions (the importer as a whole is imported lazily)."""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ArchcalcError, GraphError, suggest
from archcalc.onnx_import.values import MAX_FOLD_ELEMENTS, Const, ImportError_


def node_attrs(proto: Any) -> dict[str, Any]:
    try:
        return _attrs(proto)
    except ArchcalcError:
        raise
    except Exception as exc:  # onnx/numpy raise several kinds on malformed attributes
        raise ImportError_(f"malformed attribute: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                           ) from None


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper, numpy_helper

    out: dict[str, Any] = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if attr.type in (attr.FLOAT, attr.FLOATS):
            _check_finite(attr.name, value)
        if attr.type == attr.TENSOR:
            value = numpy_helper.to_array(value) if _tensor_has_data(value) else _dims_of(value)
        elif isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        out[attr.name] = value
    return out


def _check_finite(name: str, value: Any) -> None:
    """A float attribute (alpha, epsilon, a scale) must be a number: NaN and infinity are refused."""
    import math

    for v in value if isinstance(value, list) else [value]:
        if not math.isfinite(v):
            raise ImportError_(f"attribute '{name}' is {'NaN' if math.isnan(v) else 'infinite'} ({v}): refused")


def _dims_of(tensor: Any) -> Const:
    """A tensor attribute read without its data (large, or external): dims and data type only."""
    from onnx import helper

    try:
        dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
    except (KeyError, ValueError):
        dtype = None
    why = "its data is external, never loaded" if tensor.data_location == 1 else "a weight, read as dims only"
    return Const(tuple(int(d) for d in tensor.dims), dtype, None, None, why)


def _tensor_has_data(tensor: Any) -> bool:
    return tensor.data_location != 1 and (
        bool(tensor.raw_data) or any(len(getattr(tensor, f)) for f in (
            "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"))
        or prod(tensor.dims) == 0
    )


def initializer(tensor: Any, stripped: Mapping[str, tuple[int, ...]]) -> Const:
    from onnx import helper, numpy_helper

    dims = tuple(int(d) for d in tensor.dims)
    try:
        dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
    except (KeyError, ValueError):
        dtype = None
    if tensor.name in stripped or not _tensor_has_data(tensor) or prod(dims) > MAX_FOLD_ELEMENTS:
        return Const(dims, dtype, None, tensor.name)
    if dtype is None:
        raise ImportError_(f"initializer '{tensor.name}' has an unknown data type ({tensor.data_type})")
    try:
        return Const(dims, dtype, numpy_helper.to_array(tensor), tensor.name)
    except Exception as exc:  # onnx/numpy raise several kinds on malformed tensors
        raise ImportError_(f"initializer '{tensor.name}' is malformed: {type(exc).__name__}: {exc}") from None


def constant_node(attrs: dict[str, Any], name: str) -> Const:
    import numpy as np

    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            value = attrs[key]
            if isinstance(value, Const):  # a weight: its dims, never its data
                return Const(value.shape, value.dtype, None, name, value.why)
            array = np.asarray(value)
            if key in ("value_int", "value_ints"):
                array = array.astype(np.int64)
            elif key in ("value_float", "value_floats"):
                array = array.astype(np.float32)
            return Const(tuple(int(d) for d in array.shape), array.dtype, array, name)
    raise ImportError_(f"Constant '{name}' has no value (sparse and string constants are not supported)")


def parse_dims(value_info: Any) -> list[int | str | None]:
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return []
    dims: list[int | str | None] = []
    for d in tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def node_order(nodes: list[Any], available: set[str], file: str) -> list[int]:
    """Node indices in dependency order; dangling inputs and cycles are errors."""
    producer: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out:
                if out in producer or out in available:
                    raise GraphError(f"tensor '{out}' is produced twice (node {i} {node.op_type})", file=file)
                producer[out] = i
    deps: list[set[int]] = []
    for i, node in enumerate(nodes):
        needs = set()
        for name in node.input:
            if not name or name in available:
                continue
            if name not in producer:
                label = node.name or f"#{i}"
                raise GraphError(f"node {label} ({node.op_type}) reads '{name}', which no node, initializer or "
                                 f"input provides{suggest(name, list(producer))}", file=file)
            needs.add(producer[name])
        deps.append(needs)
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


def infer_shapes(model: Any, inputs: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    import onnx
    from onnx import shape_inference

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
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
        dims = parse_dims(vi)
        if dims and all(isinstance(d, int) for d in dims):
            out[vi.name] = tuple(int(d) for d in dims)  # type: ignore[arg-type]
    return out
