"""Issues 15 and 16, the ONNX side of bounded work: what a model file asks for is never simply done.

One table of input -> exit code -> message. Every case is built into one folder and run through
``archcalc report`` in one subprocess (so its peak RSS is that of these cases alone: VmHWM, or
``resource.getrusage`` where there is no /proc): a refusal is one line, exit 2, in well under a second; a large constant
is kept as dims (a symbolic constant) and the report goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import ROOT

Build = Callable[[Path], Path]


def model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto] = (),  # type: ignore[assignment]
          outputs: list[str] | None = None, opset: int = 13, inputs: dict[str, list[int]] | None = None,
          **graph_kw: Any) -> onnx.ModelProto:
    """A model, without running ONNX shape inference (which would itself fold the huge cases)."""
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in (inputs or {"x": [1, 4]}).items()]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs or [nodes[-1].output[0]]]
    graph = helper.make_graph(nodes, "g", ins, outs, initializer=list(inits), **graph_kw)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m


def n(op: str, inputs: list[str], output: str, **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, inputs, [output], name=output, **attrs)


def ints(name: str, values: Any) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


def floats(name: str, values: Any) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, np.float32), name)


def saved(m: onnx.ModelProto) -> Build:
    def build(folder: Path) -> Path:
        path = folder / "model.onnx"
        path.write_bytes(m.SerializeToString())
        return path
    return build


RELU = n("Relu", ["x"], "y")


def fifo(name: str) -> Build:
    def build(folder: Path) -> Path:
        os.mkfifo(folder / name)
        return folder / name
    return build


def link(name: str, target: str) -> Build:
    def build(folder: Path) -> Path:
        (folder / name).symlink_to(target)
        return folder / name
    return build


def sparse(name: str, size: int) -> Build:
    """A file of ``size`` bytes that takes no disk space (and must never be read)."""
    def build(folder: Path) -> Path:
        with open(folder / name, "wb") as handle:
            handle.truncate(size)
        return folder / name
    return build


def device(path: str) -> Build:
    return lambda folder: Path(path)


def external(location: str, sits: str = "initializer", offset: str | None = None, length: str | None = "432",
             data: int | None = None, fifo_at: str | None = None) -> Build:
    """A Conv whose 4x3x3x3 float weight (432 bytes) is external data at ``location``. ``sits``: an
    ``initializer`` or a ``constant`` node of the main graph, or either inside an If branch
    (``if-initializer``, ``if-constant``). ``data``: write a file of that many bytes at the location."""
    def build(folder: Path) -> Path:
        w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 3])
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", offset), ("length", length)):
            if value is not None:
                entry = w.external_data.add()
                entry.key, entry.value = key, value
        conv = n("Conv", ["x", "w"], "y")
        inner = [n("Constant", [], "w", value=w)] if sits.endswith("constant") else []
        if sits.startswith("if"):
            branch = helper.make_graph([*inner, n("Identity", ["w"], "wb")], "then", [],
                                       [helper.make_tensor_value_info("wb", TensorProto.FLOAT, None)],
                                       initializer=[] if inner else [w])
            nodes = [n("If", ["cond"], "w", then_branch=branch, else_branch=branch), conv]
            m = model(nodes, [numpy_helper.from_array(np.array(True), "cond")], inputs={"x": [1, 3, 8, 8]})
        else:
            m = model([*inner, conv], [] if inner else [w], inputs={"x": [1, 3, 8, 8]})
        if data is not None:
            (folder / location).write_bytes(b"\0" * data)
        if fifo_at is not None:
            os.mkfifo(folder / fifo_at)
        return saved(m)(folder)
    return build


def _twice(m: onnx.ModelProto, field: str) -> onnx.ModelProto:
    group = getattr(m.graph, field)
    group.append(group[0])
    return m


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (to nest deeper than the protobuf library builds)."""
    def varint(v: int) -> bytes:
        out = bytearray()
        while v >= 0x80:
            out.append(v & 0x7F | 0x80)
            v >>= 7
        return bytes([*out, v])
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def nested_ifs(depth: int, doc_bytes: int = 0) -> Build:
    """If inside If inside If ... ``depth`` deep (encoded by hand); the innermost graph carries a
    doc string of ``doc_bytes``."""
    def build(folder: Path) -> Path:
        out = helper.make_tensor_value_info("v", TensorProto.FLOAT, None).SerializeToString()
        graph = helper.make_graph([n("Identity", ["x"], "v")], "inner", [], [helper.make_tensor_value_info(
            "v", TensorProto.FLOAT, None)], doc_string="d" * doc_bytes).SerializeToString()
        for level in range(depth):
            attr = _field(1, b"then_branch") + b"\xa0\x01\x05" + _field(6, graph)  # type = GRAPH, g
            node = _field(1, b"cond") + _field(2, b"v" if level < depth - 1 else b"y") + _field(4, b"If")
            graph = _field(1, node + _field(5, attr)) + _field(2, f"g{level}".encode()) + _field(12, out)
        m = model([RELU], [numpy_helper.from_array(np.array(True), "cond")])
        m.graph.ClearField("node")
        path = folder / "model.onnx"
        main = m.graph.SerializeToString()
        m.ClearField("graph")
        path.write_bytes(m.SerializeToString() + _field(7, main + graph))
        return path
    return build


def with_opset(version: int) -> Build:
    m = model([RELU])
    m.opset_import[0].version = version
    return saved(m)

# (case, builder, exit code, the words stderr (exit 2) or stdout (exit 0) must contain)
CASES: list[tuple[str, Build, int, str]] = [
    # -- constant folding computes only what is small (issue 15) --
    ("Tile of one element by 9e8 is kept as dims",
     saved(model([RELU, n("Tile", ["one", "reps"], "t")], [floats("one", [1.0]), ints("reps", [900_000_000])],
                 ["y", "t"])), 0, "output 't' is a constant (folded)"),
    ("a value needed from a huge Tile is refused",
     saved(model([n("Tile", ["one", "reps"], "t"), n("Reshape", ["x", "t"], "y")],
                 [ints("one", [1]), ints("reps", [900_000_000])])), 2,
     "Reshape: the value of shape is not known (900,000,000 elements, more than archcalc folds (65,536))"),
    ("float broadcast [30000,1]+[1,30000] is kept as dims",
     saved(model([RELU, n("Expand", ["f", "s1"], "a"), n("Expand", ["f", "s2"], "b"), n("Add", ["a", "b"], "t")],
                 [floats("f", 1.5), ints("s1", [30000, 1]), ints("s2", [1, 30000])], ["y", "t"])), 0,
     "3 folded as constants (Expand x2, Add x1)"),
    ("Concat of 900 copies of 2^20 elements is kept as dims",
     saved(model([RELU, n("ConstantOfShape", ["len"], "c"), n("Concat", ["c"] * 900, "t", axis=0)],
                 [ints("len", [2**20])], ["y", "t"])), 0, "output 't' is a constant (folded)"),
    ("ConstantOfShape [10^12] is a shape and a value",
     saved(model([RELU, n("ConstantOfShape", ["len"], "c"), n("Mul", ["c", "c"], "t")],
                 [ints("len", [10**6, 10**6])], ["y", "t"])), 0, "output 't' is a constant (folded)"),
    ("Range of 10^12 elements is kept as dims",
     saved(model([RELU, n("Range", ["zero", "big", "step"], "t")],
                 [ints("zero", 0), ints("big", 10**12), ints("step", 1)], ["y", "t"])), 0,
     "output 't' is a constant (folded)"),
    ("Gather of 4096 rows of 4096 is kept as dims",
     saved(model([RELU, n("Expand", ["f", "s"], "table"), n("Gather", ["table", "idx"], "t")],
                 [floats("f", 1.0), ints("s", [1, 4096]), ints("idx", np.zeros(4096))], ["y", "t"])), 0,
     "output 't' is a constant (folded)"),
    ("Pow(3, 1e9) on int64 is refused before computing it",
     saved(model([RELU, n("Pow", ["three", "e"], "t")], [ints("three", 3), ints("e", 10**9)], ["y", "t"])), 2,
     "folded integer Pow overflows int64 (exponent up to 1,000,000,000)"),
    ("ReduceProd of 4096 large integers is refused before computing it",
     saved(model([RELU, n("ReduceProd", ["big"], "t", keepdims=0)], [ints("big", np.full(4096, 2**40))],
                 ["y", "t"])), 2, "folded integer ReduceProd overflows int64"),
    ("a value needed past the import's folding budget is refused",
     saved(model([*(n("ConstantOfShape", ["len"], f"c{i}") for i in range(80)),
                  n("Slice", ["c79", "zero", "two"], "s"), n("Reshape", ["x", "s"], "y")],
                 [ints("len", [60000]), ints("zero", [0]), ints("two", [2])])), 2,
     "the value of shape is not known (the model's folded constants pass 4,194,304 elements)"),
    ("a string tensor times 10^9 is never computed (numpy repeats strings)",
     saved(model([RELU, n("Mul", ["big", "text"], "t")], [ints("big", [10**9]), helper.make_tensor(
         "text", TensorProto.STRING, [1], [b"1"])], ["y", "t"])), 0, "output 't' is a constant (folded)"),
    ("a string tensor where values are needed is refused",
     saved(model([RELU, n("ReduceMax", ["text"], "t")], [helper.make_tensor("text", TensorProto.STRING, [1], [b"1"])],
                 ["y", "t"])), 2, "ReduceMax needs the values of a string tensor, which archcalc does not fold"),
    ("Squeeze of a scalar along an axis", saved(model([RELU, n("Squeeze", ["one", "axes"], "t")],
                                                      [ints("one", 1), ints("axes", [0])], ["y", "t"])), 2,
     "Squeeze axes [0] are out of range for a 0-D input"),
    # -- only regular files are read, and only up to a size (issue 15) --
    ("a FIFO with no writer as a model", fifo("model.onnx"), 2,
     "model.onnx: is a FIFO, not an ONNX file: archcalc reads regular files only"),
    ("a FIFO with no writer as a spec", fifo("spec.yaml"), 2,
     "spec.yaml: is a FIFO, not a spec file: archcalc reads regular files only"),
    ("/dev/zero as a spec", device("/dev/zero"), 2,
     "/dev/zero: is a character device, not a spec file: archcalc reads regular files only"),
    ("/dev/urandom as a spec", device("/dev/urandom"), 2,
     "/dev/urandom: is a character device, not a spec file: archcalc reads regular files only"),
    ("a model that links to /dev/zero", link("zero.onnx", "/dev/zero"), 2,
     "zero.onnx: is a character device, not an ONNX file: archcalc reads regular files only"),
    ("a spec that links to /dev/urandom", link("random.yaml", "/dev/urandom"), 2,
     "random.yaml: is a character device, not a spec file: archcalc reads regular files only"),
    ("a spec of 1 MiB + 1 byte", sparse("big.yaml", 2**20 + 1), 2,
     "big.yaml: is 1,048,577 bytes, larger than a spec file may be (1 MiB)"),
    ("a model of 2 GiB + 1 byte", sparse("big.onnx", 2**31 + 1), 2,
     "big.onnx: is 2,147,483,649 bytes, larger than an ONNX file may be (2 GiB)"),
    ("a model whose structure is 1 GiB of zeros", sparse("zeros.onnx", 2**30), 2,
     "not an ONNX file"),
    ("subgraphs nested 33 deep", nested_ifs(33), 2, "subgraphs nest more than 32 deep: refused"),
    ("subgraphs nested 30 deep around 2 MiB", nested_ifs(30, 2**21), 2,
     "the model's structure (everything but its weights) passes 128 MiB: refused"),
    # -- bounds every input path shares (issue 16) --
    ("opset 6", with_opset(6), 2, "the model's default-domain opset is 6; archcalc reads opsets 7 to 28"),
    ("opset 29", with_opset(29), 2, "the model's default-domain opset is 29; archcalc reads opsets 7 to 28"),
    ("opset 10^12", with_opset(10**12), 2,
     "the model's default-domain opset is 1,000,000,000,000; archcalc reads opsets 7 to 28"),
    ("a NaN float attribute", saved(model([n("LeakyRelu", ["x"], "y", alpha=float("nan"))])), 2,
     "layer y: attribute 'alpha' is NaN (nan): refused"),
    ("an infinite float attribute", saved(model([n("Elu", ["x"], "y", alpha=float("-inf"))])), 2,
     "layer y: attribute 'alpha' is infinite (-inf): refused"),
    ("infinity in a list of floats",
     saved(model([n("Relu", ["x"], "r"), n("Upsample", ["r"], "y", scales=[1.0, float("inf")])], opset=7)), 2,
     "attribute 'scales' is infinite (inf): refused"),
    # -- external data: the same checks in every graph, before anything reads it (issue 15) --
    ("external data of an If branch's initializer escapes the folder", external("../../etc/passwd", "if-initializer"),
     2, "initializer 'w' (in subgraph 'then') points at external data '../../etc/passwd' outside the model's "
        "folder: refused"),
    ("external data of an If branch's initializer is absolute", external("/etc/passwd", "if-initializer"), 2,
     "initializer 'w' (in subgraph 'then') points at external data '/etc/passwd', which is not a path inside"),
    ("external data of a Constant node is absolute", external("/etc/passwd", "constant"), 2,
     "the value of node 'w' points at external data '/etc/passwd', which is not a path inside the model's folder"),
    ("external data of a Constant node in an If branch escapes", external("../../etc/passwd", "if-constant"), 2,
     "the value of node 'w' (in subgraph 'then') points at external data '../../etc/passwd' outside the model's "
     "folder: refused"),
    ("external data location '.'", external("."), 2,
     "initializer 'w' points at external data '.', which is the model's folder, not a file: refused"),
    ("external data in a FIFO", external("w.bin", fifo_at="w.bin"), 2,
     "initializer 'w' points at external data 'w.bin', which is not a regular file: refused"),
    ("external data at an offset of 10^12", external("w.bin", offset=str(10**12), data=432), 2,
     "initializer 'w' reads bytes 1,000,000,000,000 to 1,000,000,000,432 of 'w.bin', which has 432: refused"),
    ("external data of length 2^62", external("w.bin", length=str(2**62), data=432), 2,
     "initializer 'w' has an external-data length of 4,611,686,018,427,387,904 bytes, but its dims and type "
     "make 432: refused"),
    ("external data at a negative offset", external("w.bin", "if-constant", offset="-5", data=432), 2,
     "the value of node 'w' (in subgraph 'then') has an external-data offset of '-5', which is not a byte count"),
    ("external data in a file too short", external("w.bin", data=100), 2,
     "initializer 'w' reads bytes 0 to 432 of 'w.bin', which has 100: refused"),
    ("external data in place and missing is analysed from its dims", external("w.bin"), 0,
     "1 initializers hold external data"),
    # -- the graph itself --
    ("two graph inputs of one name", saved(_twice(model([n("Add", ["x", "x"], "y")]), "input")), 2,
     "two graph inputs are named 'x'"),
    ("two initializers of one name", saved(_twice(model([n("Add", ["x", "b"], "y")], [floats("b", [1, 2, 3, 4])]),
                                                  "initializer")), 2, "two initializers are named 'b'"),
    ("a Reshape whose shape is a STRING tensor",
     saved(model([n("Reshape", ["x", "shape"], "y")], [helper.make_tensor("shape", TensorProto.STRING, [2],
                                                                            [b"1", b"4"])])), 2,
     "layer y: Reshape shape must be an integer tensor, got a string tensor"),
    ("a folded Reshape whose shape is a STRING tensor",
     saved(model([RELU, n("Reshape", ["c", "shape"], "t")], [ints("c", [1, 2, 3, 4]), helper.make_tensor(
         "shape", TensorProto.STRING, [2], [b"2", b"2"])], ["y", "t"])), 2,
     "layer t: Reshape shape must be an integer tensor, got a string tensor"),
]

_RUNNER = """
import contextlib, io, json, resource, sys, time
from archcalc.cli import main

def peak():  # MiB; VmHWM is this process's own (ru_maxrss keeps the forking parent's peak over exec)
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

results = {}
for case, path in json.loads(sys.argv[1]).items():
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["report", path])
    results[case] = [code, out.getvalue(), err.getvalue(), time.perf_counter() - start, peak()]
results["peak RSS MiB"] = peak()
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    paths = {}
    for i, (case, build, _, _) in enumerate(CASES):
        folder = tmp_path_factory.mktemp(f"case{i}")
        paths[case] = str(build(folder))
    warm = saved(model([RELU]))(tmp_path_factory.mktemp("warm"))  # imports loaded before the first timing
    run = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps({"warm": str(warm), **paths})],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("case", "build", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_case(results: dict[str, Any], case: str, build: Build, code: int, words: str) -> None:
    got, out, err, seconds, _ = results[case]
    assert got == code, (case, err or out[-500:])
    if code == 2:
        assert out == "" and err.startswith("archcalc: ") and err.count("\n") == 1, err
        assert words in err, err
    else:
        assert words in out, out[-800:]
    assert "Traceback" not in err and "internal error" not in err
    assert seconds < 0.5, f"{case}: {seconds:.2f} s"


def test_no_case_allocates(results: dict[str, Any]) -> None:
    """onnx and numpy imported cost ~50 MiB; none of the cases may add much to that."""
    peaks = {case: round(r[4]) for case, r in results.items() if isinstance(r, list)}
    assert results["peak RSS MiB"] < 100, peaks


def _conv_stack(weights_as: str, layers: int = 16, channels: int = 512) -> onnx.ModelProto:
    """A 3x3 conv stack whose weights (16 x 512 x 512 x 9 floats, 151 MB) are Constant nodes or
    initializers; the bytes are zeros (values never matter here)."""
    nodes, inits, prev = [], [], "x"
    shape = [channels, channels, 3, 3]
    for i in range(layers):
        tensor = helper.make_tensor(f"w{i}_value", TensorProto.FLOAT, shape, b"\0" * (4 * int(np.prod(shape))), raw=True)
        if weights_as == "constant":
            nodes.append(helper.make_node("Constant", [], [f"w{i}"], name=f"w{i}", value=tensor))
        else:
            tensor.name = f"w{i}"
            inits.append(tensor)
        nodes.append(n("Conv", [prev, f"w{i}"], f"conv{i}", pads=[1, 1, 1, 1]))
        prev = f"conv{i}"
    return model(nodes, inits, [prev], inputs={"x": [1, channels, 14, 14]})


_PEAK = _RUNNER.split("results = {}")[0] + """
code = main(["report", sys.argv[1], "--format", "json"])
print(json.dumps({"code": code, "peak": peak()}))
"""


@pytest.mark.parametrize("weights_as", ["constant", "initializer"])
def test_weights_in_constant_nodes_are_never_read(tmp_path: Path, weights_as: str) -> None:
    """Issue 16: 151 MB of weights as Constant nodes cost what they cost as initializers (dims only)."""
    path = tmp_path / "stack.onnx"
    path.write_bytes(_conv_stack(weights_as).SerializeToString())
    assert path.stat().st_size > 150e6
    run = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.splitlines()[-1])
    assert got["code"] == 0
    assert got["peak"] < 100, f"peak RSS {got['peak']:.0f} MiB reading a {path.stat().st_size / 1e6:.0f} MB model"
    report = json.loads(run.stdout.rsplit("\n", 2)[0])
    assert report["totals"]["params"] == 16 * 512 * 512 * 9
    assert any("bytes of data not read" in note for note in report["notes"])


@pytest.mark.parametrize("case", ["external data at an offset of 10^12", "external data of length 2^62",
                                  "external data in a FIFO"])
def test_profile_refuses_before_any_session(tmp_path: Path, case: str) -> None:
    """What would reach ONNX Runtime (a multi-line native error) is refused by the reader first."""
    build, words = next((c[1], c[3]) for c in CASES if c[0] == case)
    path = build(tmp_path)
    run = subprocess.run([sys.executable, "-m", "archcalc", "profile", str(path), "--device", "cpu", "--warmup", "0",
                          "--repeat", "1", "--estimate", "off"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 2 and run.stdout == "", run.stderr
    assert run.stderr.count("\n") == 1 and words in run.stderr, run.stderr


@pytest.mark.parametrize("name", ["model.onnx", "spec.yaml"])
def test_a_fifo_is_refused_at_once_from_a_cold_start(tmp_path: Path, name: str) -> None:
    """A fresh ``archcalc report FIFO`` (no writer) exits 2 without waiting, and without importing onnx."""
    os.mkfifo(tmp_path / name)
    probe = ("import sys, contextlib, io\nfrom archcalc.cli import main\n"
             f"code = main(['report', {str(tmp_path / name)!r}])\n"
             "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'onnx')[:1])\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=20)
    assert run.stdout.strip() == "2 []", run.stdout + run.stderr
    assert "is a FIFO" in run.stderr and run.stderr.count("\n") == 1
