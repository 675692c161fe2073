"""One layer's op cost under the conventions: the step after ``apply``, shared by the analysis
(which sums it into a report) and by ``archcalc explain`` (which shows each term), so that an
explanation and the report cannot disagree.

Every term a convention adds or drops is kept separately (``Counted``): ``params`` is
``weights + counted biases + counted affine``; ``connections`` is the op's edges (none for pooling
under ``pooling_connections: none``) plus one per biased unit under ``bias_is_connection``;
``macs`` adds bias and affine MACs under ``bias_macs``/``affine_macs``; ``flops`` is
``(flops_per_mac x macs + counted cheap ops) x batch``. Pure integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from math import prod
from typing import TYPE_CHECKING, Any, NamedTuple

from archcalc.conventions import Conventions
from archcalc.ops import REGISTRY
from archcalc.ops.base import Cost
from archcalc.tool_costs import cheap_value

if TYPE_CHECKING:
    from archcalc.ir import Graph


class Cheap(NamedTuple):
    """One cheap op of a layer: the op's own FLOPs, what the conventions count, and why."""

    category: str
    own: int
    #: FLOPs counted per sample (0 when left out)
    flops: int
    #: counted, left out ("not in cheap_ops"), or folded into MACs ("bias_macs")
    status: str


class Counted(NamedTuple):
    """The figures of one layer and every term that made them (per sample unless named).
    Immutable; a NamedTuple because the analysis makes one per layer of every sweep variant."""

    cost: Cost
    elements: int
    units: int
    #: why ``units`` is what it is (family counted, input, network output)
    units_rule: str
    params: int
    counted_biases: int
    counted_affine: int
    op_connections: int
    bias_connections: int
    connections: int
    bias_macs: int
    affine_macs: int
    #: per sample
    macs: int
    cheap: tuple[Cheap, ...]
    batch: int
    flops_per_mac: int
    #: x batch
    flops: int
    dtype_bytes: int
    param_bytes: int
    activation_bytes: int

    @property
    def cheap_flops(self) -> int:
        return sum(c.flops for c in self.cheap)


def shared_cost(attrs: Mapping[str, Any], cost: Cost) -> Cost:
    """The cost without the parameters of an initializer an earlier layer already counted."""
    shared = attrs.get("shared_params")
    if not shared:
        return cost
    zeroed: dict[str, Any] = dict.fromkeys(shared, 0)
    return replace(cost, **zeroed)


def count_layer(kind: str, attrs: Mapping[str, Any], cost: Cost, outs: tuple[tuple[int, ...], ...],
                n_in: int, is_output: bool, conv: Conventions) -> Counted:
    """The figures of one layer of ``kind`` with op cost ``cost`` (after :func:`shared_cost`),
    output shapes ``outs``, ``n_in`` elements in its first input; ``is_output``: no unit-counting
    layer comes after it."""
    family = REGISTRY[kind].family
    elements = prod(outs[0]) if len(outs) == 1 else sum(prod(s) for s in outs)
    if family == "input":
        units, rule = (elements, "input") if conv.units_include_input else (0, "input_excluded")
    elif family not in conv.unit_families:
        units, rule = 0, "family_excluded"
    elif is_output and not conv.units_include_output:
        units, rule = 0, "output_excluded"
    else:
        units, rule = elements, "family"
    weights, biases, affine = cost.weights, cost.biases, cost.affine
    counted_biases = biases if conv.biases_as_params else 0
    counted_affine = affine if conv.bn_affine_params else 0
    op_connections = 0 if conv.pooling_connections == "none" and family == "pool" else cost.connections
    bias_connections = cost.bias_units if conv.bias_is_connection else 0
    bias_macs = 0
    if conv.bias_macs != "none":
        bias_macs = biases if conv.bias_macs == "per_param" else cost.bias_units
    affine_macs = affine if conv.affine_macs == "per_param" else 0
    macs = cost.macs + bias_macs + affine_macs
    cheap: list[Cheap] = []
    cheap_flops = 0
    if cost.cheap:
        kind_counted = kind in conv.cheap_ops
        for category, value in cost.cheap:
            if category == "bias" and conv.bias_macs != "none":
                cheap.append(Cheap(category, value, 0, "bias_macs"))
            elif kind_counted or category in conv.cheap_ops:
                counted = cheap_value(category, value, kind, attrs, n_in, elements, conv.activation_flops,
                                      conv.pool_flops, conv.bn_flops)
                cheap.append(Cheap(category, value, counted, "counted"))
                cheap_flops += counted
            else:
                cheap.append(Cheap(category, value, 0, "not_counted"))
    batch, dtype_bytes = conv.batch, conv.dtype_bytes
    return Counted(  # positional, in field order (the fast way to make a NamedTuple)
        cost, elements, units, rule, weights + counted_biases + counted_affine, counted_biases, counted_affine,
        op_connections, bias_connections, op_connections + bias_connections, bias_macs, affine_macs, macs,
        tuple(cheap), batch, conv.flops_per_mac, (conv.flops_per_mac * macs + cheap_flops) * batch, dtype_bytes,
        (weights + biases + affine + cost.fixed + cost.buffers) * dtype_bytes, elements * batch * dtype_bytes,
    )


def unit_outputs(graph: Graph, conv: Conventions) -> dict[str, bool]:
    """Unit-counting layers with no unit-counting layer after them (the network's output units)."""
    return dict(zip(graph.layers, unit_output_flags(graph, conv), strict=True))


def unit_output_flags(graph: Graph, conv: Conventions) -> list[bool]:
    """``unit_outputs`` as a list in layer order (for a pass that walks the layers in order)."""
    families = conv.unit_families
    # One walk backwards over the execution order: a layer's readers all come after it, so when a
    # layer is reached, whether a unit-counting layer follows it (``later``) is already known; it
    # then tells its producers. No reader lists are built (on a large graph, a second pass and one
    # list per layer cost more than the walk itself).
    later: dict[str, bool] = {}
    flags: list[bool] = []
    for layer in reversed(list(graph.layers.values())):
        follows = layer.name in later
        flags.append(not follows)
        if follows or REGISTRY[layer.kind].family in families:
            for ref in layer.inputs:
                later[ref[0]] = True
    flags.reverse()
    return flags
