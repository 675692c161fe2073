"""Activations fused into a convolution (estimate/fusedact.py): ORT's NCHWc conv applies a ReLU as
it writes, and any other fused activation as a pass over the output, which calibration measures
per output element and the estimator adds to blocked convs."""

from __future__ import annotations

import pytest

from archcalc.estimate import estimate_latency, layout
from archcalc.estimate.fusedact import (
    ELEMENTS,
    FORMS,
    FUSABLE,
    PREFIX,
    REFERENCE,
    SHAPE,
    fused_figures,
    fused_nodes,
    pass_us,
    unit_of,
)
from archcalc.estimate.microbench import ops_model
from archcalc.language.loader import load_spec
from archcalc.runtime.kernelmap import ort_name_candidates
from tests.test_estimate import synthetic


@pytest.fixture(autouse=True)
def block16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "nchwc_block", lambda: 16)


def test_every_fusable_activation_but_relu_has_a_form_and_a_cost_key() -> None:
    assert set(FORMS) == FUSABLE - {"relu"}
    assert unit_of("relu") is None and unit_of(None) is None and unit_of("gelu") is None
    assert unit_of("relu6") == unit_of("clip") == unit_of("hardtanh") == "fused:Clip"
    assert {unit_of(fn) for fn in FORMS} == {PREFIX + op for op in FORMS.values()}


def test_a_pass_is_the_activations_conv_less_the_relu_conv_per_output_element() -> None:
    """MobileNetV2-like numbers: a 128-channel 48x48 depthwise conv in 30 us with its ReLU and
    43 us with a Clip is 13 us over 294,912 outputs, 0.0441 ns each."""
    assert ELEMENTS == 128 * 48 * 48 == SHAPE.cout * SHAPE.out ** 2
    times = {"unit:fused:Relu": 30.0, "unit:fused:Clip": 43.0, "unit:fused:Sigmoid": 66.5,
             "unit:fused:Tanh": 29.0}  # faster than the ReLU one: noise, never a negative cost
    got = fused_figures(times.get)
    assert got == {"fused:Clip": pytest.approx(13e3 / 294_912), "fused:Sigmoid": pytest.approx(36.5e3 / 294_912),
                   "fused:Tanh": 0.0}
    assert fused_figures({"unit:fused:Clip": 43.0}.get) == {}  # nothing to compare with


def _graph(act: dict, groups: int = 1, channels: int = 16):  # type: ignore[no-untyped-def]
    return load_spec({"name": "f", "input": [channels, 8, 8], "layers": [
        {"name": "c", "type": "conv", "filters": channels, "kernel": 3, "padding": 1, "groups": groups},
        dict(act, name="a")]})


UNITS = {"fused:Clip": 0.05, "fused:HardSwish": 0.09, "fused:Sigmoid": 0.13, "fused:LeakyRelu": 0.08}


@pytest.mark.parametrize(("act", "key"), [
    ({"type": "activation", "fn": "relu6"}, "fused:Clip"),
    ({"type": "activation", "fn": "hardswish"}, "fused:HardSwish"),
    ({"type": "activation", "fn": "sigmoid"}, "fused:Sigmoid"),
    ({"type": "activation", "fn": "leaky_relu", "alpha": 0.1}, "fused:LeakyRelu"),
    ({"type": "relu"}, None),
])
def test_a_blocked_conv_costs_its_fused_activations_pass(act: dict, key: str | None) -> None:
    """16 channels of 8x8: 1,024 outputs at the unit, on top of the conv with a ReLU."""
    base = synthetic()
    profile = synthetic(unit_ns={**base.unit_ns, **UNITS})
    relu = estimate_latency(_graph({"type": "relu"}), profile, batch=1).layers["c"].ms
    est = estimate_latency(_graph(act), profile, batch=1)
    assert est.layers["a"].fused_into == "c"
    extra = 1024 * UNITS[key] / 1e3 if key else 0.0
    assert est.layers["c"].ms * 1e3 == pytest.approx(relu * 1e3 + extra)
    assert pass_us(act.get("fn", "relu"), 1024, profile.unit_ns) == pytest.approx(extra)
    # at batch 4, four times the outputs
    est4 = estimate_latency(_graph(act), profile, batch=4).layers["c"].ms
    relu4 = estimate_latency(_graph({"type": "relu"}), profile, batch=4).layers["c"].ms
    assert (est4 - relu4) * 1e3 == pytest.approx(4 * extra)
    # a profile calibrated before the pass was measured prices it as before: as a ReLU
    old = estimate_latency(_graph(act), base, batch=1).layers["c"].ms
    assert old == pytest.approx(relu)


def test_a_plain_layout_conv_makes_no_extra_pass() -> None:
    """A grouped conv of 4 channels per group runs on ORT's plain path, which applies even a ReLU as
    a pass (calibration's conv points include it): nothing is added."""
    base = synthetic()
    profile = synthetic(unit_ns={**base.unit_ns, **UNITS})
    clip = estimate_latency(_graph({"type": "activation", "fn": "relu6"}, groups=4), profile, batch=1)
    relu = estimate_latency(_graph({"type": "relu"}, groups=4), profile, batch=1)
    assert clip.layers["c"].ms == pytest.approx(relu.layers["c"].ms)


def test_ort_fuses_each_calibrated_activation_into_its_conv_under_the_units_name() -> None:
    """On ORT's own optimized graph of ``ops_model``: each unit's conv is one NCHWc Conv with that
    activation, and the kernel name calibration reads it by names it (a HardSwish one keeps the
    conv's name; a HardSwish whose output left the graph would not be fused at all)."""
    import tempfile
    from pathlib import Path

    import onnx
    import onnxruntime as ort

    model, units = ops_model()
    fused = {name: key for name, (key, _) in units.items() if key.startswith(PREFIX)}
    assert set(fused.values()) == {PREFIX + op for op in (REFERENCE, *FORMS.values())}
    assert all(count == ELEMENTS for key, count in units.values() if key.startswith(PREFIX))
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        optimized = onnx.load(options.optimized_model_filepath)
    convs = {}
    for node in optimized.graph.node:
        if node.op_type == "Conv" and node.domain == "com.microsoft.nchwc":
            act = next((a.s.decode() for a in node.attribute if a.name == "activation"), None)
            for cand in ort_name_candidates(node.name):
                convs[cand] = act
    for name, key in fused.items():
        assert convs.get(name) == key.removeprefix(PREFIX), (name, convs.get(name))


def test_the_fused_models_nodes_are_consistent() -> None:
    nodes, inits, inputs, outputs, units = fused_nodes()
    assert len(inputs) == len(outputs) == len(units) == 1 + len(set(FORMS.values()))
    size = (SHAPE.out - 1) * SHAPE.stride + 1
    assert all(shape == [1, SHAPE.cin, size, size] for _, shape in inputs)
    names = [n.name for n in nodes]
    assert len(names) == len(set(names))
    # every node reads a graph input, an initializer or an earlier node's output
    known = {name for name, _ in inputs} | {t.name for t in inits}
    for node in nodes:
        assert set(node.input) <= known, node.name
        known |= set(node.output)
    assert set(outputs) <= known
