"""Ranks and orders: the combinatorial half of a layered (Sugiyama-style) drawing.

1. Ranks are networkx's topological generations: a layer sits one rank below the latest of its
   inputs, so every edge points down.
2. An edge spanning several ranks gets a dummy node on each rank it crosses, so that it is routed
   around the layers in between rather than through them.
3. Crossing reduction: barycenter sweeps, down then up, each rank ordered by the mean position of
   its neighbours in the rank before; ties keep the declaration order. The order with
   the fewest crossings seen is kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from archcalc.ir import Graph

#: sweeps (one down and one up each) of the crossing reduction
SWEEPS = 6


@dataclass(frozen=True, slots=True)
class Layering:
    """Every rank's nodes, left to right (layer names and dummy ids), and the chains of edges.

    ``chains`` holds one entry per graph edge ``(src, dst, index)``: the node ids it runs
    through, ``src`` first and ``dst`` last, dummies between.
    """

    ranks: tuple[tuple[str, ...], ...]
    chains: tuple[tuple[str, str, tuple[str, ...]], ...]
    crossings: int
    #: the crossings of the declaration order, before the sweeps
    declared_crossings: int


def edges(graph: Graph) -> list[tuple[str, str]]:
    """Distinct (producer, consumer) pairs, in the consumer's execution order."""
    out: list[tuple[str, str]] = []
    for layer in graph.layers.values():
        for src in dict.fromkeys(ref[0] for ref in layer.inputs):
            out.append((src, layer.name))
    return out


def ranks_of(graph: Graph) -> dict[str, int]:
    """Layer -> its topological generation (networkx, imported here)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(graph.layers)
    g.add_edges_from(edges(graph))
    return {name: i for i, generation in enumerate(nx.topological_generations(g)) for name in generation}


def _crossings(ranks: Sequence[Sequence[str]], down: Mapping[str, list[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(ranks):
        where = {n: i for i, n in enumerate(lower)}
        pairs = [(i, where[d]) for i, n in enumerate(upper) for d in down.get(n, ()) if d in where]
        for a, (i1, j1) in enumerate(pairs):
            for i2, j2 in pairs[a + 1:]:
                if (i1 - i2) * (j1 - j2) < 0:
                    total += 1
    return total


def _sweep(ranks: list[list[str]], neighbours: Mapping[str, list[str]], order: range,
           tie: Mapping[str, tuple[object, ...]]) -> None:
    for r in order:
        before = ranks[r - 1] if order.step > 0 else ranks[r + 1]
        where = {n: i for i, n in enumerate(before)}
        current = {n: i for i, n in enumerate(ranks[r])}

        def key(n: str, where: dict[str, int] = where, current: dict[str, int] = current) -> tuple[object, ...]:
            near = [where[m] for m in neighbours.get(n, ()) if m in where]
            centre = sum(near) / len(near) if near else float(current[n])
            return (centre, *tie[n])

        ranks[r].sort(key=key)


def layering(graph: Graph, clusters: Mapping[str, tuple[str, ...]]) -> Layering:
    """Ranks with dummies, ordered to reduce crossings."""
    rank = ranks_of(graph)
    position = {n: i for i, n in enumerate(graph.layers)}
    down: dict[str, list[str]] = {}
    up: dict[str, list[str]] = {}
    chains: list[tuple[str, str, tuple[str, ...]]] = []
    tie: dict[str, tuple[object, ...]] = {n: (position[n], clusters.get(n, ())) for n in graph.layers}
    for index, (src, dst) in enumerate(edges(graph)):
        chain = [src]
        for r in range(rank[src] + 1, rank[dst]):
            dummy = f"\x00{index}:{r}"
            rank[dummy] = r
            tie[dummy] = (position[dst] - 0.5, clusters.get(dst, ()))
            chain.append(dummy)
        chain.append(dst)
        for a, b in itertools.pairwise(chain):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
        chains.append((src, dst, tuple(chain)))
    depth = max(rank.values(), default=-1) + 1
    ranks: list[list[str]] = [[] for _ in range(depth)]
    for n in sorted(rank, key=lambda n: tie[n][:1]):
        ranks[rank[n]].append(n)
    best = [list(r) for r in ranks]
    fewest = declared = _crossings(best, down)
    for _ in range(SWEEPS):
        if fewest == 0:
            break
        _sweep(ranks, up, range(1, depth), tie)
        _sweep(ranks, down, range(depth - 2, -1, -1), tie)
        now = _crossings(ranks, down)
        if now < fewest:
            best, fewest = [list(r) for r in ranks], now
    return Layering(tuple(tuple(r) for r in best), tuple(chains), fewest, declared)


def is_dummy(node: str) -> bool:
    return node.startswith("\x00")
