"""What a layer family provides: an attribute schema; one pure ``apply`` over integer shapes that
returns the output shape(s), the cost and the receptive-field rule; its ONNX translators and
emitter; the facts other passes need (view, in-place, kernel class); and its documentation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

from archcalc.errors import ExportError, SpecError, suggest
from archcalc.frozen import quick_init
from archcalc.ops._formulas import Shape
from archcalc.ops._framework_keys import key_hint
from archcalc.ops.facts import KernelClass

if TYPE_CHECKING:
    from archcalc.ir import Layer
    from archcalc.ops._derive import Step
    from archcalc.ops._emit import Builder
    from archcalc.ops._onnx import Translator

Number = int | Fraction


@quick_init
@dataclass(frozen=True, slots=True)
class Cost:
    """Exact per-sample counts of one layer, before conventions are applied.

    ``connections`` are edges from input units to output units through weights or pooling
    windows (weight sharing does not reduce them); ``bias_units`` are the output units that have
    a bias (LeCun counts each bias as one more connection); ``affine`` are normalisation
    scale and shift parameters; ``fixed`` are parameters that are not trained (RBF centres);
    ``buffers`` are stored statistics (BN running mean/var); ``macs`` are weight
    multiply-accumulates; ``cheap`` lists non-MAC work as (category, FLOPs).
    """

    weights: int = 0
    biases: int = 0
    affine: int = 0
    fixed: int = 0
    buffers: int = 0
    connections: int = 0
    bias_units: int = 0
    macs: int = 0
    cheap: tuple[tuple[str, int], ...] = ()

    @classmethod
    def weighted(cls, weights: int, edges: int, biases: int, bias_units: int, macs: int | None = None) -> Cost:
        """A layer of weights: ``edges`` connections (and MACs, unless given), biases added per unit."""
        # positional, in field order: weights, biases, affine, fixed, buffers, connections, bias_units, macs, cheap
        return cls(weights, biases, 0, 0, 0, edges, bias_units, edges if macs is None else macs,
                   (("bias", bias_units),) if bias_units else ())


@quick_init
@dataclass(frozen=True, slots=True)
class Window:
    """Receptive-field rule of a sliding window, per spatial axis.

    For each axis ``(k_eff, stride, offset2)``: output ``o`` is centred at input coordinate
    ``stride*o + offset2/2`` and reads ``k_eff`` input positions. ``stride`` and ``offset2``
    are Fractions after upsampling or transposed convolution.
    """

    axes: tuple[tuple[Number, Number, Number], ...]


@dataclass(frozen=True, slots=True)
class Permute:
    """Receptive-field rule of a transpose: per-sample axis permutation (0 = channels)."""

    perm: tuple[int, ...]


#: receptive-field rules that are not a window
PASS = "pass"  # each output reads the same position of its input(s); merges check alignment
GLOBAL = "global"  # each output reads every input position (fully connected, global pooling)
#: each output reads every position along the last per-sample axis and the same position along the
#: others (a matmul by a weight): the field does not change where that axis holds the channels
#: (a Linear on a channels-last permute), and is global otherwise
MIX_LAST = "mix_last"
UNKNOWN = "unknown"  # not known (an op archcalc does not model): never a guess

RFRule = Window | Permute | str

#: the ``module`` key of activation and pooling layers (changes no count of archcalc's own)
MODULE_DOC = ("false: the framework code calls a function here (F.relu, F.adaptive_avg_pool2d), not a "
              "module, which counters that hook modules (ptflops, thop) do not see")


@quick_init
@dataclass(frozen=True, slots=True)
class Applied:
    outs: tuple[Shape, ...]
    cost: Cost
    rf: RFRule = PASS
    notes: tuple[str, ...] = ()
    #: one rule per output, when the outputs' fields differ (a split along a spatial axis)
    out_rfs: tuple[RFRule, ...] | None = None


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute of a layer type: how to parse it, its default, whether it is required."""

    parse: Callable[[Any, str], Any]
    default: Any = None
    required: bool = False
    doc: str = ""


class Op:
    """A layer family. Subclasses set the class attributes and implement ``apply`` and ``emit``.

    Everything about a kind lives on its op (``tests/test_registry.py`` checks each piece is
    there): spec schema and ``apply``; ``translators`` (ONNX op_type -> layer; each reads
    ``node.opset`` where opsets differ) or ``import_note`` saying why no ONNX op imports as it;
    ``emit`` (layer -> ONNX nodes) or ``export_refusal`` saying why it is not exported; the facts
    ``view``, ``inplace`` and ``kernel_class``; ``doc`` (one line) and ``doc_notes``.
    Subclasses inherit class attributes: a subclass sets its own ``translators``.
    """

    kind: ClassVar[str]
    family: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    #: other type names with the attributes they imply (``relu`` = activation with fn: relu)
    shorthands: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    schema: ClassVar[Mapping[str, Attr]] = {}
    #: (min, max) number of inputs; max None = any
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    doc: ClassVar[str] = ""
    #: more for the layer-type table of docs/spec-language.md (what the keys mean, caveats)
    doc_notes: ClassVar[str] = ""

    # -- facts ------------------------------------------------------------------------------
    #: the output is a view of the input (no buffer of its own)
    view: ClassVar[bool] = False
    #: may overwrite its input when ``conventions.inplace`` is set
    inplace: ClassVar[bool] = False
    #: the ONNX Runtime kernel class it runs as
    kernel_class: ClassVar[KernelClass]

    def kernel_class_of(self, attrs: Mapping[str, Any]) -> KernelClass:
        """The kernel class of one layer (an op whose attributes change it overrides this)."""
        return self.kernel_class

    def cost_unit(self, attrs: Mapping[str, Any]) -> str | None:
        """The per-element cost the latency estimator calibrates for this layer's kernels (a key
        of ``archcalc.estimate.layerunits.LAYER_UNITS``: ORT takes far longer than the bytes), or
        None (priced by its kernel class alone)."""
        return None

    # -- ONNX -------------------------------------------------------------------------------
    #: ONNX op_type -> translator
    translators: ClassVar[Mapping[str, Translator]] = {}
    #: when ``translators`` is empty: how (or why not) such a layer comes from ONNX
    import_note: ClassVar[str] = ""
    #: why ``emit`` refuses (set where ``emit`` is not overridden, or refuses some layers)
    export_refusal: ClassVar[str] = ""

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        """The ONNX nodes of ``layer``; returns its output tensor names."""
        raise ExportError(self.export_refusal or f"layer type {self.kind} has no ONNX export")

    def normalize(self, raw: Mapping[str, Any], line_of: Callable[[str], int | None]) -> dict[str, Any]:
        """Parse and default the attributes; unknown keys are errors with a near match."""
        out: dict[str, Any] = {}
        for key, value in raw.items():
            attr = self.schema.get(key)
            if attr is None:
                raise SpecError(
                    f"unknown key '{key}' for layer type {self.kind}{key_hint(key, self.schema)}; "
                    f"keys: {', '.join(self.schema) or 'none'}",
                    line=line_of(key),
                )
            try:
                out[key] = attr.parse(value, key)
            except SpecError as exc:
                raise exc.located(line=line_of(key)) from None
        for key, attr in self.schema.items():
            if key not in out:
                if attr.required:
                    raise SpecError(f"layer type {self.kind} needs '{key}'" + (f" ({attr.doc})" if attr.doc else ""))
                out[key] = attr.default
        self.check(out)
        return out

    def check(self, attrs: dict[str, Any]) -> None:
        """Cross-attribute checks that need no shapes (override when needed)."""

    def n_outputs(self, attrs: Mapping[str, Any]) -> int:
        return 1

    def apply(self, attrs: Mapping[str, Any], ins: tuple[Shape, ...]) -> Applied:
        raise NotImplementedError

    def derive(self, attrs: Mapping[str, Any], ins: tuple[Shape, ...]) -> Mapping[str, Step]:
        """How ``apply``'s figures come out, by the same formulas: ``Cost`` field name (and
        ``output``) -> Step. A family that has not written its formulas out returns {} and
        ``archcalc explain`` shows the op's figures as its own count."""
        return {}


# -- attribute parsers (raise SpecError without a location; the caller adds it) -------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def pos_int(value: Any, key: str) -> int:
    if not _is_int(value) or value < 1:
        raise SpecError(f"{key} must be a positive integer, got {value!r}")
    return int(value)


def nonneg_int(value: Any, key: str) -> int:
    if not _is_int(value) or value < 0:
        raise SpecError(f"{key} must be a non-negative integer, got {value!r}")
    return int(value)


def _all_ints(values: list[Any], least: int) -> bool:
    """Every item an int (not a bool) of at least ``least`` (one loop: a layer has several such lists)."""
    for v in values:
        if not (v.__class__ is int or (isinstance(v, int) and not isinstance(v, bool))) or v < least:
            return False
    return True


def pos_ints(value: Any, key: str) -> int | tuple[int, ...]:
    """A positive int, or a list of them (one per spatial axis)."""
    if _is_int(value):
        return pos_int(value, key)
    if isinstance(value, list) and value and _all_ints(value, 1):
        return tuple([int(v) for v in value])
    raise SpecError(f"{key} must be a positive integer or a list of them, got {value!r}")


def nonneg_ints(value: Any, key: str) -> int | tuple[int, ...]:
    if _is_int(value):
        return nonneg_int(value, key)
    if isinstance(value, list) and value and _all_ints(value, 0):
        return tuple([int(v) for v in value])
    raise SpecError(f"{key} must be a non-negative integer or a list of them, got {value!r}")


def padding(value: Any, key: str) -> str | int | tuple[Any, ...]:
    """valid | same | same_lower | full | int | [p_axis0, ...] | [[before, after], ...]."""
    if isinstance(value, str):
        if value in ("valid", "same", "same_upper", "same_lower", "full"):
            return value
        choices = ("valid", "same", "same_lower", "full")
        raise SpecError(f"{key} must be valid, same, same_lower, full, an integer or a list{suggest(value, choices)}")
    if _is_int(value):
        return nonneg_int(value, key)
    if isinstance(value, list) and value:
        axes: list[Any] = []
        for item in value:
            if _is_int(item) and item >= 0:
                axes.append(int(item))
            elif isinstance(item, list) and len(item) == 2 and _all_ints(item, 0):  # [before, after]
                axes.append((int(item[0]), int(item[1])))
            else:
                break
        else:
            return tuple(axes)
    raise SpecError(
        f"{key} must be valid, same, full, a non-negative integer, a list with one per axis, "
        f"or [[before, after], ...], got {value!r}"
    )


def sizes(value: Any, key: str) -> tuple[int, ...]:
    """A non-empty list of positive integers (a shape, split sizes)."""
    if isinstance(value, (list, tuple)) and value and all(_is_int(v) and v >= 1 for v in value):
        return tuple(int(v) for v in value)
    raise SpecError(f"{key} must be a list of positive sizes, got {value!r}")


def ints(value: Any, key: str) -> tuple[int, ...]:
    """A list of integers (any sign: a reshape target with -1, a permutation)."""
    if isinstance(value, (list, tuple)) and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise SpecError(f"{key} must be a list of integers, got {value!r}")


def integer(value: Any, key: str) -> int:
    if not _is_int(value):
        raise SpecError(f"{key} must be an integer, got {value!r}")
    return int(value)


def choice(*options: str) -> Callable[[Any, str], str]:
    def parse(value: Any, key: str) -> str:
        if not isinstance(value, str) or value not in options:
            raise SpecError(
                f"{key} must be one of {', '.join(options)}, got {value!r}{suggest(str(value), options)}"
            )
        return value

    return parse


def boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{key} must be true or false, got {value!r}")
    return value


def number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{key} must be a number, got {value!r}")
    return float(value)


def text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"{key} must be a string, got {value!r}")
    return value
