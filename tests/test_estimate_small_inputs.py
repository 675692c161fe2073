"""What a CNN at a small input costs beyond its arithmetic and its bytes: the spans of a
broadcasting kernel (``archcalc.estimate.spans``) and the weights a conv must read
(``archcalc.estimate.layout.weight_bytes_read``), priced by the estimator and measured by
calibration. ``benchmarks/small_inputs.py`` measures both on this machine."""

from __future__ import annotations

import math
from typing import Any

import pytest

from archcalc.estimate import estimate_latency, layout
from archcalc.estimate.shapes import ConvShape
from archcalc.estimate.spans import SPAN_KEY, SPAN_TENSOR, broadcast_spans, layer_spans, spans_us
from archcalc.language.loader import load_spec
from tests.test_estimate import synthetic


@pytest.fixture(autouse=True)
def block16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "nchwc_block", lambda: 16)


@pytest.mark.parametrize("shapes, spans", [
    ([(2, 96, 7, 7), (2, 96, 1, 1)], 2 * 96),  # an SE gate: a span of H x W per sample and channel
    ([(2, 96, 1, 1), (2, 96, 7, 7)], 2 * 96),  # either operand may be the small one
    ([(1, 7, 7, 96), (96,)], 49),  # a bias over the last axis: a span of C per position
    ([(1, 96, 7, 7), (1, 96, 7, 7)], 1),  # same shapes: one span
    ([(1, 96, 7, 7), (1,)], 1),  # by one value: one span
    ([(3, 96, 7, 7), (3, 1, 7, 7)], 3 * 96),  # one value per position, broadcast over the channels
    ([(1, 96, 1, 1), (1, 96, 1, 1)], 1),
    ([(4, 8, 5, 5), (8, 1, 1)], 4 * 8),  # right-aligned: the constant spans the batch
])
def test_broadcast_spans_are_the_output_over_its_innermost_run_read_alike(shapes: list[Any], spans: int) -> None:
    assert broadcast_spans(shapes) == spans


def test_a_layers_spans_take_its_batch_and_its_constant_operand() -> None:
    assert layer_spans({}, [(96, 7, 7), (96, 1, 1)], 4) == 4 * 96
    assert layer_spans({"const_shape": (96, 1, 1)}, [(96, 7, 7)], 2) == 2 * 96
    assert layer_spans({"const_shape": (1,)}, [(96, 7, 7)], 2) == 1
    assert spans_us(1, {SPAN_KEY: 6.0}) == 0.0 and spans_us(1000, {SPAN_KEY: 6.0}) == pytest.approx(6.0)
    assert spans_us(1000, {}) == 0.0  # a profile calibrated before spans were measured


def _se(channels: int, size: int) -> dict[str, Any]:
    return {"name": "se", "input": [channels, size, size], "layers": [
        {"name": "gate", "type": "global_avgpool"},
        {"name": "scale", "type": "mul", "inputs": ["gate", "input"]}]}


@pytest.mark.parametrize("batch", [1, 4])
def test_an_se_gates_mul_costs_its_spans_besides_its_bytes(batch: int) -> None:
    """1152 channels of 2x2 by one value per channel: 1,152 spans a sample at the calibrated 6 ns
    each (6.9 us a sample), on top of the traffic the same Mul was priced at before."""
    spec = load_spec(_se(1152, 2))
    priced = estimate_latency(spec, synthetic(unit_ns={**synthetic().unit_ns, SPAN_KEY: 6.0}), batch=batch)
    unpriced = estimate_latency(spec, synthetic(), batch=batch)
    assert priced.layers["scale"].compute_ms * 1e3 == pytest.approx(batch * 1152 * 6.0 / 1e3)
    assert unpriced.layers["scale"].compute_ms == 0.0
    assert priced.layers["scale"].memory_ms == unpriced.layers["scale"].memory_ms > 0


def test_a_same_shape_mul_has_no_span_cost() -> None:
    spec = load_spec({"name": "m", "input": [1152, 2, 2], "layers": [
        {"name": "a", "type": "activation", "fn": "sigmoid"},
        {"name": "scale", "type": "mul", "inputs": ["a", "input"]}]})
    est = estimate_latency(spec, synthetic(unit_ns={**synthetic().unit_ns, SPAN_KEY: 6.0}), batch=1)
    assert est.layers["scale"].compute_ms == 0.0


@pytest.mark.parametrize("size_in, size_out, kernel, stride, taps", [
    (1, 1, 3, 1, 1),  # a 3x3 conv of a 1x1 map reads its centre tap alone
    (2, 2, 3, 1, 3),  # of a 2x2 map, every tap (3 per axis)
    (2, 1, 3, 2, 2),  # stride 2 of a 2x2 map (padding 1): the taps on the map, 2 per axis
    (7, 7, 3, 1, 3),
    (224, 112, 7, 2, 7),
    (2, 2, 5, 1, 3),  # padding 2: the outer taps only ever read padding
    (1, 1, 1, 1, 1),
])
def test_a_conv_runs_the_taps_that_meet_its_input(size_in: int, size_out: int, kernel: int, stride: int,
                                                  taps: int) -> None:
    shape = ConvShape(64, 128, 1, kernel, stride, size_out)
    ran = layout.tapped_conv(shape, (size_in, size_in), (size_out, size_out))
    assert ran == ConvShape(64, 128, 1, taps, stride, size_out)
    assert ran.weight_bytes == 4 * 128 * 64 * taps ** 2
    depthwise = ConvShape(64, 64, 64, kernel, stride, size_out)
    assert layout.tapped_conv(depthwise, (size_in, size_in), (size_out, size_out)).weight_bytes == 4 * 64 * taps ** 2


def _conv_on(size: int) -> Any:
    return load_spec({"name": "c", "input": [512, size, size], "layers": [
        {"name": "c", "type": "conv", "filters": 512, "kernel": 3, "padding": 1, "bias": "none"}]})


def test_a_conv_whose_weights_outweigh_its_arithmetic_streams_them() -> None:
    """A 3x3 conv of 512 channels: on a 1x1 map it reads one tap's weights (1 MiB), on 2x2 all nine
    (9.4 MB); at 5 GB/s (the calibrated GEMV stream) that is 210 and 1,887 us, beyond the synthetic
    device's 100 GFLOP/s for the FLOPs of the taps it runs (2 x 512 x 512 per tap and position: 5 and 189 us). Where
    the weights stream faster than the arithmetic, the conv is compute-bound as before."""
    slow = synthetic(stream=[[1 << 20, 5.0], [1 << 30, 5.0]])
    for size, taps in ((1, 1), (2, 9)):
        est = estimate_latency(_conv_on(size), slow, batch=1).layers["c"]
        assert est.bound == "memory" and est.compute_ms == 0.0
        assert est.memory_ms * 1e3 == pytest.approx(4 * 512 * 512 * taps / 5e3)
    quick = synthetic(stream=[[1 << 20, 1e6], [1 << 30, 1e6]])
    fast = estimate_latency(_conv_on(2), quick, batch=1).layers["c"]
    assert fast.bound == "compute" and fast.memory_ms == 0.0
    assert fast.compute_ms * 1e3 == pytest.approx(quick.conv_us(ConvShape(512, 512, 1, 3, 1, 2, 1)))
    # on a 1x1 map the 3x3 conv works as a 1x1 one (a ninth of the FLOPs the counts give it)
    one = estimate_latency(_conv_on(1), quick, batch=1).layers["c"]
    assert one.compute_ms * 1e3 == pytest.approx(quick.conv_us(ConvShape(512, 512, 1, 1, 1, 1, 1)))
    assert quick.conv_us(ConvShape(512, 512, 1, 1, 1, 1, 1)) < quick.conv_us(ConvShape(512, 512, 1, 3, 1, 1, 1)) / 4


def test_calibration_times_one_per_channel_mul_and_keeps_its_cost_per_span() -> None:
    """ops_model's span Mul: SPAN_TENSOR by one value per channel, 4,096 spans; its unit is its
    kernel time less the profiler's cost, a binary kernel's fixed cost and its traffic (the input,
    the output and the values) at the calibrated bandwidth, per span."""
    import onnx

    from archcalc.estimate import calsamples, suite
    from archcalc.estimate.microbench import UNIT_FIXED, UNIT_TRAFFIC_BYTES, ops_model

    model, units = ops_model()
    (node,) = [n for n in model.graph.node if n.name == "span"]
    inputs = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.input}
    assert node.op_type == "Mul" and [inputs[i] for i in node.input] == [list(SPAN_TENSOR), [1, 4096, 1, 1]]
    assert units["span"] == (SPAN_KEY, 4096.0) == (SPAN_KEY, float(broadcast_spans([SPAN_TENSOR, (1, 4096, 1, 1)])))
    assert UNIT_FIXED[SPAN_KEY] == "binary"
    assert UNIT_TRAFFIC_BYTES[SPAN_KEY] == 4 * (2 * math.prod(SPAN_TENSOR) + 4096)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    (out,) = [v for v in inferred.graph.output if v.name == "span"]
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == list(SPAN_TENSOR)
    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    for key, value in {"run": 5.0, "matmul": 0.01, "fixed:ew": 0.2, "fixed:binary": 0.3, "fixed:conv": 1.0,
                       "profiled_relu": 3.2, "copy:131072": 5.0 + 0.2 + 10.0, "unit:span": 30.0}.items():
        raw.add(key, value, "overhead")
    figures = suite._figures(raw, [], [], {"span": units["span"]}, (131072,))
    (point,) = figures["bandwidth"]
    moved_us = UNIT_TRAFFIC_BYTES[SPAN_KEY] / (point[1] * 1e3)
    assert figures["unit_ns"][SPAN_KEY] == pytest.approx((30.0 - 3.0 - 0.3 - moved_us) * 1e3 / 4096)


def test_a_profile_refitted_on_some_of_its_points_is_a_new_profile() -> None:
    """``DeviceProfile.with_points``: the held-out benchmarks fit the estimate without some of the
    calibration's points; the new profile interpolates from those points alone (as one built from
    them would), its fits built afresh, and the profile it came from keeps its own."""
    from archcalc.estimate import DeviceProfile

    rows = [[*r[:7], r[7] * (3.0 if r[5] == 16 else 1.0)] for r in synthetic().conv]  # 16x16 maps run slow
    dev = synthetic(conv=rows)
    probe = ConvShape(64, 64, 1, 3, 1, 16, 2)
    before = dev.conv_us(probe)  # builds dev's fit
    kept = [row for row in dev.conv if row[5] != 16]  # without the 16x16 outputs
    fewer = dev.with_points(conv=kept)
    rebuilt = DeviceProfile.from_dict({**dev.to_dict(), "conv": kept})
    assert fewer.conv == kept and fewer.gemm == dev.gemm and len(dev.conv) == len(kept) + 3
    assert fewer.conv_us(probe) == pytest.approx(rebuilt.conv_us(probe))
    assert rebuilt.conv_us(probe) != pytest.approx(before, rel=1e-3)  # the points left out moved the fit
    assert dev.conv_us(probe) == before
    assert fewer.interpolation_error() == rebuilt.interpolation_error()
    assert dev.with_points().conv_us(probe) == pytest.approx(before)


def test_calibration_points_are_fitted_as_the_convs_ort_ran() -> None:
    """A calibration conv of a 2x2 output with a 5x5 kernel (its 2x2 input padded by 2) runs 3x3 of
    its taps: its point's FLOPs are those of the taps it ran, as the estimator asks for a layer's.
    On a device of one speed for every tap run, every point then has that one efficiency, and the
    fit misses none of them when each is left out."""
    from archcalc.estimate import DeviceProfile

    assert layout.timed_conv(ConvShape(64, 64, 1, 5, 1, 2, 1)) == ConvShape(64, 64, 1, 3, 1, 2, 1)
    assert layout.timed_conv(ConvShape(64, 64, 1, 3, 1, 7, 1)) == ConvShape(64, 64, 1, 3, 1, 7, 1)
    shapes = [ConvShape(32, 32, 1, 3, 1, 8), ConvShape(64, 64, 1, 3, 1, 16), ConvShape(32, 64, 1, 1, 1, 16),
              ConvShape(64, 64, 1, 5, 1, 2), ConvShape(64, 64, 1, 7, 1, 2), ConvShape(32, 32, 1, 5, 1, 3),
              ConvShape(128, 128, 1, 3, 1, 4), ConvShape(512, 512, 1, 5, 1, 1)]
    rows = [[s.cin, s.cout, s.groups, s.kernel, s.stride, s.out, s.batch,
             1.0 + layout.timed_conv(layout.executed_conv(s, 16, False)[0]).flops / 1e5] for s in shapes]
    dev = DeviceProfile.from_dict({**synthetic().to_dict(), "conv": rows})
    assert max(e for _, e in dev.interpolation_error().conv) == pytest.approx(0.0, abs=1e-6)
