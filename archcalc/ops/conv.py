"""Convolution (dense, grouped, depthwise, explicit connection table) and locally connected layers.

Per sample, with P output positions, T kernel taps and M (output map, input map) pairs:
weights = M*T (conv) or P*M*T (locally connected, unshared); connections = MACs = P*M*T;
biases = C_out (per_map) or C_out*P (per_unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from archcalc.connectivity import BUILTIN_TABLES, Connectivity, Table
from archcalc.errors import ShapeError, SpecError, suggest
from archcalc.ops._window import ROUNDING, geometry, spatial_of
from archcalc.ops.base import (
    Applied,
    Attr,
    Cost,
    Op,
    boolean,
    choice,
    padding,
    pos_int,
    pos_ints,
)

BIAS = ("none", "per_map", "per_unit")


def connection_table(value: Any, key: str) -> Table:
    """A list (one row per output map) of the input maps each output map reads, or a name."""
    if isinstance(value, str):
        if value in BUILTIN_TABLES:
            return BUILTIN_TABLES[value]
        raise SpecError(
            f"unknown connection table '{value}'{suggest(value, BUILTIN_TABLES)}; define it under "
            f"'tables:' or use one of: {', '.join(BUILTIN_TABLES)}"
        )
    if not isinstance(value, list) or not value:
        raise SpecError(f"{key} must be a list of rows (input maps per output map) or a table name")
    rows: list[tuple[int, ...]] = []
    for i, row in enumerate(value):
        if (
            not isinstance(row, list)
            or not row
            or not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in row)
        ):
            raise SpecError(f"{key} row {i} must be a non-empty list of map indices, got {row!r}")
        if len(set(row)) != len(row):
            raise SpecError(f"{key} row {i} names a map twice: {row!r}")
        rows.append(tuple(row))
    return tuple(rows)


def connectivity_of(attrs: Mapping[str, Any], c_in: int) -> Connectivity:
    if attrs.get("connections") is not None:
        return Connectivity(table=attrs["connections"])
    if attrs.get("depthwise"):
        return Connectivity(groups=c_in)
    return Connectivity(groups=attrs.get("groups") or 1)


def out_channels(attrs: Mapping[str, Any], c_in: int) -> int:
    if attrs.get("filters") is not None:
        return int(attrs["filters"])
    if attrs.get("connections") is not None:
        return len(attrs["connections"])
    if attrs.get("depthwise"):
        return c_in
    raise ShapeError("filters is required")  # normalize() prevents this


def bias_counts(mode: str, c_out: int, positions: int) -> tuple[int, int]:
    """(bias parameters, units that have a bias)."""
    if mode == "none":
        return 0, 0
    units = c_out * positions
    return (c_out if mode == "per_map" else units), units


_COMMON: dict[str, Attr] = {
    "filters": Attr(pos_int, doc="number of output maps"),
    "kernel": Attr(pos_ints, required=True, doc="kernel size, an int or one per axis"),
    "stride": Attr(pos_ints, default=1),
    "padding": Attr(padding, default=0),
    "dilation": Attr(pos_ints, default=1),
    "rounding": Attr(choice(*ROUNDING), default="exact"),
}


class Conv(Op):
    kind = "conv"
    family = "conv"
    aliases: ClassVar[tuple[str, ...]] = ("convolution", "conv1d", "conv2d", "conv3d")
    schema = {
        **_COMMON,
        "groups": Attr(pos_int, default=1),
        "depthwise": Attr(boolean, default=False, doc="one group per input map"),
        "connections": Attr(connection_table, doc="explicit connection table or its name"),
        "bias": Attr(choice(*BIAS), default="per_map"),
    }
    doc = "convolution with shared weights"

    def check(self, attrs: dict[str, Any]) -> None:
        ways = [attrs["groups"] != 1, attrs["depthwise"], attrs["connections"] is not None]
        if sum(ways) > 1:
            raise SpecError("give only one of groups, depthwise and connections")
        if attrs["filters"] is None and attrs["connections"] is None and not attrs["depthwise"]:
            raise SpecError(f"layer type {self.kind} needs 'filters' (number of output maps)")
        if (
            attrs["connections"] is not None
            and attrs["filters"] is not None
            and attrs["filters"] != len(attrs["connections"])
        ):
            raise SpecError(
                f"filters is {attrs['filters']} but the connection table has {len(attrs['connections'])} rows"
            )

    def _weights(self, pairs: int, taps: int, positions: int) -> int:
        return pairs * taps

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        spatial = spatial_of(shape, self.kind)
        c_in = shape[0]
        c_out = out_channels(attrs, c_in)
        conn = connectivity_of(attrs, c_in)
        conn.check(c_in, c_out)
        geo = geometry(attrs, spatial)
        pairs = conn.pairs(c_in, c_out)
        positions = geo.positions
        edges = positions * pairs * geo.taps
        biases, bias_units = bias_counts(attrs["bias"], c_out, positions)
        cost = Cost.weighted(self._weights(pairs, geo.taps, positions), edges, biases, bias_units)
        return Applied(outs=((c_out, *geo.out),), cost=cost, rf=geo.rf())


class LocallyConnected(Conv):
    kind = "locally_connected"
    family = "conv"
    aliases: ClassVar[tuple[str, ...]] = ("local", "locally_connected2d")
    schema = {**Conv.schema, "bias": Attr(choice(*BIAS), default="per_unit")}
    doc = "convolution geometry without weight sharing (one kernel per output position)"

    def _weights(self, pairs: int, taps: int, positions: int) -> int:
        return positions * pairs * taps
