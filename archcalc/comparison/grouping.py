"""Layers into stages and blocks: from the block structure a spec's expansion records in the layer
names (``layer2.0.conv1``: stage ``layer2``, block ``layer2.0``), from an ONNX model's name scopes
(``/layer1/layer1.0/conv1/Conv``, ``inception_3a/1x1``), or, where an ONNX model's nodes have no
names, from the graph's structure: a block ends at a cut (a layer whose output is the only tensor
alive after it), a one-layer block without weights joins the one before it unless it changes the
spatial size (a ReLU or LRN joins its conv, a pool starts a block), and a stage is a run of blocks
whose outputs have the same spatial size.

Pure functions over a :class:`~archcalc.ir.Graph` and its :class:`~archcalc.report.Report`; no
networkx (``archcalc report --by block`` uses this)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from archcalc.choices import GroupBy
from archcalc.errors import OptionError, suggest
from archcalc.ir import Graph
from archcalc.report import LayerRecord, Report

#: how a grouping was found
FROM_NAMES = "names"
FROM_STRUCTURE = "structure"


@dataclass(frozen=True, slots=True)
class Grouping:
    """Each layer's group, in execution order, and how the groups were found."""

    by: GroupBy
    of: Mapping[str, str]
    source: str

    def groups(self) -> tuple[str, ...]:
        """Group names in the order of their first layer."""
        return tuple(dict.fromkeys(self.of.values()))


@dataclass(frozen=True, slots=True)
class Subtotal:
    """One group's additive figures and the receptive field of its last layer."""

    group: str
    layers: tuple[str, ...]
    params: int
    macs: int
    flops: int
    activation_bytes: int
    last: LayerRecord


def parse_by(text: str) -> GroupBy:
    try:
        return GroupBy(text)
    except ValueError:
        choices = [g.value for g in GroupBy]
        raise OptionError(f"unknown grouping '{text}'{suggest(text, choices)}; choose from "
                          f"{', '.join(choices)}") from None


def scope_path(name: str) -> tuple[str, ...]:
    """The module path a layer name carries: ``layer2.0.conv1`` -> (layer2, 0, conv1); an ONNX
    scope ``/layer1/layer1.0/conv1/Conv`` -> (layer1, 0, conv1); ``inception_3a/1x1_1`` ->
    (inception_3a,); a name without scopes (``Conv_0``, ``pool1``) -> ()."""
    if "/" in name:
        parts = [p for p in name.strip("/").split("/") if p][:-1]  # the last part names the node
        qualified = ""
        for part in parts:
            qualified = part if not qualified or part.startswith(qualified + ".") else f"{qualified}.{part}"
        return tuple(p for p in qualified.split(".") if p)
    return tuple(name.split("."))[:-1]


def _named_key(path: tuple[str, ...], by: GroupBy) -> str | None:
    if not path:
        return None
    if by is GroupBy.STAGE:
        return path[0]
    for i, part in enumerate(path):
        if part.isdigit():
            return ".".join(path[: i + 1])
    return path[0]


def group_layers(graph: Graph, report: Report, by: GroupBy | str) -> Grouping:
    """The group of every layer of ``report`` (which analysed ``graph``)."""
    by = by if isinstance(by, GroupBy) else parse_by(by)
    names = [r.name for r in report.layers]
    if by is GroupBy.LAYER:
        return Grouping(by, {n: n for n in names}, FROM_NAMES)
    paths = {n: scope_path(n) for n in names}
    if any(paths.values()) or "document" in graph.meta:  # a spec, or an ONNX model with name scopes
        keys = {n: _named_key(paths[n], by) for n in names}
        if "document" not in graph.meta:  # ONNX: a top-level module of one node is a layer (/conv1/Conv)
            sizes = Counter(keys.values())
            keys = {n: None if k is not None and sizes[k] == 1 and len(paths[n]) == 1 else k for n, k in keys.items()}
        return Grouping(by, _runs(keys, names), FROM_NAMES)
    return Grouping(by, _structural(graph, report, by), FROM_STRUCTURE)


def _runs(keys: Mapping[str, str | None], names: Sequence[str]) -> dict[str, str]:
    """Layers outside any block: each run of them between blocks is one group, named after its
    first and last layers (``pool5..softmax``)."""
    out: dict[str, str] = {}
    run: list[str] = []

    def close() -> None:
        label = run[0] if len(run) == 1 else f"{run[0]}..{run[-1]}"
        out.update(dict.fromkeys(run, label))
        run.clear()

    for name in names:
        key = keys[name]
        if key is None:
            run.append(name)
            continue
        if run:
            close()
        out[name] = key
    if run:
        close()
    return out


def _cuts(graph: Graph, names: Sequence[str]) -> list[bool]:
    """Whether each layer's output is the only tensor alive after it (a block boundary)."""
    last_use: dict[str, int] = {}
    position = {n: i for i, n in enumerate(names)}
    for name in names:
        for ref in graph.layers[name].inputs:
            last_use[ref[0]] = max(last_use.get(ref[0], -1), position[name])
    alive: set[str] = set()
    cut = []
    for i, name in enumerate(names):
        alive.add(name)
        alive = {n for n in alive if last_use.get(n, len(names)) > i or n == name}
        cut.append(alive == {name})
    return cut


def _structural(graph: Graph, report: Report, by: GroupBy) -> dict[str, str]:
    records = list(report.layers)
    names = [r.name for r in records]
    segments: list[list[LayerRecord]] = [[]]
    for record, is_cut in zip(records, _cuts(graph, names), strict=True):
        segments[-1].append(record)
        if is_cut:
            segments.append([])
    blocks: list[list[LayerRecord]] = []
    for segment in (s for s in segments if s):
        if (blocks and len(segment) == 1 and segment[0].params == 0 and segment[0].kind != "input"
                and _spatial(segment[0]) == _spatial(blocks[-1][-1])):
            blocks[-1].extend(segment)
        else:
            blocks.append(list(segment))
    if by is GroupBy.STAGE:
        stages: list[list[LayerRecord]] = []
        for block in blocks:
            if stages and _spatial(stages[-1][-1]) == _spatial(block[-1]):
                stages[-1].extend(block)
            else:
                stages.append(list(block))
        blocks = stages
    out: dict[str, str] = {}
    for block in blocks:
        label = block[0].name if len(block) == 1 else f"{block[0].name}..{block[-1].name}"
        out.update(dict.fromkeys((r.name for r in block), label))
    return out


def _spatial(record: LayerRecord) -> tuple[int, ...]:
    return record.shape[1:] if len(record.shape) > 1 else ()


def subtotals(report: Report, grouping: Grouping) -> tuple[Subtotal, ...]:
    """Per-group sums, groups in the order of their first layer."""
    members: dict[str, list[LayerRecord]] = {}
    for record in report.layers:
        members.setdefault(grouping.of[record.name], []).append(record)
    return tuple(
        Subtotal(group, tuple(r.name for r in rs), sum(r.params for r in rs), sum(r.macs for r in rs),
                 sum(r.flops for r in rs), sum(r.activation_bytes for r in rs), rs[-1])
        for group, rs in members.items()
    )

