"""ONNX graphs of the kind Caffe2's converter wrote for the model zoo (and the onnx package ships
as backend test data), built with onnx.helper: old opsets (7-9; archcalc refuses opset 6, see
tests/test_onnx_bounds.py), weights as initializers, Caffe-style layers: Conv, BatchNormalization
without affine (scale ones, shift zeros) followed by the Caffe Scale layer as Mul and Add with
per-channel constants, Relu, LRN, MaxPool, Sum for residuals, Dropout, Reshape with a constant
shape, Gemm, Softmax.

The Scale layer's constants are stored one of four ways (``SCALE_STORAGE``): as initializers,
as Constant nodes, as ConstantOfShape -> Unsqueeze (what the converter wrote for a fill; opset
9+), or as Expand of a one-element initializer (opset 8+). ``weightless=True`` keeps every
weight's dims and data type but no data: external data in a file that is not there, as the
fixtures of tests/fixtures/onnx are stripped.

``expected_params`` is the general formula of the network's parameters, written from the layer
list (conv: out x in x k x k + out; BN: scale + shift per channel, running mean and variance as
buffers; Scale: a multiplier and a shift per channel; Gemm: out x in + out), never from archcalc.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SCALE_STORAGE = ("initializer", "constant", "constant_of_shape", "expand")
CLASSES = 10


class _Net:
    def __init__(self, opset: int, storage: str, weightless: bool, seed: int) -> None:
        self.opset, self.storage, self.weightless = opset, storage, weightless
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)

    def init(self, name: str, array: np.ndarray, weight: bool = True) -> str:
        tensor = numpy_helper.from_array(array, name)
        if weight and self.weightless:
            tensor.ClearField("raw_data")
            tensor.data_location = TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", "weights.bin"  # never shipped
        self.inits.append(tensor)
        return name

    def node(self, op: str, inputs: Sequence[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=output, **attrs))
        return output

    def per_channel(self, name: str, channels: int, fill: float) -> str:
        """A [C, 1, 1] constant of the Caffe Scale layer, stored as ``self.storage`` says."""
        values = np.full((channels, 1, 1), fill, np.float32) + self.rng.standard_normal((channels, 1, 1)).astype(
            np.float32) * 0.01
        if self.storage == "initializer":
            return self.init(name, values)
        if self.storage == "constant":
            return self.node("Constant", [], name, value=numpy_helper.from_array(values, name + "_value"))
        if self.storage == "constant_of_shape":
            shape = self.init(name + "_shape", np.array([channels], np.int64), weight=False)
            filled = self.node("ConstantOfShape", [shape], name + "_fill",
                               value=helper.make_tensor(name + "_v", TensorProto.FLOAT, [1], [fill]))
            if self.opset >= 13:
                axes = self.init(name + "_axes", np.array([1, 2], np.int64), weight=False)
                return self.node("Unsqueeze", [filled, axes], name)
            return self.node("Unsqueeze", [filled], name, axes=[1, 2])
        if self.storage == "expand":
            one = self.init(name + "_one", np.array([fill], np.float32), weight=False)
            shape = self.init(name + "_shape", np.array([channels, 1, 1], np.int64), weight=False)
            return self.node("Expand", [one, shape], name)
        raise ValueError(f"unknown storage {self.storage!r}; one of {SCALE_STORAGE}")

    def conv_bn_scale(self, x: str, name: str, c_in: int, c_out: int, stride: int) -> str:
        w = self.init(name + "_w", self.rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32))
        b = self.init(name + "_b", np.zeros(c_out, np.float32))
        y = self.node("Conv", [x, w, b], name, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride])
        stats = [self.init(f"{name}_bn_{k}", v) for k, v in (
            ("scale", np.ones(c_out, np.float32)), ("bias", np.zeros(c_out, np.float32)),
            ("mean", np.zeros(c_out, np.float32)), ("var", np.ones(c_out, np.float32)))]
        y = self.node("BatchNormalization", [y, *stats], name + "_bn", epsilon=1e-5)
        y = self.node("Mul", [y, self.per_channel(name + "_gamma", c_out, 1.0)], name + "_scale")
        return self.node("Add", [y, self.per_channel(name + "_beta", c_out, 0.0)], name + "_shift")


def caffe2_net(channels: Sequence[int] = (16, 32, 64, 128, 256), *, opset: int = 9, storage: str = "initializer",
               weightless: bool = False, size: int = 32, seed: int = 0) -> onnx.ModelProto:
    """A Caffe2-converted ResNet-like network: a stem conv + LRN + MaxPool, then per entry of
    ``channels`` a stage of two conv-BN-Scale units with a Sum residual, then Dropout, global
    pooling, Reshape to (1, -1), Gemm and Softmax."""
    net = _Net(opset, storage, weightless, seed)
    x = net.conv_bn_scale("data", "conv1", 3, channels[0], 1)
    x = net.node("Relu", [x], "conv1_relu")
    x = net.node("LRN", [x], "norm1", size=5, alpha=1e-4, beta=0.75)
    x = net.node("MaxPool", [x], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    c_prev = channels[0]
    for i, c in enumerate(channels):
        stride = 1 if i == 0 else 2
        a = net.node("Relu", [net.conv_bn_scale(x, f"res{i}a", c_prev, c, stride)], f"res{i}a_relu")
        b = net.conv_bn_scale(a, f"res{i}b", c, c, 1)
        skip = x if c == c_prev and stride == 1 else net.conv_bn_scale(x, f"res{i}_proj", c_prev, c, stride)
        x = net.node("Relu", [net.node("Sum", [b, skip], f"res{i}_sum")], f"res{i}_relu")
        c_prev = c
    x = net.node("Dropout", [x], "drop", ratio=0.5)
    x = net.node("GlobalAveragePool", [x], "pool5")
    x = net.node("Reshape", [x, net.init("flat_shape", np.array([1, -1], np.int64), weight=False)], "flat")
    fc_w = net.init("fc_w", net.rng.standard_normal((CLASSES, c_prev)).astype(np.float32))
    fc_b = net.init("fc_b", np.zeros(CLASSES, np.float32))
    x = net.node("Gemm", [x, fc_w, fc_b], "fc", transB=1)
    net.node("Softmax", [x], "prob")
    # as the converter wrote them (IR 3): every initializer is a graph input too
    inputs = [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, size, size])]
    inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in net.inits]
    graph = helper.make_graph(net.nodes, "caffe2_net", inputs, [helper.make_tensor_value_info(
            "prob", TensorProto.FLOAT, [1, CLASSES])], net.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx-caffe2")
    model.ir_version = 3 if opset <= 8 else 4
    return model


def expected_params(channels: Sequence[int] = (16, 32, 64, 128, 256)) -> dict[str, int]:
    """Trainable parameters and buffers of ``caffe2_net(channels)``, by the general formulas."""
    def unit(c_in: int, c_out: int) -> tuple[int, int]:
        conv = c_out * c_in * 9 + c_out
        bn = 2 * c_out  # scale and shift (ones and zeros: Caffe's BN has no affine, but they are stored)
        scale = 2 * c_out  # the Caffe Scale layer: a multiplier and a shift per channel
        return conv + bn + scale, 2 * c_out  # running mean and variance
    params = buffers = 0
    units = [(3, channels[0])]
    c_prev = channels[0]
    for i, c in enumerate(channels):
        units += [(c_prev, c), (c, c)]
        if not (c == c_prev and i == 0):
            units.append((c_prev, c))
        c_prev = c
    for c_in, c_out in units:
        p, b = unit(c_in, c_out)
        params += p
        buffers += b
    params += CLASSES * c_prev + CLASSES
    return {"params": params, "buffers": buffers}
