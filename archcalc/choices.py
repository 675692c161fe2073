"""The values a counting convention can take: str enums (torchinfo style; plain strings are
accepted where a :class:`~archcalc.conventions.Conventions` is made, and validated there)."""

from __future__ import annotations

from enum import StrEnum


class Preset(StrEnum):
    """The named presets (``PRESETS`` says what each reproduces)."""

    DEFAULT = "default"
    COURSE = "course"
    LECUN1998 = "lecun1998"
    LECUN1989 = "lecun1989"
    PAPER_MACS = "paper_macs"
    TORCHINFO = "torchinfo"
    FVCORE = "fvcore"
    FLOPCOUNTER = "flopcounter"
    PTFLOPS = "ptflops"
    PTFLOPS_ATEN = "ptflops_aten"
    THOP = "thop"


class BiasMacs(StrEnum):
    """A bias add counted as MACs: never, once per bias parameter (torchinfo), or once per output."""

    NONE = "none"
    PER_PARAM = "per_param"
    PER_OUTPUT = "per_output"


class AffineMacs(StrEnum):
    """BN scale/shift counted as MACs: never, or once per parameter (torchinfo)."""

    NONE = "none"
    PER_PARAM = "per_param"


class ActivationFlops(StrEnum):
    """FLOPs of an activation layer (when ``cheap_ops`` counts it).

    ``per_element``: 1 per element, any function. ``ptflops``: as ptflops' PyTorch backend, one
    per element for each hook that sees the tensor: ReLU, PReLU, ELU 2 (the module's hook and
    the patched ``F.*`` it calls); ReLU6, LeakyReLU 1 (their functionals are not patched); GELU,
    softmax 1; every other function (tanh, sigmoid...) 0; a layer with ``module: false`` (a
    function call in ``forward``, torchvision GoogLeNet's ``F.relu``) 0, as measured.
    """

    PER_ELEMENT = "per_element"
    PTFLOPS = "ptflops"


class PoolFlops(StrEnum):
    """FLOPs of a pooling layer (when ``cheap_ops`` counts it).

    ``window``: 1 per window element per output (global pooling and reductions: 1 per input
    element). ``input``: 1 per input element (fvcore). ``ptflops``: 2 per input element of a
    pooling module (its hook and the patched ``F.*`` pool it calls), 1 for a pooling function
    call (``module: false``: MobileNetV2's ``F.adaptive_avg_pool2d``), 0 for a ``reduce``.
    ``thop``: average pooling 1 per output element; adaptive and global average pooling input +
    output elements (``N/n + 1`` per output); max pooling, function calls and reductions 0.
    """

    WINDOW = "window"
    INPUT = "input"
    PTFLOPS = "ptflops"
    THOP = "thop"


class PoolingConnections(StrEnum):
    """Pooling layers have one connection per window element per unit, or none."""

    WINDOW = "window"
    NONE = "none"


class RfMerge(StrEnum):
    """Misaligned receptive fields where branches merge: a warning or an error."""

    WARN = "warn"
    ERROR = "error"


class DType(StrEnum):
    """The element type of byte counts."""

    FP64 = "fp64"
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    INT8 = "int8"


class Optimizer(StrEnum):
    """The optimizer whose state the training-memory estimate includes."""

    SGD = "sgd"
    MOMENTUM = "momentum"
    ADAM = "adam"


class Units(StrEnum):
    """How a report table writes its counts: exact integers, humanised (K/M/G), or both."""

    EXACT = "exact"
    HUMAN = "human"
    BOTH = "both"


class Family(StrEnum):
    """Layer families (whose output elements can count as units)."""

    INPUT = "input"
    CONV = "conv"
    FC = "fc"
    POOL = "pool"
    SUBSAMPLE = "subsample"
    RBF = "rbf"
    ACTIVATION = "activation"
    NORM = "norm"
    ELEMENTWISE = "elementwise"
    SHAPE = "shape"
    RESIZE = "resize"
    UNKNOWN = "unknown"


class CheapOp(StrEnum):
    """Categories of non-MAC work that can cost FLOPs (per-op costs are documented in each op)."""

    BIAS = "bias"
    ACTIVATION = "activation"
    NORM = "norm"
    POOL = "pool"
    ELEMENTWISE = "elementwise"
    RESIZE = "resize"
    RBF = "rbf"


class GroupBy(StrEnum):
    """How ``compare`` and ``report --by`` group layers: a stage (``layer2``), a block
    (``layer2.0``, ``inception_3a``) or each layer."""

    STAGE = "stage"
    BLOCK = "block"
    LAYER = "layer"


#: bytes per element of each dtype
DTYPE_BYTES: dict[str, int] = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}

#: layer families whose output elements can count as units
FAMILIES: tuple[str, ...] = tuple(m.value for m in Family)

#: categories of non-MAC work that can cost FLOPs (per-op costs are documented in each op)
CHEAP_OPS: tuple[str, ...] = tuple(m.value for m in CheapOp)

#: optimizer -> copies of the trainable parameters it keeps as state
OPTIMIZER_STATE: dict[str, int] = {"sgd": 0, "momentum": 1, "adam": 2}

# the valid values as plain strings (argparse choices, messages)
BIAS_MACS: tuple[str, ...] = tuple(m.value for m in BiasMacs)
AFFINE_MACS: tuple[str, ...] = tuple(m.value for m in AffineMacs)
ACTIVATION_FLOPS: tuple[str, ...] = tuple(m.value for m in ActivationFlops)
POOL_FLOPS: tuple[str, ...] = tuple(m.value for m in PoolFlops)
POOLING_CONNECTIONS: tuple[str, ...] = tuple(m.value for m in PoolingConnections)
RF_MERGE: tuple[str, ...] = tuple(m.value for m in RfMerge)
UNITS: tuple[str, ...] = tuple(m.value for m in Units)


class DiagramFormat(StrEnum):
    """What ``archcalc diagram`` writes: SVG, Graphviz dot, or Mermaid."""

    SVG = "svg"
    DOT = "dot"
    MMD = "mmd"


class Direction(StrEnum):
    """Which way a diagram's layers run: top to bottom, or left to right."""

    TB = "TB"
    LR = "LR"


DIAGRAM_FORMATS: tuple[str, ...] = tuple(m.value for m in DiagramFormat)
DIRECTIONS: tuple[str, ...] = tuple(m.value for m in Direction)
