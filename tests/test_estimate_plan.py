"""The kernels the estimator predicts against the graph ORT really runs, and matrix-vector products
whose weights come from memory.

- Layout: ORT's NCHWc transformer (onnxruntime/core/optimizer/nchwc_transformer.cc) runs a
  BatchNorm of a blocked tensor as a blocked depthwise 1x1 conv that absorbs a Relu after it;
  Relu/Sigmoid/Tanh and Add/Mul of equal blocked tensors stay blocked; a MaxPool/AveragePool of a
  plain tensor with whole channel blocks reorders its input to pool blocked; one ReorderInput
  serves every reader of a tensor; a nearest Resize by whole factors runs blocked; a dense conv of
  fewer channels than a block reads them plain; a dense conv of more, and a depthwise conv, run
  blocked (padded) when their channels are a multiple of 4, else plain; SiLU (Sigmoid, Mul) and GELU run blocked; HardSwish, and a Mul by a per-channel constant
  (a layer scale: ORT's ConvMulFusion), fuse into the conv before them. Checked on hand-made graphs, and by counting the
  reorders in ORT's own optimised graph of real models.
- Streaming: a GEMV's weights are read at the speed calibration measured for GEMVs of that
  working set (``DeviceProfile.stream``), beyond the last-level cache from memory.
"""

from __future__ import annotations

import collections
import math
from pathlib import Path
from typing import Any

import pytest

from archcalc.analysis import analyze
from archcalc.estimate import DeviceProfile, estimate_latency, executed_conv, layout
from archcalc.estimate.kernels import plan_kernels
from archcalc.estimate.samples import stream_shapes
from archcalc.estimate.shapes import ConvShape
from archcalc.language.loader import load_spec
from archcalc.runtime import LAYOUT
from tests.test_estimate import synthetic

FIXTURES = Path(__file__).parent / "fixtures" / "onnx"

DENSE_BLOCK = {"name": "dense", "input": [16, 8, 8], "layers": [
    {"name": "c0", "type": "conv", "filters": 32, "kernel": 3, "padding": 1},
    {"name": "b0", "type": "bn"}, {"name": "r0", "type": "relu"},
    {"name": "b1", "type": "bn"}, {"name": "r1", "type": "relu"},
    {"name": "c1", "type": "conv", "filters": 16, "kernel": 1},
    {"name": "cat", "type": "concat", "inputs": ["r0", "c1"]},
    {"name": "b2", "type": "bn"}, {"name": "r2", "type": "relu"},
    {"name": "c2", "type": "conv", "filters": 16, "kernel": 1}]}


def _plan(spec: dict[str, Any], block: int = 16) -> Any:
    graph = load_spec(spec)
    report = analyze(graph, overrides={"batch": 1, "dtype": "fp32"})
    return plan_kernels(graph, {r.name: r for r in report.layers}, 1, block)


def test_batchnorm_of_a_blocked_tensor_runs_blocked_and_absorbs_its_relu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "nchwc_block", lambda: 16)
    plan = _plan(DENSE_BLOCK)
    assert plan.blocked_norms == {"b1", "b2"}  # b0 fuses into c0
    assert plan.host == {"b0": "c0", "r0": "c0", "r1": "b1", "r2": "b2"}
    assert [w for w, _ in plan.reorders] == ["c0<-in", "c2->out"]  # the input, the output: nothing between
    est = estimate_latency(load_spec(DENSE_BLOCK), synthetic(), batch=1)
    # the blocked BatchNorm is one conv kernel reading and writing its 32x8x8 tensor once (10 GB/s)
    assert est.layers["b1"].kernels == 1 and est.layers["b1"].ms * 1e3 == pytest.approx(1 + 2 * 8192 / 1e4)
    assert est.layers["r1"].bound == "fused" and est.layers["r1"].fused_into == "b1"
    assert est.layers[LAYOUT].kernels == len(plan.reorders)


def test_one_reorder_per_plain_tensor_and_plain_pools_run_blocked() -> None:
    spec = {"name": "branches", "input": [16, 8, 8], "layers": [
        {"name": "c0", "type": "conv", "filters": 32, "kernel": 3, "padding": 1},
        {"name": "n", "type": "lrn", "size": 5},
        {"name": "a", "type": "conv", "filters": 16, "kernel": 1, "inputs": ["n"]},
        {"name": "b", "type": "conv", "filters": 16, "kernel": 3, "padding": 1, "inputs": ["n"]},
        {"name": "p", "type": "maxpool", "kernel": 3, "stride": 1, "padding": 1, "inputs": ["n"]},
        {"name": "cat", "type": "concat", "inputs": ["a", "b", "p"]}]}
    plan = _plan(spec)
    # the LRN runs plain: one ReorderOutput before it, one ReorderInput after it for all three readers
    assert [w for w, _ in plan.reorders] == ["c0<-in", "c0->out", "a<-in", "cat->out"]
    assert {"p", "cat"} <= plan.blocked


def test_nearest_resize_stays_blocked_and_few_channel_convs_read_plain() -> None:
    spec = {"name": "up", "input": [3, 8, 8], "layers": [
        {"name": "c0", "type": "conv", "filters": 4, "kernel": 3, "padding": 1},
        {"name": "u", "type": "upsample", "mode": "nearest", "scale": 2},
        {"name": "c1", "type": "conv", "filters": 2, "kernel": 3, "padding": 1}]}
    plan = _plan(spec)
    assert "u" in plan.blocked
    assert [w for w, _ in plan.reorders] == ["u->out", "c1->out"]


#: channel counts on both sides of ORT's alignment of 4: 18 (plain) and 24 (blocked)
ALIGNMENT_SPEC = {"name": "aligned", "input": [16, 12, 12], "layers": [
    {"name": "c0", "type": "conv", "filters": 18, "kernel": 3, "padding": 1},
    {"name": "d0", "type": "depthwise_conv", "kernel": 3, "padding": 1},
    {"name": "c1", "type": "conv", "filters": 24, "kernel": 1},
    {"name": "d1", "type": "depthwise_conv", "kernel": 3, "padding": 1},
    {"name": "c2", "type": "conv", "filters": 32, "kernel": 1}]}


@pytest.mark.parametrize("block", [8, 16])
def test_convs_of_channels_off_the_alignment_run_plain(block: int) -> None:
    """ORT's NCHWc transformer takes a depthwise conv, and a dense conv of a block of input channels
    or more, only with a multiple of 4 channels: the 18-channel depthwise conv and the conv that
    reads 18 channels run plain (c0 reorders its input in, its blocked output out once for both), the
    24-channel ones blocked (c1's plain output is reordered once for d1)."""
    plan = _plan(ALIGNMENT_SPEC, block)
    assert {"c0", "d1", "c2"} <= plan.blocked and not {"d0", "c1"} & plan.blocked
    assert [w for w, _ in plan.reorders] == ["c0<-in", "c0->out", "d1<-in", "c2->out"]
    assert executed_conv(ConvShape(18, 18, 18, 3, 1, 12), block, True) == (ConvShape(18, 18, 18, 3, 1, 12), False)
    assert executed_conv(ConvShape(43, 64, 1, 3, 1, 12), block, True) == (ConvShape(43, 64, 1, 3, 1, 12), False)
    assert executed_conv(ConvShape(12, 12, 12, 3, 1, 12), block, False) == (ConvShape(16, 16, 16, 3, 1, 12), True)
    assert executed_conv(ConvShape(20, 20, 1, 3, 1, 12), block, False)[1]


#: models, and the input size they are exported at (the same kernels, a fraction of the export)
ORT_GRAPHS = [("lenet5_modern", None), pytest.param(ALIGNMENT_SPEC, None, id="alignment-spec"),
              ("alexnet", 128), ("resnet18", 64), ("googlenet", 224), ("densenet121", 64),
              ("mobilenet_v2", 64), ("fcn_small.onnx", None), ("upsample_op7.onnx", None),
              ("mobilenet_small.onnx", None), ("misc_ops.onnx", None), ("efficientnet_b0", 96),
              ("mobilenet_v3_large", 96), ("convnext_tiny", 64)]


@pytest.mark.parametrize("name, size", ORT_GRAPHS)
def test_planned_reorders_are_those_in_orts_optimised_graph(name: Any, size: int | None, tmp_path: Path) -> None:
    """ORT writes the graph it runs (NCHWc nodes included) when asked: its ReorderInput and
    ReorderOutput nodes are the plan's reorders, on this CPU's own block."""
    import onnx
    import onnxruntime as ort

    from archcalc.runtime.prepare import prepare
    from archcalc.sources import load_any
    from archcalc.sweeps.variants import apply

    if isinstance(name, dict):
        graph = load_spec(name)
    else:
        graph = load_any(str(FIXTURES / name) if name.endswith(".onnx") else name)
    if size:
        graph = apply(graph, {"size": size}, {})
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(prepare(graph, 1).payload, options, providers=["CPUExecutionProvider"])
    ops = collections.Counter(n.op_type for n in onnx.load(str(tmp_path / "optimised.onnx"),
                                                           load_external_data=False).graph.node)
    report = analyze(graph, overrides={"batch": 1, "dtype": "fp32"})
    plan = plan_kernels(graph, {r.name: r for r in report.layers}, 1, layout.nchwc_block())
    assert len(plan.reorders) == ops["ReorderInput"] + ops["ReorderOutput"]


def test_a_layer_scale_after_a_conv_is_folded_into_it_and_gelu_runs_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    """ConvNeXt's block as the spec writes it: 1x1 conv, GELU, 1x1 conv, layer scale, residual add. ORT
    runs GELU between the two blocked convs, folds the scale into the second (ConvMulFusion) and adds
    blocked tensors blocked: no reorder inside the block. A scale after an activation stays a kernel."""
    monkeypatch.setattr(layout, "nchwc_block", lambda: 16)
    spec = {"name": "cn", "input": [32, 8, 8], "layers": [
        {"name": "c0", "type": "conv", "filters": 32, "kernel": 3, "padding": 1},
        {"name": "pw1", "type": "conv", "filters": 128, "kernel": 1},
        {"name": "g", "type": "gelu"},
        {"name": "pw2", "type": "conv", "filters": 32, "kernel": 1},
        {"name": "ls", "type": "layer_scale"},
        {"name": "add", "type": "add", "inputs": ["ls", "c0"]},
        {"name": "r", "type": "relu"},
        {"name": "ls2", "type": "layer_scale"}]}
    plan = _plan(spec)
    assert plan.host.get("ls") == "pw2" and "g" in plan.blocked and "ls2" not in plan.host
    assert [w for w, _ in plan.reorders] == ["c0<-in", "r->out"]  # the scale after the Relu reads plain


def test_stream_shapes_straddle_the_last_level_cache() -> None:
    shapes = stream_shapes(32 << 20)
    weights = [4 * s.k * s.n for s in shapes]
    assert all(s.m == 1 for s in shapes)
    assert weights[0] <= 4 << 20 and weights[1] <= 16 << 20 and weights[-1] >= 120 << 20  # 4x the cache
    assert max(4 * s.k * s.n for s in stream_shapes(1 << 30)) <= 256 << 20  # capped
    assert len(stream_shapes(32 << 20, 16 << 20)) == 2  # sizes that meet are measured once


def test_gemv_streams_its_weights_at_the_calibrated_speed_of_their_working_set() -> None:
    """fc 4096 -> 1000: 16,384,000 weight bytes; at batch 1 memory-bound. With the model's weights
    beyond the largest GEMV measured it streams at that one's 5 GB/s; with no stream points the
    copy bandwidth (10 GB/s) stands in."""
    spec = {"name": "fc", "input": [4096], "layers": [{"name": "f", "type": "fc", "units": 1000}]}
    plain = estimate_latency(load_spec(spec), synthetic(), batch=1)
    streamed = estimate_latency(load_spec(spec), synthetic(stream=[[1 << 20, 50.0], [1 << 26, 5.0]]), batch=1)
    weights = 4096 * 1000 * 4
    assert plain.layers["f"].memory_ms * 1e3 == pytest.approx(weights / 1e4)
    # 16.4 MB lies between the points: log-log interpolation
    dev = DeviceProfile.from_dict(synthetic(stream=[[1 << 20, 50.0], [1 << 26, 5.0]]).to_dict())
    assert dev.stream_at(1 << 26) == pytest.approx(5e3) and dev.stream_at(1 << 30) == pytest.approx(5e3)
    assert dev.stream_at(1 << 23) == pytest.approx(5e3 * 10 ** 0.5, rel=1e-6)  # half way in log
    # what passes through the caches in a run: the parameters (weights and biases) and every
    # activation (the 4,096 inputs and 1,000 outputs)
    working_set = weights + 1000 * 4 + (4096 + 1000) * 4
    assert streamed.layers["f"].memory_ms * 1e3 == pytest.approx(weights / dev.stream_at(working_set))
    assert streamed.layers["f"].bound == "memory"
    # the same classifier after 64 MiB of feature maps streams from farther away: at the 64 MiB point
    big = {"name": "fc2", "input": [64, 512, 512], "layers": [
        {"name": "p", "type": "global_avgpool"}, {"name": "f", "type": "fc", "units": 64000}]}
    after_maps = estimate_latency(load_spec(big), synthetic(stream=[[1 << 20, 50.0], [1 << 26, 5.0]]), batch=1)
    fc_weights = 64 * 64000 * 4  # 16.4 MB, as above
    assert after_maps.layers["f"].memory_ms * 1e3 == pytest.approx(fc_weights / 5e3)


def test_a_malformed_stream_row_is_refused() -> None:
    from archcalc.errors import CalibrationError

    data = synthetic().to_dict() | {"stream": [[1e6, -3.0]]}
    with pytest.raises(CalibrationError, match="stream"):
        DeviceProfile.from_dict(data)


def test_the_reorder_pair_chain_runs_two_reorders_and_one_elementwise_kernel_per_pair(tmp_path: Path) -> None:
    """Calibration prices one reorder from the reorder-pair chain (``fixed:reorder``, per pair,
    less a blocked conv and an elementwise kernel, halved). ORT's optimised graph of the chain must
    hold exactly that per pair: one ReorderInput, the conv, one ReorderOutput and the plain op, and
    nothing else (a Softmax over the channels of a 4-D tensor would add transposes inside it)."""
    import onnx
    import onnxruntime as ort

    from archcalc.estimate.microbench import FIXED_CHAINS, chain_model

    op, shape = FIXED_CHAINS["reorder"]
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(chain_model(op, 3, shape).SerializeToString(), options, providers=["CPUExecutionProvider"])
    ops = collections.Counter(n.op_type for n in onnx.load(str(tmp_path / "optimised.onnx")).graph.node)
    if layout.nchwc_block() <= 1 or not ops["ReorderInput"]:
        pytest.skip("this CPU runs no NCHWc kernels")
    assert ops == {"ReorderInput": 3, "Conv": 3, "ReorderOutput": 3, "Abs": 3}


def test_one_reorder_is_priced_as_the_pair_less_a_conv_and_an_elementwise_kernel() -> None:
    from archcalc.estimate import calsamples, suite

    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    for key, value in {"run": 5.0, "matmul": 0.01, "fixed:ew": 0.3, "fixed:conv": 0.8, "fixed:reorder": 2.0}.items():
        raw.add(key, value, "overhead")
    figures = suite._figures(raw, [], [], {}, ())
    assert figures["fixed_us"]["reorder"] == pytest.approx((2.0 - 0.8 - 0.3) / 2)
    raw.values.pop("fixed:reorder")
    raw.add("fixed:reorder", 0.9, "overhead")  # a cheaper pair than its parts: floored at an elementwise kernel
    assert suite._figures(raw, [], [], {}, ())["fixed_us"]["reorder"] == pytest.approx(0.3)


def test_the_reorder_cost_per_element_is_timed_on_a_model_with_one_reorder_output(tmp_path: Path) -> None:
    """The per-element reorder cost once summed every ReorderOutput kernel of the ops model (the
    pool's output needs one too) over one tensor's elements: 0.27 ns per element where ORT takes
    0.04-0.07 (measured here on tensors of 12k-800k elements), so every blocked/plain boundary of a
    large map was priced 4-5x its time. Its own model holds exactly one ReorderOutput, of the
    elements the unit is divided by, and the unit is what is left after the reorder's fixed cost."""
    import onnx
    import onnxruntime as ort

    from archcalc.estimate import calsamples, suite
    from archcalc.estimate.microbench import REORDER_CHANNELS, REORDER_SIZE, ops_model, reorder_model

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(reorder_model().SerializeToString(), options, providers=["CPUExecutionProvider"])
    nodes = onnx.load(str(tmp_path / "optimised.onnx")).graph.node
    if layout.nchwc_block() <= 1 or not any(n.op_type == "ReorderInput" for n in nodes):
        pytest.skip("this CPU runs no NCHWc kernels")
    assert collections.Counter(n.op_type for n in nodes) == {"ReorderInput": 1, "Conv": 1, "ReorderOutput": 1, "Abs": 1}
    (out,) = [n for n in nodes if n.op_type == "ReorderOutput"]
    assert list(out.output) == ["c"]  # the conv's output, read plain by the Abs
    _, units = ops_model()
    assert units["ReorderOutput"] == ("reorder", REORDER_CHANNELS * REORDER_SIZE ** 2)

    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    for key, value in {"run": 5.0, "matmul": 0.01, "fixed:ew": 0.3, "fixed:conv": 0.8, "fixed:reorder": 2.0,
                       "profiled_relu": 4.3, "unit:reorder": 24.3}.items():
        raw.add(key, value, "overhead")
    figures = suite._figures(raw, [], [], {"ReorderOutput": units["ReorderOutput"]}, ())
    # 24.3 us less the profiler's 4 us and one reorder's fixed 0.45 us, over 200,704 elements
    assert figures["unit_ns"]["reorder"] == pytest.approx((24.3 - 4.0 - 0.45) * 1e3 / 200_704)


def test_the_resize_units_are_counted_over_their_outputs_and_their_traffic_is_what_they_move() -> None:
    """ops_model's three Resize nodes: the unit's count is the node's output elements, and the
    traffic subtracted from it is the node's input and output bytes, both as ONNX infers them."""
    import onnx

    from archcalc.estimate.microbench import RESIZE_INPUTS, UNIT_TRAFFIC_BYTES, ops_model

    model, units = ops_model()
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.graph.input, *inferred.graph.output, *inferred.graph.value_info]}
    for key in RESIZE_INPUTS:
        (node,) = [n for n in model.graph.node if n.name == key]
        assert node.op_type == "Resize" and units[key] == (key, math.prod(shapes[node.output[0]]))
        moved = 4 * (math.prod(shapes[node.input[0]]) + math.prod(shapes[node.output[0]]))
        assert UNIT_TRAFFIC_BYTES[key] == moved


def test_a_unit_cost_is_stored_net_of_the_traffic_the_estimator_adds_to_it() -> None:
    """The estimator prices a pooling layer as its taps at the pool unit plus its traffic at the
    calibrated bandwidth (and so softmax and transcendental activations). Calibration's pool
    kernel moves its own bytes too, so the unit is what it took beyond them: with the gross unit a
    3x3 stride-1 max pool (9 taps per output, each input read once) was priced 3-4x its time in
    GoogLeNet. LRN and reorders are priced by their unit alone: theirs stay gross."""
    from archcalc.estimate import calsamples, suite
    from archcalc.estimate.microbench import UNIT_TRAFFIC_BYTES, ops_model

    _, units = ops_model()
    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    for key, value in {"run": 5.0, "matmul": 0.01, "fixed:ew": 0.2, "fixed:conv": 1.0, "fixed:pool_blocked": 1.0,
                       "fixed:lrn": 2.0, "profiled_relu": 3.2, "profiled_conv": 5.0, "copy:131072": 5.0 + 0.2 + 10.0,
                       "unit:pool": 20.0, "unit:lrn": 500.0}.items():
        raw.add(key, value, "overhead")
    figures = suite._figures(raw, [], [], units, (131072,))
    # one bandwidth point (1 MiB moved per copy), the same everywhere
    (point,) = figures["bandwidth"]
    per_us = point[1] * 1e3
    pool_kernel = 20.0 - 4.0  # less the profiler's cost on a pooled kernel (profiled conv less a conv)
    moved = UNIT_TRAFFIC_BYTES["pool"] / per_us
    assert figures["unit_ns"]["pool"] == pytest.approx((pool_kernel - 1.0 - moved) * 1e3 / units["pool"][1])
    assert figures["unit_ns"]["lrn"] == pytest.approx((500.0 - 3.0 - 2.0) * 1e3 / units["lrn"][1])


@pytest.mark.parametrize("block, reorders", [(8, ["/conv2/Conv->out", "/conv3/Conv<-in", "/Mul->out"]),
                                             (16, ["/pad/Pad->out", "/conv2/Conv->out", "/Mul->out"])])
def test_a_zero_pad_read_by_one_conv_is_fused_into_it(block: int, reorders: list[str]) -> None:
    """ORT's PadFusion: misc_ops' zero Pad between Conv+LeakyRelu and the next conv runs no kernel,
    and on 8-channel blocks the conv reads the blocked tensor before it (no reorder there); the
    reflect Pad of the input is a kernel of its own."""
    from archcalc.sources import load_any

    graph = load_any(str(FIXTURES / "misc_ops.onnx"))
    report = analyze(graph, overrides={"batch": 1, "dtype": "fp32"})
    plan = plan_kernels(graph, {r.name: r for r in report.layers}, 1, block)
    assert "/pad/Pad" in plan.removed and "/Pad" not in plan.removed
    assert [name for name, _ in plan.reorders] == reorders
