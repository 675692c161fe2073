"""The layer graph: immutable layers wired into a DAG, in plain Python (dicts and tuples).

A tensor is named by ``(layer, output_index)``; every layer but ``split`` has one output.
``Graph.layers`` is in execution order: a topological order that keeps declaration order
wherever the wiring allows it. The ordering, cycle check and consumer lookups here are archcalc's
own; nothing in the analysis uses networkx. networkx is a dependency for graph work on top of a
finished graph: ``Graph.to_networkx()`` hands the graph to it (layouts, matching two networks);
besides it, only compare's structural matching and the diagram's layering import it, lazily, so
``archcalc report`` never loads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from archcalc.errors import GraphError, suggest
from archcalc.frozen import quick_init

if TYPE_CHECKING:
    import networkx as nx

TensorRef = tuple[str, int]


@quick_init
@dataclass(frozen=True, slots=True)
class Origin:
    """Where a layer was declared: file, line, and the block uses it was expanded through."""

    file: str | None = None
    line: int | None = None
    trace: tuple[str, ...] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    kind: str
    attrs: Mapping[str, Any]
    inputs: tuple[TensorRef, ...]
    origin: Origin = field(default_factory=Origin)

    def locate(self) -> dict[str, Any]:
        """Keyword arguments that place an error at this layer."""
        return {
            "file": self.origin.file,
            "line": self.origin.line,
            "layer": self.name,
            "trace": self.origin.trace,
        }


def freeze(attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(attrs))


def format_ref(ref: TensorRef, n_outputs: int = 1) -> str:
    """``name`` for a one-output layer, ``name:i`` otherwise."""
    return ref[0] if n_outputs == 1 and ref[1] == 0 else f"{ref[0]}:{ref[1]}"


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... whichever is not in ``taken`` (which it joins)."""
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def plain(value: Any) -> Any:
    """Mappings as dicts, sequences as lists, all the way down (for JSON and YAML round trips)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Graph:
    """A validated DAG of layers in execution order."""

    name: str
    layers: Mapping[str, Layer]
    n_outputs: Mapping[str, int]
    file: str | None = None
    description: str | None = None
    source: str | None = None
    conventions: Mapping[str, Any] = field(default_factory=dict)
    expected: tuple[Mapping[str, Any], ...] = ()
    variables: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, name: str) -> Layer:
        return self.layers[name]

    def inputs(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers.values() if layer.kind == "input")

    def consumers(self) -> dict[TensorRef, list[str]]:
        out: dict[TensorRef, list[str]] = {}
        for layer in self.layers.values():
            for ref in layer.inputs:
                out.setdefault(ref, []).append(layer.name)
        return out

    def to_networkx(self) -> nx.MultiDiGraph:
        """A copy of the wiring as a ``networkx.MultiDiGraph`` for graph algorithms archcalc does not
        need itself (layouts, isomorphism, paths): nodes are layer names (with ``layer=``), one edge
        per input slot carrying ``output=`` (the producer's output index) and ``slot=``. Imports
        networkx on the first call; nothing in archcalc's analysis calls it."""
        import networkx as nx

        g = nx.MultiDiGraph(name=self.name)
        for layer in self.layers.values():
            g.add_node(layer.name, layer=layer)
        for layer in self.layers.values():
            for slot, ref in enumerate(layer.inputs):
                g.add_edge(ref[0], layer.name, output=ref[1], slot=slot)
        return g


def build_graph(
    name: str,
    layers: Iterable[Layer],
    n_outputs: Mapping[str, int] | None = None,
    **meta: Any,
) -> Graph:
    """Check the wiring (duplicates, dangling inputs, output indices, cycles) and order it."""
    declared: dict[str, Layer] = {}
    counts = dict(n_outputs or {})
    # every layer reads only earlier ones, at an output they have (as the importer and most specs
    # declare them): then ``_check_inputs`` has nothing to find and is skipped (otherwise it reports
    # the first fault in its order, after every duplicate name, as it always did)
    in_order = True
    for layer in layers:
        if layer.name in declared:
            first = declared[layer.name].origin
            where = f" (first declared at line {first.line})" if first.line else ""
            raise GraphError(f"duplicate layer name '{layer.name}'{where}", **layer.locate())
        if in_order:
            for ref in layer.inputs:
                if ref[0] not in declared or not 0 <= ref[1] < counts.get(ref[0], 1):
                    in_order = False
        declared[layer.name] = layer
    if not in_order:
        _check_inputs(declared, counts)
    # declaration order, when it is a dependency order, is also the one the earliest-first sort gives
    order = list(declared) if in_order else _stable_topological_order(declared)
    return Graph(
        name=name,
        layers=declared if in_order else {n: declared[n] for n in order},
        n_outputs={n: counts.get(n, 1) for n in order},
        **meta,
    )


def _check_inputs(declared: Mapping[str, Layer], counts: Mapping[str, int]) -> None:
    """Every input is an output a declared layer has, and not the layer's own."""
    for layer in declared.values():
        for ref_name, index in layer.inputs:
            if ref_name not in declared:
                raise GraphError(
                    f"input '{ref_name}' is not a layer{suggest(ref_name, declared)}",
                    **layer.locate(),
                )
            available = counts.get(ref_name, 1)
            if not 0 <= index < available:
                raise GraphError(
                    f"input '{ref_name}:{index}': '{ref_name}' has {available} output(s)",
                    **layer.locate(),
                )
            if ref_name == layer.name:
                raise GraphError("a layer cannot take its own output (cycle)", **layer.locate())


def _stable_topological_order(declared: Mapping[str, Layer]) -> list[str]:
    """Kahn's algorithm, taking the earliest-declared ready layer first; cycles are errors."""
    import heapq

    position = {n: i for i, n in enumerate(declared)}
    indegree = {n: 0 for n in declared}
    users: dict[str, list[str]] = {n: [] for n in declared}
    for layer in declared.values():
        for src in {ref[0] for ref in layer.inputs}:
            indegree[layer.name] += 1
            users[src].append(layer.name)
    ready = [position[n] for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    names = list(declared)
    order: list[str] = []
    while ready:
        n = names[heapq.heappop(ready)]
        order.append(n)
        for user in users[n]:
            indegree[user] -= 1
            if indegree[user] == 0:
                heapq.heappush(ready, position[user])
    if len(order) != len(declared):
        stuck = [n for n in declared if indegree[n] > 0]
        cycle = _find_cycle(declared, set(stuck))
        layer = declared[cycle[0]]
        raise GraphError("cycle: " + " -> ".join([*cycle, cycle[0]]), **layer.locate())
    return order


def _find_cycle(declared: Mapping[str, Layer], among: set[str]) -> list[str]:
    """One cycle among the layers Kahn's algorithm could not order (walk inputs backwards)."""
    start = min(among, key=list(declared).index)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(ref[0] for ref in declared[node].inputs if ref[0] in among)
    cycle = path[seen[node]:]
    cycle.reverse()  # data-flow order
    position = list(declared).index
    first = min(range(len(cycle)), key=lambda i: position(cycle[i]))
    return cycle[first:] + cycle[:first]
