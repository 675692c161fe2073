"""Activations and gates used today: SiLU/Swish (ONNX Swish-24 and the Mul(x, Sigmoid(x)) form),
HardSwish, HardSigmoid, GELU (exact and tanh, Gelu-20), Mish; layer scale (a parameter per
channel); stochastic depth (identity at inference). Shapes against ONNX Runtime, the exported
functions' values against their formulas, round trips."""

from __future__ import annotations

from math import erf, sqrt, tanh
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import archcalc
from archcalc.onnx_export.export import export_onnx, runtime_limits, save
from tests.onnx_builders import make, node, tensor, verify
from tests.onnx_builders import save as save_model

OPSET_MAX = runtime_limits()[1]


def _fn(model: object, name: str) -> str:
    graph = archcalc.load(str(save_model(model)))  # type: ignore[arg-type]
    return str(graph.layers[name].attrs["fn"])


@pytest.mark.parametrize("order", [["x", "s"], ["s", "x"]])
@pytest.mark.parametrize("opset", [13, 17])
def test_silu_as_mul_of_sigmoid_is_one_layer(order: list[str], opset: int) -> None:
    m = make([node("Sigmoid", ["x"], "s"), node("Mul", order, "y")], {"x": [2, 8, 5, 5]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "activation" and r["y"].flops == 2 * 8 * 25 and r.totals.params == 0
    assert _fn(m, "y") == "silu"
    assert any("activation silu x1" in n for n in r.notes)


def test_sigmoid_gate_of_another_tensor_is_not_silu() -> None:
    m = make([node("Sigmoid", ["x"], "s"), node("Relu", ["x"], "r"), node("Mul", ["r", "s"], "y")],
             {"x": [1, 4, 3, 3]}, opset=13)
    r = verify(m, layers=["s", "r", "y"])
    assert r["y"].kind == "mul"


def test_sigmoid_used_twice_is_not_folded_into_silu() -> None:
    m = make([node("Sigmoid", ["x"], "s"), node("Mul", ["x", "s"], "m"), node("Add", ["m", "s"], "y")],
             {"x": [1, 4, 3, 3]}, opset=13)
    verify(m, layers=["s", "m", "y"])


@pytest.mark.parametrize("op,attrs,opset,fn", [
    ("Gelu", {}, 20, "gelu"), ("Gelu", {"approximate": "tanh"}, 20, "gelu_tanh"), ("Gelu", {}, 22, "gelu"),
    ("HardSwish", {}, 14, "hardswish"), ("HardSigmoid", {"alpha": 1 / 6}, 7, "hardsigmoid"),
    ("Mish", {}, 18, "mish"), ("Swish", {}, 24, "silu"), ("Swish", {"alpha": 1.702}, 24, "swish"),
])
def test_single_node_activations(op: str, attrs: dict, opset: int, fn: str) -> None:
    m = make([node(op, ["x"], "y", **attrs)], {"x": [2, 3, 4, 5]}, opset=opset)
    r = verify(m, layers=["y"], ort=opset <= OPSET_MAX and op != "Swish")
    assert r["y"].kind == "activation" and r["y"].flops == 2 * 60
    assert _fn(m, "y") == fn


FUNCTIONS = {
    "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-1.5 * x)),
    "gelu": np.vectorize(lambda x: 0.5 * x * (1 + erf(x / sqrt(2)))),
    "gelu_tanh": np.vectorize(lambda x: 0.5 * x * (1 + tanh(sqrt(2 / np.pi) * (x + 0.044715 * x**3)))),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "hardswish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
}


@pytest.mark.parametrize("opset", sorted({17, 20, min(24, OPSET_MAX)}))
@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
def test_exported_functions_compute_their_formula(fn: str, opset: int) -> None:
    layer = {"name": "a", "type": fn, **({"alpha": 1.5} if fn == "swish" else {})}
    graph = archcalc.load({"name": "f", "input": [3, 4, 4], "layers": [layer]})
    model = export_onnx(graph, batch=1, opset=opset).model
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.linspace(-4, 4, 48, dtype=np.float32).reshape(1, 3, 4, 4)
    (y,) = sess.run(None, {sess.get_inputs()[0].name: x})
    assert np.allclose(y, FUNCTIONS[fn](x.astype(np.float64)), atol=1e-4)


NET = {
    "name": "gates",
    "input": [16, 8, 8],
    "layers": [
        {"name": "c", "type": "conv", "filters": 16, "kernel": 3, "padding": 1},
        {"name": "a1", "type": "silu"},
        {"name": "a2", "type": "gelu_tanh"},
        {"name": "a3", "type": "gelu"},
        {"name": "a4", "type": "mish"},
        {"name": "a5", "type": "hardswish"},
        {"name": "a6", "type": "hardsigmoid"},
        {"name": "a7", "type": "swish", "alpha": 1.5},
        {"name": "ls", "type": "layer_scale"},
        {"name": "dp", "type": "drop_path", "rate": 0.1},
        {"name": "sum", "type": "add", "inputs": ["dp", "c"]},
    ],
}


def test_layer_scale_and_drop_path_counts() -> None:
    r = archcalc.analyze(archcalc.load(NET))
    assert r["ls"].params == 16 and r["ls"].weights == 16 and r["ls"].flops == 16 * 64 and r["ls"].macs == 0
    assert r["dp"].params == 0 and r["dp"].flops == 0 and r["dp"].shape == (16, 8, 8)
    assert r.totals.params == 16 * 16 * 9 + 16 + 16


@pytest.mark.parametrize("opset", sorted({17, 20, OPSET_MAX}))
def test_round_trip(opset: int, tmp_path: Path) -> None:
    graph = archcalc.load(NET)
    path = tmp_path / "g.onnx"
    save(export_onnx(graph, opset=opset), path)
    spec = archcalc.analyze(graph).to_dict()
    back = archcalc.analyze(archcalc.load(str(path))).to_dict()
    for record in (*spec["layers"], *back["layers"]):
        record.pop("where", None)
    assert back["layers"] == spec["layers"] and back["totals"] == spec["totals"]


def test_layer_scale_without_metadata_counts_the_same() -> None:
    graph = archcalc.load(NET)
    model = export_onnx(graph, opset=20).model
    del model.metadata_props[:]
    back = archcalc.analyze(archcalc.load(str(save_model(model))))
    spec = archcalc.analyze(graph)
    assert back.totals.params == spec.totals.params
    assert back["ls"].params == 16 and back["ls"].flops == spec["ls"].flops


@pytest.mark.parametrize("opset", [13, 17])
def test_gelu_and_hardswish_as_older_exporters_write_them_are_one_layer(opset: int) -> None:
    nodes = [node("Div", ["x", "sqrt2"], "d"), node("Erf", ["d"], "e"), node("Add", ["e", "one"], "a"),
             node("Mul", ["x", "a"], "m"), node("Mul", ["m", "half"], "g"),
             node("HardSigmoid", ["g"], "hs", alpha=1 / 6, beta=0.5), node("Mul", ["g", "hs"], "y")]
    inits = [tensor("sqrt2", 2**0.5, np.float32), tensor("one", 1.0, np.float32), tensor("half", 0.5, np.float32)]
    m = make(nodes, {"x": [1, 4, 3, 3]}, inits=inits, opset=opset)
    r = verify(m, layers=["g", "y"])
    assert _fn(m, "g") == "gelu" and _fn(m, "y") == "hardswish"
    assert r["g"].flops == r["y"].flops == 36


def test_hardsigmoid_gate_with_other_constants_is_not_hardswish() -> None:
    m = make([node("HardSigmoid", ["x"], "hs"), node("Mul", ["x", "hs"], "y")], {"x": [1, 4, 3, 3]}, opset=13)
    verify(m, layers=["hs", "y"])
