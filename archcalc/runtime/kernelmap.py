"""Mapping ORT's kernels back to archcalc layers, through ORT's fusions and renamings.

ORT's optimized graph names nodes after the nodes they came from (``fused X``, ``X_nchwc``,
``X_token_7``) and fuses several nodes into one kernel (a FusedConv computes the conv, the
batchnorm and activation after it, a residual add). :func:`map_kernels` places every kernel: a
fused node belongs to the layer whose op it computes, the layers it absorbed are reported as fused
into it, and layout reorders are reported as :data:`LAYOUT`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: pseudo-layer of ORT's layout and transfer nodes (NCHWc reorders, memory copies)
LAYOUT = "(layout)"
#: kernels the mapping cannot place (an unknown fusion); reported, never dropped
UNMAPPED = "(unmapped)"

_LAYOUT_OPS = ("ReorderInput", "ReorderOutput", "MemcpyToHost", "MemcpyFromHost")
_FUSED_OPS = {"FusedConv": "Conv", "FusedGemm": "Gemm", "FusedMatMul": "MatMul", "NhwcConv": "Conv",
              "NhwcMaxPool": "MaxPool", "NhwcFusedConv": "Conv"}


def _computes(node: OptNode, graph: _Original) -> str:
    """The original op type a kernel computes. ORT's NCHWc transformer names its nodes after their
    output tensor: a BatchNorm of a blocked tensor T runs as a Conv named ``T_bn_nchwc``, while a
    conv that absorbed the BatchNorm after it is ``U_nchwc`` with U that BatchNorm's output, which
    ends in ``_bn_nchwc`` too whenever U ends in ``_bn`` (a layer named ``project_bn``). Only the
    first has a BatchNorm making T."""
    if node.op_type == "Conv" and node.name.endswith("_bn_nchwc"):
        made_by = graph.producer.get(node.name[: -len("_bn_nchwc")])
        if made_by is not None and graph.nodes[made_by].op_type == "BatchNormalization":
            return "BatchNormalization"
        return "Conv"
    return _FUSED_OPS.get(node.op_type, node.op_type)


@dataclass(frozen=True)
class OptNode:
    """A node of ORT's optimized graph (or of a profile, where inputs/outputs are unknown)."""

    name: str
    op_type: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class KernelMap:
    """Where each optimized node's time goes, and which layers have no kernel of their own."""

    #: optimized node name -> layer name, LAYOUT, or UNMAPPED
    kernels: Mapping[str, str]
    #: layer -> the layer whose kernel computes it (fused, or removed as a no-op: then itself absent)
    fused: Mapping[str, str]
    #: layers that vanished without a kernel taking them (no-ops such as dropout at inference)
    removed: tuple[str, ...] = ()


def node_labels(model: Any) -> list[str]:
    """Node names as archcalc's importer labels them (name, or ``OpType_index``)."""
    return [n.name or f"{n.op_type}_{i}" for i, n in enumerate(model.graph.node)]


def node_layers(model: Any, layer_names: Iterable[str]) -> dict[str, str]:
    """ONNX node label -> archcalc layer, for nodes that belong to a layer.

    A node named like a layer is that layer; the exporter's ``archcalc.layers`` metadata names the
    nodes of multi-node layers, and so do the multi-node forms the importer recognises (a GroupNorm
    as Reshape/InstanceNormalization/Reshape/Mul/Add, a decomposed GELU, ...); ``layer/part`` helper
    nodes belong to ``layer``. Nodes left out (constant fills, aliases the importer skipped) are placed
    by the graph walk in map_kernels.
    """
    from archcalc.onnx_import.patterns import find_patterns
    from archcalc.onnx_import.reader import view_of

    names = set(layer_names)
    groups: dict[str, str] = {}
    raw = next((p.value for p in model.metadata_props if p.key == "archcalc.layers"), None)
    if raw:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            for g in json.loads(raw)["groups"]:
                for node in g["nodes"]:
                    groups[str(node)] = str(g["layer"])
    for record in find_patterns(view_of(model), set(groups), in_place=False)[0]:
        groups.update(dict.fromkeys(record[5], record[0]))
    out: dict[str, str] = {}
    for label in node_labels(model):
        if label in names:
            out[label] = label
        elif label in groups and groups[label] in names:
            out[label] = groups[label]
        else:
            head = label
            while "/" in head:
                head = head.rsplit("/", 1)[0]
                if head in names:
                    out[label] = head
                    break
    return out


def ort_name_candidates(name: str) -> list[str]:
    """Candidate original names of an ORT node name (``fused X``, ``X_nchwc``, ``X_token_7``)."""
    out = [name]
    base = name[len("fused "):] if name.startswith("fused ") else name
    while True:
        if base not in out:
            out.append(base)
        new = re.sub(r"(_token_\d+)+$", "", base)
        new = re.sub(r"_nchwc$", "", new)
        if new == base:
            break
        base = new
    if name.endswith("_bn_nchwc"):  # a BatchNorm run as a blocked conv, named after its output
        out.append(name[: -len("_bn_nchwc")])
    if _FUSION_NAME.search(name):
        # ORT's contrib fusions name their node after one they replaced, nearest prefix first:
        # "X/QuickGeluFusion/" (x * sigmoid(x), the SiLU), "X/matmul/MatMulAddFusion" (a Gemm)
        head = _FUSION_NAME.sub("", name)
        out.append(head)
        while "/" in head:
            head = head.rsplit("/", 1)[0]
            if head:
                out.append(head)
    return out


#: the suffix ORT's contrib fusions add to the name of the node they replace
_FUSION_NAME = re.compile(r"/[A-Za-z]*Fusion/?$")


def map_kernels(original: Any, optimized: Sequence[OptNode], node_layer: Mapping[str, str]) -> KernelMap:
    """Map every optimized node to a layer of ``original`` (an onnx.ModelProto).

    1. Anchor: the original node an optimized node is named after (``fused fc6``, ``relu_nchwc``
       derive from an original node or tensor name), else the producer of an output tensor that
       still exists.
    2. Core: from the anchor, walk up the original graph to the node of the optimized node's op
       type (a FusedConv named after its ReLU computes the Conv above it); the nodes walked over
       are in its group.
    3. Original nodes left without a kernel were fused into the group of their latest producer
       (BN, activation, residual add after a conv), or failing that of a consumer.
    4. Layout nodes (NCHWc reorders, memory copies) are LAYOUT; other unanchored nodes take the
       layer of a neighbouring kernel, or UNMAPPED.
    """
    graph = _Original.of(original)
    anchors = _anchors(graph, optimized)
    group_of = _groups(graph, optimized, anchors)
    kernels = _anchored_layers(graph, optimized, anchors, group_of, node_layer)
    core_layer = dict(kernels)
    kernels.update(_unanchored_layers(optimized, core_layer))
    fused, removed = _fused_and_removed(graph, kernels, group_of, node_layer)
    return KernelMap(kernels, fused, removed)


@dataclass(frozen=True)
class _Original:
    """The original graph as the mapping walks it (nodes by index)."""

    nodes: list[Any]
    labels: list[str]
    by_label: dict[str, int]
    #: tensor -> the node that makes it
    producer: dict[str, int]
    #: nodes that compute only from initializers (folded away by ORT)
    constant_nodes: set[int]
    #: node -> the nodes making its non-constant inputs, and the reverse
    act_in: dict[int, list[int]]
    consumers: dict[int, list[int]]

    @classmethod
    def of(cls, model: Any) -> _Original:
        nodes = list(model.graph.node)
        labels = node_labels(model)
        producer: dict[str, int] = {}
        for i, n in enumerate(nodes):
            for t in n.output:
                if t:
                    producer[t] = i
        const = {init.name for init in model.graph.initializer}
        constant_nodes: set[int] = set()
        for i, n in enumerate(nodes):
            ins = [t for t in n.input if t]
            if n.op_type == "Constant" or (ins and all(t in const for t in ins)):
                constant_nodes.add(i)
                const.update(t for t in n.output if t)
        act_in = {i: [producer[t] for t in n.input if t and t not in const and t in producer]
                  for i, n in enumerate(nodes)}
        consumers: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
        for i, ins in act_in.items():
            for p in ins:
                consumers[p].append(i)
        return cls(nodes, labels, {label: i for i, label in enumerate(labels)}, producer, constant_nodes, act_in,
                   consumers)

    def layer_of(self, i: int, node_layer: Mapping[str, str]) -> str | None:
        """Node ``i``'s layer; nodes without a layer of their own (aliases) take their producer's."""
        seen = set()
        stack = [i]
        while stack:
            j = stack.pop()
            if j in seen:
                continue
            seen.add(j)
            if self.labels[j] in node_layer:
                return node_layer[self.labels[j]]
            stack.extend(self.act_in[j])
        return None


def _anchor_of(graph: _Original, node: OptNode) -> int | None:
    """The original node an optimized node is named after, else the producer of one of its outputs."""
    for cand in ort_name_candidates(node.name):
        if cand in graph.by_label:
            return graph.by_label[cand]
    for cand in ort_name_candidates(node.name):
        if cand in graph.producer:
            return graph.producer[cand]
    for t in node.outputs:
        if t in graph.producer:
            return graph.producer[t]
    return None


def _anchors(graph: _Original, optimized: Sequence[OptNode]) -> dict[str, int]:
    """Optimized node name -> its anchor in the original graph (layout nodes have none)."""
    anchors: dict[str, int] = {}
    for node in optimized:
        if node.op_type in _LAYOUT_OPS:
            continue
        a = _anchor_of(graph, node)
        if a is not None and a not in graph.constant_nodes:
            anchors[node.name] = a
    return anchors


def _groups(graph: _Original, optimized: Sequence[OptNode], anchors: Mapping[str, int]) -> dict[int, str]:
    """Original node -> the optimized node (kernel) that computes it."""
    nodes, act_in = graph.nodes, graph.act_in
    claimed = set(anchors.values())
    group_of: dict[int, str] = {}
    for node in optimized:
        if node.name not in anchors:
            continue
        a = anchors[node.name]
        target = _computes(node, graph)
        path = [a]
        cur = a
        while nodes[cur].op_type != target and len(path) < 8:
            ups = [p for p in act_in[cur] if p not in claimed and p not in group_of]
            if not ups:
                break
            cur = max(ups)
            path.append(cur)
        members = path if nodes[cur].op_type == target else [a]
        for m in members:
            group_of.setdefault(m, node.name)
    # nodes without a kernel: into a producer's group (the one whose kernel reads the other
    # producers' results, as a conv that absorbed a residual add reads the shortcut), else the
    # latest producer's; failing that, a consumer's
    made_by = {t: n.name for n in optimized for t in n.outputs}
    reads = {n.name: {made_by[t] for t in n.inputs if t in made_by} for n in optimized}
    for i in range(len(nodes)):
        if i in group_of or i in graph.constant_nodes:
            continue
        ups = sorted({p for p in act_in[i] if p in group_of}, key=lambda p: -p)
        if not ups:
            continue
        kernels_up = {group_of[p] for p in ups}
        readers = [p for p in ups if kernels_up - {group_of[p]} <= reads.get(group_of[p], set())]
        group_of[i] = group_of[readers[0] if len(readers) == 1 else ups[0]]
    for i in reversed(range(len(nodes))):
        if i in group_of or i in graph.constant_nodes:
            continue
        downs = [c for c in graph.consumers[i] if c in group_of]
        if downs:
            group_of[i] = group_of[min(downs)]
    return group_of


def _anchored_layers(graph: _Original, optimized: Sequence[OptNode], anchors: Mapping[str, int],
                     group_of: Mapping[int, str], node_layer: Mapping[str, str]) -> dict[str, str]:
    """Anchored kernel -> the layer of the node it computes (its core: the node of its op type)."""
    nodes = graph.nodes
    kernels: dict[str, str] = {}
    for node in optimized:
        if node.name not in anchors:
            continue
        a = anchors[node.name]
        members = sorted(i for i, g in group_of.items() if g == node.name)
        target = _computes(node, graph)
        core = next((i for i in members if nodes[i].op_type == target and i != a), a)
        if nodes[a].op_type == target:
            core = a
        layer = graph.layer_of(core, node_layer) or next(
            (x for x in (graph.layer_of(i, node_layer) for i in members) if x), None)
        if layer is not None:
            kernels[node.name] = layer
    return kernels


def _unanchored_layers(optimized: Sequence[OptNode], core_layer: Mapping[str, str]) -> dict[str, str]:
    """The other kernels: layout, or a neighbour's layer through the optimized graph's tensors."""
    made_by = {t: n.name for n in optimized for t in n.outputs}
    node_by = {n.name: n for n in optimized}
    users: dict[str, list[OptNode]] = {}
    for n in optimized:
        for t in n.inputs:
            users.setdefault(t, []).append(n)
    out: dict[str, str] = {}
    for node in optimized:
        if node.name in core_layer or node.name in out:
            continue
        if node.op_type in _LAYOUT_OPS:
            out[node.name] = LAYOUT
            continue
        found = None
        for t in node.inputs:
            src = made_by.get(t)
            if src is not None and src in node_by and src in core_layer:
                found = core_layer[src]
        if found is None:
            for t in node.outputs:
                for user in users.get(t, []):
                    if user.name in core_layer:
                        found = core_layer[user.name]
                        break
        out[node.name] = found or UNMAPPED
    return out


def _fused_and_removed(graph: _Original, kernels: Mapping[str, str], group_of: Mapping[int, str],
                       node_layer: Mapping[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Layers without a kernel of their own: fused into another layer's kernel, or removed."""
    fused: dict[str, str] = {}
    has_kernel = set(kernels.values())
    layers_seen: dict[str, set[str]] = {}
    for i in range(len(graph.nodes)):
        if i in graph.constant_nodes:
            continue
        layer = node_layer.get(graph.labels[i])
        if layer is None:
            continue
        kernel_layer = kernels.get(group_of.get(i, ""))
        layers_seen.setdefault(layer, set())
        if kernel_layer is not None:
            layers_seen[layer].add(kernel_layer)
    removed = []
    for layer, targets in layers_seen.items():
        if layer in has_kernel:
            continue
        others = sorted(t for t in targets if t not in (LAYOUT, UNMAPPED))
        if others:
            fused[layer] = others[0]
        else:
            removed.append(layer)
    return fused, tuple(removed)

