"""Constant folding on malformed input: a node whose required data input is empty (a hand-edited
or corrupted file) is a one-line error with exit code 2, never "internal error: AssertionError"."""

from __future__ import annotations

import contextlib
import io

import pytest
from onnx import TensorProto

from archcalc.cli import main
from tests.onnx_builders import make, node, save, tensor

# (op, extra inputs after the empty data input, initializers, attributes)
CASES = [
    ("Unsqueeze", ["axes"], [tensor("axes", [0])], {}),
    ("Squeeze", [], [], {}),
    ("Reshape", ["shape"], [tensor("shape", [-1])], {}),
    ("Flatten", [], [], {}),
    ("Transpose", [], [], {}),
    ("Cast", [], [], {"to": TensorProto.FLOAT}),
    ("Identity", [], [], {}),
]


@pytest.mark.parametrize(("op", "extra", "inits", "attrs"), CASES, ids=[c[0] for c in CASES])
def test_a_folded_node_with_an_empty_data_input_is_a_one_line_error(
        op: str, extra: list[str], inits: list[object], attrs: dict[str, object]) -> None:
    nodes = [node(op, ["", *extra], "c", name="bad", **attrs), node("Add", ["x", "c"], "y")]
    path = save(make(nodes, {"x": [1, 4]}, inits=inits))  # type: ignore[arg-type]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["report", str(path)])
    message = err.getvalue()
    assert code == 2, message
    assert message.count("\n") == 1 and "internal error" not in message, message
    assert "the required data input is missing" in message and "bad" in message, message
