"""The multi-node forms found in real PyTorch exports (tests/test_torch_exports.py), each in isolation: the
legacy exporter's Mish (Softplus -> Tanh -> Mul) and tanh-GELU (x*x*x), the dynamo exporter's GELU (0.5
multiplied before x) and tanh-GELU (Pow(x, 3)), PixelUnshuffle as Reshape -> Transpose -> Reshape (PyTorch's
CRD order, and ONNX SpaceToDepth's DCR order), and a Mul fed by a Constant node (which crashed the SiLU
matcher: an exit-3 bug on every legacy GroupNorm export). Shapes against ONNX shape inference and ONNX
Runtime (``verify``); values of the recognised forms against their formulas through ONNX Runtime."""

from __future__ import annotations

from math import erf, sqrt, tanh
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

import archcalc
from tests.onnx_builders import ORT_IR_VERSION, make, node, tensor, verify
from tests.onnx_builders import save as save_model


def _c(name: str, value: float) -> Any:
    return tensor(name, np.array(value, np.float32), np.float32)


def _attrs(m: Any, name: str) -> dict:
    return dict(archcalc.load(str(save_model(m))).layers[name].attrs)


def _run(m: Any, x: np.ndarray) -> np.ndarray:
    m.ir_version = ORT_IR_VERSION
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"x": x})[0])


X = np.linspace(-3, 3, 2 * 4 * 3 * 3, dtype=np.float32).reshape(2, 4, 3, 3)


def test_mul_of_a_constant_node_output_is_not_a_crash() -> None:
    """/gn/Mul of the legacy GroupNorm export multiplies by a Constant node's output: no gate to inspect."""
    m = make([node("Constant", [], "k", value=_c("kv", 2.0)), node("Relu", ["x"], "r"), node("Mul", ["r", "k"], "y")],
             {"x": [1, 4, 3, 3]})
    r = verify(m, layers=["r", "y"])
    assert r["y"].kind == "elementwise"


def test_mish_as_softplus_tanh_mul_is_one_layer() -> None:
    nodes = [node("Softplus", ["x"], "sp"), node("Tanh", ["sp"], "t"), node("Mul", ["x", "t"], "y")]
    m = make(nodes, {"x": [2, 4, 3, 3]}, opset=17)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "activation" and r["y"].flops == 2 * 4 * 9 and _attrs(m, "y")["fn"] == "mish"
    assert np.allclose(_run(m, X), X * np.tanh(np.log1p(np.exp(X))), atol=1e-6)


def test_tanh_of_another_softplus_is_not_mish() -> None:
    nodes = [node("Relu", ["x"], "r"), node("Softplus", ["r"], "sp"), node("Tanh", ["sp"], "t"),
             node("Mul", ["x", "t"], "y")]
    verify(make(nodes, {"x": [1, 4, 3, 3]}, opset=17), layers=["r", "sp", "t", "y"])


@pytest.mark.parametrize("half_first", [False, True])
def test_gelu_with_the_half_on_either_side(half_first: bool) -> None:
    """legacy: ((1 + erf) * x) * 0.5; dynamo: x * (0.5 * (1 + erf))."""
    tail = ([node("Mul", ["half", "a"], "h"), node("Mul", ["x", "h"], "y")] if half_first else
            [node("Mul", ["a", "x"], "h"), node("Mul", ["h", "half"], "y")])
    nodes = [node("Div", ["x", "sqrt2"], "d"), node("Erf", ["d"], "e"), node("Add", ["e", "one"], "a"), *tail]
    m = make(nodes, {"x": [2, 4, 3, 3]}, opset=18,
             inits=[_c("sqrt2", sqrt(2)), _c("one", 1.0), _c("half", 0.5)])
    r = verify(m, layers=["y"])
    assert r["y"].kind == "activation" and _attrs(m, "y")["fn"] == "gelu"
    assert np.allclose(_run(m, X), np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2))))(X), atol=1e-6)


def _gelu_tanh_nodes(cube: str, half_first: bool) -> list:
    if cube == "pow":
        head = [node("Pow", ["x", "three"], "x3")]
    else:
        head = [node("Mul", ["x", "x"], "x2"), node("Mul", ["x", "x2"], "x3")]
    tail = ([node("Mul", ["half", "p"], "h"), node("Mul", ["x", "h"], "y")] if half_first else
            [node("Mul", ["x", "p"], "h"), node("Mul", ["half", "h"], "y")])
    return [*head, node("Mul", ["c", "x3"], "cx3"), node("Add", ["x", "cx3"], "inner"),
            node("Mul", ["k", "inner"], "ki"), node("Tanh", ["ki"], "t"), node("Add", ["one", "t"], "p"), *tail]


@pytest.mark.parametrize("cube,half_first", [("pow", True), ("mul", False), ("pow", False), ("mul", True)])
def test_tanh_gelu_as_exporters_write_it_is_one_layer(cube: str, half_first: bool) -> None:
    inits = [_c("three", 3.0), _c("c", 0.044715), _c("k", sqrt(2 / np.pi)), _c("one", 1.0), _c("half", 0.5)]
    m = make(_gelu_tanh_nodes(cube, half_first), {"x": [2, 4, 3, 3]}, opset=18, inits=inits)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "activation" and r["y"].flops == 2 * 4 * 9 and _attrs(m, "y")["fn"] == "gelu_tanh"
    want = np.vectorize(lambda v: 0.5 * v * (1 + tanh(sqrt(2 / np.pi) * (v + 0.044715 * v**3))))(X)
    assert np.allclose(_run(m, X), want, atol=1e-6)
    assert any("activation gelu_tanh x1" in n for n in r.notes)


def test_tanh_gelu_with_another_coefficient_is_not_gelu() -> None:
    inits = [_c("three", 3.0), _c("c", 0.5), _c("k", sqrt(2 / np.pi)), _c("one", 1.0), _c("half", 0.5)]
    m = make(_gelu_tanh_nodes("pow", True), {"x": [1, 4, 3, 3]}, opset=18, inits=inits)
    r = archcalc.analyze(archcalc.load(str(save_model(m))))
    assert not any(x.kind == "activation" and x.name == "y" for x in r) and r["t"].kind == "activation"


@pytest.mark.parametrize("perm,mode", [([0, 1, 3, 5, 2, 4], "CRD"), ([0, 3, 5, 1, 2, 4], "DCR")])
def test_pixel_unshuffle_as_reshape_transpose_reshape(perm: list[int], mode: str) -> None:
    nodes = [node("Reshape", ["x", "s1"], "r1"), node("Transpose", ["r1"], "t", perm=perm),
             node("Reshape", ["t", "s2"], "y")]
    m = make(nodes, {"x": [2, 3, 4, 6]}, inits=[tensor("s1", [-1, 3, 2, 2, 3, 2]), tensor("s2", [-1, 12, 2, 3])],
             opset=13)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "pixel_unshuffle" and r["y"].shape == (12, 2, 3) and r.totals.params == 0
    assert _attrs(m, "y") == {"factor": 2, "mode": mode}
    if mode == "DCR":  # the same values as ONNX's own SpaceToDepth
        x = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
        s2d = make([node("SpaceToDepth", ["x"], "y", blocksize=2)], {"x": [2, 3, 4, 6]}, opset=13)
        assert np.array_equal(_run(m, x), _run(s2d, x))


def test_other_six_axis_permutes_stay_nodes() -> None:
    nodes = [node("Reshape", ["x", "s1"], "r1"), node("Transpose", ["r1"], "t", perm=[0, 1, 2, 4, 3, 5]),
             node("Reshape", ["t", "s2"], "y")]
    m = make(nodes, {"x": [2, 3, 4, 6]}, inits=[tensor("s1", [-1, 3, 2, 2, 3, 2]), tensor("s2", [-1, 12, 2, 3])],
             opset=13)
    verify(m, layers=["r1", "t", "y"])


@pytest.mark.parametrize("op,opset,kind", [("ReduceMean", 18, "global_avgpool"), ("ReduceMax", 18, "global_maxpool"),
                                           ("ReduceMean", 13, "global_avgpool")])
def test_reduce_over_every_spatial_axis_is_global_pooling(op: str, opset: int, kind: str) -> None:
    """The dynamo exporter's nn.AdaptiveAvgPool2d(1): ReduceMean over (2, 3) with keepdims."""
    axes = [-2, -1] if op == "ReduceMax" else [2, 3]
    if opset >= 18:
        m = make([node(op, ["x", "axes"], "y", keepdims=1)], {"x": [2, 4, 5, 6]}, inits=[tensor("axes", axes)],
                 opset=opset)
    else:
        m = make([node(op, ["x"], "y", axes=axes, keepdims=1)], {"x": [2, 4, 5, 6]}, opset=opset)
    r = verify(m, layers=["y"])
    gap = make([node("GlobalMaxPool" if op == "ReduceMax" else "GlobalAveragePool", ["x"], "y")],
               {"x": [2, 4, 5, 6]})
    g = verify(gap, layers=["y"])
    assert r["y"].kind == kind and r["y"].shape == (4, 1, 1)
    for preset in ("default", "fvcore", "ptflops"):
        a = archcalc.analyze(archcalc.load(str(save_model(m))), preset=preset)
        b = archcalc.analyze(archcalc.load(str(save_model(gap))), preset=preset)
        assert (a.totals.flops, a["y"].connections, a["y"].rf) == (b.totals.flops, g["y"].connections, b["y"].rf)


@pytest.mark.parametrize("axes,keepdims", [([2], 1), ([1, 2, 3], 1), ([2, 3], 0)])
def test_other_reductions_stay_reduce(axes: list[int], keepdims: int) -> None:
    m = make([node("ReduceMean", ["x", "axes"], "y", keepdims=keepdims)], {"x": [2, 4, 5, 6]},
             inits=[tensor("axes", axes)], opset=18)
    assert verify(m, layers=["y"])["y"].kind == "reduce"


def test_a_spatial_reduce_layer_round_trips_as_reduce(tmp_path: Any) -> None:
    from archcalc.onnx_export.export import export_onnx, save

    spec = {"name": "r", "input": [4, 5, 6], "layers": [{"name": "m", "type": "reduce", "op": "mean", "axes": [1, 2]},
                                                         {"name": "g", "type": "global_avgpool", "inputs": "input"}]}
    graph = archcalc.load(spec)
    save(export_onnx(graph), tmp_path / "r.onnx")
    back = archcalc.load(str(tmp_path / "r.onnx"))
    assert back.layers["m"].kind == "reduce" and back.layers["g"].kind == "global_avgpool"
    assert archcalc.analyze(back).totals == archcalc.analyze(graph).totals


def _ln2d_nodes(back: bool) -> list:
    nodes = [node("Transpose", ["x"], "t1", perm=[0, 2, 3, 1]), node("ReduceMean", ["t1"], "m", axes=[-1]),
             node("Sub", ["t1", "m"], "d"), node("Pow", ["d", "two"], "d2"), node("ReduceMean", ["d2"], "v", axes=[-1]),
             node("Add", ["v", "eps"], "ve"), node("Sqrt", ["ve"], "s"), node("Div", ["d", "s"], "n"),
             node("Mul", ["n", "gamma"], "ng"), node("Add", ["ng", "beta"], "ln")]
    return [*nodes, node("Transpose", ["ln"], "y", perm=[0, 3, 1, 2])] if back else nodes


@pytest.mark.parametrize("back", [True, False])
def test_layernorm2d_decomposed_between_transposes(back: bool) -> None:
    """LayerNorm2d (permute, F.layer_norm, permute) as the legacy exporter writes it before opset 17."""
    inits = [_c("two", 2.0), _c("eps", 1e-6), tensor("gamma", np.linspace(0.5, 1.5, 8), np.float32),
             tensor("beta", np.linspace(-0.1, 0.1, 8), np.float32)]
    m = make(_ln2d_nodes(back), {"x": [2, 8, 3, 5]}, inits=inits, opset=14)
    r = verify(m, layers=["y"] if back else ["t1", "ln"])
    last = "y" if back else "ln"
    assert r[last].kind == "layernorm" and r[last].params == 2 * 8 and r.totals.params == 16
    assert _attrs(m, last)["over"] == ("channels" if back else "last")
    if back:
        x = np.random.default_rng(0).standard_normal((2, 8, 3, 5)).astype(np.float32)
        mean, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
        want = (x - mean) / np.sqrt(var + 1e-6) * np.linspace(0.5, 1.5, 8)[:, None, None] \
            + np.linspace(-0.1, 0.1, 8)[:, None, None]
        assert np.allclose(_run(m, x), want, atol=1e-5)


@pytest.mark.parametrize("nodes", [
    [node("Div", ["x", "sqrt2"], "d"), node("Erf", ["d"], "e"), node("Add", ["e", "one"], "a"),
     node("Mul", ["a", "x"], [], name="dead"), node("Relu", ["x"], "y")],
    [node("Reshape", ["x", "s1"], "r1"), node("Transpose", ["r1"], [], name="dead", perm=[0, 1, 3, 5, 2, 4]),
     node("Relu", ["x"], "y")],
], ids=["gelu", "pixel_unshuffle"])
def test_a_node_without_outputs_inside_a_form_is_no_crash(nodes: list) -> None:
    """A malformed chain (a node with no output) is not a pattern: imported node by node, never an IndexError."""
    inits = [_c("sqrt2", sqrt(2)), _c("one", 1.0), tensor("s1", [-1, 4, 1, 3, 1, 3])]
    m = make(nodes, {"x": [1, 4, 3, 3]}, outputs=["y"], inits=inits, opset=18)
    r = archcalc.analyze(archcalc.load(str(save_model(m))))
    assert r["y"].kind == "activation" and not any(x.kind in ("layernorm", "pixel_unshuffle") for x in r)


def test_profile_node_map_knows_recognised_forms_and_leaves_the_model_alone() -> None:
    from onnx import helper

    from archcalc.runtime.kernelmap import node_layers

    m = make([helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])],
             {"x": [1, 4, 3, 3]})
    graph = archcalc.load(str(save_model(m)))
    assert list(graph.layers) == ["x", "Mul_1"] and graph.layers["Mul_1"].attrs["fn"] == "silu"
    assert node_layers(m, graph.layers) == {"Sigmoid_0": "Mul_1", "Mul_1": "Mul_1"}
    assert [n.name for n in m.graph.node] == ["", ""]  # labelled on views, not renamed
