"""Graph -> a checked, runnable ONNX model; node names are layer names.

Weights are seeded random (He-like scale), or with ``weights="constant"`` ConstantOfShape nodes
that the runtime fills at load time (a VGG-sized model becomes a file of a few KB: for shape and
runtime checks). The opset is 11 or newer, up to what the installed ONNX Runtime loads (probed
once); the IR version is the one of the ONNX release that introduced the opset (IR 6 for opset
11, 7 for 13, 8 for 17-18, 9 for 20), never above what the runtime loads. The memory the weights
need is checked before anything is allocated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError
from archcalc.ir import Graph, TensorRef
from archcalc.onnx_export.builder import WEIGHT_MODES, Builder
from archcalc.onnx_export.emit import ExportError, emit_layer

#: metadata key holding the layers that several nodes (or tied/masked weights) stand for
GROUPS_KEY = "archcalc.layers"
#: default opset (newer ones on request, up to what the runtime accepts)
DEFAULT_OPSET = 17
#: the oldest opset export writes: 11 is the oldest still deployed (TensorRT 7/8, older mobile
#: runtimes), and the first with Resize coordinate modes, Pad and Clip bounds as inputs, which
#: archcalc's layers need; ops whose form changed since (Split, Squeeze/Unsqueeze and Reduce*
#: axes as inputs from 13/18, HardSwish 14, Mish 18, Gelu 20, AveragePool dilations 19) are
#: emitted in the form of the requested opset
MIN_OPSET = 11
#: refuse to materialise more weight bytes than this unless told otherwise
DEFAULT_MAX_BYTES = 4 * 2**30
#: random weights past this do not fit one protobuf message (2 GiB, less room for the graph)
MAX_PROTOBUF_WEIGHT_BYTES = 2**31 - 64 * 2**20


@dataclass
class Exported:
    model: Any  # onnx.ModelProto
    weight_bytes: int
    notes: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def runtime_limits() -> tuple[int, int]:
    """(highest IR version, highest default-domain opset) the installed ONNX Runtime loads."""
    import onnx
    from onnx import TensorProto, helper

    try:
        import onnxruntime as ort
    except ImportError:  # no runtime: what onnx itself writes
        return onnx.IR_VERSION, onnx.defs.onnx_opset_version()

    def loads(ir: int, opset: int) -> bool:
        g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = ir
        try:
            ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception:  # ORT raises its own exception types
            return False
        return True

    ir = next((v for v in range(onnx.IR_VERSION, 6, -1) if loads(v, MIN_OPSET)), 7)
    opset = next((v for v in range(onnx.defs.onnx_opset_version(), MIN_OPSET - 1, -1) if loads(ir, v)), MIN_OPSET)
    return ir, opset


def ir_version_for(opset: int, ir_max: int | None = None) -> int:
    """The IR version of the ONNX release that introduced ``opset`` (onnx.helper.VERSION_TABLE):
    IR 6 for opset 11, 7 for 13, 8 for 17 and 18, 9 for 20; never above what the runtime loads."""
    from onnx import helper

    ir = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    return min(ir, ir_max if ir_max is not None else runtime_limits()[0])


def export_onnx(
    graph: Graph,
    *,
    opset: int | None = None,
    batch: int | str = 1,
    seed: int = 0,
    weights: str = "random",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Exported:
    """Build the ONNX model of ``graph`` (nothing is written; see ``save``)."""
    from archcalc.analysis import analyze

    if weights not in WEIGHT_MODES:
        raise ExportError(f"weights must be one of {', '.join(WEIGHT_MODES)}, got {weights!r}")
    if batch != "dynamic" and (not isinstance(batch, int) or isinstance(batch, bool) or batch < 1):
        raise ExportError(f"batch must be a positive integer or 'dynamic', got {batch!r}")
    report = analyze(graph, overrides={"batch": 1, "dtype": "fp32"})
    if weights == "random" and report.totals.param_bytes > MAX_PROTOBUF_WEIGHT_BYTES:
        raise ExportError(
            f"the weights need {report.totals.param_bytes:,} bytes; one ONNX file holds less than 2 GiB "
            f"(protobuf's limit), and archcalc does not write external data: export constant weights "
            f"(--weights constant: made at load time, a file of a few KB, the same work to run)"
        )
    if weights == "random" and report.totals.param_bytes > max_bytes:
        raise ExportError(
            f"the weights need {report.totals.param_bytes:,} bytes, more than the limit of {max_bytes:,}: "
            f"raise the limit (--max-bytes) or export constant weights (--weights constant)"
        )
    ir_max, opset_max = runtime_limits()
    opset = opset if opset is not None else min(DEFAULT_OPSET, opset_max)
    if not MIN_OPSET <= opset <= opset_max:
        why = (f": opsets before {MIN_OPSET} lack Resize's coordinate modes and Pad and Clip bounds as inputs"
               if opset < MIN_OPSET else ": the installed ONNX Runtime loads no newer opset")
        raise ExportError(f"opset {opset} is outside what export supports with this runtime "
                          f"({MIN_OPSET}-{opset_max}){why}")
    import onnx  # after every check: a refusal does not pay for importing onnx
    from onnx import TensorProto, helper

    records = {r.name: r for r in report.layers}
    b = Builder(opset, seed, weights, None if batch == "dynamic" else int(batch))
    batch_dim: int | str = "batch" if batch == "dynamic" else int(batch)
    tensors: dict[TensorRef, str] = {}
    shapes: dict[TensorRef, tuple[int, ...]] = {}
    inputs = []
    value_infos = []
    for layer in graph.layers.values():
        record = records[layer.name]
        if layer.kind == "input":
            name = b.unique(layer.name)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch_dim, *record.shape]))
            tensors[(layer.name, 0)] = name
            shapes[(layer.name, 0)] = record.shape
            continue
        try:
            outs = emit_layer(b, layer, [tensors[r] for r in layer.inputs], [shapes[r] for r in layer.inputs],
                              list(record.shapes))
        except ArchcalcError as exc:
            raise exc.located(**layer.locate()) from None
        for i, (tensor, shape) in enumerate(zip(outs, record.shapes, strict=True)):
            tensors[(layer.name, i)] = tensor
            shapes[(layer.name, i)] = shape
            value_infos.append(helper.make_tensor_value_info(tensor, TensorProto.FLOAT, [batch_dim, *shape]))
    consumed = {ref for layer in graph.layers.values() for ref in layer.inputs}
    outputs = [vi for vi in value_infos if not any(tensors[ref] == vi.name for ref in consumed)]
    hidden = [vi for vi in value_infos if vi not in outputs]
    onnx_graph = helper.make_graph(b.nodes, graph.name, inputs, outputs, b.initializers, value_info=hidden)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="archcalc", producer_version=_version())
    model.ir_version = ir_version_for(opset, ir_max)
    groups = [
        {"layer": g.layer, "kind": g.kind, "attrs": g.attrs, "inputs": g.inputs, "outputs": g.output, "nodes": g.nodes}
        for g in b.groups
    ]
    helper.set_model_props(model, {
        GROUPS_KEY: json.dumps({"version": 1, "groups": groups}),
        "archcalc.source": str(graph.file or graph.name),
        "archcalc.conventions": json.dumps(dict(graph.conventions), default=str),
        "archcalc.weights": f"{weights} (seed {seed})" if weights == "random" else "constant (ConstantOfShape)",
    })
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"the exported model fails onnx.checker: {str(exc).splitlines()[0]}") from None
    return Exported(model, b.weight_bytes, b.notes)


def save(exported: Exported, path: str | Path) -> None:
    """Write the model atomically (a failure leaves no partial file)."""
    from archcalc.fileio import write_atomic

    write_atomic(path, exported.model.SerializeToString())


def _version() -> str:
    from archcalc import __version__

    return __version__
