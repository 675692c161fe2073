"""Translators that hand over their attributes in normal form (``LayerSpec.normal``: the importer
skips ``normalize`` for them) give exactly what ``normalize`` makes of the same attributes in spec
form (tuples as lists, a None left out: its default), each value of the same type; and a node with
a value ``normalize`` refuses still gets normalize's error."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import archcalc
from archcalc.errors import ArchcalcError
from archcalc.ir import plain
from archcalc.onnx_import import importer
from archcalc.ops import REGISTRY
from tests.onnx_builders import make, node, save, tensor, weight

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "onnx"


def _varied() -> Path:
    """Every translator that hands over normal form, with the attribute variants it reads."""
    nodes = [
        node("Conv", ["x", "w1", "b1"], "c1", pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2]),
        node("LeakyRelu", ["c1"], "r1", alpha=0.2),
        node("Conv", ["r1", "w2"], "c2", group=2, auto_pad="SAME_UPPER"),
        node("BatchNormalization", ["c2", "s", "bb", "m", "v"], "n2"),
        node("Relu", ["n2"], "r2"),
        node("Conv", ["r2", "w3"], "c3", kernel_shape=[1, 1], auto_pad="VALID"),
        node("Clip", ["c3", "lo", "hi"], "k3"),
        node("Concat", ["r2", "k3"], "cat", axis=1),
        node("Flatten", ["cat"], "f"),
        node("Gemm", ["f", "wf", "bf"], "y", transB=1),
    ]
    inits = [weight("w1", (4, 3, 3, 3)), weight("b1", (4,)), weight("w2", (4, 2, 3, 3)), weight("w3", (2, 4, 1, 1)),
             weight("s", (4,)), weight("bb", (4,)), weight("m", (4,)), weight("v", (4,)),
             weight("wf", (10, 6 * 9 * 13)), weight("bf", (10,)), tensor("lo", 0.0, np.float32),
             tensor("hi", 6.0, np.float32)]
    return save(make(nodes, {"x": (1, 3, 16, 16)}, inits=inits))


def _models() -> list[Path]:
    return [*sorted(FIXTURES.glob("*.onnx")), _varied()]


def test_normal_form_is_normalize_result(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: Counter[str] = Counter()
    make_layer = importer._make_layer

    def checked(name: str, spec: Any, *args: Any) -> Any:
        if spec.normal:
            spec_form = {key: plain(value) for key, value in spec.attrs.items() if value is not None}
            normalized = REGISTRY[spec.kind].normalize(spec_form, lambda _key: None)
            assert normalized == spec.attrs, (name, spec.kind)
            assert {k: type(v) for k, v in normalized.items()} == {k: type(v) for k, v in spec.attrs.items()}
            seen[spec.kind] += 1
            if spec.kind == "activation":
                seen[f"fn {spec.attrs['fn']}"] += 1
        return make_layer(name, spec, *args)

    monkeypatch.setattr(importer, "_make_layer", checked)
    for path in _models():
        archcalc.load(path, batch=1)
    assert {"conv", "activation", "batchnorm", "fc", "concat"} <= set(seen), seen
    assert seen["fn relu"] and seen["fn leaky_relu"] and seen["fn relu6"], seen  # Relu, LeakyRelu, Clip


@pytest.mark.parametrize(("attrs", "message"), [
    ({"strides": [0, 1]}, "stride must be a positive integer or a list of them, got [0, 1]"),
    ({"dilations": [1, -2]}, "dilation must be a positive integer or a list of them, got [1, -2]"),
    ({"pads": [0, -1, 0, 0]}, "padding must be valid, same, full, a non-negative integer"),
])
def test_refused_values_keep_normalize_message(attrs: dict[str, Any], message: str) -> None:
    path = save(make([node("Conv", ["x", "w"], "y", **attrs)], {"x": (1, 3, 8, 8)}, inits=[weight("w", (4, 3, 3, 3))]))
    with pytest.raises(ArchcalcError) as info:
        archcalc.load(path, batch=1)
    assert message in str(info.value)
