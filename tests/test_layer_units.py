"""Per-element costs of normalisations and transcendental activations (estimate/layerunits.py):
each timed on a one-layer spec in the form exporters write, and priced per element of a layer."""

from __future__ import annotations

import math

import pytest

from archcalc.estimate import estimate_latency, layout
from archcalc.estimate.layerunits import (
    LAYER_UNITS,
    SMALL,
    unit_counts,
    unit_figures,
    unit_key,
    unit_model,
    unit_shapes,
)
from archcalc.language.loader import load_spec
from tests.test_estimate import synthetic


@pytest.fixture(autouse=True)
def block16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "nchwc_block", lambda: 16)


def _layer(spec: dict, shape: list[int]):  # type: ignore[no-untyped-def]
    return load_spec({"name": "t", "input": shape, "layers": [dict(spec, name="x")]}).layers["x"]


@pytest.mark.parametrize(("spec", "shape", "key"), [
    ({"type": "activation", "fn": "gelu"}, [8, 4, 4], "act:gelu"),
    ({"type": "mish"}, [8, 4, 4], "act:mish"),
    ({"type": "relu"}, [8, 4, 4], None),  # fuses into the conv before it, or costs its traffic
    ({"type": "activation", "fn": "tanh"}, [8, 4, 4], None),  # the ops model's transcendental unit
    ({"type": "layernorm", "over": "last"}, [4, 4, 8], "norm:layernorm:last"),
    ({"type": "layernorm", "over": "channels"}, [8, 4, 4], "norm:layernorm:channels"),
    ({"type": "groupnorm", "groups": 2}, [8, 4, 4], "norm:groupnorm"),
    ({"type": "instancenorm"}, [8, 4, 4], "norm:instancenorm"),
    ({"type": "conv", "filters": 4, "kernel": 1}, [8, 4, 4], None),
    ({"type": "pixel_shuffle", "factor": 2}, [8, 4, 4], "move:pixel_shuffle"),
    ({"type": "channel_shuffle", "groups": 2}, [8, 4, 4], "move:channel_shuffle"),
    ({"type": "flatten"}, [8, 4, 4], None),
])
def test_which_unit_prices_a_layer(spec: dict, shape: list[int], key: str | None) -> None:
    assert unit_key(_layer(spec, shape)) == key


@pytest.mark.parametrize(("key", "ops"), [
    ("act:gelu", ["Div", "Erf", "Add", "Mul", "Mul"]),  # torch.onnx's exact GELU: ORT fuses it into one Gelu
    ("act:silu", ["Sigmoid", "Mul"]),  # ORT's QuickGeluFusion
    ("act:mish", ["Softplus", "Tanh", "Mul"]),
    ("norm:layernorm:channels", ["Transpose", "LayerNormalization", "Transpose"]),  # ConvNeXt's LayerNorm2d
    ("norm:groupnorm", ["Reshape", "InstanceNormalization", "Reshape", "Mul", "Add"]),  # nn.GroupNorm at opset 17
    ("move:pixel_shuffle", ["DepthToSpace"]),  # nn.PixelShuffle (CRD)
    ("move:pixel_unshuffle", ["Reshape", "Transpose", "Reshape"]),  # nn.PixelUnshuffle
])
def test_unit_models_are_the_forms_exporters_write(key: str, ops: list[str]) -> None:
    model = unit_model(key)
    assert [n.op_type for n in model.graph.node] == ops


def test_each_unit_has_a_model_and_one_with_a_16x_smaller_map() -> None:
    for key, (_, shape) in LAYER_UNITS.items():
        shapes = unit_shapes(key)
        assert shapes[key] == shape and math.prod(shapes[key + SMALL]) * 16 == math.prod(shape)
        counts = unit_counts()
        assert counts[f"layer:{key}"] == (key, math.prod(shape))
        assert counts[f"layer:{key}{SMALL}"] == (key + SMALL, math.prod(shape) / 16)
    # the small LayerNorm over the last axis keeps its rows: the map shrinks, not the channels
    assert unit_shapes("norm:layernorm:last")["norm:layernorm:last" + SMALL] == (14, 14, 64)


def test_a_unit_is_the_slope_between_its_two_models_and_the_rest_is_the_forms_fixed_cost() -> None:
    """GELU-tanh as exported runs 8 kernels: 200,704 elements in 130 us and 12,544 in 19 us is
    0.59 ns per element and 11.6 us of fixed cost (less the profiler's 0.3 us)."""
    times = {"unit:act:gelu_tanh": 130.0, "unit:act:gelu_tanh" + SMALL: 19.0}
    unit_ns, fixed_us = unit_figures(times.get, profiler_us=0.3)
    per_ns = (130.0 - 19.0) / (200_704 - 12_544) * 1e3
    assert unit_ns == {"act:gelu_tanh": pytest.approx(per_ns)}
    assert fixed_us == {"unit:act:gelu_tanh": pytest.approx(19.0 - 0.3 - 12_544 * per_ns / 1e3)}
    # a slope that leaves the small model nothing: one kernel's fixed cost all the same
    _, fixed_us = unit_figures({"unit:act:gelu": 100.0, "unit:act:gelu" + SMALL: 5.0}.get, 0.3, kernel_us=0.4)
    assert fixed_us == {"unit:act:gelu": 0.4}


@pytest.mark.parametrize(("spec", "shape", "key", "old_ns"), [
    ({"type": "activation", "fn": "gelu"}, [8, 6, 6], "act:gelu", 3.0),  # synthetic()'s transcendental unit
    ({"type": "layernorm", "over": "last"}, [6, 6, 8], "norm:layernorm:last", 0.0),  # was its traffic alone
    ({"type": "groupnorm", "groups": 2}, [8, 6, 6], "norm:groupnorm", 0.0),
    ({"type": "pixel_shuffle", "factor": 2}, [8, 6, 6], "move:pixel_shuffle", 0.0),
])
def test_a_unit_layer_costs_its_forms_fixed_cost_and_its_elements_at_the_unit(spec: dict, shape: list[int],
                                                                              key: str, old_ns: float) -> None:
    """The unit's own fixed cost (all the form's kernels) and its slope (which holds the traffic)."""
    graph = load_spec({"name": "u", "input": shape, "layers": [dict(spec, name="x")]})
    base = synthetic()
    profile = synthetic(unit_ns={**base.unit_ns, key: 0.5}, fixed_us={**base.fixed_us, f"unit:{key}": 7.0})
    est = estimate_latency(graph, profile, batch=1)
    elements = math.prod(shape)
    assert est.layers["x"].ms * 1e3 == pytest.approx(7.0 + elements * 0.5 / 1e3)
    # a profile without the unit prices the layer as before
    old = estimate_latency(graph, synthetic(), batch=1)
    assert old.layers["x"].ms * 1e3 == pytest.approx(1 + elements * old_ns / 1e3 + 2 * elements * 4 / 1e4)


def test_every_unit_an_op_declares_has_a_unit_model_and_each_model_is_priced_by_its_unit() -> None:
    """The ops say which unit prices them (Op.cost_unit); layerunits holds a model for each. Both
    ways round, so no layer can name a unit calibration never measures (it would fall back silently)."""
    from archcalc.ops import REGISTRY
    from archcalc.ops.activation import UNIT_FNS

    declared = {REGISTRY["activation"].cost_unit({"fn": fn}) for fn in UNIT_FNS}
    declared |= {REGISTRY["layernorm"].cost_unit({"over": over}) for over in ("last", "channels")}
    declared |= {REGISTRY[kind].cost_unit({}) for kind in ("groupnorm", "instancenorm", "pixel_shuffle",
                                                           "pixel_unshuffle", "channel_shuffle")}
    assert declared == set(LAYER_UNITS)
    for key, (spec, shape) in LAYER_UNITS.items():
        assert unit_key(_layer(spec, list(shape))) == key
