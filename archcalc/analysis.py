"""One pass over the graph in execution order: shapes, counts under the conventions, receptive
fields; then memory from liveness. Pure: the graph and the conventions in, a Report out."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.conventions import OPTIMIZER_STATE, Conventions, resolve
from archcalc.counting import count_layer, shared_cost, unit_output_flags
from archcalc.errors import ArchcalcError, ShapeError
from archcalc.ir import Graph, TensorRef, format_ref
from archcalc.ops import REGISTRY
from archcalc.ops._formulas import InputDropped
from archcalc.ops._window import format_shape
from archcalc.ops.base import PASS, Applied
from archcalc.receptive import Field, check_merge, input_field, step
from archcalc.report import LayerRecord, Report, Totals


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
    # The cyclic collector paused (as the importer does): the analysis makes a few small acyclic
    # objects per layer, and each collection on the way would walk the whole graph again (on a
    # 50k-node chain that made the time per node grow by half).
    was = gc.isenabled()
    gc.disable()
    try:
        return _analyze(graph, conventions, preset, overrides, strict)
    finally:
        if was:
            gc.enable()


def _analyze(graph: Graph, conventions: Conventions | None, preset: str | None,
             overrides: Mapping[str, Any] | None, strict: bool) -> Report:
    conv = conventions if conventions is not None else conventions_for(graph, preset, overrides)
    if conventions is not None and overrides:
        conv = resolve(conv, overrides)
    batch = conv.batch
    dtype_bytes = conv.dtype_bytes

    # Per layer, keyed by its name (not by (name, index): no key tuple is made per output), and in
    # layer order as lists for the later passes: on a graph too large for the CPU caches each lookup
    # in a big dict is a cache miss, while a list walked in order is read sequentially.
    outs_of: dict[str, tuple[tuple[int, ...], ...]] = {}
    fields_of: dict[str, tuple[Field, ...]] = {}
    results: list[Applied] = []
    n_ins: list[int] = []  # elements of each layer's first input (per sample)
    warnings: list[str] = list(graph.meta.get("warnings", ()))
    report_notes: list[str] = list(graph.meta.get("notes", ()))
    merge_notes: dict[str, str] = {}
    # what the importer's ``apply`` made of a layer, reused when it is that very layer on the same
    # input shapes (a graph rebuilt with other layers, as sweeps do, applies them afresh)
    imported: Mapping[str, tuple[Any, tuple[tuple[int, ...], ...], Applied]] = graph.meta.get("applied") or {}
    #: tensor -> how many layer inputs read it, counted on this pass (liveness and the outputs need it:
    #: on a graph too large for the caches, every pass over the layers costs per layer)
    readers: dict[TensorRef, int] = {}

    # the importer's entries are in layer order (inputs aside): taken in step, without a lookup by name;
    # any other order falls back to the lookup
    pending = iter(imported.values())
    next_hit = next(pending, None)
    for layer in graph.layers.values():
        refs = layer.inputs
        for ref in refs:
            readers[ref] = readers.get(ref, 0) + 1
        if len(refs) == 1:
            ref = refs[0]
            ins: tuple[tuple[int, ...], ...] = (outs_of[ref[0]][ref[1]],)
        else:
            ins = tuple([outs_of[ref[0]][ref[1]] for ref in refs])
        try:
            hit: tuple[Any, tuple[tuple[int, ...], ...], Applied] | None
            if next_hit is not None and next_hit[0] is layer:
                hit = next_hit
                next_hit = next(pending, None)
            else:
                hit = imported.get(layer.name)
            if hit is not None and hit[0] is layer and hit[1] == ins:
                result = hit[2]
            else:
                result = apply_layer(layer.kind, layer.attrs, ins)
            if layer.kind == "input":
                out_fields: tuple[Field, ...] = (input_field(len(result.outs[0]) - 1),)
                message = None
            else:
                in_fields: tuple[Field, ...]
                if len(refs) == 1:
                    in_fields = (fields_of[refs[0][0]][refs[0][1]],)
                else:
                    in_fields = tuple([fields_of[ref[0]][ref[1]] for ref in refs])
                rule = result.rf
                if len(in_fields) == 1 and rule.__class__ is str and rule == PASS and not in_fields[0].is_unknown:
                    field, message = in_fields[0], None  # step's answer for one input passed through
                else:
                    field, message = step(rule, in_fields, layer.inputs)
                if message is not None:
                    check_merge(message, conv.rf_merge)
                if result.out_rfs is None:
                    out_fields = (field,) if len(result.outs) == 1 else (field,) * len(result.outs)
                else:
                    out_fields = tuple(step(rule, in_fields, layer.inputs)[0] for rule in result.out_rfs)
            if strict and result.notes:
                dropped = [n for n in result.notes if isinstance(n, InputDropped)]
                if dropped:
                    raise ShapeError(f"{dropped[0]} (--strict)")
        except ArchcalcError as exc:
            if isinstance(exc, ShapeError) and layer.inputs and exc.layer is None:
                given = ", ".join(f"{format_ref(r, graph.n_outputs.get(r[0], 1))} {format_shape(outs_of[r[0]][r[1]])}"
                                  for r in layer.inputs)
                exc.message += f" [input: {given}]"
            raise exc.located(**layer.locate()) from None
        if message:
            merge_notes[layer.name] = message
        outs = result.outs
        for out in outs:
            if out and min(out) < 1:
                _check_shape(out, layer)
        outs_of[layer.name] = outs
        fields_of[layer.name] = out_fields
        results.append(result)
        n_ins.append(prod(ins[0]) if refs else 0)

    unit_output = unit_output_flags(graph, conv)
    live = _liveness(graph, outs_of, conv, readers)
    records = []
    t_units = t_weights = t_biases = t_params = t_fixed = t_buffers = t_connections = 0
    t_macs = t_flops = t_param_bytes = t_activation_bytes = 0
    trainable = 0
    stored_elements = 0
    breakdown: dict[str, int] = {}
    left_out: dict[str, int] = {}
    n_outputs = graph.n_outputs
    for layer, result, n_in, is_unit_output, live_bytes in zip(graph.layers.values(), results, n_ins, unit_output,
                                                               live, strict=True):
        name = layer.name
        op = REGISTRY[layer.kind]
        family = op.family
        cost = shared_cost(layer.attrs, result.cost) if "shared_params" in layer.attrs else result.cost
        outs = result.outs
        counted = count_layer(layer.kind, layer.attrs, cost, outs, n_in, is_unit_output, conv)
        for item in counted.cheap:  # (category, own, flops, status)
            if item.status == "counted":
                breakdown[item.category] = breakdown.get(item.category, 0) + item.flops * batch
            elif item.status == "not_counted":
                left_out[item.category] = left_out.get(item.category, 0) + item.own * batch
        elements, units, params = counted.elements, counted.units, counted.params
        weights, biases = cost.weights, cost.biases
        connections, flops = counted.connections, counted.flops
        macs = counted.macs * batch
        param_bytes, activation_bytes = counted.param_bytes, counted.activation_bytes
        notes = result.notes
        if name in merge_notes:
            notes = (*notes, merge_notes[name])
        if notes:
            warnings.extend(f"{name}: {n}" for n in notes if not isinstance(n, InputDropped))
            report_notes.extend(f"{name}: {n}" for n in notes if isinstance(n, InputDropped))
        if not op.view:  # a view (flatten, identity, dropout) stores nothing
            stored_elements += elements
        trainable += params
        refs = layer.inputs
        if len(refs) == 1 and refs[0][1] == 0 and n_outputs.get(refs[0][0], 1) == 1:
            shown: tuple[str, ...] = (refs[0][0],)  # format_ref's name for one input of a one-output layer
        else:
            shown = tuple([format_ref(r, n_outputs.get(r[0], 1)) for r in refs])
        records.append(LayerRecord(
            name, layer.kind, family, shown,
            outs, units, weights, biases, params, cost.fixed, cost.buffers, connections, macs, flops,
            param_bytes, activation_bytes, live_bytes, fields_of[name][0], layer.origin.file, layer.origin.line,
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

    peak = max(live) if live else 0
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
    consumed = {ref[0] for ref in readers}
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
        graph=graph,
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


def _liveness(graph: Graph, outs_of: Mapping[str, tuple[tuple[int, ...], ...]], conv: Conventions,
              remaining: Mapping[TensorRef, int]) -> list[int]:
    """Activation bytes alive while each layer runs (in layer order): its inputs, its outputs and
    everything still needed later (``remaining``: how many layer inputs read each tensor; ``outs_of``:
    each layer's per-sample output shapes). A tensor's buffer is freed after its last consumer; views
    share buffers."""
    scale = conv.batch * conv.dtype_bytes
    inplace = conv.inplace
    n_outputs = graph.n_outputs
    buffer_of: dict[TensorRef, int] = {}
    # buffer id -> its bytes and how many reads it still has: ids are 0, 1, 2... in order, so lists
    buffer_bytes: list[int] = []
    buffer_users: list[int] = []
    live_total = 0
    out: list[int] = []
    for layer in graph.layers.values():
        name = layer.name
        inputs = layer.inputs
        reuse = None
        op = REGISTRY[layer.kind]
        if inputs and (op.view or (inplace and op.inplace and buffer_users[buffer_of[inputs[0]]] == 1)):
            reuse = buffer_of[inputs[0]]
        for index in range(n_outputs.get(name, 1)):
            ref = (name, index)
            users = remaining.get(ref, 0) or 1  # a network output is kept to the end
            if reuse is not None:
                buffer_of[ref] = reuse
                buffer_users[reuse] += users
            else:
                size = prod(outs_of[name][index]) * scale
                buffer_of[ref] = len(buffer_bytes)
                buffer_bytes.append(size)
                buffer_users.append(users)
                live_total += size
        out.append(live_total)
        for ref in inputs:
            buf = buffer_of[ref]
            left = buffer_users[buf] - 1
            buffer_users[buf] = left
            if left == 0:
                live_total -= buffer_bytes[buf]
    return out
