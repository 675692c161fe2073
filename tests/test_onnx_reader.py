"""The reader walks the protobuf wire format itself (archcalc/onnx_import/parse.py): what it reads
must be what onnx's own protobuf parse reads, field by field, on every fixture, on Caffe2-style
graphs and on hand-made models with every attribute type and tensor storage; and reading a model
(``archcalc report X.onnx``) never imports onnx or ml_dtypes (issue 12)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from archcalc.onnx_import import view, walk
from archcalc.onnx_import.parse import Parser, common_value_info, value_infos
from archcalc.onnx_import.reader import KEEP_ELEMENTS, read_model
from archcalc.onnx_import.tensors import check, data_type, flat, to_array
from tests.caffe2_graphs import SCALE_STORAGE, caffe2_net
from tests.conftest import ROOT

FIXTURES = sorted((ROOT / "tests" / "fixtures" / "onnx").glob("*.onnx"))


def _same_tensor(mine: view.Tensor, proto: onnx.TensorProto, where: str) -> None:
    assert (mine.name, mine.dims, mine.data_type, mine.data_location) == (
        proto.name, tuple(proto.dims), proto.data_type, proto.data_location), where
    assert [(e.key, e.value) for e in mine.external_data] == [(e.key, e.value) for e in proto.external_data], where
    if mine.has_data and mine.data_type not in (16, 17, 18, 19, 20, 21, 22, 23):
        expected = numpy_helper.to_array(proto)
        got = to_array(mine)
        assert got.dtype == expected.dtype and got.shape == expected.shape, where
        assert np.array_equal(got, expected, equal_nan=got.dtype.kind in "fc"), where
        check(mine)  # what to_array reads, check accepts
        light = data_type(mine.data_type)
        assert light is not None and (light.name, light.itemsize, light.kind) == (
            got.dtype.name, got.dtype.itemsize, got.dtype.kind), where
        values = flat(mine)
        if got.dtype.kind in "OUSc":
            assert values is None, where  # strings and complex numbers need numpy
        else:  # the numpy-free decoding gives the same numbers, of the same Python types
            assert values is not None and len(values) == expected.size, where
            for a, b in zip(values, expected.reshape(-1).tolist(), strict=True):
                assert type(a) is type(b) and (a == b or (a != a and b != b)), f"{where}: {a!r} vs {b!r}"
    elif proto.data_location != TensorProto.EXTERNAL and np.prod(proto.dims) > KEEP_ELEMENTS:
        assert mine.data is None, f"{where}: a large tensor is read as dims only"


def _same_value_infos(mine: tuple[view.ValueInfo, ...], protos: Any, where: str) -> None:
    assert [v.name for v in mine] == [v.name for v in protos], where
    for v, p in zip(mine, protos, strict=True):
        t = p.type.tensor_type
        assert v.elem_type == t.elem_type, where
        if not t.HasField("shape"):
            assert v.dims is None, where
            continue
        dims = tuple(d.dim_value if d.HasField("dim_value") else d.dim_param if d.HasField("dim_param") else None
                     for d in t.shape.dim)
        assert v.dims == dims, f"{where}: {v.name}"


def _same_value(mine: Any, proto_value: Any, where: str) -> None:
    if isinstance(proto_value, onnx.TensorProto):
        _same_tensor(mine, proto_value, where)
    elif isinstance(proto_value, onnx.GraphProto):
        _same_graph(mine, proto_value, where)
    elif isinstance(proto_value, list):
        assert len(mine) == len(proto_value), where
        for a, b in zip(mine, proto_value, strict=True):
            _same_value(a, b, where)
    elif isinstance(proto_value, float):
        assert mine == proto_value or (np.isnan(mine) and np.isnan(proto_value)), where
    else:
        assert mine == proto_value, where


def _same_graph(mine: view.Graph, proto: onnx.GraphProto, where: str = "main") -> None:
    assert mine.name == proto.name, where
    assert len(mine.node) == len(proto.node), where
    for n, p in zip(mine.node, proto.node, strict=True):
        at = f"{where}: node {p.name or p.op_type}"
        assert (n.name, n.op_type, n.domain, n.input, n.output) == (
            p.name, p.op_type, p.domain, tuple(p.input), tuple(p.output)), at
        assert [(a.name, a.type) for a in n.attribute] == [(a.name, a.type) for a in p.attribute], at
        for a, pa in zip(n.attribute, p.attribute, strict=True):
            _same_value(a.value, helper.get_attribute_value(pa), f"{at} attribute {pa.name}")
    assert len(mine.initializer) == len(proto.initializer), where
    for t, p in zip(mine.initializer, proto.initializer, strict=True):
        _same_tensor(t, p, f"{where}: initializer {p.name}")
    for group in ("input", "output", "value_info"):
        got = value_infos(mine) if group == "value_info" else getattr(mine, group)
        _same_value_infos(got, getattr(proto, group), f"{where}: {group}")


def _same_model(path: Path) -> None:
    proto = onnx.load(str(path), load_external_data=False)
    mine = read_model(path).model
    assert mine.ir_version == proto.ir_version
    assert [(o.domain, o.version) for o in mine.opset_import] == [(o.domain, o.version) for o in proto.opset_import]
    assert (mine.producer_name, mine.producer_version) == (proto.producer_name, proto.producer_version)
    assert [(e.key, e.value) for e in mine.metadata_props] == [(e.key, e.value) for e in proto.metadata_props]
    _same_graph(mine.graph, proto.graph)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_every_fixture_reads_as_onnx_reads_it(path: Path) -> None:
    _same_model(path)


@pytest.mark.parametrize("storage", SCALE_STORAGE)
@pytest.mark.parametrize("weightless", [False, True], ids=["weights", "weightless"])
def test_caffe2_graphs_read_as_onnx_reads_them(tmp_path: Path, storage: str, weightless: bool) -> None:
    path = tmp_path / "net.onnx"
    onnx.save(caffe2_net(opset=9, storage=storage, weightless=weightless), str(path))
    _same_model(path)


_ARRAYS = [np.array([1.5, -2.25, np.inf], np.float32), np.arange(-3, 3, dtype=np.int8), np.arange(6, dtype=np.uint8),
           np.array([-40000, 7], np.int32), np.array([-(2**62), 2**40], np.int64), np.array([2**63 + 5], np.uint64),
           np.array([True, False]), np.array([0.5, -1e-3], np.float16), np.array([1e300, -0.0], np.float64),
           np.array([-7, 9], np.int16), np.array([65535, 1], np.uint16), np.array([2**32 - 1], np.uint32),
           np.array([1 + 2j], np.complex64), np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), np.zeros((0, 3), np.int64),
           np.array(3.0, np.float32)]


def _typed_fields(array: np.ndarray, name: str) -> onnx.TensorProto:
    """The tensor with its values in the typed field (float_data, int32_data, ...), not raw_data."""
    elem = helper.np_dtype_to_tensor_dtype(array.dtype)
    if array.dtype == np.float16:
        return helper.make_tensor(name, elem, array.shape, array.view(np.uint16).flatten().tolist())
    if array.dtype.kind == "c":
        return helper.make_tensor(name, elem, array.shape, array.flatten().tolist())
    return helper.make_tensor(name, elem, array.shape, array.flatten().tolist(), raw=False)


def test_small_tensors_of_every_type_and_storage_read_as_numpy_helper_reads_them(tmp_path: Path) -> None:
    inits = [numpy_helper.from_array(a, f"raw{i}") for i, a in enumerate(_ARRAYS)]
    inits += [_typed_fields(a, f"typed{i}") for i, a in enumerate(_ARRAYS)]
    inits.append(helper.make_tensor("text", TensorProto.STRING, [2], [b"ab", b"\xc3\xa9"]))
    attrs = {"f": 0.1, "i": -(2**40), "s": b"text", "floats": [0.5, float("inf")], "ints": [-1, 2**62],
             "strings": [b"a", b"b"], "t": numpy_helper.from_array(np.array([3, 4], np.int64)),
             "tensors": [numpy_helper.from_array(np.array([1.0], np.float32))],
             "g": helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "sub", [],
                                    [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])}
    node = helper.make_node("Custom", ["x", ""], ["y", ""], name="c", domain="my.domain", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], inits,
                              value_info=[helper.make_tensor_value_info("v", TensorProto.INT64, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("my.domain", 2)],
                              producer_name="hand", producer_version="1.0")
    helper.set_model_props(model, {"k": "v"})
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    _same_model(path)


def test_large_tensors_are_read_as_dims_only(tmp_path: Path) -> None:
    big = numpy_helper.from_array(np.ones((KEEP_ELEMENTS + 1,), np.float32), "big")
    const = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones((70, 70), np.float32)))
    graph = helper.make_graph([const, helper.make_node("Add", ["x", "big"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, KEEP_ELEMENTS + 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [big])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    read = read_model(path)
    assert read.stripped == {"big": (KEEP_ELEMENTS + 1,)} and read.stripped_other == 1
    assert read.skipped_bytes == (KEEP_ELEMENTS + 1) * 4 + 70 * 70 * 4
    assert read.model.graph.initializer[0].data is None and not read.model.graph.initializer[0].has_data
    _same_model(path)


@pytest.mark.parametrize(("data", "data_type", "dims"), [
    (((9, 2, b"\x00" * 7),), 1, (2,)),  # raw bytes of the wrong length
    (((9, 2, b"ab"),), 8, (1,)),  # a string tensor with raw data
    (((4, 2, b"\x00" * 6),), 1, (1,)),  # packed floats, not a multiple of 4 bytes
    (((4, 2, b"\x00" * 8),), 1, (3,)),  # 2 floats stored for 3 elements
    (((7, 2, b"\x01\x02"),), 7, (1,)),  # 2 int64 varints for 1 element
    (((7, 2, b"\x81"),), 7, (1,)),  # a varint list that runs past its end
    (((5, 2, b"\x01"),), 14, (1,)),  # one complex64 half
    (((5, 2, b"\x01"),), 16, (1,)),  # bfloat16: never evaluated
])
def test_check_refuses_what_to_array_refuses(data: Any, data_type: int, dims: tuple[int, ...]) -> None:
    """``check`` validates stored data without decoding it (the importer checks small tensors where
    it reads them and decodes them only when asked): it refuses exactly what ``to_array`` refuses."""
    tensor = view.Tensor("t", dims, data_type, data=data)
    with pytest.raises(ValueError):
        to_array(tensor)
    with pytest.raises(ValueError):
        check(tensor)


NUMPY_FREE = ["lenet5_modern_full.onnx", "resnet18_tv.onnx", "googlenet_zoo.onnx",
              "torch_export/convnext_stage_legacy_op14.onnx", "torch_export/mbconv_se_dynamo_op21.onnx",
              "torch_export/norm_shuffle_dynamo_op21.onnx", "torchvision/efficientnet_b0_tv.onnx",
              "mobilenet_small_dynbatch.onnx", "fcn_small.onnx", "torch_export/einsum_mix_legacy_op17.onnx",
              "torch_export/norm_shuffle_legacy_op18.onnx", "misc_ops.onnx", "misc_ops_op20.onnx",
              "fcn_small_op9.onnx"]


def test_a_model_with_nothing_to_compute_is_read_without_numpy(tmp_path: Path) -> None:
    """Reading needs numpy only when a constant must really be computed: dtypes, Reshape targets,
    Resize scales, pattern constants (a LayerNorm's exponent, GELU's sqrt 2), weights with their
    bytes in the file are read as Python numbers, and shape arithmetic (Shape -> Gather -> Unsqueeze
    -> Concat -> Reshape, Slice of a shape: the dynamic-batch and legacy exports here; the Pad
    amounts torch's legacy exporter computes by slicing and transposing a 2-D constant, misc_ops),
    ConstantOfShape fills and float arithmetic (opset 9's Upsample scales, fcn_small_op9) are folded
    without numpy (archcalc/onnx_import/pyfold.py). A model that takes the square root of a constant
    needs numpy to compute it, and the probe sees numpy then."""
    fixtures = ROOT / "tests" / "fixtures" / "onnx"
    paths = [str(fixtures / name) for name in NUMPY_FREE]
    probe = ("import sys, io, contextlib\nfrom archcalc.cli import main\n"
             "for path in sys.argv[1:]:\n"
             "    with contextlib.redirect_stdout(io.StringIO()):\n"
             "        assert main(['report', path, '-f', 'json', '--batch', '1']) == 0, path\n"
             "print('numpy' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", probe, *paths], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False", run.stdout
    sqrt = helper.make_graph([helper.make_node("Sqrt", ["c"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])], "g",
                             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                             [numpy_helper.from_array(np.array([4.0], np.float32), "c")])
    onnx.save(helper.make_model(sqrt, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "sqrt.onnx"))
    chain = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "sqrt.onnx")],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert chain.returncode == 0 and chain.stdout.strip() == "True", chain.stdout + chain.stderr


def test_reading_a_model_imports_neither_onnx_nor_ml_dtypes(tmp_path: Path) -> None:
    """``archcalc report X.onnx`` on every fixture and on Caffe2-style graphs (Constant, ConstantOfShape,
    Expand constants folded, weights in the file) loads no onnx and no ml_dtypes: the reader walks the
    protobuf itself, and numpy evaluates only the small constants."""
    paths = [str(p) for p in FIXTURES]
    for storage in SCALE_STORAGE:
        path = tmp_path / f"{storage}.onnx"
        onnx.save(caffe2_net(opset=9, storage=storage), str(path))
        paths.append(str(path))
    probe = ("import sys, io, contextlib\nfrom archcalc.cli import main\n"
             f"for path in {paths!r}:\n"
             "    with contextlib.redirect_stdout(io.StringIO()):\n"
             "        assert main(['report', path, '-f', 'json', '--batch', '1']) == 0, path\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'onnx', 'ml_dtypes', 'google', 'onnxruntime'}))\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", run.stdout


def test_the_number_of_nodes_read_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile file of millions of tiny nodes is refused in one line before memory holds them all
    (here with the bound lowered to 50, on a chain of 60 Relu nodes)."""
    from archcalc.errors import OnnxFileError
    from archcalc.onnx_import import parse

    monkeypatch.setattr(parse, "MAX_ITEMS", 50)
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(60)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("t60", TensorProto.FLOAT, [1, 2])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(OnnxFileError, match="more than 50 nodes, tensors and value infos: refused"):
        read_model(path)


@pytest.mark.parametrize("whole", [True, False], ids=["read-whole", "mapped"])
def test_a_file_read_whole_or_mapped_reads_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole: bool) -> None:
    """A file of at most READ_WHOLE_BYTES is read into memory, a larger one memory-mapped: both ways
    give what onnx reads (weights in the file, external data, a zoo graph), and a cut file is one
    error line either way."""
    from archcalc.errors import OnnxFileError
    from archcalc.onnx_import import reader

    monkeypatch.setattr(reader, "READ_WHOLE_BYTES", 1 << 30 if whole else 0)
    for name in ("lenet5_modern_full.onnx", "mobilenet_small.onnx", "googlenet_zoo.onnx"):
        _same_model(ROOT / "tests" / "fixtures" / "onnx" / name)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes((ROOT / "tests" / "fixtures" / "onnx" / "lenet5_modern_full.onnx").read_bytes()[:5000])
    with pytest.raises(OnnxFileError, match="truncated or not an ONNX file"):
        read_model(cut)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


@pytest.mark.parametrize("kind", ["ints", "floats"])
def test_repeated_attribute_values_packed_unpacked_and_mixed_read_as_onnx_reads_them(kind: str) -> None:
    """onnx writes ``ints`` and ``floats`` unpacked (proto2), other writers pack them; a reader
    must take both, in any mix (the one-pass attribute reader of parse_node)."""
    import struct

    from archcalc.onnx_import.parse import Parser

    name = b"\x0a\x01k"
    if kind == "ints":
        ints = [1, -1, 300, -(1 << 63), (1 << 63) - 1, 0, 7]
        unpacked = lambda v: b"\x40" + _varint(v)  # noqa: E731  field 8, varint
        packed = lambda vs: b"\x42" + _varint(len(b := b"".join(_varint(v) for v in vs))) + b  # noqa: E731
        body = (b"\xa0\x01\x07" + unpacked(ints[0]) + packed(ints[1:4]) + unpacked(ints[4]) + packed(ints[5:])
                + packed([]))
    else:
        floats = [1.5, -2.25, 3e-3, 0.0, 1e30]
        unpacked = lambda v: b"\x3d" + struct.pack("<f", v)  # noqa: E731  field 7, fixed32
        packed = lambda vs: b"\x3a" + _varint(4 * len(vs)) + struct.pack(f"<{len(vs)}f", *vs)  # noqa: E731
        body = b"\xa0\x01\x06" + packed(floats[:2]) + unpacked(floats[2]) + packed(floats[3:])
    raw = name + body
    expected = onnx.AttributeProto.FromString(raw)
    mine = Parser(memoryview(raw), KEEP_ELEMENTS).attribute(0, len(raw), 0)
    assert (mine.name, mine.type) == (expected.name, expected.type)
    assert mine.value == list(getattr(expected, kind)) == helper.get_attribute_value(expected)


def _value_info_spans(data: memoryview) -> list[tuple[int, int]]:
    """Every ValueInfoProto (inputs, outputs, value infos) of the main graph, as byte spans."""
    graphs = [(a, b) for n, w, a, b in walk.fields(data, 0, len(data)) if n == 7 and w == 2]
    return [(a, b) for start, end in graphs for n, w, a, b in walk.fields(data, start, end) if n in (11, 12, 13)
            and w == 2]


def _dim_cases() -> Path:
    """Value infos in the layouts exporters write (symbolic, unknown and fixed dims, no shape, no
    type) and in others (a doc string, a denotation)."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, None, 300]),
         helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 3, None, 300])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        value_info=[helper.make_tensor_value_info("doc", TensorProto.FLOAT, [1], doc_string="a doc"),
                    helper.make_tensor_value_info("none", TensorProto.UNDEFINED, [])])
    graph.value_info.add().name = "untyped"
    graph.input[0].type.tensor_type.shape.dim[2].denotation = "DATA_CHANNEL"
    path = Path(tempfile.mkdtemp()) / "dims.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_value_infos_read_in_one_pass_as_the_general_reader_reads_them() -> None:
    """``common_value_info`` answers for the usual layout and otherwise leaves it (None) to the
    general reader: where it answers, the two agree, on the fixtures and on every one-byte change of
    their value infos (a change the general reader refuses is never accepted by the one-pass one)."""
    answered = 0
    for path in [*FIXTURES, _dim_cases()]:
        data = memoryview(path.read_bytes())
        parser = Parser(data, KEEP_ELEMENTS)
        for start, end in _value_info_spans(data):
            general = parser.any_value_info(start, end)
            common = common_value_info(data, start, end)
            assert common is None or common == general, path.name
            answered += common is not None
            raw = bytearray(data[start:end])
            for i in range(len(raw)):
                for byte in (0x00, 0x0A, 0x12, 0x7F, 0x80, 0xFF, raw[i] ^ 0x01):
                    changed = bytearray(raw)
                    changed[i] = byte
                    view_ = memoryview(bytes(changed))
                    common = common_value_info(view_, 0, len(changed))
                    if common is None:
                        continue
                    assert common == Parser(view_, KEEP_ELEMENTS).any_value_info(0, len(changed)), (path.name, i, byte)
    assert answered > 10


def test_value_infos_are_kept_as_stored_and_read_when_asked(tmp_path: Path) -> None:
    """The importer never needs a graph's ``value_info`` (it computes every shape): the reader keeps
    each message's bytes and ``value_infos`` reads them, as the reader reads inputs; one larger than
    ``RAW_VALUE_INFO_BYTES`` is read at once; a bad one kept as bytes is refused when it is read."""
    from archcalc.errors import OnnxFileError
    from archcalc.onnx_import.parse import RAW_VALUE_INFO_BYTES

    long_name = "v" * (RAW_VALUE_INFO_BYTES + 10)
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        value_info=[helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3]),
                    helper.make_tensor_value_info(long_name, TensorProto.INT64, None)])
    path = tmp_path / "vi.onnx"
    onnx.save(helper.make_model(graph), str(path))
    got = read_model(path).model.graph
    assert isinstance(got.value_info_raw[0], bytes) and isinstance(got.value_info_raw[1], view.ValueInfo)
    assert value_infos(got) == (view.ValueInfo("z", TensorProto.FLOAT, ("N", 3)),
                                view.ValueInfo(long_name, TensorProto.INT64, None))
    bad = path.read_bytes().replace(b"\x0a\x01z\x12", b"\x0a\x01\xff\x12")  # the info's name: not UTF-8
    (tmp_path / "bad.onnx").write_bytes(bad)
    kept = read_model(tmp_path / "bad.onnx").model.graph  # the import needs no value info: not read yet
    with pytest.raises(OnnxFileError, match="not valid UTF-8"):
        value_infos(kept)

