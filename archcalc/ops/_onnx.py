"""The ONNX side of an op module, import direction: what a translator sees of a node and returns.

Low level on purpose: it imports nothing above ``archcalc.errors`` and ``archcalc.ir``, and
neither onnx nor numpy (a node's constant values are numpy arrays, but only the importer makes
them), so ``ops`` can hold its translators while ``onnx_import`` imports ``ops``, never the reverse.

A translator reads the node (attributes, which inputs are activations and which constants) and
returns a ``LayerSpec``: the archcalc kind, its attributes in spec form (per sample: the batch
axis is never part of a layer), the activation inputs, and which constants are the layer's
parameters (so a shared initializer is counted once). Axes are translated from ONNX (batch
first) to per-sample (channels first); an op that would mix the batch axis is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import TYPE_CHECKING, Any, Protocol

from archcalc.errors import OnnxImportError
from archcalc.frozen import quick_init
from archcalc.ir import TensorRef

if TYPE_CHECKING:
    import numpy as np

#: constants with more elements than this keep only their dims (never materialised): what analysis
#: needs of a constant's values is shape arithmetic (a few integers), Resize scales, Pad amounts
MAX_FOLD_ELEMENTS = 1 << 16


class ValueSource(Protocol):
    """Where a constant's values are read from when first asked (a tensor in the file, a Constant
    node's list): as a numpy array, or as Python numbers without numpy (None: only numpy can)."""

    def array(self) -> np.ndarray: ...

    def flat(self) -> list[Any] | None: ...


class Const:
    """A constant tensor: its dims and data type (a numpy dtype, or the importer's numpy-free
    ``DType``), and its values when known. Values read from the file stay encoded until something
    asks: ``flat()`` gives Python numbers (a shape, axes, a scale) without numpy, ``value`` the numpy
    array. Immutable by convention (the decoded array is cached)."""

    __slots__ = ("_source", "_value", "dtype", "origin", "shape", "why")

    def __init__(self, shape: tuple[int, ...], dtype: Any, value: np.ndarray | None, origin: str | None = None,
                 why: str | None = None, source: ValueSource | None = None) -> None:
        self.shape = shape
        self.dtype = dtype
        self._value = value
        self._source = source
        #: the graph initializer (or Constant node output) it comes from: parameter candidate
        self.origin = origin
        #: why its value is not kept, when it is dims only ("2,000,000 elements, more than archcalc folds")
        self.why = why

    def __repr__(self) -> str:
        return f"Const({self.shape}, {self.dtype}, {'known' if self.known else 'dims only'}, {self.origin!r})"

    @property
    def size(self) -> int:
        return prod(self.shape)

    def with_origin(self, origin: str | None) -> Const:
        """The same constant, named as coming from ``origin`` (a Constant node's output)."""
        return Const(self.shape, self.dtype, self._value, origin, self.why, self._source)

    @property
    def source(self) -> ValueSource | None:
        """Where its values are read from while not decoded yet (None once decoded, or dims only)."""
        return self._source

    @property
    def known(self) -> bool:
        """Its values are known (decoded or not yet); False: dims only (stripped, external data, or too large)."""
        return self._value is not None or self._source is not None

    @property
    def value(self) -> np.ndarray | None:
        """The values as a numpy array (decoded on first use); None: dims only."""
        if self._value is None and self._source is not None:
            self._value = self._source.array()
            self._source = None
        return self._value

    @property
    def kind(self) -> str:
        """numpy's kind letter of its element type ("f", "i", "u", "b", ...); "?" when unknown."""
        if self._value is not None:
            return str(self._value.dtype.kind)
        return str(getattr(self.dtype, "kind", "?"))

    def flat(self) -> list[Any] | None:
        """The values in order as Python numbers (numpy only where the source needs it); None: dims only."""
        if self._value is None and self._source is not None:
            out = self._source.flat()
            if out is not None:
                return out
        value = self.value
        return None if value is None else value.reshape(-1).tolist()


@quick_init
@dataclass(frozen=True, slots=True)
class Act:
    ref: TensorRef
    shape: tuple[int, ...]  # full ONNX shape, batch axis first
    #: ``shape[1:]``, the very tuple its producer's ``apply`` made (its readers' input shapes share it,
    #: so an imported layer keeps no copy of each input shape)
    sample: tuple[int, ...]


@dataclass
class LayerSpec:
    kind: str
    attrs: dict[str, Any]
    inputs: list[str]  # activation tensor names, in order
    #: role (weights, biases, affine, buffers) -> constant names holding those parameters
    params: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: ``attrs`` are already what the op's ``normalize`` makes of them (every schema key, parsed values,
    #: in its order): the importer runs only the op's ``check`` on them. A translator sets it only after
    #: checking every value ``normalize`` would refuse (``all_positive``, ``normal_pads``); a node that
    #: fails goes in spec form through ``normalize``, for its error. tests/test_normal_form.py checks
    #: ``normalize(attrs) == attrs`` for every such layer of every fixture.
    normal: bool = False


class Node:
    """A view of a NodeProto with python attribute values and resolved inputs."""

    def __init__(self, op_type: str, name: str, inputs: list[str], outputs: list[str], attrs: dict[str, Any],
                 values: dict[str, Act | Const], opset: int) -> None:
        self.op_type = op_type
        self.name = name
        self.input_names = inputs
        self.outputs = outputs
        self.attrs = attrs
        self.values = values
        self.opset = opset

    def get(self, i: int) -> Act | Const | None:
        if i >= len(self.input_names) or not self.input_names[i]:
            return None
        name = self.input_names[i]
        if name not in self.values:
            raise OnnxImportError(f"{self.op_type}: input '{name}' is an output archcalc does not model "
                                  f"(e.g. a Dropout mask or MaxPool indices)")
        return self.values[name]

    def act(self, i: int, what: str = "input") -> Act:
        v = self.get(i)
        if not isinstance(v, Act):
            raise OnnxImportError(f"{self.op_type}: {what} {i} must be an activation (a tensor computed from the "
                                  f"input)")
        return v

    def const(self, i: int, what: str) -> Const:
        v = self.get(i)
        if not isinstance(v, Const):
            raise OnnxImportError(f"{self.op_type}: {what} (input {i}) must be a constant (an initializer or "
                                  f"folded from constants); computed {what}s are not supported")
        return v

    def known(self, i: int, what: str) -> Const:
        """Input i as a constant whose values are known."""
        c = self.const(i, what)
        if not c.known:
            raise OnnxImportError(f"{self.op_type}: the value of {what} is not known"
                                  + (f" ({c.why})" if c.why else ""))
        return c

    def value(self, i: int, what: str) -> np.ndarray:
        value = self.known(i, what).value
        assert value is not None
        return value

    def ints(self, i: int, what: str) -> list[int]:
        return const_ints(self.known(i, what), f"{self.op_type} {what}")

    def optional_ints(self, i: int, what: str) -> list[int] | None:
        return None if self.get(i) is None else self.ints(i, what)

    def optional_floats(self, i: int, what: str) -> list[float] | None:
        if self.get(i) is None:
            return None
        c = self.const(i, what)
        values = c.flat()
        if not values:
            return None
        return [float(v) for v in values]

    def text(self, key: str, default: str) -> str:
        """A string attribute (bytes in older files) or its default."""
        value = self.attrs.get(key, default)
        return value.decode() if isinstance(value, bytes) else value


Translator = Callable[[Node], LayerSpec]


# -- helpers translators share -----------------------------------------------------------------


def const_ints(c: Const, what: str) -> list[int]:
    """The elements of a known integer constant as Python ints; a tensor of another type (strings,
    floats) where ONNX wants integers (a Reshape shape, Slice starts, axes) is refused."""
    kind = c.kind
    if kind not in "iu":
        name = {"f": "float", "S": "string", "U": "string", "O": "string", "b": "bool", "c": "complex"}.get(kind, kind)
        raise OnnxImportError(f"{what} must be an integer tensor, got a {name} tensor")
    values = c.flat()
    assert values is not None
    return [int(v) for v in values]



def sample_axis(axis: int, rank: int, op: str) -> int:
    """An ONNX axis (batch first) as a per-sample axis; the batch axis itself is refused."""
    a = axis % rank if rank else 0
    if a == 0:
        raise OnnxImportError(f"{op} works along the batch axis (axis {axis}), which archcalc keeps per sample")
    return a - 1


def axes_attr(node: Node, key: str, n: int, default: int) -> list[int]:
    """A per-spatial-axis attribute (strides, dilations, kernel_shape, output_padding): n integers."""
    values = node.attrs.get(key)
    if values is None:
        return [default] * n
    out = [int(v) for v in values]
    if len(out) != n:
        raise OnnxImportError(f"{node.op_type} {key} has {len(out)} values for {n} spatial axes")
    return out


def onnx_pads(node: Node, n: int) -> Any:
    """auto_pad / pads as a spec padding value."""
    auto = node.text("auto_pad", "NOTSET")
    if auto == "VALID":
        return "valid"
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER":
        return "same_lower"
    pads = node.attrs.get("pads")
    if not pads:
        return 0
    if len(pads) != 2 * n:
        raise OnnxImportError(f"{node.op_type} pads has {len(pads)} values for {n} spatial axes (2 per axis)")
    return [[int(pads[i]), int(pads[i + n])] for i in range(n)]


def all_positive(*lists: list[int]) -> bool:
    """Every list non-empty and all its items positive: the integer lists (from ``axes_attr``)
    that ``pos_ints`` accepts, so a translator may hand them over as tuples (``LayerSpec.normal``)."""
    # all() and map() over the lists, no generator: a translator asks once per node
    return bool(lists) and all(lists) and min(map(min, lists)) >= 1


def normal_pads(pads: Any) -> Any:
    """``onnx_pads``' value as ``padding`` parses it: 0 and a mode as they are, ``[[before, after],
    ...]`` as a tuple of pairs; None when a pad is negative (``normalize`` refuses it, with its message)."""
    if pads.__class__ is not list:
        return pads
    out = tuple([(before, after) for before, after in pads])
    for before, after in out:
        if before < 0 or after < 0:
            return None
    return out


def bias_param(node: Node, i: int) -> list[str]:
    """Input i as a parameter list: [its name] when it is a constant, else []."""
    c = node.get(i)
    return [node.input_names[i]] if isinstance(c, Const) else []


def optional_axes(node: Node, index: int) -> list[int] | None:
    """``axes`` as an attribute (older opsets) or as input ``index`` (newer ones); None if absent."""
    axes = node.attrs.get("axes")
    if axes is None and node.get(index) is not None:
        axes = node.ints(index, "axes")
    return None if axes is None else [int(a) for a in axes]


# -- shape rules shared with constant folding (pure python) ------------------------------------


def flatten_axis(axis: int, rank: int) -> int:
    """ONNX Flatten's axis in [-r, r]; a negative one counts from the end."""
    if not -rank <= axis <= rank:
        raise OnnxImportError(f"Flatten axis {axis} is out of range for a {rank}-D input")
    return axis + rank if axis < 0 else axis


def unsqueeze_shape(shape: tuple[int, ...], axes: list[int]) -> tuple[int, ...]:
    rank = len(shape) + len(axes)
    if any(not -rank <= a < rank for a in axes):
        raise OnnxImportError(f"Unsqueeze axes {axes} are out of range for a {rank}-D output")
    norm = sorted(a % rank for a in axes)
    out = list(shape)
    for a in norm:
        out.insert(a, 1)
    return tuple(out)


def squeeze_shape(shape: tuple[int, ...], axes: list[int] | None) -> tuple[int, ...]:
    if axes is None:
        return tuple(d for d in shape if d != 1)
    rank = len(shape)
    if any(not -rank <= a < rank for a in axes):
        raise OnnxImportError(f"Squeeze axes {axes} are out of range for a {rank}-D input")
    norm = {a % rank for a in axes}
    return tuple(d for i, d in enumerate(shape) if i not in norm)


def reshape_target(shape: tuple[int, ...], target: Sequence[int], allowzero: bool) -> tuple[int, ...]:
    out = [int(t) for t in target]
    if not allowzero:
        for i, t in enumerate(out):
            if t == 0:
                if i >= len(shape):
                    raise OnnxImportError(f"Reshape target {list(target)}: 0 at axis {i} has no input axis to copy")
                out[i] = shape[i]
    total = prod(shape)
    if out.count(-1) > 1:
        raise OnnxImportError(f"Reshape target {list(target)} has more than one -1")
    if -1 in out:
        known = prod(t for t in out if t != -1)
        if known == 0 or total % known:
            raise OnnxImportError(f"cannot reshape {list(shape)} to {list(target)}")
        out[out.index(-1)] = total // known
    if prod(out) != total:
        raise OnnxImportError(f"cannot reshape {list(shape)} ({total} elements) to {list(target)}")
    return tuple(out)


def slice_range(start: int, end: int, step: int, length: int) -> range:
    """The indices ONNX Slice picks along an axis. Not Python's rule: with a negative step a start
    before the first element is clamped to 0 (Python gives an empty slice)."""
    if step == 0:
        raise OnnxImportError("Slice step must not be 0")
    if start < 0:
        start += length
    if end < 0:
        end += length
    if step > 0:
        start, end = min(max(start, 0), length), min(max(end, 0), length)
    else:
        start, end = min(max(start, 0), length - 1), min(max(end, -1), length - 1)
    return range(start, end, step)
