"""Folding without numpy (archcalc/onnx_import/pyfold.py) gives what the numpy folders give: the
same dims, element type, values, origin and errors, on every case it folds; on the cases it
declines (None), the numpy folders answer. Inputs reach pyfold as the importer makes them (values
still encoded, numpy never imported) and the numpy folders as arrays."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from archcalc.onnx_import import pyfold
from archcalc.onnx_import.fold import fold
from archcalc.onnx_import.folders import FOLDERS
from archcalc.onnx_import.tensors import DTYPES, as_numpy
from archcalc.onnx_import.values import Const, ImportError_

_BY_NAME = {d.name: d for d in DTYPES.values()}


class _Encoded:
    """Values the importer has not decoded yet (as a tensor read from the file)."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def array(self) -> np.ndarray:
        return self._array.copy()

    def flat(self) -> list[Any]:
        return self._array.reshape(-1).tolist()


def _lazy(array: Any, dtype: str = "int64", origin: str | None = None) -> Const:
    a = np.asarray(array, dtype=dtype)
    return Const(a.shape, _BY_NAME[a.dtype.name], None, origin, None, _Encoded(a))


def _numpy_const(c: Const | None) -> Const | None:
    if c is None or not c.known:
        return c
    v = c.value
    assert v is not None
    return Const(c.shape, v.dtype, v.copy(), c.origin, c.why)


def _fill(value: Any, dtype: str) -> Const:
    return _lazy(np.array([value], dtype=dtype))


def _same(op: str, ins: list[Const | None], attrs: dict[str, Any], opset: int = 13) -> None:
    """pyfold folds the case and agrees with the numpy folder."""
    np_attrs = {k: (_numpy_const(v) if isinstance(v, Const) else v) for k, v in attrs.items()}
    try:
        with np.errstate(all="ignore"):  # as fold runs the numpy folders
            expected: list[Const] | Exception = FOLDERS[op]([_numpy_const(c) for c in ins], np_attrs, opset)
    except ImportError_ as exc:
        expected = exc
    if isinstance(expected, Exception):
        with pytest.raises(ImportError_) as got_error:
            pyfold.fold(op, ins, attrs, opset)
        assert str(got_error.value) == str(expected)
        return
    got = pyfold.fold(op, ins, attrs, opset)
    assert got is not None, f"{op}: pyfold declined a case it should fold"
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape and g.origin == e.origin and g.known == e.known
        assert as_numpy(g.dtype).name == as_numpy(e.dtype).name
        if e.known:
            ev = e.value
            assert ev is not None
            assert g.flat() == ev.reshape(-1).tolist()
            gv = g.value
            assert gv is not None and gv.dtype == ev.dtype and gv.shape == ev.shape and np.array_equal(gv, ev)


SHAPE_CHAIN = [
    ("Shape", [Const((2, 3, 64, 64), None, None)], {}),
    ("Shape", [Const((2, 3, 64, 64), None, None)], {"start": 1, "end": -1}),
    ("Size", [Const((2, 3, 5), None, None)], {}),
    ("Gather", [_lazy([2, 3, 64, 64]), _lazy(0)], {"axis": 0}),
    ("Gather", [_lazy([2, 3, 64, 64]), _lazy([-1, 1])], {}),
    ("Gather", [_lazy([2, 3, 64, 64], "int32"), _lazy([3], "int32")], {"axis": -1}),
    ("Unsqueeze", [_lazy(7), _lazy([0])], {}),
    ("Unsqueeze", [_lazy([7, 8], origin="w")], {"axes": [0]}),
    ("Squeeze", [_lazy([[7, 8]])], {"axes": [0]}),
    ("Reshape", [_lazy([1, 2, 3, 4, 5, 6], origin="w"), _lazy([2, -1])], {}),
    ("Flatten", [_lazy([[[1, 2], [3, 4]]])], {"axis": 2}),
    ("Identity", [_lazy([1, 2], origin="w")], {}),
    ("Transpose", [_lazy([[1, 2, 3], [4, 5, 6]])], {}),
    ("Transpose", [_lazy(np.arange(24).reshape(2, 3, 4))], {"perm": [1, 2, 0]}),
    ("Concat", [_lazy([1]), _lazy([2, 3]), _lazy([], "int64")], {"axis": 0}),
    ("Concat", [_lazy([1], "int32"), _lazy([-2], "int32")], {"axis": -1}),
    ("Concat", [_lazy([1.0, 1.0], "float32"), _lazy([2.0, 0.5], "float32")], {"axis": 0}),
    ("Slice", [_lazy([2, 3, 64, 64]), _lazy([1]), _lazy([3]), _lazy([0]), _lazy([1])], {}),
    ("Slice", [_lazy([2, 3, 64, 64]), _lazy([-1]), _lazy([-2**62]), _lazy([0]), _lazy([-1])], {}),
    ("Slice", [_lazy([2, 3, 64, 64]), _lazy([2]), _lazy([2**62])], {}),
    ("Slice", [_lazy([2, 3, 64, 64])], {"starts": [1], "ends": [2], "opset": 9}),
    ("Slice", [_lazy([[1, 2], [3, 4]]), _lazy([0]), _lazy([1]), _lazy([1])], {}),
    ("Slice", [_lazy(np.arange(24).reshape(2, 3, 4), "float32"), _lazy([-1, 1, 0]), _lazy([-9, 3, 2**62]),
               _lazy([0, 1, 2]), _lazy([-1, 1, 2])], {}),
    ("Slice", [_lazy([[0, 0, 1, 1], [2, 2, 3, 3]]), _lazy([-1]), _lazy([-2**62]), _lazy([0]), _lazy([-1])], {}),
    ("Slice", [_lazy([[1, 2, 3]]), _lazy([0, 2]), _lazy([1, 3]), _lazy([1, 1])], {}),  # an axis given twice
    ("Cast", [_lazy([1, -2, 300])], {"to": 6}),
    ("Cast", [_lazy([1, -2, 300])], {"to": 2}),
    ("Cast", [_lazy([True, False], "bool")], {"to": 7}),
    ("Cast", [_lazy([2**63 + 1], "uint64", origin="w")], {"to": 7}),
    ("Cast", [Const((3,), None, None, "w", "a weight, read as dims only")], {"to": 1}),
    ("ConstantOfShape", [_lazy([2, 3])], {}),
    ("ConstantOfShape", [_lazy([2, 3])], {"value": _fill(1.5, "float32")}),
    ("ConstantOfShape", [_lazy([4])], {"value": _fill(-3, "int64")}),
    ("ConstantOfShape", [_lazy([1, 3])], {"value": _fill(0.1, "float16")}),
    ("ConstantOfShape", [_lazy([0])], {"value": _fill(1, "int32")}),
    ("Expand", [_lazy([1.5], "float32"), _lazy([1, 4, 1, 1])], {}),
    ("Expand", [_lazy([[1.0], [2.0]], "float32"), _lazy([2, 3])], {}),
    ("Add", [_lazy([1, 2]), _lazy(3)], {}),
    ("Sub", [_lazy([1]), _lazy([5, 6, 7])], {}),
    ("Mul", [_lazy([2, 3, 64]), _lazy([1, 1, 2])], {}),
    ("Div", [_lazy([-7, 7, 9]), _lazy([2])], {}),
    ("Div", [_lazy(7, "int32"), _lazy(-2, "int32")], {}),
    ("Div", [_lazy([1, 2]), _lazy([0, 1])], {}),  # the numpy folder's error
    ("Mul", [_lazy([2**40]), _lazy([2**40])], {}),  # overflows int64: the same error
    ("Add", [_lazy([2**31 - 1], "int32"), _lazy([1], "int32")], {}),
    ("Div", [_lazy([1.0, 64.0, 7.0], "float32"), _lazy([3.0], "float32")], {}),
    ("Div", [_lazy([224.0, 224.0], "float32"), _lazy([112.0, 3.0], "float32")], {}),
    ("Mul", [_lazy([0.1, 1e-30], "float32"), _lazy([0.3, 1e-20], "float32")], {}),  # rounding, subnormals
    ("Sub", [_lazy([0.1], "float64"), _lazy([0.3, 2.5], "float64")], {}),
    ("Cast", [_lazy([1.5, -2.7, 3e9], "float32")], {"to": 7}),
    ("Cast", [_lazy([16777217, -3])], {"to": 1}),
    ("Cast", [_lazy([0.1, 65504.0], "float64")], {"to": 10}),
    ("Cast", [_lazy([0.1], "float32")], {"to": 11}),
]


@pytest.mark.parametrize(("op", "ins", "attrs"), SHAPE_CHAIN, ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPE_CHAIN)])
def test_pyfold_agrees_with_the_numpy_folders(op: str, ins: list[Const | None], attrs: dict[str, Any]) -> None:
    attrs = dict(attrs)
    _same(op, ins, attrs, attrs.pop("opset", 13))


DECLINED = [
    ("Div", [_lazy([1.0], "float32"), _lazy([0.0], "float32")], {}),  # numpy's infinity
    ("Mul", [_lazy([3e38], "float32"), _lazy([2.0], "float32")], {}),  # overflows float32: numpy's infinity
    ("Add", [_lazy([1], "int32"), _lazy([1])], {}),  # mixed types: numpy's promotion
    ("Concat", [_lazy([1.0], "float32"), _lazy([2])], {"axis": 0}),  # mixed types: numpy's promotion
    ("Gather", [_lazy([1, 2]), _lazy([5])], {}),  # out of range: numpy's error
    ("Transpose", [_lazy([[1, 2]])], {"perm": [0, 0]}),  # a repeated axis: numpy's error
    ("Cast", [_lazy([float("nan")], "float32")], {"to": 7}),  # NaN to int: numpy's
    ("Cast", [_lazy([2**60 + 1])], {"to": 1}),  # past 2^53: would round twice
    ("Where", [_lazy([True], "bool"), _lazy([1]), _lazy([2])], {}),
]


@pytest.mark.parametrize(("op", "ins", "attrs"), DECLINED, ids=[f"{c[0]}-{i}" for i, c in enumerate(DECLINED)])
def test_what_pyfold_declines_fold_answers_with_numpy(op: str, ins: list[Const | None], attrs: dict[str, Any]) -> None:
    assert pyfold.fold(op, ins, attrs, 13) is None
    try:
        with np.errstate(all="ignore"):
            expected: Any = FOLDERS[op]([_numpy_const(c) for c in ins], attrs, 13)
    except Exception as exc:
        with pytest.raises(ImportError_):
            fold(op, ins, attrs, 13)
        assert str(exc)
        return
    got = fold(op, ins, attrs, 13)
    assert [c.value.tolist() for c in got] == [c.value.tolist() for c in expected]


def test_random_shape_arithmetic_agrees() -> None:
    """Seeded random chains of the integer ops pyfold folds, against the numpy folders."""
    rng = random.Random(12)
    for _ in range(200):  # float32 arithmetic: one rounding of the exact double result
        a = _lazy([rng.uniform(-1e3, 1e3) for _ in range(3)], "float32")
        b = _lazy([rng.choice([rng.uniform(-5, 5), rng.uniform(1e-3, 1e-2)])], "float32")
        _same(rng.choice(["Add", "Sub", "Mul", "Div"]), [a, b], {})
    for _ in range(400):
        n = rng.randint(0, 4)
        a = _lazy([rng.randint(-50, 50) for _ in range(n)], rng.choice(["int64", "int32"]))
        dtype = as_numpy(a.dtype).name
        op = rng.choice(["Add", "Sub", "Mul", "Div", "Concat", "Gather", "Slice", "Unsqueeze", "Cast"])
        if op in ("Add", "Sub", "Mul", "Div"):
            b = _lazy([rng.choice([-3, -1, 1, 2, 7]) for _ in range(rng.choice([1, n] if n else [1]))], dtype)
            _same(op, [a, b], {})
        elif op == "Concat":
            _same(op, [a, _lazy([rng.randint(-9, 9)], dtype)], {"axis": rng.choice([0, -1])})
        elif op == "Gather" and n:
            _same(op, [a, _lazy([rng.randint(-n, n - 1) for _ in range(rng.randint(0, 3))])], {})
        elif op == "Slice":
            ends = [rng.randint(-6, 6)]
            _same(op, [a, _lazy([rng.randint(-6, 6)]), _lazy(ends), _lazy([0]), _lazy([rng.choice([-2, -1, 1, 3])])], {})
        elif op == "Unsqueeze":
            _same(op, [a, _lazy([rng.choice([0, -1])])], {})
        elif op == "Cast":
            _same(op, [a], {"to": rng.choice([2, 3, 5, 6, 7, 12, 13])})


def test_random_slices_and_transposes_of_small_tensors_agree() -> None:
    """Seeded random N-D Slices (any axes, negative steps, clamped ends) and Transposes."""
    rng = random.Random(5)
    for _ in range(200):
        shape = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 4)))
        data = _lazy(np.arange(int(np.prod(shape))).reshape(shape) - 7, rng.choice(["int64", "float32", "int8"]))
        if rng.random() < 0.5:
            perm = list(range(len(shape)))
            rng.shuffle(perm)
            _same("Transpose", [data], {"perm": perm})
            continue
        axes = rng.sample(range(-len(shape), len(shape)), rng.randint(1, len(shape)))
        axes = [a for i, a in enumerate(axes) if a % len(shape) not in {b % len(shape) for b in axes[:i]}]
        starts = [rng.randint(-6, 6) for _ in axes]
        ends = [rng.choice([rng.randint(-6, 6), 2**62, -2**62]) for _ in axes]
        steps = [rng.choice([-2, -1, 1, 2]) for _ in axes]
        _same("Slice", [data, _lazy(starts), _lazy(ends), _lazy(axes), _lazy(steps)], {})


def test_a_long_chain_of_reshapes_of_a_constant_imports(tmp_path: Any) -> None:
    """3,000 Unsqueeze/Squeeze pairs stacked on a constant Reshape target (a hostile or generated file):
    each derived result is computed from a decoded one, never a chain that a later read would walk
    recursively."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import archcalc

    nodes, name = [], "s0"
    for i in range(3000):
        nodes.append(helper.make_node("Unsqueeze", [name, "zero"], [f"u{i}"]))
        nodes.append(helper.make_node("Squeeze", [f"u{i}", "zero"], [f"s{i + 1}"]))
        name = f"s{i + 1}"
    nodes.append(helper.make_node("Reshape", ["x", name], ["y"]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array([1, 2, 3], np.int64), "s0"),
                               numpy_helper.from_array(np.array([0], np.int64), "zero")])
    path = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    report = archcalc.analyze(archcalc.load(path))
    assert report.layers[-1].kind == "reshape" and report.layers[-1].shape == (2, 3)
