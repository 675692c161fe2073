"""Coordinates for a layered drawing: nodes on their ranks, edges routed through their dummies,
cluster boxes around their members. Pure: ``layout(graph, report)`` returns immutable data.

Positions are computed along two axes, *depth* (across ranks) and *breadth* (along a rank), and
mapped to x/y by the direction (top to bottom: y is depth; left to right: x is depth). Along a
rank each node wants to sit at the mean breadth of its inputs; a left-to-right and a
right-to-left pass keep the minimum spacing, and their mean is taken, which keeps chains straight.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from archcalc.choices import Direction
from archcalc.diagram.clusters import ClusterPath, cluster_label, cluster_paths, short_name
from archcalc.diagram.layering import Layering, is_dummy, layering
from archcalc.ir import Graph
from archcalc.report import Report

#: a layer's box (pixels), in the top-to-bottom direction; left to right swaps nothing (boxes
#: keep their shape), only the axes the ranks run along
NODE_WIDTH_PX = 200
NODE_HEIGHT_PX = 40
#: room between ranks (edge labels and cluster titles sit there), between nodes on a rank
RANK_GAP_PX = 52
#: left to right, an edge's shape label sits on the edge between ranks: more room
RANK_GAP_LR_PX = 84
NODE_GAP_PX = 24
DUMMY_BREADTH_PX = 16
#: a cluster box's margin around what it holds, per level, and its title's height
CLUSTER_PAD_PX = 6
TITLE_PX = 14
MARGIN_PX = 16
#: the least room between two ranks besides cluster margins and titles (an edge's shape label)
LABEL_ROOM_PX = 18


@dataclass(frozen=True, slots=True)
class Node:
    """A layer's box: centre ``(x, y)``, size ``w`` x ``h`` (every coordinate of a diagram is in
    SVG pixels); ``label`` is the name inside its cluster."""

    name: str
    label: str
    kind: str
    rank: int
    cluster: ClusterPath
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Edge:
    """A tensor going from ``src`` to ``dst`` (``outputs``: which of the producer's outputs), routed
    through ``points``; ``shapes`` are the shapes it carries (per sample)."""

    src: str
    dst: str
    outputs: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Cluster:
    """A block's box: ``id`` (its path's last element), title, enclosing cluster and nesting depth."""

    id: str
    label: str
    parent: str | None
    depth: int
    members: tuple[str, ...]
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Diagram:
    name: str
    direction: Direction
    width: float
    height: float
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    clusters: tuple[Cluster, ...]
    crossings: int

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


def _breadth_of(node: str, direction: Direction) -> float:
    if is_dummy(node):
        return DUMMY_BREADTH_PX
    return NODE_WIDTH_PX if direction is Direction.TB else NODE_HEIGHT_PX


def _common(a: ClusterPath, b: ClusterPath) -> ClusterPath:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _margins(before: ClusterPath, after: ClusterPath, direction: Direction) -> float:
    """Room for the box edges between two neighbours on a rank: a margin per box left or
    entered, and (left to right, where a box's title is above it) a title per box entered."""
    shared = len(_common(before, after))
    entered = len(after) - shared
    titles = TITLE_PX * entered if direction is Direction.LR else 0
    return CLUSTER_PAD_PX * (len(before) - shared + entered) + titles


def _place(lay: Layering, direction: Direction, paths: Mapping[str, ClusterPath]) -> dict[str, float]:
    """Breadth centre of every node (dummies too: a dummy sits in the blocks its edge runs inside).
    Neighbours on a rank keep ``NODE_GAP_PX`` plus one cluster margin per box edge between them."""
    up: dict[str, list[str]] = {}
    where = dict(paths)
    for src, dst, chain in lay.chains:
        for a, b in itertools.pairwise(chain):
            up.setdefault(b, []).append(a)
        for dummy in chain[1:-1]:
            where[dummy] = _common(paths[src], paths[dst])
    at: dict[str, float] = {}
    for rank in lay.ranks:
        sizes = [_breadth_of(n, direction) for n in rank]
        seps = [0.0] + [(sizes[i - 1] + sizes[i]) / 2 + NODE_GAP_PX + _margins(where[rank[i - 1]], where[rank[i]],
                                                                            direction)
                        for i in range(1, len(rank))]
        natural, pos = [], 0.0
        for i in range(len(rank)):
            pos += seps[i]
            natural.append(pos)
        wanted = []
        for n, nat in zip(rank, natural, strict=True):
            near = [at[m] for m in up.get(n, ()) if m in at]
            wanted.append(sum(near) / len(near) if near else nat)
        left: list[float] = []
        for i, w in enumerate(wanted):
            left.append(w if i == 0 else max(w, left[-1] + seps[i]))
        right: list[float] = [0.0] * len(wanted)
        for i in range(len(wanted) - 1, -1, -1):
            right[i] = wanted[i] if i == len(wanted) - 1 else min(wanted[i], right[i + 1] - seps[i + 1])
        for i, n in enumerate(rank):
            at[n] = (left[i] + right[i]) / 2
        # the mean of the two passes can squeeze neighbours together: push apart again
        for i in range(1, len(rank)):
            at[rank[i]] = max(at[rank[i]], at[rank[i - 1]] + seps[i])
    return at


def _cluster_boxes(nodes: Mapping[str, Node], paths: Mapping[str, ClusterPath]) -> list[Cluster]:
    """Each cluster's box: around every member, one margin (and one title, above) per cluster level
    from the member out to this cluster, so that nested boxes and their titles stack."""
    members: dict[str, list[str]] = {}
    parent: dict[str, str | None] = {}
    depth: dict[str, int] = {}
    for name, path in paths.items():
        for i, c in enumerate(path):
            members.setdefault(c, []).append(name)
            parent.setdefault(c, path[i - 1] if i else None)
            depth.setdefault(c, i)
    out = []
    for c, names in members.items():
        def levels(n: str, c: str = c) -> int:
            return len(paths[n]) - paths[n].index(c)

        x0 = min(nodes[n].x - nodes[n].w / 2 - CLUSTER_PAD_PX * levels(n) for n in names)
        x1 = max(nodes[n].x + nodes[n].w / 2 + CLUSTER_PAD_PX * levels(n) for n in names)
        y0 = min(nodes[n].y - nodes[n].h / 2 - (CLUSTER_PAD_PX + TITLE_PX) * levels(n) for n in names)
        y1 = max(nodes[n].y + nodes[n].h / 2 + CLUSTER_PAD_PX * levels(n) for n in names)
        out.append(Cluster(c, cluster_label(c), parent[c], depth[c], tuple(names), x0, y0, x1 - x0, y1 - y0))
    return out


def _rank_depths(lay: Layering, paths: Mapping[str, ClusterPath], way: Direction) -> list[float]:
    """The depth coordinate of each rank's centre line: ranks where clusters open (titles) or
    close (margins) are spaced further apart."""
    rank_of = {n: i for i, r in enumerate(lay.ranks) for n in r}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for name, path in paths.items():
        for c in path:
            first[c] = min(first.get(c, rank_of[name]), rank_of[name])
            last[c] = max(last.get(c, rank_of[name]), rank_of[name])
    opening = [0] * len(lay.ranks)
    closing = [0] * len(lay.ranks)
    for name, path in paths.items():
        r = rank_of[name]
        opening[r] = max(opening[r], sum(1 for c in path if first[c] == r))
        closing[r] = max(closing[r], sum(1 for c in path if last[c] == r))
    out: list[float] = []
    node_depth = NODE_HEIGHT_PX if way is Direction.TB else NODE_WIDTH_PX
    # titles sit above a box: across ranks top to bottom, along a rank left to right
    opens = CLUSTER_PAD_PX + (TITLE_PX if way is Direction.TB else 0)
    least = RANK_GAP_PX if way is Direction.TB else RANK_GAP_LR_PX
    at = opens * (opening[0] if opening else 0) + MARGIN_PX + node_depth / 2
    for r in range(len(lay.ranks)):
        if r:
            gap = max(least, opens * opening[r] + CLUSTER_PAD_PX * closing[r - 1] + LABEL_ROOM_PX)
            at += node_depth + gap
        out.append(at)
    return out


def layout(graph: Graph, report: Report, direction: Direction | str = Direction.TB) -> Diagram:
    """The drawing of ``graph`` (its figures from ``report``): ranks top to bottom or left to right."""
    from archcalc.errors import OptionError, suggest

    try:
        way = Direction(str(direction).upper())
    except ValueError:
        raise OptionError(f"unknown direction '{direction}'{suggest(str(direction), [d.value for d in Direction])}; "
                          f"directions: {', '.join(d.value for d in Direction)}") from None
    paths = cluster_paths(graph)
    lay = layering(graph, paths)
    breadth = _place(lay, way, paths)
    depths = _rank_depths(lay, paths, way)

    def point(node: str, rank: int) -> tuple[float, float]:
        d = depths[rank]
        return (breadth[node], d) if way is Direction.TB else (d, breadth[node])

    shift = MARGIN_PX + ((CLUSTER_PAD_PX + (TITLE_PX if way is Direction.LR else 0))
                      * (1 + max((len(p) for p in paths.values()), default=0)))
    low = min(breadth[n] - _breadth_of(n, way) / 2 for r in lay.ranks for n in r) if lay.ranks else 0.0
    for n in breadth:
        breadth[n] += shift - low
    rank_of = {n: i for i, r in enumerate(lay.ranks) for n in r}
    records = {r.name: r for r in report.layers}
    nodes: dict[str, Node] = {}
    for name, layer in graph.layers.items():
        x, y = point(name, rank_of[name])
        nodes[name] = Node(name, short_name(name, paths[name]), layer.kind, rank_of[name], paths[name], x, y,
                           NODE_WIDTH_PX, NODE_HEIGHT_PX)
    drawn = []
    for src, dst, chain in lay.chains:
        outputs = tuple(dict.fromkeys(ref[1] for ref in graph.layers[dst].inputs if ref[0] == src))
        a, b = nodes[src], nodes[dst]
        if way is Direction.TB:
            first, last = (a.x, a.y + a.h / 2), (b.x, b.y - b.h / 2)
        else:
            first, last = (a.x + a.w / 2, a.y), (b.x - b.w / 2, b.y)
        middle = tuple(point(d, rank_of[d]) for d in chain[1:-1])
        shapes = tuple(records[src].shapes[i] for i in outputs) if src in records else ()
        drawn.append(Edge(src, dst, outputs, shapes, (first, *middle, last)))
    boxes = _cluster_boxes(nodes, paths)
    bends = [p for e in drawn for p in e.points]
    xs = [n.x + n.w / 2 for n in nodes.values()] + [c.x + c.w for c in boxes] + [p[0] for p in bends]
    ys = [n.y + n.h / 2 for n in nodes.values()] + [c.y + c.h for c in boxes] + [p[1] for p in bends]
    extra = 80 if way is Direction.TB else 0  # edge labels to the right of the last column
    return Diagram(graph.name, way, max(xs, default=0) + MARGIN_PX + extra, max(ys, default=0) + MARGIN_PX + 20,
                   tuple(nodes.values()), tuple(drawn), tuple(boxes), lay.crossings)
