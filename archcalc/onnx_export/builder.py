"""A small ONNX graph builder: nodes, initializers (seeded random, or constant-filled through
ConstantOfShape so a huge model stays a tiny file), value infos, metadata."""

from __future__ import annotations

from math import prod, sqrt
from typing import Any

import numpy as np

from archcalc.ir import unique_name
from archcalc.ops._emit import Group

__all__ = ["WEIGHT_MODES", "Builder", "Group"]

WEIGHT_MODES = ("random", "constant")


class Builder:
    """Implements ``archcalc.ops._emit.Builder``, the interface the op emitters write into."""

    def __init__(self, opset: int, seed: int, weights: str, batch: int | None) -> None:
        import onnx

        self.onnx = onnx
        self.opset = opset
        #: the batch size, or None for a symbolic ("batch") axis
        self.batch = batch
        self.rng = np.random.default_rng(seed)
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.value_infos: list[Any] = []
        self.groups: list[Group] = []
        self.tensor_names: set[str] = set()
        self.node_names: set[str] = set()
        self.weight_bytes = 0
        self.constants = 0
        self.notes: list[str] = []

    # -- tensors -----------------------------------------------------------------------------

    def unique(self, name: str) -> str:
        """A tensor name not used yet."""
        return unique_name(name, self.tensor_names)

    def const(self, name: str, value: Any, dtype: Any = np.int64) -> str:
        """A small constant (shapes, axes, scales): always an initializer with its value."""
        from onnx import numpy_helper

        tensor_name = self.unique(name)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), tensor_name))
        return tensor_name

    def weight(self, name: str, shape: tuple[int, ...], fan_in: int, fill: np.ndarray | None = None,
               scale: float | None = None) -> str:
        """A parameter tensor: seeded random (He-like scale) or, in constant mode, ConstantOfShape."""
        from onnx import helper, numpy_helper

        tensor_name = self.unique(name)
        self.weight_bytes += 4 * prod(shape)
        if self.weights == "constant" and fill is None:
            # a distinct value per tensor: equal weights would let a runtime merge equal layers
            # (common-subexpression elimination) and time a different network
            self.constants += 1
            value = (scale if scale is not None else 1.0 / max(fan_in, 1)) * (1.0 + 1e-3 * self.constants)
            shape_name = self.const(f"{tensor_name}/shape", list(shape))
            self.nodes.append(helper.make_node(
                "ConstantOfShape", [shape_name], [tensor_name],
                name=unique_name(f"{tensor_name}/fill", self.node_names),
                value=numpy_helper.from_array(np.array([value], dtype=np.float32)),
            ))
            return tensor_name
        if fill is not None:
            array = np.asarray(fill, dtype=np.float32).reshape(shape)
        else:
            std = scale if scale is not None else sqrt(2.0 / max(fan_in, 1))
            array = (self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, tensor_name))
        return tensor_name

    def positive(self, name: str, shape: tuple[int, ...]) -> str:
        """A positive parameter (BN variance)."""
        from onnx import numpy_helper

        tensor_name = self.unique(name)
        self.weight_bytes += 4 * prod(shape)
        array = (0.5 + self.rng.random(shape, dtype=np.float32)).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, tensor_name))
        return tensor_name

    # -- nodes -------------------------------------------------------------------------------

    def node(self, op_type: str, inputs: list[str], outputs: list[str] | int, name: str, **attrs: Any) -> list[str]:
        from onnx import helper

        node_name = unique_name(name, self.node_names)
        if isinstance(outputs, int):
            outputs = [self.unique(f"{node_name}:{i}" if outputs > 1 else node_name) for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=node_name, **attrs))
        return outputs

    def shape_of(self, tensor: str, name: str, sample: tuple[int, ...]) -> str:
        """An int64 [N, *sample] tensor: a constant, or Shape(x)[0:1] ++ sample for a symbolic batch."""
        if self.batch is not None:
            return self.const(f"{name}/sizes", [self.batch, *sample])
        (shape,) = self.node("Shape", [tensor], 1, f"{name}/shape")
        (n,) = self.node("Slice", [shape, self.const(f"{name}/zero", [0]), self.const(f"{name}/one", [1])], 1,
                         f"{name}/batch")
        (sizes,) = self.node("Concat", [n, self.const(f"{name}/sample", list(sample))], 1, f"{name}/sizes", axis=0)
        return sizes

