"""Export: every bundled spec becomes a checked ONNX model that ONNX Runtime runs with the predicted
output shape; small nets compute what a numpy reference of the same weights computes; the
spec -> ONNX -> import round trip gives the same report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

import archcalc
from archcalc.onnx_export.export import export_onnx, runtime_limits, save
from archcalc.zoo import bundled_specs
from tests.numpy_reference import forward

SPECS = bundled_specs()


def _run(model: onnx.ModelProto, batch: int, seed: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    (inp,) = sess.get_inputs()
    shape = [batch if not isinstance(d, int) else d for d in inp.shape]
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {inp.name: x}), strict=True)), x


@pytest.mark.parametrize("name", sorted(SPECS))
def test_bundled_spec_exports_checks_and_runs(name: str) -> None:
    graph = archcalc.load(SPECS[name])
    report = archcalc.analyze(graph)
    exported = export_onnx(graph, batch=2, weights="constant")
    model = exported.model
    ir_max, opset_max = runtime_limits()
    assert model.ir_version <= ir_max and model.opset_import[0].version <= opset_max
    onnx.checker.check_model(model, full_check=True)
    # node names are layer names
    node_names = {n.name for n in model.graph.node}
    assert {r.name for r in report.layers if r.kind != "input"} <= node_names
    # ONNX shape inference and ONNX Runtime agree with the predicted output shapes
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    declared = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in inferred.graph.output}
    outputs, _ = _run(model, batch=2)
    for out in report.outputs:
        predicted = [2, *report[out].shape]
        assert declared[out] == predicted
        assert list(outputs[out].shape) == predicted


def test_dynamic_batch() -> None:
    graph = archcalc.load(SPECS["resnet18"])
    model = export_onnx(graph, batch="dynamic", weights="constant").model
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    outputs, _ = _run(model, batch=3)
    assert list(next(iter(outputs.values())).shape) == [3, 1000]


SMALL_NET = {
    "name": "small",
    "input": [3, 16, 16],
    "layers": [
        {"name": "c1", "type": "conv", "filters": 8, "kernel": 3, "padding": [[1, 0], [0, 1]], "rounding": "floor"},
        {"name": "bn", "type": "bn"},
        {"name": "act", "type": "prelu"},
        {"name": "p1", "type": "maxpool", "kernel": 3, "stride": 2, "rounding": "ceil"},
        {"name": "g", "type": "conv", "filters": 8, "kernel": 3, "padding": 1, "groups": 4},
        {"name": "lrn", "type": "lrn", "size": 3},
        {"name": "b1", "type": "conv", "inputs": "p1", "filters": 4, "kernel": 1, "bias": "per_unit"},
        {"name": "cat", "type": "concat", "inputs": ["lrn", "b1"]},
        {"name": "res", "type": "conv", "filters": 8, "kernel": 1},
        {"name": "sum", "type": "add", "inputs": ["res", "g"]},
        {"name": "pad", "type": "pad", "padding": [[1, 2], [0, 1]]},
        {"name": "up", "type": "upsample", "scale": 2},
        {"name": "avg", "type": "avgpool", "kernel": 3, "stride": 2, "padding": 1, "rounding": "floor"},
        {"name": "gap", "type": "global_avgpool"},
        {"name": "fc", "type": "fc", "units": 5},
        {"name": "sm", "type": "softmax"},
    ],
}


@pytest.mark.parametrize("source", ["lenet5", "lenet1989", "lenet5_course", "lenet5_modern", "small"])
def test_onnx_runtime_equals_numpy_reference(source: str) -> None:
    graph = archcalc.load(SMALL_NET if source == "small" else SPECS[source])
    model = export_onnx(graph, batch=2, seed=7).model
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    outputs, x = _run(model, batch=2)
    expected = forward(graph, weights, x)
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-4, atol=1e-5)


def test_seed_makes_weights_reproducible() -> None:
    graph = archcalc.load(SPECS["lenet5"])
    a, b, c = (export_onnx(graph, seed=s).model for s in (3, 3, 4))
    assert a.SerializeToString() == b.SerializeToString() != c.SerializeToString()


def test_locally_connected_is_refused_not_approximated(tmp_path: Path) -> None:
    graph = archcalc.load({"input": [3, 30, 30], "layers": [
        {"name": "lc", "type": "locally_connected", "filters": 5, "kernel": 7}]})
    with pytest.raises(archcalc.ArchcalcError, match="layer lc: locally connected layers have no faithful ONNX form"):
        export_onnx(graph)


def test_memory_is_checked_before_allocating() -> None:
    graph = archcalc.load(SPECS["vgg"])
    with pytest.raises(archcalc.ArchcalcError, match="--weights constant"):
        export_onnx(graph, max_bytes=10**8)


def test_save_is_atomic(tmp_path: Path, monkeypatch: Any) -> None:
    exported = export_onnx(archcalc.load(SPECS["lenet5"]))
    target = tmp_path / "m.onnx"
    save(exported, target)
    assert onnx.load(str(target)).graph.name == "lenet5"
    before = target.read_bytes()

    def broken(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    from archcalc import fileio

    monkeypatch.setattr(fileio.os, "fsync", broken)
    with pytest.raises(archcalc.ArchcalcError, match=r"cannot write .*m\.onnx: no space left on device"):
        save(exported, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_cli_export(tmp_path: Path) -> None:
    import io
    from contextlib import redirect_stdout

    from archcalc.cli import main

    out = io.StringIO()
    target = tmp_path / "l.onnx"
    with redirect_stdout(out):
        assert main(["export", "lenet5", "-o", str(target), "--seed", "2"]) == 0
    assert "wrote" in out.getvalue() and "connection table exported as a dense kernel" in out.getvalue()
    onnx.checker.check_model(str(target), full_check=True)


#: the opsets users still deploy, and the IR version of the ONNX release that introduced each
#: (onnx.helper.VERSION_TABLE)
OPSETS = {11: 6, 13: 7, 17: 8, 18: 8, 20: 9}

#: every layer type whose ONNX form changed between opsets (Split sizes, Unsqueeze/Reduce axes,
#: Dropout ratio, Resize roi/scales, HardSwish/Mish/Gelu as single ops)
EVERY_OP = {"name": "every_op", "input": [4, 16, 16], "layers": [
    {"name": "c1", "type": "conv", "filters": 8, "kernel": 3, "padding": 1},
    {"name": "bn", "type": "bn"},
    {"name": "a1", "type": "relu6"}, {"name": "a2", "type": "hardswish"}, {"name": "a3", "type": "gelu"},
    {"name": "a4", "type": "mish"}, {"name": "a5", "type": "silu"},
    {"name": "sp", "type": "split", "parts": 2, "axis": 0},
    {"name": "cat", "type": "concat", "inputs": ["sp:1", "sp:0"]},
    {"name": "pad", "type": "pad", "padding": [[1, 1], [2, 0]], "mode": "reflect"},
    {"name": "sl", "type": "slice", "axis": 1, "start": 1, "end": 17},
    {"name": "up", "type": "upsample", "scale": 2, "mode": "bilinear"},
    {"name": "upn", "type": "upsample", "size": [40, 40]},
    {"name": "mp", "type": "maxpool", "kernel": 2, "dilation": 2, "stride": 2, "rounding": "floor"},
    {"name": "ct", "type": "conv_transpose", "filters": 4, "kernel": 2, "stride": 2},
    {"name": "tr", "type": "transpose", "perm": [0, 2, 1]},
    {"name": "rd", "type": "reduce", "op": "mean", "axes": [1]},
    {"name": "rs", "type": "reduce", "op": "sum", "axes": [2]},
    {"name": "drop", "type": "dropout", "rate": 0.3},
    {"name": "flat", "type": "flatten"},
    {"name": "fc", "type": "fc", "units": 12},
    {"name": "sm", "type": "softmax"},
]}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", [*sorted(SPECS), "every_op"])
def test_round_trip_gives_the_same_report(name: str, opset: int, tmp_path: Path) -> None:
    """spec -> ONNX at each opset: onnx.checker passes, the IR version matches the opset, ONNX
    Runtime runs it, and import gives the same layers, shapes, counts and receptive fields."""
    graph = archcalc.load(EVERY_OP if name == "every_op" else SPECS[name])
    if opset < 17 and any(layer.kind == "layernorm" for layer in graph.layers.values()):  # convnext_tiny
        with pytest.raises(archcalc.ExportError, match="layernorm needs LayerNormalization: export at opset 17"):
            export_onnx(graph, opset=opset, weights="constant")
        return
    model = export_onnx(graph, opset=opset, weights="constant").model
    assert model.opset_import[0].version == opset and model.ir_version == min(OPSETS[opset], runtime_limits()[0])
    onnx.checker.check_model(model, full_check=True)
    outputs, _ = _run(model, batch=1)
    report = archcalc.analyze(graph)
    assert {k: list(v.shape) for k, v in outputs.items()} == {o: [1, *report[o].shape] for o in report.outputs}
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(model.SerializeToString())
    spec_report = report.to_dict()
    onnx_report = archcalc.analyze(archcalc.load(str(path))).to_dict()
    for record in (*spec_report["layers"], *onnx_report["layers"]):
        record.pop("where", None)
    assert onnx_report["layers"] == spec_report["layers"]
    assert onnx_report["totals"] == spec_report["totals"]
    assert onnx_report["conventions"] == spec_report["conventions"]


def test_opsets_before_11_and_past_the_runtime_are_refused_with_the_reason() -> None:
    graph = archcalc.load(SPECS["lenet5_modern"])
    with pytest.raises(archcalc.ArchcalcError, match=r"opset 10 is outside .*\(11-\d+\): opsets before 11 lack"):
        export_onnx(graph, opset=10)
    with pytest.raises(archcalc.ArchcalcError, match="loads no newer opset"):
        export_onnx(graph, opset=runtime_limits()[1] + 1)


def test_dilated_average_pooling_needs_opset_19() -> None:
    graph = archcalc.load({"input": [2, 12, 12], "layers": [
        {"name": "p", "type": "avgpool", "kernel": 2, "dilation": 2, "stride": 2, "rounding": "floor"}]})
    with pytest.raises(archcalc.ArchcalcError, match="layer p: dilated average pooling needs opset 19"):
        export_onnx(graph, opset=18)
    onnx.checker.check_model(export_onnx(graph, opset=19).model, full_check=True)


def test_cli_exports_opset_11(tmp_path: Path) -> None:
    from archcalc.cli import main

    target = tmp_path / "r.onnx"
    assert main(["export", "resnet18", "-o", str(target), "--opset", "11", "--weights", "constant"]) == 0
    model = onnx.load(str(target))
    assert (model.opset_import[0].version, model.ir_version) == (11, 6)
