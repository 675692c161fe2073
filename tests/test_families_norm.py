"""Layer, group and instance normalisation: shapes against ONNX Runtime, counts against the
documented formulas (and a brute-force count of the parameters), every ONNX form imported
(LayerNormalization at 17, GroupNormalization at 18 and 21, InstanceNormalization, and the
multi-node forms PyTorch writes), and the spec -> ONNX -> import round trip."""

from __future__ import annotations

from math import prod
from pathlib import Path

import numpy as np
import pytest

import archcalc
from archcalc.onnx_export.export import export_onnx, save
from archcalc.ops.normalization import norm_flops
from tests.onnx_builders import make, node, tensor, verify, weight
from tests.onnx_builders import save as save_model


def test_norm_flops_formula() -> None:
    # mean 1, variance 3, normalise 2, scale 1, shift 1 per element
    assert norm_flops(10, True) == 80 and norm_flops(10, False) == 60 and norm_flops(10, True, False) == 70


@pytest.mark.parametrize("opset", [17, 18, 21])
@pytest.mark.parametrize("axis,shape", [(-1, [2, 5, 6, 8]), (2, [2, 5, 6, 8]), (1, [3, 12]), (-2, [1, 4, 7, 3])])
def test_layer_normalization(opset: int, axis: int, shape: list[int]) -> None:
    norm = shape[axis % len(shape):]
    m = make([node("LayerNormalization", ["x", "s", "b"], "y", axis=axis)], {"x": shape},
             inits=[weight("s", norm), weight("b", norm)], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "layernorm"
    assert r["y"].params == 2 * prod(norm)  # brute force: the elements of scale and bias
    assert r["y"].flops == 8 * prod(shape) and r["y"].macs == 0


def test_layer_normalization_without_bias_and_identity_scale() -> None:
    m = make([node("LayerNormalization", ["x", "s"], "y")], {"x": [1, 4, 6]}, inits=[weight("s", [6])], opset=17)
    r = verify(m, layers=["y"])
    assert r["y"].params == 6 and r["y"].flops == 7 * 24
    ones = make([node("LayerNormalization", ["x", "s", "b"], "y")], {"x": [1, 4, 6]},
                inits=[tensor("s", np.ones(6), np.float32), tensor("b", np.zeros(6), np.float32)], opset=17)
    r = verify(ones, layers=["y"])
    assert r["y"].params == 0 and any("not counted as parameters" in n for n in r.notes)


def _layernorm2d(c: int, opset: int = 17) -> tuple[list, list]:
    nodes = [node("Transpose", ["x"], "t1", perm=[0, 2, 3, 1]),
             node("LayerNormalization", ["t1", "s", "b"], "ln", axis=-1, epsilon=1e-6),
             node("Transpose", ["ln"], "y", perm=[0, 3, 1, 2])]
    return nodes, [weight("s", [c]), weight("b", [c])]


@pytest.mark.parametrize("opset", [17, 18])
def test_convnext_layernorm2d_is_one_layer(opset: int) -> None:
    nodes, inits = _layernorm2d(16)
    m = make(nodes, {"x": [2, 16, 7, 5]}, inits=inits, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "layernorm" and r["y"].shape == (16, 7, 5)
    assert r["y"].params == 32 and r["y"].flops == 2 * 8 * 16 * 35
    assert any("layernorm x1" in n for n in r.notes)


@pytest.mark.parametrize("opset", [18, 19, 20])
def test_group_normalization_opset18_scale_per_group(opset: int) -> None:
    c, g = 12, 3
    m = make([node("GroupNormalization", ["x", "s", "b"], "y", num_groups=g)], {"x": [2, c, 5, 4]},
             inits=[weight("s", [g]), weight("b", [g])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "groupnorm" and r["y"].params == 2 * g
    assert r["y"].flops == 2 * 8 * c * 20


@pytest.mark.parametrize("opset", [21, 22])
def test_group_normalization_opset21_scale_per_channel(opset: int) -> None:
    c, g = 12, 4
    m = make([node("GroupNormalization", ["x", "s", "b"], "y", num_groups=g)], {"x": [2, c, 5, 4]},
             inits=[weight("s", [c]), weight("b", [c])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].params == 2 * c


def test_group_normalization_wrong_scale_size_is_refused() -> None:
    m = make([node("GroupNormalization", ["x", "s", "b"], "y", num_groups=4)], {"x": [2, 12, 5, 4]},
             inits=[weight("s", [12]), weight("b", [12])], opset=18)
    with pytest.raises(archcalc.ArchcalcError, match="12 values for 4 groups"):
        verify(m, ort=False)


def _torch_groupnorm(c: int, g: int, affine: bool = True) -> tuple[list, list]:
    """What torch.onnx (opset 17) writes for nn.GroupNorm(g, c)."""
    nodes = [node("Reshape", ["x", "gshape"], "r1"),
             node("InstanceNormalization", ["r1", "ones", "zeros"], "in", epsilon=1e-5),
             node("Shape", ["x"], "xshape"),
             node("Reshape", ["in", "xshape"], "r2")]
    inits = [tensor("gshape", [0, g, -1]), tensor("ones", np.ones(g), np.float32),
             tensor("zeros", np.zeros(g), np.float32)]
    if affine:
        nodes += [node("Unsqueeze", ["gamma", "axes"], "gamma3"), node("Mul", ["r2", "gamma3"], "m"),
                  node("Unsqueeze", ["beta", "axes"], "beta3"), node("Add", ["m", "beta3"], "y")]
        inits += [weight("gamma", [c]), weight("beta", [c]), tensor("axes", [1, 2])]
    return nodes, inits


@pytest.mark.parametrize("affine", [True, False])
def test_torch_groupnorm_decomposition_is_one_layer(affine: bool) -> None:
    nodes, inits = _torch_groupnorm(16, 4, affine)
    m = make(nodes, {"x": [2, 16, 6, 6]}, inits=inits, opset=17)
    name = "y" if affine else "r2"
    r = verify(m, layers=[name])
    assert r[name].kind == "groupnorm" and r[name].shape == (16, 6, 6)
    assert r[name].params == (2 * 16 if affine else 0)
    assert r.totals.params == (2 * 16 if affine else 0)
    assert r[name].flops == 2 * norm_flops(16 * 36, affine)


@pytest.mark.parametrize("opset", [7, 13, 17, 22])
def test_instance_normalization(opset: int) -> None:
    c = 6
    m = make([node("InstanceNormalization", ["x", "s", "b"], "y")], {"x": [2, c, 5, 3]},
             inits=[weight("s", [c]), weight("b", [c])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "instancenorm" and r["y"].params == 2 * c and r["y"].flops == 2 * 8 * c * 15
    ones = make([node("InstanceNormalization", ["x", "s", "b"], "y")], {"x": [2, c, 5, 3]},
                inits=[tensor("s", np.ones(c), np.float32), tensor("b", np.zeros(c), np.float32)], opset=opset)
    r = verify(ones, layers=["y"])
    assert r["y"].params == 0 and r["y"].flops == 2 * 6 * c * 15  # nn.InstanceNorm2d(affine=False)


NET = {
    "name": "norms",
    "input": [8, 6, 5],
    "layers": [
        {"name": "ln", "type": "layernorm"},
        {"name": "ln_last", "type": "layernorm", "over": "last", "axes": 2},
        {"name": "ln_plain", "type": "layernorm", "affine": False},
        {"name": "ln_nobias", "type": "layernorm", "over": "last", "bias": False},
        {"name": "gn", "type": "groupnorm", "groups": 4},
        {"name": "gn_pg", "type": "groupnorm", "groups": 2, "affine": "per_group"},
        {"name": "gn_plain", "type": "groupnorm", "groups": 8, "affine": False},
        {"name": "in", "type": "instancenorm"},
        {"name": "in_affine", "type": "instancenorm", "affine": True},
    ],
}

EXPECTED_PARAMS = {"ln": 16, "ln_last": 60, "ln_plain": 0, "ln_nobias": 5, "gn": 16, "gn_pg": 4, "gn_plain": 0,
                   "in": 0, "in_affine": 16}


def test_spec_counts() -> None:
    r = archcalc.analyze(archcalc.load(NET))
    for name, params in EXPECTED_PARAMS.items():
        assert r[name].params == params, name
        assert r[name].macs == 0
    assert r["ln_nobias"].flops == 7 * 240 and r["in"].flops == 6 * 240 and r["gn"].flops == 8 * 240


def test_groupnorm_groups_must_divide_channels() -> None:
    bad = {"name": "b", "input": [6, 4, 4], "layers": [{"name": "g", "type": "groupnorm", "groups": 4}]}
    with pytest.raises(archcalc.ArchcalcError, match="do not divide"):
        archcalc.analyze(archcalc.load(bad))


@pytest.mark.parametrize("opset", [17, 18, 21])
@pytest.mark.parametrize("weights", ["random", "constant"])
def test_round_trip(opset: int, weights: str, tmp_path: Path) -> None:
    graph = archcalc.load(NET)
    path = tmp_path / "n.onnx"
    save(export_onnx(graph, opset=opset, weights=weights), path)
    spec = archcalc.analyze(graph).to_dict()
    back = archcalc.analyze(archcalc.load(str(path))).to_dict()
    for record in (*spec["layers"], *back["layers"]):
        record.pop("where", None)
    assert back["layers"] == spec["layers"] and back["totals"] == spec["totals"]


@pytest.mark.parametrize("opset", [17, 18, 21])
def test_export_runs_in_onnx_runtime_and_imports_without_metadata(opset: int, tmp_path: Path) -> None:
    import onnxruntime as ort

    graph = archcalc.load(NET)
    model = export_onnx(graph, opset=opset, batch=2).model
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {sess.get_inputs()[0].name: np.ones((2, 8, 6, 5), np.float32)})
    assert y.shape == (2, 8, 6, 5)
    # without the metadata the multi-node forms are recognised from the graph itself
    del model.metadata_props[:]
    path = tmp_path / "bare.onnx"
    path.write_bytes(model.SerializeToString())
    back = archcalc.analyze(archcalc.load(str(path)))
    spec = archcalc.analyze(graph)
    assert back.totals.params == spec.totals.params
    assert [r.kind for r in back if r.kind != "input"] == [r.kind for r in spec if r.kind != "input"]


def _decomposed_layernorm(axes: list[int], opset: int, c: int, affine: str = "both",
                          gamma_first: bool = False) -> tuple[list, list]:
    """What older exporters (and hand-written LayerNorm2d) write for a layer norm."""
    ax: dict = {"axes": axes} if opset < 18 else {}
    extra = ["axes"] if opset >= 18 else []
    nodes = [node("ReduceMean", ["x", *extra], "mean", **ax), node("Sub", ["x", "mean"], "d"),
             node("Pow", ["d", "two"], "sq"), node("ReduceMean", ["sq", *extra], "var", **ax),
             node("Add", ["var", "eps"], "ve"), node("Sqrt", ["ve"], "std"), node("Div", ["d", "std"], "n")]
    inits = [tensor("two", 2.0, np.float32), tensor("eps", 1e-6, np.float32)]
    if opset >= 18:
        inits.append(tensor("axes", axes))
    side = [c, 1, 1] if axes == [1] else [c]
    if affine in ("both", "scale"):
        nodes.append(node("Mul", ["gamma", "n"] if gamma_first else ["n", "gamma"], "m"))
        inits.append(weight("gamma", side))
    if affine == "both":
        nodes.append(node("Add", ["beta", "m"] if gamma_first else ["m", "beta"], "y"))
        inits.append(weight("beta", side))
    return nodes, inits


@pytest.mark.parametrize("opset", [13, 17, 18])
@pytest.mark.parametrize("affine,last,params", [("both", "y", 2), ("scale", "m", 1), ("none", "n", 0)])
def test_decomposed_layernorm_over_the_last_axis_is_one_layer(opset: int, affine: str, last: str,
                                                              params: int) -> None:
    nodes, inits = _decomposed_layernorm([-1], opset, 8, affine)
    m = make(nodes, {"x": [2, 5, 8]}, inits=inits, opset=opset)
    r = verify(m, layers=[last])
    assert r[last].kind == "layernorm" and r[last].params == params * 8
    assert r[last].flops == 2 * norm_flops(40, affine != "none", affine == "both")


@pytest.mark.parametrize("opset", [13, 18])
def test_hand_written_layernorm2d_over_channels_is_one_layer(opset: int) -> None:
    nodes, inits = _decomposed_layernorm([1], opset, 6, gamma_first=True)
    m = make(nodes, {"x": [1, 6, 4, 4]}, inits=inits, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "layernorm" and r["y"].params == 12 and r["y"].flops == 8 * 96
    assert archcalc.load(str(save_model(m))).layers["y"].attrs["over"] == "channels"


def test_partial_decomposition_imports_node_by_node() -> None:
    nodes, inits = _decomposed_layernorm([-1], 13, 8, "none")
    nodes[-1] = node("Mul", ["d", "std"], "n")  # not a division: not a layer norm
    m = make(nodes, {"x": [2, 5, 8]}, inits=inits, opset=13)
    r = verify(m)
    assert "layernorm" not in {rec.kind for rec in r}


def test_pattern_search_is_not_recursive_on_a_deep_graph() -> None:
    depth = 5000
    nodes = [node("Relu", ["x" if i == 0 else f"r{i - 1}"], f"r{i}") for i in range(depth)]
    nodes += [node("Sigmoid", [f"r{depth - 1}"], "s"), node("Mul", [f"r{depth - 1}", "s"], "y")]
    r = archcalc.analyze(archcalc.load(str(save_model(make(nodes, {"x": [1, 2, 2, 2]}, opset=13)))))
    assert r["y"].kind == "activation" and len(r.layers) == depth + 2


def test_torch_groupnorm_with_constant_nodes_and_unnamed_nodes() -> None:
    """The legacy exporter writes the InstanceNormalization's ones and zeros as Constant nodes;
    nodes without names are matched too (named as the importer labels them)."""
    from onnx import helper

    nodes, inits = _torch_groupnorm(8, 2)
    consts = {i.name: i for i in inits if i.name in ("ones", "zeros")}
    inits = [i for i in inits if i.name not in consts]
    made = [helper.make_node("Constant", [], [n], value=t) for n, t in consts.items()]
    for n in nodes:
        n.name = ""
    from tests.onnx_builders import analyze

    m = make(made + nodes, {"x": [1, 8, 4, 4]}, inits=inits, opset=17)
    r = analyze(m)
    (gn,) = [rec for rec in r if rec.kind == "groupnorm"]
    assert gn.params == 16 and r.totals.params == 16
