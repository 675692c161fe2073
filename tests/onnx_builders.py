"""Helpers for the ONNX import tests: build models with onnx.helper (no torch), run them through
ONNX shape inference (strict) and ONNX Runtime, import them with archcalc, and compare.

Every node is named after its first output unless a name is given, and the importer names a
layer after its node, so a report record is found by the node's name.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

import archcalc
from archcalc.report import Report

#: the newest default-domain opset onnx knows (shape inference is checked up to it)
LATEST = onnx.defs.onnx_opset_version()
#: the newest opset ONNX Runtime 1.31 loads (newer models are checked with shape inference only)
ORT_MAX_OPSET = 26
#: the IR version ONNX Runtime 1.31 accepts (onnx 1.23 writes a newer one by default)
ORT_IR_VERSION = 10

_TMP = tempfile.TemporaryDirectory(prefix="archcalc-onnx-tests-")
_COUNTER = itertools.count()

Shape = Sequence[int | str | None]


def tmp_file(suffix: str = ".onnx") -> Path:
    return Path(_TMP.name) / f"m{next(_COUNTER)}{suffix}"


# -- building ---------------------------------------------------------------------------------


def node(op: str, inputs: Sequence[str], outputs: Sequence[str] | str, name: str | None = None,
         domain: str | None = None, **attrs: Any) -> onnx.NodeProto:
    outs = [outputs] if isinstance(outputs, str) else list(outputs)
    return helper.make_node(op, list(inputs), outs, name=name or outs[0], domain=domain, **attrs)


def weight(name: str, shape: Sequence[int], seed: int = 0, dtype: Any = np.float32) -> onnx.TensorProto:
    """An initializer with random values (a trained weight, as far as shapes go)."""
    rng = np.random.default_rng(seed + sum(map(ord, name)))
    return numpy_helper.from_array(rng.standard_normal(tuple(shape)).astype(dtype), name)


def tensor(name: str, values: Any, dtype: Any = np.int64) -> onnx.TensorProto:
    """An initializer with exact values (shapes, axes, pads, scales)."""
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def value_info(name: str, shape: Shape | None, elem: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, None if shape is None else list(shape))


def make(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, Shape],
    outputs: Sequence[str | tuple[str, int]] | None = None,
    inits: Iterable[onnx.TensorProto] = (),
    opset: int = 13,
    extra_opsets: Mapping[str, int] | None = None,
    value_infos: Sequence[onnx.ValueInfoProto] = (),
    input_types: Mapping[str, int] | None = None,
    name: str = "m",
) -> onnx.ModelProto:
    """A model. ``outputs`` defaults to the last node's first output (float)."""
    if outputs is None:
        outputs = [nodes[-1].output[0]]
    outs = [value_info(o, None) if isinstance(o, str) else value_info(o[0], None, o[1]) for o in outputs]
    ins = [value_info(n, s, (input_types or {}).get(n, TensorProto.FLOAT)) for n, s in inputs.items()]
    graph = helper.make_graph(list(nodes), name, ins, outs, initializer=list(inits), value_info=list(value_infos))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="archcalc-tests")
    # outputs get the type and shape ONNX infers (the checker wants a shape on each)
    try:
        inferred = shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # a model a test makes invalid on purpose
        return model
    known = {vi.name: vi for vi in inferred.graph.output if vi.type.tensor_type.HasField("shape")}
    for out in model.graph.output:
        if out.name in known:
            out.CopyFrom(known[out.name])
    return model


def save(model: onnx.ModelProto, path: Path | None = None) -> Path:
    path = path or tmp_file()
    path.write_bytes(model.SerializeToString())
    return path


def opset_of(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


# -- the two oracles ------------------------------------------------------------------------


def _dims(vi: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


def inferred_shapes(model: onnx.ModelProto, strict: bool = True) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape from ``onnx.shape_inference.infer_shapes(strict_mode=True)``."""
    inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=strict, data_prop=True)
    out: dict[str, tuple[int, ...]] = {}
    for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = _dims(vi)
        if dims is not None:
            out[vi.name] = dims
    return out


def ort_shapes(model: onnx.ModelProto, seed: int = 0) -> dict[str, tuple[int, ...]]:
    """Real output shapes of every node output, from running the model in ONNX Runtime on random
    inputs (every intermediate tensor is made a graph output)."""
    import onnxruntime as ort

    inferred = shape_inference.infer_shapes(model, data_prop=True)
    types = {vi.name: vi for vi in [*inferred.graph.value_info, *inferred.graph.output]}
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.ir_version = ORT_IR_VERSION
    have = {o.name for o in copy.graph.output}
    for n in copy.graph.node:
        for out in n.output:
            if out and out not in have and out in types and types[out].type.HasField("tensor_type"):
                copy.graph.output.append(types[out])
                have.add(out)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(copy.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        if "int64" in i.type:
            feeds[i.name] = np.zeros(shape, np.int64)
        else:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    names = [o.name for o in session.get_outputs()]
    results = session.run(names, feeds)
    return {n: tuple(int(d) for d in np.asarray(r).shape) for n, r in zip(names, results, strict=True)}


# -- archcalc -----------------------------------------------------------------------------------


def analyze(model: onnx.ModelProto | Path, **load_kw: Any) -> Report:
    path = model if isinstance(model, Path) else save(model)
    return archcalc.analyze(archcalc.load(path, **load_kw))


def layer_names(report: Report) -> list[str]:
    return [r.name for r in report if r.kind != "input"]


def verify(model: onnx.ModelProto, layers: Sequence[str] | None = None, ort: bool = True,
           onnx_differs: Iterable[str] = (), **load_kw: Any) -> Report:
    """Import and analyse ``model``; check every layer's output shapes (per sample) against ONNX
    shape inference (strict) and, where ONNX Runtime runs the opset, against the real shapes.

    ``layers``: the node names that must become layers, in order (everything else folded or
    passed through). ``onnx_differs``: tensors whose ONNX-inferred shape is known to differ from
    what ONNX Runtime computes (checked against ONNX Runtime only). A tensor ONNX shape inference
    cannot infer (a shape computed by folded arithmetic at an old opset) is checked against ONNX
    Runtime only. Returns the report for the test's own hand formulas.
    """
    if all(o.type.tensor_type.HasField("shape") for o in model.graph.output):
        onnx.checker.check_model(model)
    inferred = inferred_shapes(model)
    real = ort_shapes(model) if ort and opset_of(model) <= ORT_MAX_OPSET else None
    report = analyze(model, **load_kw)
    records = {r.name: r for r in report}
    if layers is not None:
        assert layer_names(report) == list(layers), f"layers {layer_names(report)} != {list(layers)}"
    differs = set(onnx_differs)
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    checked = 0
    for n in model.graph.node:
        record = records.get(n.name)
        if record is None:
            continue
        for i, out in enumerate(n.output):
            if not out:
                continue
            if i >= len(record.shapes):  # an output archcalc does not model (Dropout's mask)
                assert out not in used, f"{n.name}:{i} ({out}) is used but has no shape"
                continue
            mine = record.shapes[i]
            if out in differs:
                assert real is not None and out in inferred and mine != inferred[out][1:]
            else:
                assert out in inferred or real is not None, f"no oracle gives a shape for {out}"
                if out in inferred:
                    assert mine == inferred[out][1:], f"{n.name}:{i} archcalc {mine} vs onnx {inferred[out]}"
            if real is not None:
                assert mine == real[out][1:], f"{n.name}:{i} archcalc {mine} vs onnxruntime {real[out]}"
            checked += 1
    for vi in model.graph.input:
        if vi.name in records:
            assert records[vi.name].shape == inferred[vi.name][1:]
    assert checked or layers == [], "no layer was checked"
    return report

