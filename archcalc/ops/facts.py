"""Facts about a layer family that passes other than ``apply`` need (declared on each op)."""

from __future__ import annotations

from enum import Enum


class KernelClass(Enum):
    """Which kind of ONNX Runtime kernel a layer runs as (for the latency estimator)."""

    CONV = "conv"  # Conv / ConvTranspose (dense, grouped, depthwise)
    GEMM = "gemm"  # Gemm / MatMul
    POOL = "pool"  # MaxPool / AveragePool / global pooling
    REDUCE = "reduce"  # Reduce* over some axes
    NORM = "norm"  # BatchNormalization, LRN
    ACTIVATION = "activation"  # a unary elementwise function (softmax included)
    ELEMENTWISE = "elementwise"  # binary or n-ary broadcasting arithmetic
    DATA_MOVEMENT = "data_movement"  # copies: Concat, Split, Slice, Pad, Transpose
    RESIZE = "resize"  # Resize / Upsample
    VIEW = "view"  # no kernel work: Reshape, Flatten, Identity, Dropout at inference
    NONE = "none"  # runs nothing archcalc models: the graph input, unknown ops
