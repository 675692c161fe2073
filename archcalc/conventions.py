"""How to count: conventions as data, named presets, ``key=value`` overrides.

The same network is counted differently by different sources. Every choice that changes a
number is a field here, every report prints the conventions it used, and the presets name the
sources they reproduce.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archcalc.errors import ConventionError, suggest

#: bytes per element of each dtype
DTYPE_BYTES: dict[str, int] = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}

#: layer families whose output elements can count as units
FAMILIES: tuple[str, ...] = (
    "input", "conv", "fc", "pool", "subsample", "rbf", "activation", "norm",
    "elementwise", "shape", "resize", "unknown",
)

#: categories of non-MAC work that can cost FLOPs (per-op costs are documented in each op)
CHEAP_OPS: tuple[str, ...] = ("bias", "activation", "norm", "pool", "elementwise", "resize", "rbf")

#: optimizer -> copies of the trainable parameters it keeps as state
OPTIMIZER_STATE: dict[str, int] = {"sgd": 0, "momentum": 1, "adam": 2}

BIAS_MACS = ("none", "per_param", "per_output")
AFFINE_MACS = ("none", "per_param")
POOLING_CONNECTIONS = ("window", "none")
RF_MERGE = ("warn", "error")


@dataclass(frozen=True, slots=True)
class Conventions:
    """Every counting choice that changes a number. See ``describe()`` for the prose."""

    preset: str = "default"
    #: biases count as (trainable) parameters
    biases_as_params: bool = True
    #: a bias is one more connection for each unit that has one (LeCun 1989/1998)
    bias_is_connection: bool = False
    #: a bias add counted as MACs: never, once per bias parameter (torchinfo), or once per output
    bias_macs: str = "none"
    #: BN scale/shift counted as MACs: never, or once per parameter (torchinfo)
    affine_macs: str = "none"
    #: FLOPs per multiply-accumulate
    flops_per_mac: int = 2
    #: non-MAC work that is counted in FLOPs: categories (see ``CHEAP_OPS``) and/or layer kinds
    #: (``batchnorm``, ``global_avgpool``: every cheap op of layers of that kind)
    cheap_ops: frozenset[str] = field(default_factory=lambda: frozenset(CHEAP_OPS))
    #: layer families whose outputs count as units
    unit_families: frozenset[str] = field(
        default_factory=lambda: frozenset({"conv", "fc", "pool", "subsample", "rbf"})
    )
    #: the network input counts as units
    units_include_input: bool = False
    #: the last unit-counting layer(s) of the network count as units
    units_include_output: bool = True
    #: pooling layers have connections (one per window element per unit) or none
    pooling_connections: str = "window"
    #: BatchNorm scale and shift are trainable parameters (running stats are always buffers)
    bn_affine_params: bool = True
    dtype: str = "fp32"
    batch: int = 1
    #: optimizer whose state the training-memory estimate includes
    optimizer: str = "adam"
    #: elementwise unary layers (activation, BN, dropout) reuse their input buffer when they
    #: are its only consumer (inference peak memory)
    inplace: bool = False
    #: misaligned receptive fields where branches merge: warning or error
    rf_merge: str = "warn"

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def replace(self, **changes: Any) -> Conventions:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
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

#: preset name -> (source it reproduces, the changes from the default)
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
        "torchinfo's 'Total mult-adds': conv/linear MACs + each bias and BN scale/shift parameter once",
        {"cheap_ops": frozenset(), "bias_macs": "per_param", "affine_macs": "per_param"},
    ),
    "fvcore": (
        "fvcore's flop_count (one 'flop' per MAC): conv/linear MACs + 2 per BN output element + "
        "global/adaptive average pooling input elements; ReLU, max pooling and adds are free",
        {"flops_per_mac": 1, "bias_macs": "none",
         "cheap_ops": frozenset({"batchnorm", "global_avgpool", "adaptive_avgpool"})},
    ),
    "flopcounter": (
        "torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per conv/linear MAC, nothing else",
        {"flops_per_mac": 2, "cheap_ops": frozenset(), "bias_macs": "none"},
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


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
        return False
    raise ConventionError(f"convention {key} must be true or false, got {value!r}")


def _parse_set(key: str, value: Any, allowed: tuple[str, ...]) -> frozenset[str]:
    if isinstance(value, str):
        items = [] if value.strip().lower() in ("", "none") else [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = [str(v) for v in value]
    else:
        raise ConventionError(f"convention {key} must be a list, got {value!r}")
    if items == ["all"]:
        return frozenset(CHEAP_OPS if key == "cheap_ops" else allowed)
    for item in items:
        if item not in allowed:
            raise ConventionError(
                f"convention {key}: unknown item '{item}'{suggest(item, allowed)}; "
                f"allowed: {', '.join(allowed)}"
            )
    return frozenset(items)


def _parse_choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = str(value)
    if text not in allowed:
        raise ConventionError(
            f"convention {key} must be one of {', '.join(allowed)}, got {value!r}{suggest(text, allowed)}"
        )
    return text


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


def _parse_value(key: str, value: Any) -> Any:
    if key in ("biases_as_params", "bias_is_connection", "units_include_input",
               "units_include_output", "bn_affine_params", "inplace"):
        return _parse_bool(key, value)
    if key == "bias_macs":
        return _parse_choice(key, value, BIAS_MACS)
    if key == "affine_macs":
        return _parse_choice(key, value, AFFINE_MACS)
    if key == "pooling_connections":
        return _parse_choice(key, value, POOLING_CONNECTIONS)
    if key == "rf_merge":
        return _parse_choice(key, value, RF_MERGE)
    if key == "dtype":
        return _parse_choice(key, value, tuple(DTYPE_BYTES))
    if key == "optimizer":
        return _parse_choice(key, value, tuple(OPTIMIZER_STATE))
    if key in ("flops_per_mac", "batch"):
        return _parse_positive_int(key, value)
    if key == "cheap_ops":
        from archcalc.ops import REGISTRY

        return _parse_set(key, value, CHEAP_OPS + tuple(k for k in REGISTRY if k not in CHEAP_OPS))
    if key == "unit_families":
        return _parse_set(key, value, FAMILIES)
    raise ConventionError(f"unknown convention '{key}'{suggest(key, _FIELDS)}")


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
        changes[key] = _parse_value(key, value)
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
