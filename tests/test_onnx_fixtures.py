"""Real-exporter fixtures (tests/fixtures/onnx: torch.onnx.export, weights stripped to external data
that is not shipped) against the oracle figures manifest.yaml took from the torch modules
themselves: parameter counts, and for every Conv2d/ConvTranspose2d/Linear its input and output
shapes, weight shape, parameters and MACs."""

from __future__ import annotations

from math import prod
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import archcalc
from archcalc.report import Report

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "onnx"
MANIFEST = FIXTURES / "manifest.yaml"

if not MANIFEST.exists():  # pragma: no cover - the fixtures are part of the repository
    pytest.skip("no ONNX fixtures", allow_module_level=True)

_MANIFEST: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
ENTRIES: dict[str, dict[str, Any]] = _MANIFEST["fixtures"]
HEAVY = ("conv", "conv_transpose", "fc", "matmul")


def _report(name: str) -> Report:
    return archcalc.analyze(archcalc.load(FIXTURES / ENTRIES[name]["file"], batch=1))


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return {name: _report(name) for name in ENTRIES}


def _bn_folded(entry: dict[str, Any]) -> bool:
    return entry["torch"]["bn_layers"] > 0 and "BatchNormalization" not in entry["op_types"]


def _shape_of(report: Report, ref: str) -> tuple[int, ...]:
    name, _, index = ref.partition(":")
    return report[name].shapes[int(index or 0)]


@pytest.mark.parametrize("name", list(ENTRIES))
def test_params_buffers_and_macs_equal_torch(name: str, reports: dict[str, Report]) -> None:
    entry, r = ENTRIES[name], reports[name]
    torch = entry["torch"]
    if _bn_folded(entry):
        # the exporter folded every BN (2C scale and shift) into the preceding bias-free conv,
        # which gains C biases: C fewer parameters per BN, and no running statistics
        assert r.totals.params == torch["params"] - torch["bn_running_stat_elements"] // 2
        assert r.totals.buffers == 0
        assert any("folded it into conv" in note for note in r.notes)
    else:
        assert r.totals.params == torch["params"]
        assert r.totals.buffers == torch["bn_running_stat_elements"]
    assert sum(x.macs for x in r if x.kind in HEAVY) == torch["conv_linear_macs_total"]
    outputs = [x for x in r if x.name in r.outputs]
    assert [x.shape for x in outputs] == [tuple(torch["output_shape"])]
    assert not r.uncounted
    assert any("initializers hold external data" in note for note in r.notes)


@pytest.mark.parametrize("name", list(ENTRIES))
def test_every_conv_and_linear_layer_equals_torch(name: str, reports: dict[str, Report]) -> None:
    entry, r = ENTRIES[name], reports[name]
    folded = _bn_folded(entry)
    assert entry["layers"] and not entry["unmapped_heavy_nodes"]
    for layer in entry["layers"]:
        node = layer["onnx_nodes"][0].rsplit(" (", 1)[0]
        record = r[node]
        where = f"{name}: {layer['name']} ({node})"
        assert record.kind in HEAVY, where
        assert record.shape == tuple(layer["output_shape"]), where
        assert _shape_of(r, record.inputs[0]) == tuple(layer["input_shape"]), where
        assert record.weights == prod(layer["weight_shape"]), where
        assert record.macs == layer["macs"], where
        added_bias = folded and layer["type"] == "Conv2d" and not layer["bias"] and record.biases
        assert record.params == layer["params"] + (layer["out_channels"] if added_bias else 0), where


def test_symbolic_batch_fixture_needs_a_batch() -> None:
    entry = ENTRIES["mobilenet_small_dynbatch"]
    assert entry["inputs"][0]["shape"][0] == "batch"
    with pytest.raises(archcalc.ArchcalcError, match=r"symbolic dims batch \(axis 0\)"):
        archcalc.load(FIXTURES / entry["file"])
    four = archcalc.analyze(archcalc.load(FIXTURES / entry["file"], batch=4))
    one = archcalc.analyze(archcalc.load(FIXTURES / entry["file"], batch=1))
    assert four.totals.macs == 4 * one.totals.macs and four.totals.params == one.totals.params


def test_stripped_and_full_export_give_the_same_report() -> None:
    full = _MANIFEST["full_model"]
    with_weights = archcalc.analyze(archcalc.load(FIXTURES / full["file"]))
    stripped = archcalc.analyze(archcalc.load(FIXTURES / "lenet5_modern.onnx"))
    assert [(x.name, x.shapes, x.params, x.macs, x.connections, x.rf) for x in with_weights] == \
           [(x.name, x.shapes, x.params, x.macs, x.connections, x.rf) for x in stripped]
    assert with_weights.totals == stripped.totals


def test_full_export_shapes_equal_onnxruntime() -> None:
    import onnx

    from tests.onnx_builders import ort_shapes

    full = _MANIFEST["full_model"]
    model = onnx.load(str(FIXTURES / full["file"]))
    real = ort_shapes(model)
    r = archcalc.analyze(archcalc.load(FIXTURES / full["file"]))
    names = {x.name for x in r}
    checked = 0
    for n in model.graph.node:
        if n.name in names:
            assert r[n.name].shape == real[n.output[0]][1:], n.name
            checked += 1
    assert checked >= 8
    io = np.load(FIXTURES / full["io_file"])
    assert real[model.graph.output[0].name] == io["output"].shape
