"""``archcalc diagram`` and the page, without a browser: the layered layout's invariants (edges
point down the ranks, boxes never overlap, clusters hold their blocks), crossing reduction, the
SVG/dot/Mermaid texts, the page's self-containment, and the command line."""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

import archcalc
from archcalc.cli import main
from archcalc.diagram import layout
from archcalc.diagram.clusters import cluster_paths
from archcalc.diagram.layering import _crossings, edges, layering
from archcalc.diagram.layout import NODE_GAP_PX
from archcalc.render.diagram_svg import render_svg
from archcalc.render.diagram_text import render_dot, render_mermaid
from archcalc.render.units import si
from archcalc.render.view_page import block_subtotals, render_view
from tests.conftest import ROOT

ONNX_R18 = ROOT / "tests" / "fixtures" / "onnx" / "resnet18_tv.onnx"
IMAGES = ROOT / "docs" / "images"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _drawn(source: str | Path, direction: str = "TB"):  # type: ignore[no-untyped-def]
    graph = archcalc.load(source)
    report = archcalc.analyze(graph)
    return graph, report, layout(graph, report, direction)


def _inside_box(n, c) -> bool:  # type: ignore[no-untyped-def]
    """Whether node ``n`` (centre x, y) overlaps cluster box ``c`` (corner x, y)."""
    return (n.x + n.w / 2 > c.x and n.x - n.w / 2 < c.x + c.w and n.y + n.h / 2 > c.y
            and n.y - n.h / 2 < c.y + c.h)


def _transposed(d):  # type: ignore[no-untyped-def]
    """A left-to-right diagram seen as top-to-bottom (x and y swapped, w and h too)."""
    import dataclasses

    def swap(item):  # type: ignore[no-untyped-def]
        return dataclasses.replace(item, x=item.y, y=item.x, w=item.h, h=item.w)

    return dataclasses.replace(d, width=d.height, height=d.width, nodes=tuple(swap(n) for n in d.nodes),
                               clusters=tuple(swap(c) for c in d.clusters),
                               edges=tuple(dataclasses.replace(e, points=tuple((y, x) for x, y in e.points))
                                           for e in d.edges))


@pytest.mark.parametrize(("source", "direction"), [
    ("resnet50", "TB"), ("googlenet", "TB"), ("densenet121", "TB"), ("lenet5", "TB"), (ONNX_R18, "TB"),
    (ROOT / "tests" / "fixtures" / "onnx" / "inception_small.onnx", "TB"),
    ("efficientnet_b0", "TB"), ("mobilenet_v3_large", "TB"), ("convnext_tiny", "TB"),
    ("resnet50", "LR"), ("googlenet", "LR"), (ONNX_R18, "LR")])
def test_layout_invariants(source: str | Path, direction: str) -> None:
    graph, report, d = _drawn(source, direction)
    if direction == "LR":
        d = _transposed(d)
    nodes = {n.name: n for n in d.nodes}
    assert list(nodes) == list(graph.layers)
    pairs = edges(graph)
    assert [(e.src, e.dst) for e in d.edges] == pairs
    for e in d.edges:
        a, b = nodes[e.src], nodes[e.dst]
        assert b.rank > a.rank and b.y > a.y, (e.src, e.dst)
        assert len(e.points) == b.rank - a.rank + 1  # one bend per rank crossed
        assert e.shapes == tuple(report[e.src].shapes[i] for i in e.outputs)
        ys = [p[1] for p in e.points]
        assert ys == sorted(ys)
    for r, group in itertools.groupby(sorted(d.nodes, key=lambda n: (n.rank, n.x)), key=lambda n: n.rank):
        row = list(group)
        assert all(abs(row[0].y - n.y) < 1e-9 for n in row), r
        for left, right in itertools.pairwise(row):
            assert right.x - left.x >= (left.w + right.w) / 2 + NODE_GAP_PX - 1e-9
    assert all(0 <= x <= d.width and 0 <= y <= d.height for e in d.edges for x, y in e.points)
    for n in d.nodes:
        assert n.x - n.w / 2 >= 0 and n.x + n.w / 2 <= d.width and n.y - n.h / 2 >= 0 and n.y + n.h / 2 <= d.height
    boxes = {c.id: c for c in d.clusters}
    for c in d.clusters:
        for m in c.members:
            n = nodes[m]
            assert c.x < n.x - n.w / 2 and n.x + n.w / 2 < c.x + c.w and c.y < n.y - n.h / 2 < n.y + n.h / 2 < c.y + c.h
        if c.parent is not None:
            p = boxes[c.parent]
            assert p.x < c.x and c.x + c.w < p.x + p.w and p.y < c.y and c.y + c.h < p.y + p.h
        outside = [n for n in d.nodes if n.name not in c.members]  # never drawn inside the box
        assert not [n.name for n in outside if _inside_box(n, c)], c.id
    for a, b in itertools.combinations(d.clusters, 2):  # blocks side by side never overlap
        if a.parent == b.parent:
            assert a.y + a.h < b.y or b.y + b.h < a.y or a.x + a.w < b.x or b.x + b.w < a.x, (a.id, b.id)
    lay = layering(graph, cluster_paths(graph))
    assert lay.crossings <= lay.declared_crossings
    assert d.crossings == lay.crossings == _drawn_crossings(d)


def _drawn_crossings(d) -> int:  # type: ignore[no-untyped-def]
    """Edge segments between the same two ranks that really cross in the picture."""
    rank_at = sorted({round(n.y, 6) for n in d.nodes})
    segments: dict[int, list[tuple[float, float]]] = {}
    for e in d.edges:
        for (x1, y1), (x2, _y2) in itertools.pairwise(e.points):
            segments.setdefault(max(i for i, y in enumerate(rank_at) if y <= y1 + 1e-6), []).append((x1, x2))
    return sum(1 for segs in segments.values() for (a1, a2), (b1, b2) in itertools.combinations(segs, 2)
               if (a1 - b1) * (a2 - b2) < 0)


def test_clusters_are_the_block_uses_and_the_onnx_scopes() -> None:
    graph, _, d = _drawn("resnet50")
    boxes = {c.id: c for c in d.clusters}
    assert set(boxes) == {"layer1", "layer2", "layer3", "layer4"} | {f"layer{s}.{i}" for s, n in
                                                                     ((1, 3), (2, 4), (3, 6), (4, 3)) for i in range(n)}
    assert boxes["layer1.0"].parent == "layer1" and len(boxes["layer1.0"].members) == 12  # with the projection
    assert len(boxes["layer1.1"].members) == 10 and len(boxes["layer3"].members) == 12 + 5 * 10
    assert cluster_paths(graph)["conv1"] == () and cluster_paths(graph)["fc"] == ()
    # siblings do not overlap
    for a, b in itertools.combinations(d.clusters, 2):
        if a.parent == b.parent:
            assert a.y + a.h < b.y or b.y + b.h < a.y or a.x + a.w < b.x or b.x + b.w < a.x, (a.id, b.id)
    _, _, onnx = _drawn(ONNX_R18)
    scoped = {c.id: c for c in onnx.clusters}
    assert set(scoped) == ({"layer1", "layer2", "layer3", "layer4"}
                           | {f"layer{s}/layer{s}.{i}" for s in range(1, 5) for i in range(2)}
                           | {f"layer{s}/layer{s}.0/downsample" for s in range(2, 5)})  # Conv + BN of the shortcut
    assert scoped["layer2/layer2.0/downsample"].parent == "layer2/layer2.0"
    assert scoped["layer2/layer2.0"].label == "layer2.0" and len(scoped["layer2/layer2.0"].members) == 9
    assert onnx.node("/layer2/layer2.0/conv1/Conv").label == "conv1/Conv"


def test_crossing_reduction_untangles_what_the_declaration_order_crosses(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"input": [1, 8, 8], "layers": [
        {"name": "a", "type": "conv", "filters": 1, "kernel": 1, "inputs": "input"},
        {"name": "b", "type": "conv", "filters": 1, "kernel": 1, "inputs": "input"},
        {"name": "c", "type": "conv", "filters": 1, "kernel": 1, "inputs": "b"},
        {"name": "d", "type": "conv", "filters": 1, "kernel": 1, "inputs": "a"},
        {"name": "e", "type": "concat", "inputs": ["c", "d"]}]}
    graph = archcalc.load(spec)
    down: dict[str, list[str]] = {}
    for s, t in edges(graph):
        down.setdefault(s, []).append(t)
    assert _crossings([["input"], ["a", "b"], ["c", "d"], ["e"]], down) == 1  # declaration order
    lay = layering(graph, cluster_paths(graph))
    assert lay.crossings == 0 and _crossings(lay.ranks, down) == 0
    report = archcalc.analyze(graph)
    d = layout(graph, report)
    assert d.crossings == 0
    # the drawn segments really do not cross: c sits under b and d under a, or both swap
    assert (d.node("a").x < d.node("b").x) == (d.node("d").x < d.node("c").x)
    # without the sweeps the declared order is drawn, and its crossing is really in the picture
    monkeypatch.setattr("archcalc.diagram.layering.SWEEPS", 0)
    tangled = layout(graph, report)
    assert tangled.crossings == _drawn_crossings(tangled) == 1
    monkeypatch.undo()
    # GoogLeNet's declared order crosses its Inception branches' edges where they meet the concat
    g = archcalc.load("googlenet")
    lay = layering(g, cluster_paths(g))
    assert lay.declared_crossings > 0 and lay.crossings == 0


def test_left_to_right_puts_ranks_along_x() -> None:
    _, _, d = _drawn("resnet18", "LR")
    nodes = {n.name: n for n in d.nodes}
    for e in d.edges:
        assert nodes[e.dst].x > nodes[e.src].x
    assert d.width > d.height


def test_svg_dot_and_mermaid_hold_every_layer_edge_and_block() -> None:
    graph, report, d = _drawn("resnet50")
    svg = ET.fromstring(render_svg(d, report).split("\n", 1)[1])
    ns = "{http://www.w3.org/2000/svg}"
    groups = list(svg.iter(f"{ns}g"))
    assert [g.get("data-layer") for g in groups if g.get("class") == "node"] == list(graph.layers)
    assert len([g for g in groups if g.get("class") == "edge"]) == len(edges(graph))
    assert len([g for g in groups if g.get("class") == "cluster"]) == len(d.clusters) == 20
    texts = [t.text for t in svg.iter(f"{ns}text")]
    assert "64x56x56" in texts and f"conv · {si(report['conv1'].params)} params · 118M MACs" in texts
    dot = render_dot(d, report)
    assert dot.count("subgraph cluster_") == 20 and dot.count(" -> ") == len(edges(graph))
    assert dot.count("{") == dot.count("}") and 'label="64x56x56"' in dot
    mmd = render_mermaid(d, report)
    assert mmd.startswith("flowchart TB\n") and mmd.count("subgraph ") == 20
    assert len(re.findall(r"^\s*end$", mmd, re.M)) == 20 and mmd.count(" -->") == len(edges(graph))
    if shutil.which("dot"):
        res = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr


def test_si_keeps_three_significant_digits() -> None:
    cases = {0: "0", 999: "999", 1000: "1K", 9410: "9.41K", 100352: "100K", 589824: "590K", 999999: "1M",
             118013952: "118M", 4089184256: "4.09G", 25557032: "25.6M"}
    assert {n: si(n) for n in cases} == cases


def test_page_is_self_contained_and_carries_the_report(tmp_path: Path) -> None:
    graph, report, d = _drawn("resnet50")
    page = render_view(d, report, cluster_paths(graph))
    assert not re.search(r"https?://", page), "a URL in the page"
    assert not re.search(r"(?<![\w-])(src|href|action|srcset|xlink:href)\s*=", page, re.I), "an external reference"
    assert not re.search(r"fetch\(|XMLHttpRequest|import\(|WebSocket|EventSource", page)
    assert "<link" not in page and "@import" not in page and not re.search(r"url\((?!#arrow(-on)?\))", page)
    data = re.search(r'<script type="application/json" id="archcalc-data">(.*?)</script>', page, re.S)
    assert data is not None
    embedded = json.loads(data.group(1))
    assert embedded["report"] == json.loads(json.dumps(report.to_dict()))
    assert len(embedded["edges"]) == len(edges(graph))
    assert page.count('<tr class="layer"') == len(report)
    # an evil name cannot end the script or open a tag
    evil = archcalc.load({"input": [1, 8, 8], "layers": [
        {"name": 'a</script><b&x="1">', "type": "conv", "filters": 2, "kernel": 3}]})
    er = archcalc.analyze(evil)
    text = render_view(layout(evil, er), er, cluster_paths(evil))
    assert "</script><b" not in text and text.count("</script>") == 2


def test_block_subtotals_add_up() -> None:
    graph, report, _ = _drawn("resnet50")
    rows = {c: sums for c, _, sums in block_subtotals(report, cluster_paths(graph))}
    top = ["layer1", "layer2", "layer3", "layer4"]
    outside = [r for r in report if not cluster_paths(graph)[r.name]]
    for column in ("params", "macs", "flops"):
        assert sum(rows[c][column] for c in top) + sum(getattr(r, column) for r in outside) == \
            getattr(report.totals, column)
        assert rows["layer3"][column] == sum(rows[f"layer3.{i}"][column] for i in range(6))
    assert rows["layer1.0"]["params"] == sum(r.params for r in report if r.name.startswith("layer1.0."))


@pytest.mark.parametrize("fmt", ["svg", "dot", "mmd"])
def test_diagram_command_writes_each_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"r18.{fmt}"
    code, stdout, err = run("diagram", "resnet18", "-o", str(out))
    assert code == 0 and err == "" and stdout.startswith(f"wrote {out}")
    head = out.read_text()[:60]
    assert head.startswith({"svg": "<?xml", "dot": 'digraph "resnet18"', "mmd": "flowchart TB"}[fmt])
    code, stdout, _ = run("diagram", str(ONNX_R18), "--format", fmt, "--direction", "LR")
    assert code == 0 and ("LR" in stdout[:200] or fmt == "svg")


def test_diagram_and_view_refuse_bad_outputs_in_one_line(tmp_path: Path) -> None:
    code, out, err = run("diagram", "lenet5", "-o", str(tmp_path / "x.png"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "cannot tell the diagram format" in err
    code, out, err = run("diagram", "lenet5", "-o", str(tmp_path / "x.svgg"))
    assert code == 2 and "did you mean 'svg'" in err
    code, out, err = run("view", "lenet5", "-o", str(tmp_path / "x.svg"))
    assert code == 2 and err.count("\n") == 1 and "HTML" in err
    assert not list(tmp_path.iterdir())
    for option, bad, near in (("--direction", "LRX", "LR"), ("--format", "svgz", "svg")):
        err_text = io.StringIO()
        with redirect_stderr(err_text), pytest.raises(SystemExit) as stop:
            main(["diagram", "lenet5", option, bad])
        assert stop.value.code == 2 and err_text.getvalue().count("\n") == 1
        assert f"did you mean '{near}'?" in err_text.getvalue(), err_text.getvalue()
    assert run("diagram", "lenet5", "--direction", "lr", "-f", "MMD")[1].startswith("flowchart LR")


def test_readme_diagram_image_is_current() -> None:
    """docs/images/resnet18.svg is ``archcalc diagram resnet18 -o docs/images/resnet18.svg``
    (``ARCHCALC_UPDATE_DOCS=1`` rewrites it)."""
    _graph, report, d = _drawn("resnet18")
    text = render_svg(d, report)
    target = IMAGES / "resnet18.svg"
    if os.environ.get("ARCHCALC_UPDATE_DOCS"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    assert target.read_text() == text, "run ARCHCALC_UPDATE_DOCS=1 python -m pytest tests/test_diagram.py"
    readme = (ROOT / "README.md").read_text()
    assert "docs/images/resnet18.svg" in readme and "docs/images/view-resnet50.png" in readme
    png = IMAGES / "view-resnet50.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ops_let_through_are_marked_not_counted_in_every_format(tmp_path: Path) -> None:
    from tests.test_onnx_import_errors import save, unknown_ops_model

    model = str(save(unknown_ops_model()))
    uncounted = ("e1", "e2", "gs", "custom")
    for fmt in ("svg", "dot", "mmd"):
        code, text, err = run("diagram", model, "--allow-unknown", "-f", fmt)
        assert code == 0, err
        assert text.count("unknown · NOT COUNTED") == len(uncounted), fmt
    page = tmp_path / "m.html"
    code, _, err = run("view", model, "--allow-unknown", "-o", str(page))
    assert code == 0, err
    html = page.read_text()
    assert html.count("unknown (NOT COUNTED)") == len(uncounted)
    assert "NOT COUNTED (4 unknown ops, zero in every column): e1, e2, gs, custom" in html
