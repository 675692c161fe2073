"""One pass over the graph in execution order: shapes, counts under the conventions, receptive
fields; then memory from liveness. Pure: the graph and the conventions in, a Report out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from math import prod
from typing import Any

from archcalc.conventions import OPTIMIZER_STATE, Conventions, resolve
from archcalc.errors import ArchcalcError, ShapeError
from archcalc.ir import Graph, TensorRef, format_ref
from archcalc.ops import REGISTRY
from archcalc.ops._formulas import InputDropped
from archcalc.ops._window import format_shape
from archcalc.ops.base import Applied
from archcalc.receptive import Field, check_merge, input_field, step
from archcalc.report import LayerRecord, Report, Totals
from archcalc.tool_costs import cheap_value


def conventions_for(
    graph: Graph | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Conventions:
    """Defaults < the spec's ``conventions:`` < an explicit preset < overrides."""
    spec_conventions = graph.conventions if graph is not None else None
    base = resolve(preset) if preset is not None else resolve(None, spec_conventions)
    return resolve(base, overrides)


def analyze(
    graph: Graph,
    conventions: Conventions | None = None,
    *,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    strict: bool = False,
) -> Report:
    """Exact per-layer and total counts of ``graph`` under ``conventions``.

    ``conventions`` wins when given; otherwise the spec's own conventions, replaced by
    ``preset`` when given, then ``overrides`` (``{"batch": 8}``) on top. A window that floors
    past real input pixels is a note in the report; ``strict`` makes it an error (as
    ``rounding: exact`` does for one layer).
    """
    conv = conventions if conventions is not None else conventions_for(graph, preset, overrides)
    if conventions is not None and overrides:
        conv = resolve(conv, overrides)
    batch = conv.batch
    dtype_bytes = conv.dtype_bytes

    shapes: dict[TensorRef, tuple[int, ...]] = {}
    fields_: dict[TensorRef, Field] = {}
    applied: dict[str, Applied] = {}
    warnings: list[str] = list(graph.meta.get("warnings", ()))
    report_notes: list[str] = list(graph.meta.get("notes", ()))
    merge_notes: dict[str, str] = {}

    for layer in graph.layers.values():
        ins = tuple(shapes[ref] for ref in layer.inputs)
        try:
            result = apply_layer(layer.kind, layer.attrs, ins)
            if layer.kind == "input":
                out_fields: tuple[Field, ...] = (input_field(len(result.outs[0]) - 1),)
                message = None
            else:
                in_fields = tuple(fields_[ref] for ref in layer.inputs)
                field, message = step(result.rf, in_fields, layer.inputs)
                if message is not None:
                    check_merge(message, conv.rf_merge)
                if result.out_rfs is None:
                    out_fields = (field,) if len(result.outs) == 1 else (field,) * len(result.outs)
                else:
                    out_fields = tuple(step(rule, in_fields, layer.inputs)[0] for rule in result.out_rfs)
            dropped = [n for n in result.notes if isinstance(n, InputDropped)]
            if strict and dropped:
                raise ShapeError(f"{dropped[0]} (--strict)")
        except ArchcalcError as exc:
            if isinstance(exc, ShapeError) and layer.inputs and exc.layer is None:
                given = ", ".join(f"{format_ref(r, graph.n_outputs.get(r[0], 1))} {format_shape(shapes[r])}"
                                  for r in layer.inputs)
                exc.message += f" [input: {given}]"
            raise exc.located(**layer.locate()) from None
        if message:
            merge_notes[layer.name] = message
        for index, out in enumerate(result.outs):
            _check_shape(out, layer)
            shapes[(layer.name, index)] = out
            fields_[(layer.name, index)] = out_fields[index]
        applied[layer.name] = result

    unit_output = _unit_outputs(graph, conv)
    live = _liveness(graph, shapes, conv)
    records = []
    t_units = t_weights = t_biases = t_params = t_fixed = t_buffers = t_connections = 0
    t_macs = t_flops = t_param_bytes = t_activation_bytes = 0
    trainable = 0
    stored_elements = 0
    breakdown: dict[str, int] = {}
    left_out: dict[str, int] = {}
    unit_families = conv.unit_families
    include_input, include_output = conv.units_include_input, conv.units_include_output
    biases_as_params, affine_as_params = conv.biases_as_params, conv.bn_affine_params
    no_pool_connections = conv.pooling_connections == "none"
    bias_is_connection = conv.bias_is_connection
    bias_macs, affine_macs = conv.bias_macs, conv.affine_macs
    cheap_ops, flops_per_mac = conv.cheap_ops, conv.flops_per_mac
    n_outputs = graph.n_outputs
    for layer in graph.layers.values():
        name = layer.name
        family = REGISTRY[layer.kind].family
        result = applied[name]
        cost = result.cost
        shared = layer.attrs.get("shared_params")
        if shared:  # parameters of an initializer an earlier layer already counted
            zeroed: dict[str, Any] = dict.fromkeys(shared, 0)
            cost = replace(cost, **zeroed)
        outs = result.outs
        elements = prod(outs[0]) if len(outs) == 1 else sum(prod(s) for s in outs)
        if family == "input":
            units = elements if include_input else 0
        elif family in unit_families and (include_output or not unit_output[name]):
            units = elements
        else:
            units = 0
        weights, biases, affine = cost.weights, cost.biases, cost.affine
        params = weights + (biases if biases_as_params else 0) + (affine if affine_as_params else 0)
        connections = 0 if no_pool_connections and family == "pool" else cost.connections
        if bias_is_connection:
            connections += cost.bias_units
        macs = cost.macs
        if bias_macs != "none":
            macs += biases if bias_macs == "per_param" else cost.bias_units
        if affine_macs == "per_param":
            macs += affine
        cheap = 0
        if cost.cheap:
            kind_counted = layer.kind in cheap_ops
            n_in = prod(shapes[layer.inputs[0]]) if layer.inputs else 0
            for category, value in cost.cheap:
                if category == "bias" and bias_macs != "none":
                    continue  # already counted as MACs
                if kind_counted or category in cheap_ops:
                    value = cheap_value(category, value, layer.kind, layer.attrs, n_in, elements,
                                        conv.activation_flops, conv.pool_flops, conv.bn_flops)
                    cheap += value
                    breakdown[category] = breakdown.get(category, 0) + value * batch
                else:
                    left_out[category] = left_out.get(category, 0) + value * batch
        flops = (flops_per_mac * macs + cheap) * batch
        macs *= batch
        param_bytes = (weights + biases + affine + cost.fixed + cost.buffers) * dtype_bytes
        activation_bytes = elements * batch * dtype_bytes
        notes = result.notes
        if name in merge_notes:
            notes = (*notes, merge_notes[name])
        warnings.extend(f"{name}: {n}" for n in notes if not isinstance(n, InputDropped))
        report_notes.extend(f"{name}: {n}" for n in notes if isinstance(n, InputDropped))
        if not REGISTRY[layer.kind].view:  # a view (flatten, identity, dropout) stores nothing
            stored_elements += elements
        trainable += params
        refs = layer.inputs
        records.append(LayerRecord(
            name, layer.kind, family,
            tuple(format_ref(r, n_outputs.get(r[0], 1)) for r in refs),
            outs, units, weights, biases, params, cost.fixed, cost.buffers, connections, macs, flops,
            param_bytes, activation_bytes, live[name], fields_[(name, 0)], layer.origin.file, layer.origin.line,
            notes,
        ))
        t_units += units
        t_weights += weights
        t_biases += biases
        t_params += params
        t_fixed += cost.fixed
        t_buffers += cost.buffers
        t_connections += connections
        t_macs += macs
        t_flops += flops
        t_param_bytes += param_bytes
        t_activation_bytes += activation_bytes

    peak = max(live.values()) if live else 0
    stored_activation_bytes = stored_elements * batch * dtype_bytes
    gradient_bytes = trainable * dtype_bytes
    optimizer_bytes = OPTIMIZER_STATE[conv.optimizer] * trainable * dtype_bytes
    totals = Totals(
        units=t_units,
        weights=t_weights,
        biases=t_biases,
        params=t_params,
        fixed_params=t_fixed,
        buffers=t_buffers,
        connections=t_connections,
        macs=t_macs,
        flops=t_flops,
        training_flops=3 * t_flops,
        param_bytes=t_param_bytes,
        activation_bytes=t_activation_bytes,
        peak_activation_bytes=peak,
        inference_bytes=t_param_bytes + peak,
        stored_activation_bytes=stored_activation_bytes,
        gradient_bytes=gradient_bytes,
        optimizer_bytes=optimizer_bytes,
        training_bytes=t_param_bytes + stored_activation_bytes + gradient_bytes + optimizer_bytes,
    )
    flops_breakdown = {f"{conv.flops_per_mac} x MACs": conv.flops_per_mac * t_macs}
    flops_breakdown.update(sorted(breakdown.items()))
    consumed = {ref[0] for layer in graph.layers.values() for ref in layer.inputs}
    outputs = tuple(n for n in graph.layers if n not in consumed)
    return Report(
        name=graph.name,
        conventions=conv,
        layers=tuple(records),
        totals=totals,
        outputs=outputs,
        warnings=tuple(warnings),
        flops_breakdown=flops_breakdown,
        notes=tuple(report_notes),
        uncounted=tuple(graph.meta.get("uncounted", ())),
        flops_not_counted=dict(sorted(left_out.items())),
        source=graph.source,
        file=graph.file,
    )


def apply_layer(kind: str, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
    """What a layer of ``kind`` makes of the per-sample input shapes ``ins``: the registered op's
    ``apply``. The one code path for shapes: :func:`analyze` and spec expansion (``${in.channels}``,
    :mod:`archcalc.language.shapes`) both call it."""
    return REGISTRY[kind].apply(attrs, ins)


def output_shapes(kind: str, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    """The per-sample output shapes of :func:`apply_layer`, each checked to be positive."""
    outs = apply_layer(kind, attrs, ins).outs
    for out in outs:
        if any(size < 1 for size in out):
            raise ShapeError(f"output shape {list(out)} has a non-positive size")
    return outs


def _check_shape(shape: tuple[int, ...], layer: Any) -> None:
    for size in shape:
        if size < 1:
            raise ShapeError(f"output shape {list(shape)} has a non-positive size", **layer.locate())


def _unit_outputs(graph: Graph, conv: Conventions) -> dict[str, bool]:
    """Unit-counting layers with no unit-counting layer after them (the network's output units)."""
    families = conv.unit_families
    below: dict[str, bool] = {}
    users: dict[str, list[str]] = {}
    for layer in graph.layers.values():
        for ref in layer.inputs:
            users.setdefault(ref[0], []).append(layer.name)
    out: dict[str, bool] = {}
    for name in reversed(graph.order):
        later = False
        for user in users.get(name, ()):
            if REGISTRY[graph.layers[user].kind].family in families or below[user]:
                later = True
                break
        below[name] = later
        out[name] = not later
    return out


def _liveness(graph: Graph, shapes: Mapping[TensorRef, tuple[int, ...]], conv: Conventions) -> dict[str, int]:
    """Activation bytes alive while each layer runs: its inputs, its outputs and everything still
    needed later. A tensor's buffer is freed after its last consumer; views share buffers."""
    scale = conv.batch * conv.dtype_bytes
    remaining: dict[TensorRef, int] = {}
    for layer in graph.layers.values():
        for ref in layer.inputs:
            remaining[ref] = remaining.get(ref, 0) + 1
    buffer_of: dict[TensorRef, int] = {}
    buffer_bytes: dict[int, int] = {}
    buffer_users: dict[int, int] = {}
    live_total = 0
    out: dict[str, int] = {}
    next_id = 0
    for layer in graph.layers.values():
        n_out = graph.n_outputs.get(layer.name, 1)
        reuse = None
        op = REGISTRY[layer.kind]
        if layer.inputs and (
            op.view or (conv.inplace and op.inplace and buffer_users[buffer_of[layer.inputs[0]]] == 1)
        ):
            reuse = buffer_of[layer.inputs[0]]
        for index in range(n_out):
            ref = (layer.name, index)
            users = remaining.get(ref, 0) or 1  # a network output is kept to the end
            if reuse is not None:
                buffer_of[ref] = reuse
                buffer_users[reuse] += users
            else:
                size = prod(shapes[ref]) * scale
                buffer_of[ref] = next_id
                buffer_bytes[next_id] = size
                buffer_users[next_id] = users
                live_total += size
                next_id += 1
        out[layer.name] = live_total
        for ref in layer.inputs:
            buf = buffer_of[ref]
            buffer_users[buf] -= 1
            if buffer_users[buf] == 0:
                live_total -= buffer_bytes[buf]
    return out
