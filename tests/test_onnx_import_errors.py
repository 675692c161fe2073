"""ONNX import of models that cannot be analysed as they are: symbolic dims, unknown ops,
malformed files. Every failure is one line on stderr with exit code 2 (never a traceback, never a
hang); huge declared dims are analysed exactly.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import archcalc
from archcalc.cli import main
from tests.onnx_builders import analyze, make, node, ort_shapes, save, tensor, tmp_file, value_info, weight


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    """``archcalc ARGS`` in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, f"exit {code}: {err}"
    assert out == ""
    assert err.startswith("archcalc: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


def small_model(input_shape: list[int | str] | None = None, opset: int = 13) -> onnx.ModelProto:
    nodes = [node("Conv", ["x", "w", "b"], "conv", pads=[1, 1, 1, 1]), node("Relu", ["conv"], "relu"),
             node("GlobalAveragePool", ["relu"], "gap"), node("Flatten", ["gap"], "flat"),
             node("Gemm", ["flat", "fw", "fb"], "fc", transB=1)]
    inits = [weight("w", [8, 3, 3, 3]), weight("b", [8]), weight("fw", [10, 8]), weight("fb", [10])]
    return make(nodes, {"x": input_shape or [1, 3, 32, 32]}, inits=inits, opset=opset)


# -- symbolic dims -----------------------------------------------------------------------------------


def test_symbolic_batch_is_a_one_line_error_naming_it() -> None:
    path = save(small_model(["batch", 3, 32, 32]))
    with pytest.raises(archcalc.ArchcalcError, match=r"symbolic dims batch \(axis 0\).*--batch N"):
        archcalc.load(path)
    assert_one_line_error(*run_cli("report", path), "symbolic dims batch (axis 0)", "--batch N",
                          "--input x=Nx3x32x32")


def test_batch_or_input_fixes_a_symbolic_batch() -> None:
    path = save(small_model(["batch", 3, 32, 32]))
    code, by_batch, err = run_cli("report", path, "--batch", "4", "--format", "json")
    assert code == 0, err
    code, by_input, err = run_cli("report", path, "--input", "x=4x3x32x32", "--format", "json")
    assert code == 0, err
    a, b = json.loads(by_batch), json.loads(by_input)
    assert a["totals"] == b["totals"] and a["layers"] == b["layers"]
    assert a["conventions"]["batch"] == 4
    conv_macs = 8 * 32 * 32 * 3 * 9
    assert a["totals"]["macs"] == 4 * (conv_macs + 8 * 10)
    # the library, too
    one = analyze(path, batch=1)
    four = analyze(path, input_shapes={"x": (4, 3, 32, 32)})
    assert four.totals.macs == 4 * one.totals.macs and four.totals.params == one.totals.params


def test_symbolic_spatial_dims_need_input() -> None:
    path = save(small_model(["N", 3, "height", "width"]))
    assert_one_line_error(*run_cli("report", path, "--batch", "2"), "height (axis 2)", "width (axis 3)",
                          "--input x=2x3xNxN")
    code, _, err = run_cli("report", path, "--input", "x=2x3x20x24")
    assert code == 0, err
    r = analyze(path, input_shapes={"x": (2, 3, 20, 24)})
    assert r["conv"].shape == (8, 20, 24) and r["conv"].macs == 2 * 8 * 20 * 24 * 27
    # an unnamed --input is fine for a single-input model
    assert run_cli("report", path, "--input", "2x3x20x24")[0] == 0


@pytest.mark.parametrize("args,fragment", [
    (["--input", "y=1x3x32x32"], "the inputs are: x"),
    (["--input", "x=1x3x32"], "gives 3 dims but the model declares 4"),
    (["--input", "x=1x3xbadx32"], "--input expects NAME=1x3x224x224"),
    (["--input", "x=0x3x32x32"], "must be positive"),
    (["--var", "a=1"], "--var sets spec variables"),
])
def test_bad_input_options(args: list[str], fragment: str) -> None:
    path = save(small_model(["batch", 3, 32, 32]))
    assert_one_line_error(*run_cli("report", path, *args), fragment)


def test_input_without_any_shape() -> None:
    m = small_model()
    m.graph.input[0].type.tensor_type.ClearField("shape")
    path = save(m)
    assert_one_line_error(*run_cli("report", path), "has no shape", "--input x=")
    assert run_cli("report", path, "--input", "x=1x3x16x16")[0] == 0


# -- unknown ops -------------------------------------------------------------------------------------------


def unknown_ops_model() -> onnx.ModelProto:
    """Hardmax x2 (one downstream of the other), GridSample x1, a custom-domain op x1."""
    nodes = [
        node("Conv", ["x", "w"], "conv", pads=[1, 1, 1, 1]),
        node("Hardmax", ["conv"], "e1"),
        node("Hardmax", ["e1"], "e2"),
        node("GridSample", ["e2", "grid"], "gs"),
        node("MyOp", ["gs"], "custom", domain="com.example"),
        node("Relu", ["custom"], "relu"),
        node("Conv", ["relu", "w2"], "head"),
    ]
    inits = [weight("w", [4, 3, 3, 3]), tensor("grid", np.zeros((1, 6, 5, 2)), np.float32), weight("w2", [2, 4, 1, 1])]
    vi = [value_info("custom", [1, 4, 6, 5])]  # the exporter declared the custom op's output
    return make(nodes, {"x": [1, 3, 8, 8]}, inits=inits, opset=16, extra_opsets={"com.example": 1}, value_infos=vi)


def test_unknown_ops_error_lists_every_type_with_its_count() -> None:
    path = save(unknown_ops_model())
    code, out, err = run_cli("report", path)
    assert_one_line_error(code, out, err, "unknown ONNX ops:", "Hardmax x2", "GridSample x1", "com.example.MyOp x1",
                          "--allow-unknown")
    with pytest.raises(archcalc.ArchcalcError, match="Hardmax x2"):
        archcalc.load(path)


def test_allow_unknown_goes_on_with_inferred_shapes_and_says_what_is_not_counted() -> None:
    model = unknown_ops_model()
    path = save(model)
    r = analyze(path, allow_unknown=True)
    assert r.uncounted == ("e1", "e2", "gs", "custom")
    for name, shape in [("e1", (4, 8, 8)), ("e2", (4, 8, 8)), ("gs", (4, 6, 5)), ("custom", (4, 6, 5))]:
        assert r[name].kind == "unknown" and r[name].shape == shape
        assert r[name].params == r[name].macs == r[name].flops == 0
    # ONNX Runtime agrees on the shapes of the ops it runs
    without_custom = make(list(model.graph.node)[:4], {"x": [1, 3, 8, 8]}, outputs=["gs"],
                          inits=list(model.graph.initializer), opset=16)
    real = ort_shapes(without_custom)
    assert real["gs"][1:] == r["gs"].shape and real["e2"][1:] == r["e2"].shape
    # the layers after them are counted, and their receptive field is unknown, never a guess
    assert r["head"].macs == 2 * 4 * 30 and r["head"].rf.is_unknown
    assert r.totals.params == 4 * 27 + 8
    # every output format says which nodes were not counted
    code, table, err = run_cli("report", path, "--allow-unknown")
    assert code == 0, err
    assert "NOT COUNTED (4 unknown ops, zero in every column): e1, e2, gs, custom" in table
    code, md, _ = run_cli("report", path, "--allow-unknown", "--format", "markdown")
    assert code == 0 and "NOT COUNTED (4 unknown ops" in md
    code, js, _ = run_cli("report", path, "--allow-unknown", "--format", "json")
    assert code == 0 and json.loads(js)["uncounted"] == ["e1", "e2", "gs", "custom"]
    code, csv, err = run_cli("report", path, "--allow-unknown", "--format", "csv")
    assert code == 0 and "4 unknown ops are not counted (zero in every column): e1, e2, gs, custom" in err
    code, csv, _ = run_cli("report", path, "--allow-unknown", "--format", "csv", "--csv-context")
    assert code == 0 and "# NOT COUNTED (4 unknown ops): e1, e2, gs, custom" in csv


def test_allow_unknown_custom_op_without_inferable_shape_is_a_one_line_error() -> None:
    nodes = [node("Relu", ["x"], "r"), node("Mystery", ["r"], "m", domain="com.example"), node("Relu", ["m"], "y")]
    path = save(make(nodes, {"x": [1, 3, 4, 4]}, opset=13, extra_opsets={"com.example": 1}))
    assert_one_line_error(*run_cli("report", path, "--allow-unknown"), "no shape for 'm'", "Mystery")


def test_unknown_op_on_constants_only() -> None:
    # an op archcalc cannot fold, on constants: listed as unknown; let through, its output is a
    # constant of the inferred dims
    nodes = [node("RandomNormal", [], "noise", shape=[1, 3, 4, 4], dtype=TensorProto.FLOAT),
             node("Add", ["x", "noise"], "y")]
    path = save(make(nodes, {"x": [1, 3, 4, 4]}, opset=13))
    assert_one_line_error(*run_cli("report", path), "RandomNormal x1")
    r = analyze(path, allow_unknown=True)
    assert r.uncounted == ("noise",)
    assert r["y"].shape == (3, 4, 4)


def test_unknown_ops_in_a_model_without_allow_unknown_are_never_a_silent_zero() -> None:
    nodes = [node("Relu", ["x"], "r"), node("Hardmax", ["r"], "e")]
    path = save(make(nodes, {"x": [1, 3, 4, 4]}, opset=13))
    assert run_cli("report", path)[0] == 2
    code, out, _ = run_cli("report", path, "--allow-unknown", "--format", "json")
    assert code == 0 and json.loads(out)["uncounted"] == ["e"]


# -- malformed files ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_bytes() -> bytes:
    return save(small_model()).read_bytes()


def test_truncated_files_give_one_line_errors(valid_bytes: bytes) -> None:
    n = len(valid_bytes)
    cuts = sorted({1, 2, 3, 5, 8, 13, 21, 34, 55, 89, n // 4, n // 3, n // 2, 2 * n // 3, n - 40, n - 10, n - 2,
                   n - 1, *range(0, n, max(n // 40, 1))} - {0})
    for cut in cuts:
        path = tmp_file()
        path.write_bytes(valid_bytes[:cut])
        code, out, err = run_cli("report", path)
        assert_one_line_error(code, out, err, str(path))


@pytest.mark.parametrize("content", [
    pytest.param(lambda: np.random.default_rng(1).bytes(1000), id="random-1000"),
    pytest.param(lambda: np.random.default_rng(2).bytes(37), id="random-37"),
    pytest.param(lambda: np.random.default_rng(3).bytes(100_000), id="random-100k"),
    pytest.param(lambda: b"name: lenet\nlayers:\n  - {type: conv, filters: 6, kernel: 5}\n", id="yaml-text"),
    pytest.param(lambda: b"hello world, this is not a model\n" * 20, id="text"),
    pytest.param(lambda: b"", id="empty"),
    pytest.param(lambda: b"\x00" * 64, id="zeros"),
    pytest.param(lambda: b"\xff" * 64, id="ones"),
    pytest.param(lambda: b"\x3a" + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" + b"x" * 10, id="huge-length"),
])
def test_not_protobuf_gives_one_line_errors(content: object) -> None:
    path = tmp_file()
    path.write_bytes(content())  # type: ignore[operator]
    assert_one_line_error(*run_cli("report", path), str(path))
    with pytest.raises(archcalc.ArchcalcError):
        archcalc.load(path)


def test_directory_and_missing_file() -> None:
    folder = tmp_file("").with_name(tmp_file("").name + "_dir.onnx")
    folder.mkdir()
    assert_one_line_error(*run_cli("report", folder), "is a directory")
    assert_one_line_error(*run_cli("report", folder.with_name("nothing_here.onnx")), "no such file")


def test_byte_flips_never_crash(valid_bytes: bytes) -> None:
    """Single-byte corruptions of a valid model: analysed (exit 0) or a one-line error (exit 2), never an
    internal error."""
    rng = np.random.default_rng(7)
    data = bytearray(valid_bytes)
    # the structure (everything but the large float blobs) is where corruption bites
    for _ in range(300):
        corrupt = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            corrupt[int(rng.integers(0, len(corrupt)))] = int(rng.integers(0, 256))
        path = tmp_file()
        path.write_bytes(bytes(corrupt))
        code, out, err = run_cli("report", path)
        if code != 0:
            assert_one_line_error(code, out, err)


def test_cycle() -> None:
    nodes = [node("Relu", ["x", ], "a"), node("Add", ["a", "c"], "b"), node("Relu", ["b"], "c")]
    m = make(nodes, {"x": [1, 3, 4, 4]}, outputs=["c"], opset=13)
    assert_one_line_error(*run_cli("report", save(m)), "cycle")


def test_self_loop() -> None:
    nodes = [node("Add", ["x", "a"], "a")]
    assert_one_line_error(*run_cli("report", save(make(nodes, {"x": [1, 3, 4, 4]}, opset=13))), "cycle")


def test_node_reads_a_tensor_nothing_produces() -> None:
    nodes = [node("Relu", ["x"], "relu"), node("Add", ["relu", "ghost"], "y")]
    assert_one_line_error(*run_cli("report", save(make(nodes, {"x": [1, 3, 4, 4]}, opset=13))),
                          "reads 'ghost', which no node, initializer or input provides")


def test_tensor_produced_twice() -> None:
    nodes = [node("Relu", ["x"], "y", name="first"), node("Sigmoid", ["x"], "y", name="second")]
    assert_one_line_error(*run_cli("report", save(make(nodes, {"x": [1, 3, 4, 4]}, opset=13))), "produced twice")
    # an output that shadows an initializer
    nodes = [node("Relu", ["x"], "w")]
    m = make(nodes, {"x": [1, 3, 4, 4]}, inits=[weight("w", [1, 3, 4, 4])], opset=13)
    assert_one_line_error(*run_cli("report", save(m)), "produced twice")


def test_unmodelled_output_consumed_is_a_one_line_error() -> None:
    nodes = [node("Dropout", ["x"], ["y", "mask"], ratio=0.5), node("Cast", ["mask"], "mf", to=TensorProto.FLOAT),
             node("Add", ["y", "mf"], "z")]
    m = make(nodes, {"x": [1, 3, 4, 4]}, opset=10)
    assert_one_line_error(*run_cli("report", save(m)), "'mask' is an output archcalc does not model")


def test_no_opset_and_no_inputs() -> None:
    m = small_model()
    del m.opset_import[:]
    assert_one_line_error(*run_cli("report", save(m)), "no default-domain opset")
    m = make([node("Constant", [], "y", value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))], {}, opset=13)
    assert_one_line_error(*run_cli("report", save(m)), "no inputs")


def test_batch_axis_errors_are_one_line() -> None:
    nodes = [node("Transpose", ["x"], "y", perm=[1, 0, 2, 3])]
    assert_one_line_error(*run_cli("report", save(make(nodes, {"x": [2, 3, 4, 4]}, opset=13))), "moves the batch axis")
    nodes = [node("Reshape", ["x", "s"], "y")]
    m = make(nodes, {"x": [2, 3, 4, 4]}, inits=[tensor("s", [-1])], opset=13)
    assert_one_line_error(*run_cli("report", save(m)), "changes the batch axis")


def test_subprocess_cli_has_no_traceback_and_no_hang(valid_bytes: bytes) -> None:
    truncated = tmp_file()
    truncated.write_bytes(valid_bytes[: len(valid_bytes) // 2])
    cycle = save(make([node("Add", ["x", "a"], "a")], {"x": [1, 3, 4, 4]}, opset=13))
    for path in (truncated, cycle):
        done = subprocess.run([sys.executable, "-m", "archcalc", "report", str(path)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2
        assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# -- huge declared dims ---------------------------------------------------------------------------------------

HUGE = 2**40


def test_huge_declared_input_dims_are_analysed_exactly() -> None:
    nodes = [node("Conv", ["x", "w", "b"], "conv", strides=[2, 2]), node("Relu", ["conv"], "relu"),
             node("MaxPool", ["relu"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
             node("GlobalAveragePool", ["pool"], "gap"), node("Flatten", ["gap"], "flat"),
             node("Gemm", ["flat", "fw", "fb"], "fc", transB=1)]
    inits = [weight("w", [4, 3, 2, 2]), weight("b", [4]), weight("fw", [10, 4]), weight("fb", [10])]
    path = save(make(nodes, {"x": [1, 3, HUGE, HUGE]}, inits=inits, opset=13))
    code, out, err = run_cli("report", path, "--format", "json")
    assert code == 0, err
    r = analyze(path)
    h = HUGE // 2  # conv 2x2 stride 2
    assert r["conv"].shape == (4, h, h)
    assert r["conv"].macs == 4 * h * h * 3 * 4
    assert r["pool"].shape == (4, h // 2, h // 2)
    assert r["gap"].connections == 4 * (h // 2) ** 2
    assert r.totals.params == 4 * 12 + 4 + 40 + 10
    assert r["conv"].activation_bytes == 4 * h * h * 4
    assert json.loads(out)["totals"]["macs"] == r.totals.macs


def test_huge_dims_with_a_weight_declared_by_dims_only() -> None:
    # an fc over a 2^40-element input: its weight cannot exist, but its dims can be declared
    big = onnx.TensorProto()
    big.name, big.data_type = "fw", TensorProto.FLOAT
    big.dims.extend([3, HUGE])
    nodes = [node("Flatten", ["x"], "flat"), node("Gemm", ["flat", "fw"], "fc", transB=1)]
    m = make(nodes, {"x": [1, 1, 2**20, 2**20]}, inits=[big], opset=13)
    r = analyze(save(m))
    assert r["fc"].params == 3 * HUGE and r["fc"].macs == 3 * HUGE


def test_shape_arithmetic_overflowing_int64_is_a_one_line_error() -> None:
    # x.view(N, C*H*W) with C*H*W = 3 * 2^80: no int64 holds it
    nodes = [node("Shape", ["x"], "s"), node("Gather", ["s", "i1"], "c"), node("Gather", ["s", "i2"], "h"),
             node("Gather", ["s", "i3"], "w"), node("Mul", ["c", "h"], "ch"), node("Mul", ["ch", "w"], "chw"),
             node("Concat", ["one", "chw"], "target", axis=0), node("Reshape", ["x", "target"], "y")]
    inits = [tensor("i1", [1]), tensor("i2", [2]), tensor("i3", [3]), tensor("one", [1])]
    path = save(make(nodes, {"x": [1, 3, HUGE, HUGE]}, inits=inits, opset=13))
    assert_one_line_error(*run_cli("report", path), "overflows int64")


# -- corrupted nodes (found by fuzzing byte-level corruptions of valid models) ----------------------------


def test_node_missing_a_required_attribute() -> None:
    m = make([node("MaxPool", ["x"], "y", strides=[2, 2])], {"x": [1, 3, 8, 8]}, opset=13)
    assert_one_line_error(*run_cli("report", save(m)), "MaxPool node lacks the attribute 'kernel_shape'")


def test_node_attribute_of_the_wrong_type() -> None:
    m = make([node("Flatten", ["x"], "y")], {"x": [1, 3, 8, 8]}, opset=13)
    m.graph.node[0].attribute.append(helper.make_attribute("axis", "one"))
    assert_one_line_error(*run_cli("report", save(m)), "Flatten node is malformed")
    m = make([node("ConvTranspose", ["x", "w"], "y", strides=[2])], {"x": [1, 3, 8, 8]},
             inits=[weight("w", [3, 2, 3, 3])], opset=13)
    assert_one_line_error(*run_cli("report", save(m)), "ConvTranspose strides has 1 values for 2 spatial axes")


def test_initializer_with_an_unknown_data_type() -> None:
    m = small_model()
    m.graph.initializer.append(tensor("odd", [1, 2, 3]))
    m.graph.initializer[-1].data_type = 50
    m.graph.node[0].input[2] = "odd"
    assert_one_line_error(*run_cli("report", save(m)), "initializer 'odd' has an unknown data type (50)")


def test_names_with_control_characters_stay_on_one_line() -> None:
    m = small_model(["batch", 3, 32, 32])
    m.graph.input[0].name = "x\nwith\nnewlines"
    m.graph.node[0].input[0] = "x\nwith\nnewlines"
    assert_one_line_error(*run_cli("report", save(m)), "input 'x\\nwith\\nnewlines' has symbolic dims")
