"""Receptive fields, exactly, per spatial axis.

A field is ``(size, jump, start2)`` per axis: the field of output position ``o`` is centred at
input coordinate ``start + o*jump`` (``start = start2/2``; keeping it doubled keeps half pixels
exact in integers) and spans ``size`` input pixels. Through a window rule ``(k, s, offset2)``::

    size  += (k - 1) * |jump|      (a reversing slice makes the jump negative)
    start2 += offset2 * jump
    jump  *= s

Upsampling and transposed convolution make ``s`` a Fraction (jumps below one pixel): from there
on sizes and starts are in continuous input coordinates and can be fractional. Fully connected
layers and global pooling make the field global. Where branches merge (add, mul, concat) the
centres and jumps of the inputs must agree; otherwise the merge is reported (a warning, or an
error with ``rf_merge=error``) and the union of the fields is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archcalc.errors import ShapeError
from archcalc.frozen import quick_init
from archcalc.ops.base import GLOBAL, MIX_LAST, PASS, UNKNOWN, Permute, RFRule, Window

Number = int | Fraction
Axis = tuple[Number, Number, Number]


@quick_init
@dataclass(frozen=True, slots=True)
class Field:
    #: one field per spatial axis: every per-sample axis but the channels', in order
    axes: tuple[Axis, ...]
    is_global: bool = False
    #: not known (downstream of an op archcalc does not model)
    is_unknown: bool = False
    #: the per-sample axis that holds the channels (0, unless a transpose moved them)
    channel: int = 0

    @property
    def size(self) -> tuple[Number, ...]:
        return tuple(a[0] for a in self.axes)

    @property
    def jump(self) -> tuple[Number, ...]:
        return tuple(a[1] for a in self.axes)

    @property
    def start(self) -> tuple[Fraction | int, ...]:
        return tuple(_half(a[2]) for a in self.axes)

    def to_dict(self) -> dict[str, object]:
        if self.is_unknown:
            return {"global": False, "unknown": True}
        if self.is_global:
            return {"global": True}
        out: dict[str, object] = {
            "global": False,
            "size": [_json_number(v) for v in self.size],
            "jump": [_json_number(v) for v in self.jump],
            "start": [_json_number(v) for v in self.start],
        }
        if self.channel:
            out["channel_axis"] = self.channel
        return out


def _half(value: Number) -> Fraction | int:
    if isinstance(value, int) and value % 2 == 0:
        return value // 2
    return Fraction(value) / 2


def _json_number(value: Number) -> int | str:
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return value


def _norm(value: Number) -> Number:
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


GLOBAL_FIELD = Field((), True)
UNKNOWN_FIELD = Field((), False, True)


def input_field(n_spatial: int) -> Field:
    return Field(((1, 1, 0),) * n_spatial)


def step(rule: RFRule, fields: tuple[Field, ...], merge_names: tuple[Any, ...] = ()) -> tuple[Field, str | None]:
    """The output field of a layer from its rule and its inputs' fields (and a merge warning)."""
    # a named rule is a str; a Window or Permute is never equal to one (testing that first spares
    # a dataclass __eq__ call per name on every window layer)
    named = isinstance(rule, str)
    if named and rule == GLOBAL:
        return GLOBAL_FIELD, None
    field = fields[0]
    if len(fields) == 1:
        if field.is_unknown or (named and rule == UNKNOWN):
            return UNKNOWN_FIELD, None
        if named and rule == PASS:
            return field, None
    else:
        if (named and rule == UNKNOWN) or any(f.is_unknown for f in fields):
            return UNKNOWN_FIELD, None
        if named and rule == PASS:
            return merge(fields, merge_names)
    if named and rule == MIX_LAST:
        # the channels on the last axis (a Linear after a channels-last permute): the field stays
        return (field, None) if field.is_global or field.channel == len(field.axes) else (GLOBAL_FIELD, None)
    if isinstance(rule, Permute):
        if field.is_global or len(field.axes) + 1 != len(rule.perm):
            return field, None
        # the channels have no field of their own: follow where their axis goes, permute the others
        old: list[Axis | None] = [*field.axes]
        old.insert(field.channel, None)
        channel = rule.perm.index(field.channel)
        moved = tuple(a for a in (old[p] for p in rule.perm) if a is not None)
        return Field(moved, channel=channel), None
    assert isinstance(rule, Window)
    if field.is_global:
        return field, None
    if field.channel != 0:  # a window over a permuted tensor: its axes are not the spatial ones
        return UNKNOWN_FIELD, None
    if len(field.axes) != len(rule.axes):
        return field, None
    axes: list[Axis] = []
    for (size, jump, start2), (k, s, offset2) in zip(field.axes, rule.axes, strict=True):
        if type(jump) is int and type(s) is int and type(offset2) is int and type(size) is int:
            axes.append((size + (k - 1) * abs(jump), jump * s, start2 + offset2 * jump))
        else:
            span: Number = -jump if jump < 0 else jump
            axes.append((_norm(size + (k - 1) * span), _norm(jump * s), _norm(start2 + offset2 * jump)))
    return Field(tuple(axes)), None


def merge(fields: tuple[Field, ...], names: tuple[Any, ...] = ()) -> tuple[Field, str | None]:
    """Union of the inputs' fields; a message when their centres or jumps disagree."""
    if any(f.is_global for f in fields):
        return GLOBAL_FIELD, None
    ranks = {len(f.axes) for f in fields}
    if len(ranks) > 1:
        return GLOBAL_FIELD, "inputs with different numbers of spatial axes merge: field taken as global"
    if len({f.channel for f in fields}) > 1:
        return GLOBAL_FIELD, "inputs with their channels on different axes merge: field taken as global"
    first = fields[0]
    if all(f == first for f in fields[1:]):
        return first, None
    problems = []
    # jumps and doubled centres compared as stored: ``start`` halves each (a Fraction where odd), and
    # halving is one-to-one, so only the message needs the halves (a concat of fields that differ in
    # size only, as in every dense block, makes none)
    first_jumps, first_starts2 = [a[1] for a in first.axes], [a[2] for a in first.axes]
    for i, f in enumerate(fields[1:], 1):
        if [a[1] for a in f.axes] != first_jumps:
            problems.append(f"jump {_fmt(f.jump)} of {_name(names, i)} vs {_fmt(first.jump)} of {_name(names, 0)}")
        elif [a[2] for a in f.axes] != first_starts2:
            problems.append(
                f"centre {_fmt(f.start)} of {_name(names, i)} vs {_fmt(first.start)} of {_name(names, 0)}"
            )
    axes = []
    for a in range(len(first.axes)):
        # in doubled coordinates a field spans [start2 - (size-1), start2 + (size-1)]
        lo = min(f.axes[a][2] - (f.axes[a][0] - 1) for f in fields)
        hi = max(f.axes[a][2] + (f.axes[a][0] - 1) for f in fields)
        jump = max(f.axes[a][1] for f in fields)
        axes.append((_half_of(hi - lo) + 1, jump, _half_of(lo + hi)))
    message = "receptive fields misaligned where branches merge: " + "; ".join(problems) if problems else None
    return Field(tuple(axes), channel=first.channel), message


def _half_of(value: Number) -> Number:
    if type(value) is int and value % 2 == 0:
        return value // 2
    return _norm(Fraction(value) / 2)


def _name(names: tuple[Any, ...], i: int) -> str:
    if i >= len(names):
        return f"input {i}"
    name = names[i]
    return f"'{name[0]}'" if isinstance(name, tuple) else f"'{name}'"


def _fmt(values: tuple[Number, ...]) -> str:
    return "x".join(str(v) for v in values)


def check_merge(message: str | None, mode: str) -> str | None:
    if message is not None and mode == "error":
        raise ShapeError(message)
    return message


def format_field(field: Field) -> str:
    """``5 j1 s2.5`` per axis (joined by x when axes differ), ``global`` or ``unknown``."""
    if field.is_unknown:
        return "unknown"
    if field.is_global:
        return "global"
    if not field.axes:
        return "-"
    parts = tuple([format_number(v) for v in values] for values in (field.size, field.jump, field.start))
    return " ".join(
        prefix + (p[0] if len(set(p)) == 1 else "x".join(p)) for prefix, p in zip(("", "j", "s"), parts, strict=True)
    )


def format_number(value: Number) -> str:
    """An exact receptive-field number as the report writes it: 3, 2.5, 1/3."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        if value.denominator == 2:
            return f"{float(value):g}"
        return f"{value.numerator}/{value.denominator}"
    return str(value)
