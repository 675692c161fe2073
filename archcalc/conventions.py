"""How to count: conventions as data, named presets, ``key=value`` overrides.

The same network is counted differently by different sources. Every choice that changes a
number is a field here, every report prints the conventions it used, and the presets name the
sources they reproduce.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from archcalc.choices import (  # noqa: F401  (re-exported: the values of each convention)
    ACTIVATION_FLOPS,
    AFFINE_MACS,
    BIAS_MACS,
    CHEAP_OPS,
    DTYPE_BYTES,
    FAMILIES,
    OPTIMIZER_STATE,
    POOL_FLOPS,
    POOLING_CONNECTIONS,
    RF_MERGE,
    ActivationFlops,
    AffineMacs,
    BiasMacs,
    CheapOp,
    DType,
    Family,
    Optimizer,
    PoolFlops,
    PoolingConnections,
    Preset,
    RfMerge,
)
from archcalc.errors import ConventionError, suggest

E = TypeVar("E", bound=StrEnum)


# -- parsing one value (strings from --set and spec files, or Python values) -----------------


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
        return False
    raise ConventionError(f"convention {key} must be true or false, got {value!r}")


def parse_choice(key: str, value: Any, kind: type[E]) -> E:
    """``value`` as a member of ``kind``, or a ConventionError listing the valid values."""
    if isinstance(value, kind):
        return value
    text = str(value)
    try:
        return kind(text)
    except ValueError:
        allowed = [m.value for m in kind]
        raise ConventionError(
            f"convention {key} must be one of {', '.join(allowed)}, got {value!r}{suggest(text, allowed)}"
        ) from None


def _items(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [] if value.strip().lower() in ("", "none") else [v.strip() for v in value.split(",")]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    raise ConventionError(f"convention {key} must be a list, got {value!r}")


def _unknown_item(key: str, item: str, allowed: Iterable[str]) -> ConventionError:
    names = list(allowed)
    return ConventionError(
        f"convention {key}: unknown item '{item}'{suggest(item, names)}; allowed: {', '.join(names)}"
    )


def _parse_families(key: str, value: Any) -> frozenset[Family]:
    if isinstance(value, frozenset) and all(isinstance(v, Family) for v in value):
        return value
    items = _items(key, value)
    if items == ["all"]:
        return frozenset(Family)
    out = set()
    for item in items:
        try:
            out.add(Family(item))
        except ValueError:
            raise _unknown_item(key, item, FAMILIES) from None
    return frozenset(out)


def _parse_cheap_ops(key: str, value: Any) -> frozenset[CheapOp | str]:
    """Categories (``CheapOp``) and/or layer kinds (``batchnorm``: every cheap op of that kind)."""
    if isinstance(value, frozenset) and all(type(v) is CheapOp for v in value):
        return value
    items = _items(key, value)
    if items == ["all"]:
        return frozenset(CheapOp)
    out: set[CheapOp | str] = set()
    kinds: tuple[str, ...] | None = None
    for item in items:
        if item in CHEAP_OPS:
            out.add(CheapOp(item))
            continue
        if kinds is None:
            from archcalc.ops import REGISTRY

            kinds = tuple(k for k in REGISTRY if k not in CHEAP_OPS)
        if item not in kinds:
            raise _unknown_item(key, item, CHEAP_OPS + kinds)
        out.add(str(item))
    return frozenset(out)


def _parse_positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConventionError(f"convention {key} must be a positive integer, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConventionError(f"convention {key} must be a positive integer, got {value!r}") from None
    if number < 1 or str(number) != str(value).strip():
        raise ConventionError(f"convention {key} must be a positive integer, got {value!r}")
    return number


def _choice(kind: type[StrEnum]) -> Callable[[str, Any], Any]:
    return lambda key, value: parse_choice(key, value, kind)


#: convention name -> its parser (key, raw value) -> the value, or a ConventionError
PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "preset": _choice(Preset),
    "biases_as_params": _parse_bool,
    "bias_is_connection": _parse_bool,
    "bias_macs": _choice(BiasMacs),
    "affine_macs": _choice(AffineMacs),
    "flops_per_mac": _parse_positive_int,
    "cheap_ops": _parse_cheap_ops,
    "activation_flops": _choice(ActivationFlops),
    "pool_flops": _choice(PoolFlops),
    "bn_flops": _parse_positive_int,
    "unit_families": _parse_families,
    "units_include_input": _parse_bool,
    "units_include_output": _parse_bool,
    "pooling_connections": _choice(PoolingConnections),
    "bn_affine_params": _parse_bool,
    "dtype": _choice(DType),
    "batch": _parse_positive_int,
    "optimizer": _choice(Optimizer),
    "inplace": _parse_bool,
    "rf_merge": _choice(RfMerge),
}


@dataclass(frozen=True, slots=True)
class Conventions:
    """Every counting choice that changes a number. See ``describe()`` for the prose.

    Every value is checked when a ``Conventions`` is made (or ``replace``d): option values are
    str enums (``BiasMacs``, ``DType``...), and the strings they stand for are accepted and
    converted; a bad value raises ``ConventionError`` naming the valid ones.
    """

    preset: Preset = Preset.DEFAULT
    #: biases count as (trainable) parameters
    biases_as_params: bool = True
    #: a bias is one more connection for each unit that has one (LeCun 1989/1998)
    bias_is_connection: bool = False
    #: a bias add counted as MACs: never, once per bias parameter (torchinfo), or once per output
    bias_macs: BiasMacs = BiasMacs.NONE
    #: BN scale/shift counted as MACs: never, or once per parameter (torchinfo)
    affine_macs: AffineMacs = AffineMacs.NONE
    #: FLOPs per multiply-accumulate
    flops_per_mac: int = 2
    #: non-MAC work that is counted in FLOPs: categories (see ``CheapOp``) and/or layer kinds
    #: (``batchnorm``, ``global_avgpool``: every cheap op of layers of that kind)
    cheap_ops: frozenset[CheapOp | str] = field(default_factory=lambda: frozenset(CheapOp))
    #: FLOPs of a counted activation: 1 per element, or as ptflops counts (see ``ActivationFlops``)
    activation_flops: ActivationFlops = ActivationFlops.PER_ELEMENT
    #: FLOPs of a counted pooling layer: per window element, per input element, or as
    #: ptflops/thop count (see ``PoolFlops``)
    pool_flops: PoolFlops = PoolFlops.WINDOW
    #: FLOPs per BatchNorm output element (scale and shift: 2; thop counts 4)
    bn_flops: int = 2
    #: layer families whose outputs count as units
    unit_families: frozenset[Family] = field(
        default_factory=lambda: frozenset({Family.CONV, Family.FC, Family.POOL, Family.SUBSAMPLE, Family.RBF})
    )
    #: the network input counts as units
    units_include_input: bool = False
    #: the last unit-counting layer(s) of the network count as units
    units_include_output: bool = True
    #: pooling layers have connections (one per window element per unit) or none
    pooling_connections: PoolingConnections = PoolingConnections.WINDOW
    #: BatchNorm scale and shift are trainable parameters (running stats are always buffers)
    bn_affine_params: bool = True
    dtype: DType = DType.FP32
    batch: int = 1
    #: optimizer whose state the training-memory estimate includes
    optimizer: Optimizer = Optimizer.ADAM
    #: elementwise unary layers (activation, BN, dropout) reuse their input buffer when they
    #: are its only consumer (inference peak memory)
    inplace: bool = False
    #: misaligned receptive fields where branches merge: warning or error
    rf_merge: RfMerge = RfMerge.WARN

    def __new__(cls, *args: Any, **changes: Any) -> Conventions:
        # an unknown name is a ConventionError with a did-you-mean, not a bare TypeError
        for key in changes:
            if key not in _FIELDS:
                raise ConventionError(f"unknown convention '{key}'{suggest(key, _FIELDS)}")
        return object.__new__(cls)

    def __post_init__(self) -> None:
        for name, parse in PARSERS.items():
            value = getattr(self, name)
            parsed = parse(name, value)
            if parsed is not value:
                object.__setattr__(self, name, parsed)

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def replace(self, **changes: Any) -> Conventions:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (enums as their strings, sets as sorted lists), as the JSON report shows it."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(str(v) for v in value)
            elif isinstance(value, StrEnum):
                value = str(value)
            out[f.name] = value
        return out

    def describe(self) -> str:
        """One line of prose that makes every number in a report traceable."""
        if not self.biases_as_params and not self.bias_is_connection:
            bias = "biases not counted"
        else:
            bias = "biases " + ("are params" if self.biases_as_params else "are not params")
            if self.bias_is_connection:
                bias += " and 1 connection per unit"
        if self.bias_macs != "none":
            bias += f", bias MACs {self.bias_macs}"
        if self.affine_macs != "none":
            bias += f", BN scale/shift MACs {self.affine_macs}"
        cheap = ", ".join(sorted(self.cheap_ops)) if self.cheap_ops else "nothing else"
        rules = [f"{k} {getattr(self, k)}" for k in ("activation_flops", "pool_flops", "bn_flops")
                 if getattr(self, k) != getattr(_BASE, k)]
        cheap += f" ({', '.join(rules)})" if rules and self.cheap_ops else ""
        units = "units: " + ",".join(sorted(self.unit_families))
        units += " (input " + ("in" if self.units_include_input else "out")
        units += ", output " + ("in" if self.units_include_output else "out") + ")"
        pool = "pooling connections: " + self.pooling_connections
        return (
            f"preset {self.preset}; {bias}; FLOPs = {self.flops_per_mac} x MACs + {cheap}; "
            f"{units}; {pool}; BN scale/shift {'params' if self.bn_affine_params else 'not params'}; "
            f"{self.dtype}, batch {self.batch}; training = forward + 2x backward, "
            f"memory with {self.optimizer} ({OPTIMIZER_STATE[self.optimizer]} state copies)"
            + ("; in-place activations" if self.inplace else "")
        )


_BASE = Conventions()

#: preset name (a ``Preset``) -> (source it reproduces, the changes from the default)
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": (
        "archcalc's own: MACs of weights, FLOPs = 2 x MACs plus every cheap op",
        {},
    ),
    "course": (
        "CSC413 Lecture 4 'Sizes of Layers in LeNet': biases ignored, pooling connections per window",
        {
            "biases_as_params": False,
            "bias_is_connection": False,
            "unit_families": frozenset({"conv", "fc", "pool", "subsample"}),
        },
    ),
    "lecun1998": (
        "LeCun et al. 1998 Sec. II-B: a bias is a parameter and one connection per unit",
        {
            "biases_as_params": True,
            "bias_is_connection": True,
            "unit_families": frozenset({"conv", "fc", "pool", "subsample", "rbf"}),
        },
    ),
    "lecun1989": (
        "LeCun et al. 1989: as lecun1998, and the input counts as units",
        {
            "biases_as_params": True,
            "bias_is_connection": True,
            "units_include_input": True,
            "unit_families": frozenset({"conv", "fc", "pool", "subsample", "rbf"}),
        },
    ),
    "paper_macs": (
        "papers' 'multiply-adds' (He et al. 2016): weight MACs only, FLOPs = 2 x MACs, no cheap ops",
        {"cheap_ops": frozenset(), "bias_macs": "none"},
    ),
    "torchinfo": (
        "torchinfo's 'Total mult-adds': conv/linear MACs + a bias once per output element + each BN "
        "scale/shift parameter once",
        {"cheap_ops": frozenset(), "bias_macs": "per_output", "affine_macs": "per_param"},
    ),
    "fvcore": (
        "fvcore's flop_count (one 'flop' per MAC): conv/linear MACs + 2 per BN output element + "
        "global/adaptive average pooling input elements; ReLU, max pooling and adds are free",
        {"flops_per_mac": 1, "bias_macs": "none", "pool_flops": "input",
         "cheap_ops": frozenset({"batchnorm", "global_avgpool", "adaptive_avgpool"})},
    ),
    "flopcounter": (
        "torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per conv/linear MAC, nothing else",
        {"flops_per_mac": 2, "cheap_ops": frozenset(), "bias_macs": "none"},
    ),
    "ptflops": (
        "ptflops' PyTorch backend (get_model_complexity_info, 'MACs'): conv/linear MACs + a bias per output "
        "element + 2 per BN element + ReLU 2 / ReLU6 1 per element + 2 per pooling-module input element "
        "(1 for a pooling function call)",
        {"flops_per_mac": 1, "bias_macs": "per_output", "activation_flops": "ptflops", "pool_flops": "ptflops",
         "cheap_ops": frozenset({"activation", "pool", "batchnorm"})},
    ),
    "ptflops_aten": (
        "ptflops' aten backend ('MACs'): conv/linear MACs + a bias per output element, nothing else",
        {"flops_per_mac": 1, "bias_macs": "per_output", "cheap_ops": frozenset()},
    ),
    "thop": (
        "thop's profile ('MACs'): conv/linear MACs (no bias) + 4 per BN element + average pooling output "
        "elements + adaptive/global average pooling input + output elements; activations and max pooling free",
        {"flops_per_mac": 1, "bias_macs": "none", "bn_flops": 4, "pool_flops": "thop",
         "cheap_ops": frozenset({"batchnorm", "pool"})},
    ),
}


def preset(name: str) -> Conventions:
    try:
        _, changes = PRESETS[name]
    except KeyError:
        raise ConventionError(
            f"unknown preset '{name}'{suggest(name, PRESETS)}; presets: {', '.join(PRESETS)}"
        ) from None
    return _BASE.replace(preset=name, **changes)


_FIELDS = {f.name: f for f in dataclasses.fields(Conventions)}

#: every convention name (the ``Conventions`` fields, ``preset`` first)
NAMES: tuple[str, ...] = tuple(_FIELDS)


def resolve(
    base: Conventions | str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Conventions:
    """A preset (or ``base``) with ``overrides`` applied; a ``preset`` key switches the base."""
    conv = preset(base) if isinstance(base, str) else (base or _BASE)
    if not overrides:
        return conv
    items = dict(overrides)
    if "preset" in items:
        conv = preset(str(items.pop("preset")))
    changes: dict[str, Any] = {}
    for key, value in items.items():
        if key not in _FIELDS or key == "preset":
            raise ConventionError(f"unknown convention '{key}'{suggest(key, _FIELDS)}")
        changes[key] = PARSERS[key](key, value)
    if all(getattr(conv, key) == value for key, value in changes.items()):
        return conv  # nothing changes (an ONNX model's batch 1): the same immutable conventions
    return conv.replace(**changes)


def parse_assignments(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["batch=8", "cheap_ops=none"]`` -> ``{"batch": "8", "cheap_ops": "none"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConventionError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out
