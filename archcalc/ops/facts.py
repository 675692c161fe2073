"""Facts about a layer family that passes other than ``apply`` need (declared on each op).

:class:`KernelClass` says which ONNX Runtime kernel a layer runs as, at the grain the latency
estimator (``archcalc.estimate.kernels``) needs: what fuses into what, which layout it keeps,
and what work it does. The estimator dispatches on it and never on a layer's kind.
"""

from __future__ import annotations

from enum import Enum


class KernelClass(Enum):
    """Which kind of ONNX Runtime kernel a layer runs as (for the latency estimator)."""

    CONV = "conv"  # Conv (dense, grouped, depthwise): absorbs BatchNorm, one residual Add, an activation
    SUBSAMPLE = "subsample"  # LeNet's subsampling: a Conv with one shared weight per map (groups = maps)
    CONV_OTHER = "conv_other"  # ConvTranspose; unshared kernels are estimated as one: nothing fuses into it
    GEMM = "gemm"  # Gemm (fully connected): absorbs one activation
    MATMUL = "matmul"  # MatMul (with a weight matrix, or of two activations)
    RBF = "rbf"  # distance to fixed centres: Unsqueeze, Sub, Mul, ReduceSum
    POOL = "pool"  # MaxPool / AveragePool / global pooling: keeps the NCHWc layout of its input
    REDUCE = "reduce"  # Reduce* over some axes
    NORM = "norm"  # BatchNormalization: a per-channel affine that fuses into the Conv before it
    LRN = "lrn"  # LRN: runs on one thread whatever its size
    ACTIVATION = "activation"  # a unary elementwise function (softmax included)
    ADD = "add"  # a binary Add: a Conv can absorb one residual Add
    MUL = "mul"  # a Mul of activations: runs in the NCHWc layout when its inputs do and have one shape
    SCALE = "scale"  # a Mul by one constant per channel (or one value): ORT folds it into the Conv before it
    ELEMENTWISE = "elementwise"  # other binary or n-ary broadcasting arithmetic
    CONCAT = "concat"  # Concat: keeps the NCHWc layout when every input has it
    SPLIT = "split"  # Split
    DATA_MOVEMENT = "data_movement"  # copies: Slice, Pad, Transpose
    RESIZE = "resize"  # Resize / Upsample
    VIEW = "view"  # a Reshape/Flatten kernel: no arithmetic, a fixed cost
    ELIMINATED = "eliminated"  # removed by ORT's graph optimiser: Identity, Dropout at inference
    NONE = "none"  # the graph input: runs nothing
    UNKNOWN = "unknown"  # an op archcalc does not model: one kernel of unknown work
