"""Pixel shuffle / unshuffle and channel shuffle: shapes against ONNX Runtime (DepthToSpace in
both modes, SpaceToDepth), the channel order of each mode against a numpy reference of PyTorch's
definition, receptive fields, the Reshape -> Transpose -> Reshape form recognised, round trips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import archcalc
from archcalc.onnx_export.export import export_onnx, save
from tests.onnx_builders import LATEST, make, node, tensor, verify


@pytest.mark.parametrize("opset", [7, 11, 13, LATEST])
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(opset: int, mode: str) -> None:
    attrs = {"mode": mode} if opset >= 11 else {}
    m = make([node("DepthToSpace", ["x"], "y", blocksize=2, **attrs)], {"x": [2, 12, 3, 5]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "pixel_shuffle" and r["y"].shape == (3, 6, 10)
    assert r["y"].params == 0 and r["y"].flops == 0 and r["y"].macs == 0


@pytest.mark.parametrize("opset", [7, 13, LATEST])
def test_space_to_depth(opset: int) -> None:
    m = make([node("SpaceToDepth", ["x"], "y", blocksize=3)], {"x": [1, 2, 6, 9]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "pixel_unshuffle" and r["y"].shape == (18, 2, 3)


def _torch_pixel_shuffle(x: np.ndarray, r: int) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), h * r, w * r)


def _torch_pixel_unshuffle(x: np.ndarray, r: int) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // r, r, w // r, r).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * r * r, h // r, w // r)


def _channel_shuffle(x: np.ndarray, g: int) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, g, c // g, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c, h, w)


def _run_one(layer: dict, shape: list[int]) -> tuple[np.ndarray, np.ndarray]:
    graph = archcalc.load({"name": "t", "input": shape, "layers": [layer]})
    model = export_onnx(graph, batch=2).model
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.arange(2 * np.prod(shape), dtype=np.float32).reshape(2, *shape)
    (y,) = sess.run(None, {sess.get_inputs()[0].name: x})
    return x, y


def test_channel_orders_match_pytorch() -> None:
    x, y = _run_one({"name": "p", "type": "pixel_shuffle", "factor": 2}, [8, 3, 4])
    assert np.array_equal(y, _torch_pixel_shuffle(x, 2))
    x, y = _run_one({"name": "p", "type": "pixel_unshuffle", "factor": 2}, [3, 4, 6])
    assert np.array_equal(y, _torch_pixel_unshuffle(x, 2))
    x, y = _run_one({"name": "s", "type": "channel_shuffle", "groups": 3}, [6, 2, 2])
    assert np.array_equal(y, _channel_shuffle(x, 3))
    # DCR: ONNX's own modes; shuffle then unshuffle in DCR is the identity
    x, y = _run_one({"name": "p", "type": "pixel_unshuffle", "factor": 2, "mode": "DCR"}, [3, 4, 6])
    assert y.shape == (2, 12, 2, 3)


NET = {
    "name": "shuffles",
    "input": [12, 8, 8],
    "layers": [
        {"name": "c", "type": "conv", "filters": 12, "kernel": 3, "padding": 1},
        {"name": "down", "type": "pixel_unshuffle", "factor": 2},
        {"name": "down_dcr", "type": "pixel_unshuffle", "factor": 2, "mode": "DCR"},
        {"name": "shuf", "type": "channel_shuffle", "groups": 4},
        {"name": "c2", "type": "conv", "filters": 192, "kernel": 3, "padding": 1},
        {"name": "up", "type": "pixel_shuffle", "factor": 2},
        {"name": "up_dcr", "type": "pixel_shuffle", "factor": 2, "mode": "DCR"},
    ],
}


def test_shapes_and_receptive_fields() -> None:
    r = archcalc.analyze(archcalc.load(NET))
    assert r["down"].shape == (48, 4, 4) and r["down_dcr"].shape == (192, 2, 2) and r["shuf"].shape == (192, 2, 2)
    assert r["up"].shape == (48, 4, 4) and r["up_dcr"].shape == (12, 8, 8)
    # conv 3: size 3, jump 1; unshuffle 2: size 3 + (2-1)*1 = 4, jump 2; again: size 4 + 2 = 6, jump 4
    assert r["c"].rf.size == (3, 3) and r["down"].rf.size == (4, 4) and r["down"].rf.jump == (2, 2)
    assert r["down_dcr"].rf.size == (6, 6) and r["down_dcr"].rf.jump == (4, 4)
    assert r["shuf"].rf.size == (6, 6)
    # conv 3 at jump 4: 6 + 2*4 = 14; shuffles divide the jump by 2 each, the size stays
    assert r["c2"].rf.size == (14, 14)
    assert r["up"].rf.jump == (2, 2) and r["up_dcr"].rf.jump == (1, 1) and r["up_dcr"].rf.size == (14, 14)
    assert r.totals.params == 12 * 12 * 9 + 12 + 192 * 192 * 9 + 192


@pytest.mark.parametrize("weights", ["random", "constant"])
def test_round_trip(weights: str, tmp_path: Path) -> None:
    graph = archcalc.load(NET)
    path = tmp_path / "s.onnx"
    save(export_onnx(graph, weights=weights), path)
    spec = archcalc.analyze(graph).to_dict()
    back = archcalc.analyze(archcalc.load(str(path))).to_dict()
    for record in (*spec["layers"], *back["layers"]):
        record.pop("where", None)
    assert back["layers"] == spec["layers"] and back["totals"] == spec["totals"]


def test_channel_shuffle_form_is_recognised() -> None:
    nodes = [node("Reshape", ["x", "s1"], "r1"), node("Transpose", ["r1"], "t", perm=[0, 2, 1, 3, 4]),
             node("Reshape", ["t", "s2"], "y")]
    m = make(nodes, {"x": [2, 12, 5, 5]}, inits=[tensor("s1", [2, 3, 4, 5, 5]), tensor("s2", [2, 12, 5, 5])],
             opset=13)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "channel_shuffle" and r["y"].shape == (12, 5, 5)
    assert any("channel_shuffle x1" in n for n in r.notes)


def test_bad_shapes() -> None:
    for layer, shape, match in (({"type": "pixel_shuffle", "factor": 2}, [6, 4, 4], "divisible by 4"),
                                ({"type": "pixel_unshuffle", "factor": 3}, [2, 4, 6], "divisible by 3"),
                                ({"type": "channel_shuffle", "groups": 4}, [6, 4, 4], "do not divide")):
        with pytest.raises(archcalc.ArchcalcError, match=match):
            archcalc.analyze(archcalc.load({"name": "b", "input": shape, "layers": [{"name": "l", **layer}]}))


def test_fraction_jump_is_exact() -> None:
    net = {"name": "u", "input": [16, 4, 4], "layers": [{"name": "up", "type": "pixel_shuffle", "factor": 4}]}
    r = archcalc.analyze(archcalc.load(net))
    assert r["up"].rf.jump == (Fraction(1, 4), Fraction(1, 4))
