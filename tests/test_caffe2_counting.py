"""Issue 12: counting a per-channel constant must not depend on how it is stored. In a
Caffe2-converted network every BatchNormalization is followed by the Caffe Scale layer, a Mul and
an Add with per-channel constants; the converter stored them as initializers, Constant nodes,
ConstantOfShape -> Unsqueeze or Expand. The rule: a learned per-channel scale or shift (a float
tensor of more than one element added to or multiplying an activation) is a parameter whatever
produced it. Expected figures are the general formulas of tests/caffe2_graphs.py."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

import archcalc
from archcalc.report import Report
from tests.caffe2_graphs import SCALE_STORAGE, caffe2_net, expected_params

CHANNELS = [(16, 32, 64, 128, 256), (24, 40, 96), (3, 7)]


def _report(tmp_path: Path, channels: tuple[int, ...], storage: str, opset: int, weightless: bool) -> Report:
    path = tmp_path / f"{storage}_{opset}_{weightless}.onnx"
    onnx.save(caffe2_net(channels, opset=opset, storage=storage, weightless=weightless), str(path))
    return archcalc.analyze(archcalc.load(str(path)))


@pytest.mark.parametrize("channels", CHANNELS, ids=["-".join(map(str, c)) for c in CHANNELS])
@pytest.mark.parametrize("weightless", [False, True], ids=["weights", "weightless"])
def test_scale_constants_count_the_same_however_stored(tmp_path: Path, channels: tuple[int, ...],
                                                       weightless: bool) -> None:
    expected = expected_params(channels)
    per_layer = {}
    for storage in SCALE_STORAGE:
        report = _report(tmp_path, channels, storage, 9, weightless)
        assert report.totals.params == expected["params"], storage
        scale = {r.name: r.params for r in report.layers if r.name.endswith(("_scale", "_shift"))}
        # each Mul and Add holds one value per channel of its conv: the conv's biases count them
        convs = {r.name: r.biases for r in report.layers if r.kind == "conv"}
        assert scale == {f"{c}_{part}": n for c, n in convs.items() for part in ("scale", "shift")}, storage
        per_layer[storage] = {r.name: (r.params, r.macs, r.flops) for r in report.layers}
    first = per_layer["initializer"]
    assert all(layers == first for layers in per_layer.values())


@pytest.mark.parametrize(("storage", "opset"), [("initializer", 7), ("constant", 7), ("expand", 8),
                                                ("constant_of_shape", 9)])
def test_old_opsets_count_the_same(tmp_path: Path, storage: str, opset: int) -> None:
    channels = CHANNELS[1]
    report = _report(tmp_path, channels, storage, opset, False)
    assert report.totals.params == expected_params(channels)["params"]


def test_a_scalar_or_integer_constant_is_still_not_a_parameter(tmp_path: Path) -> None:
    """The rule is about learned per-channel tensors: a scalar Mul (x * 0.5) and an integer operand
    hold no parameters, whatever stores them."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ConstantOfShape", ["one_shape"], ["half"], name="half",
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])),
             helper.make_node("Mul", ["x", "half"], ["y"], name="y")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array([1], np.int64), "one_shape")])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)]), str(path))
    assert archcalc.analyze(archcalc.load(str(path))).totals.params == 0
