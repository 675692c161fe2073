"""Safety: external-data paths cannot leave the model's folder; YAML is only safe-loaded; nothing
from a spec is executed or evaluated as code."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import archcalc
from archcalc.cli import main


def _model_with_external(tmp_path: Path, location: str) -> Path:
    weight = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(4 * 108))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 10
    path = tmp_path / "sub" / "m.onnx"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "../m.bin", "a/../../x.bin"])
def test_external_data_cannot_escape_the_model_folder(tmp_path: Path, location: str) -> None:
    path = _model_with_external(tmp_path, location)
    with pytest.raises(archcalc.ArchcalcError, match="refused"):
        archcalc.load(str(path))
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        assert main(["report", str(path)]) == 2
    assert "refused" in err.getvalue() and err.getvalue().count("\n") == 1


def test_external_data_inside_the_folder_is_fine_even_when_missing(tmp_path: Path) -> None:
    path = _model_with_external(tmp_path, "weights/m.bin")
    report = archcalc.analyze(archcalc.load(str(path)))
    assert report["conv"].weights == 108
    assert any("external data" in n for n in report.notes)


def test_yaml_tags_are_not_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    spec = tmp_path / "s.yaml"
    spec.write_text(f"input: !!python/object/apply:os.system ['touch {marker}']\nlayers: [relu]\n")
    with pytest.raises(archcalc.SpecError, match="constructor"):
        archcalc.load(spec)
    assert not marker.exists()


def test_expressions_are_not_python(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for expr in (f"${{__import__('os').system('touch {marker}')}}", "${[x for x in ()]}", "${width.__class__}",
                 "${lambda: 1}"):
        spec = {"input": [1, 8, 8], "variables": {"width": 2},
                "layers": [{"name": "c", "type": "conv", "filters": expr, "kernel": 1}]}
        with pytest.raises(archcalc.VariableError):
            archcalc.load(spec)
    assert not marker.exists()


def test_onnx_checker_accepts_exported_models(tmp_path: Path) -> None:
    from archcalc.onnx_export.export import export_onnx, save

    save(export_onnx(archcalc.load("lenet5")), tmp_path / "l.onnx")
    onnx.checker.check_model(str(tmp_path / "l.onnx"), full_check=True)
