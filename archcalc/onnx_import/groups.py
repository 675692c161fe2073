"""Restore layers the exporter wrote as several nodes (or with tied/masked weights).

archcalc's exporter records, in the model metadata (``archcalc.layers``), each layer that has no
one-node ONNX form: its kind, attributes, input and output tensors and the nodes that stand for
it. Import checks that the record still matches the graph (every node present, produces and reads
what the record says, no intermediate tensor used outside the group) and then builds the original
layer in place of those nodes. A record that does not match is ignored, with a note: the nodes
are then imported one by one, as for any other model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archcalc.onnx_import.patterns import find_patterns
from archcalc.ops._onnx import Act, Const, LayerSpec

GROUPS_KEY = "archcalc.layers"


@dataclass(frozen=True)
class Group:
    layer: str
    kind: str
    attrs: dict[str, Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: frozenset[str]
    #: role -> the constants holding the layer's parameters (claimed as a one-node layer's are, so
    #: an initializer shared with another layer is counted once)
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def read_groups(model: Any) -> tuple[dict[str, Group], list[str]]:
    """node name -> its group, for every valid record and every recognised multi-node form
    (``patterns.py``); and notes about records ignored and forms recognised."""
    out, notes = _metadata_groups(model)
    records, pattern_notes = find_patterns(model, set(out))
    for record in records:
        layer, kind, attrs, inputs, outputs, names = record[:6]
        params = record[6] if len(record) > 6 else {}
        g = Group(layer, kind, attrs, inputs, outputs, names, {k: tuple(v) for k, v in params.items()})
        for name in names:
            out[name] = g
    return out, notes + pattern_notes


def _metadata_groups(model: Any) -> tuple[dict[str, Group], list[str]]:
    raw = next((p.value for p in model.metadata_props if p.key == GROUPS_KEY), None)
    if raw is None:
        return {}, []
    try:
        data = json.loads(raw)
        records = data["groups"]
        groups = [Group(r["layer"], r["kind"], dict(r["attrs"]), tuple(r["inputs"]), tuple(r["outputs"]),
                        frozenset(r["nodes"])) for r in records]
    except (ValueError, KeyError, TypeError):
        return {}, [f"metadata {GROUPS_KEY} is malformed: ignored"]
    nodes = {n.name: n for n in model.graph.node if n.name}
    users: dict[str, set[str]] = {}
    for n in model.graph.node:
        for t in n.input:
            users.setdefault(t, set()).add(n.name)
    graph_outputs = {o.name for o in model.graph.output}
    out: dict[str, Group] = {}
    notes = []
    for g in groups:
        problem = _check(g, nodes, users, graph_outputs)
        if problem:
            notes.append(f"metadata record of layer {g.layer} ignored: {problem}")
            continue
        for name in g.nodes:
            out[name] = g
    if out:
        notes.append(f"restored {len({g.layer for g in out.values()})} layers from archcalc export metadata "
                     f"(layers written as several nodes or with tied/masked weights)")
    return out, notes


def _check(g: Group, nodes: dict[str, Any], users: dict[str, set[str]], graph_outputs: set[str]) -> str | None:
    from archcalc.ops import INTERNAL, REGISTRY

    if g.kind not in REGISTRY or g.kind in INTERNAL:
        return f"unknown kind {g.kind!r}"
    missing = [n for n in g.nodes if n not in nodes]
    if missing or not g.nodes:
        return f"nodes {missing} are not in the graph"
    produced = {t for n in g.nodes for t in nodes[n].output if t}
    if not set(g.outputs) <= produced:
        return "its outputs are not produced by its nodes"
    read = {t for n in g.nodes for t in nodes[n].input if t}
    if not set(g.inputs) <= read:
        return "its nodes do not read its inputs"
    for t in produced - set(g.outputs):
        if t in graph_outputs or users.get(t, set()) - g.nodes:
            return f"intermediate tensor {t!r} is used outside the group"
    return None


def group_spec(group: Group, values: Mapping[str, Act | Const]) -> LayerSpec:
    """The layer a group stands for; a Linear recognised on a 2-D input is an fc layer, as a 2-D
    MatMul or Gemm imports."""
    kind, attrs = group.kind, dict(group.attrs)
    first = values.get(group.inputs[0]) if group.inputs else None
    if kind == "matmul" and isinstance(first, Act) and len(first.shape) == 2:
        kind = "fc"
    return LayerSpec(kind, attrs, list(group.inputs), {k: list(v) for k, v in group.params.items()})
