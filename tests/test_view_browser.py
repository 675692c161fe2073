"""The HTML page in a real browser (headless Chromium, file:// URL, no network): the DOM after the
page's own script ran has one table row per layer, a click shows the layer's figures and marks its
receptive field's path (its ancestors), sorting and filtering work, the totals are the JSON
report's, and a screenshot is a real picture of the page."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from archcalc.cli import main
from tests.browser import dump_dom, parse, screenshot
from tests.conftest import ROOT

IMAGES = ROOT / "docs" / "images"
SHOT = (1400, 1000)


@pytest.fixture(scope="module")
def resnet50(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    folder = tmp_path_factory.mktemp("view")
    page, report = folder / "resnet50.html", folder / "resnet50.json"
    assert main(["view", "resnet50", "-o", str(page)]) == 0
    assert main(["report", "resnet50", "-o", str(report)]) == 0
    return page, json.loads(report.read_text())


def _ancestors(report: dict, name: str) -> set[str]:  # type: ignore[type-arg]
    inputs = {r["name"]: r["inputs"] for r in report["layers"]}
    seen: set[str] = set()
    stack = [name]
    while stack:
        for ref in inputs[stack.pop()]:
            src = ref.split(":")[0]
            if src not in seen:
                seen.add(src)
                stack.append(src)
    return seen


def test_one_row_per_layer_and_the_totals_are_the_json_reports(resnet50: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    page, report = resnet50
    dom = parse(dump_dom(page))
    assert dom.find_all("body")[0].attrs.get("data-ready") == "1", "the page's script did not finish"
    rows = dom.find_all("tr", cls="layer")
    assert [r.attrs["data-layer"] for r in rows] == [r["name"] for r in report["layers"]]
    assert dom.by_id("shown").text() == f"{len(report['layers'])} of {len(report['layers'])} layers"
    for cell in dom.find_all("td", data_total="macs") + dom.find_all("div", data_total="macs"):
        assert int(cell.attrs["data-value"]) == report["totals"]["macs"]
    headline = {e.attrs["data-total"]: int(e.attrs["data-value"]) for e in dom.by_id("totals").find_all("div")}
    assert headline and all(report["totals"][k] == v for k, v in headline.items())
    footer = {e.attrs["data-total"]: int(e.attrs["data-value"]) for e in dom.find_all("td") if "data-total" in e.attrs}
    assert footer and all(report["totals"][k] == v for k, v in footer.items())
    # the script shows K/M/G by default; the exact figure stays in the cell's data
    conv1 = next(r for r in rows if r.attrs["data-layer"] == "conv1")
    macs = next(c for c in conv1.children if c.attrs.get("data-value") == str(report["layers"][1]["macs"]))
    assert macs.text() == "118M" and macs.attrs["data-exact"] == f"{report['layers'][1]['macs']:,}"
    assert report["conventions"]["described"] in dom.by_id("conventions").text()


def test_a_click_shows_the_figures_and_highlights_the_receptive_field_path(resnet50: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    page, report = resnet50
    name = "layer3.2.conv2"
    dom = parse(dump_dom(page, f"select={name}"))
    assert dom.find_all("body")[0].attrs.get("data-selected") == name
    panel = dom.by_id("panel")
    assert panel.find_all("h2")[0].text() == name
    record = next(r for r in report["layers"] if r["name"] == name)
    figures = {f.attrs["data-figure"]: f.find_all("b")[0].text() for f in panel.find_all("div", cls="figure")}
    assert figures["macs"].endswith(f"{record['macs']:,}") and figures["params"].endswith(f"{record['params']:,}")
    assert "receptive field" in panel.text()
    # the panel is the layer's explanation (archcalc.explain), every figure with its formula and numbers
    import archcalc
    from archcalc.explain import explain

    expected = explain(archcalc.analyze(archcalc.load("resnet50")), name).to_dict()
    shown = {f.attrs["data-figure"]: f for f in panel.find_all("div", cls="figure")}
    assert list(shown) == [f["figure"] for f in expected["figures"]]
    for f in expected["figures"]:
        codes = [c.text() for c in shown[f["figure"]].find_all("code")]
        assert (not f["symbols"] or f["symbols"] in codes) and (not f["numbers"] or f["numbers"] in codes), f["figure"]
        assert f["words"] in shown[f["figure"]].text()
    nodes = dom.find_all("g", cls="node")
    assert len(nodes) == len(report["layers"])
    marked = {n.attrs["data-layer"] for n in nodes if "anc" in n.classes}
    assert marked == _ancestors(report, name) and len(marked) > 50
    assert [n.attrs["data-layer"] for n in nodes if "sel" in n.classes] == [name]
    later = {n.attrs["data-layer"] for n in nodes if "dim" in n.classes}
    assert "fc" in later and "layer3.2.bn2" in later and not later & marked
    rows = {r.attrs["data-layer"]: r.classes for r in dom.find_all("tr", cls="layer")}
    assert "sel" in rows[name] and {n for n, c in rows.items() if "anc" in c} == marked


def test_sorting_and_filtering(resnet50: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    page, report = resnet50
    dom = parse(dump_dom(page, "sort=-macs"))
    order = [r.attrs["data-layer"] for r in dom.find_all("tr", cls="layer")]
    by_macs = sorted(report["layers"], key=lambda r: -r["macs"])
    assert [report["layers"][[r["name"] for r in report["layers"]].index(n)]["macs"] for n in order] == \
        [r["macs"] for r in by_macs]
    assert dom.find_all("body")[0].attrs.get("data-sorted") == "macs:desc"
    dom = parse(dump_dom(page, "sort=rf"))  # by the field's area; global fields last
    fields = [r.find_all("td")[-1].text() for r in dom.find_all("tr", cls="layer")]
    sizes = [int(f.split()[0]) for f in fields if f != "global"]
    assert sizes == sorted(sizes) and fields[len(sizes):] == ["global"] * (len(fields) - len(sizes))
    dom = parse(dump_dom(page, "filter=layer4&units=exact"))
    shown = [r for r in dom.find_all("tr", cls="layer") if "display: none" not in r.attrs.get("style", "")]
    assert [r.attrs["data-layer"] for r in shown] == [r["name"] for r in report["layers"] if "layer4" in r["name"]]
    assert dom.by_id("shown").text() == f"{len(shown)} of {len(report['layers'])} layers"
    from archcalc.render.units import si

    for column in ("params", "macs", "flops", "activation_bytes"):  # the shown rows' sums, exact and K/M/G
        cell = next(c for c in dom.find_all("td") if c.attrs.get("data-shown") == column)
        want = sum(r[column] for r in report["layers"] if "layer4" in r["name"])
        assert int(cell.attrs["data-value"]) == want and cell.text() == f"{want:,}"
        assert cell.attrs["data-si"] == si(want)
    conv1 = next(r for r in dom.find_all("tr", cls="layer") if r.attrs["data-layer"] == "conv1")
    assert f"{report['layers'][1]['macs']:,}" in conv1.text()
    dom = parse(dump_dom(page, "block=layer2.1"))
    shown = [r.attrs["data-layer"] for r in dom.find_all("tr", cls="layer")
             if "display: none" not in r.attrs.get("style", "")]
    assert shown == [r["name"] for r in report["layers"] if r["name"].startswith("layer2.1.")]
    subtotal = next(b for b in dom.find_all("tr", cls="block") if b.attrs["data-block"] == "layer2.1")
    cells = [c for c in subtotal.children if c.tag == "td"]  # block, layers, params, macs, ...
    macs = int(cells[3].attrs["data-value"])
    assert macs == sum(r["macs"] for r in report["layers"] if r["name"].startswith("layer2.1."))


def _png_pixels(png: Path):  # type: ignore[no-untyped-def]
    import matplotlib.image

    return matplotlib.image.imread(str(png))


def test_screenshot_of_the_resnet50_page(resnet50: tuple[Path, dict], tmp_path: Path) -> None:  # type: ignore[type-arg]
    page, _ = resnet50
    png = tmp_path / "view.png"
    screenshot(page, png, SHOT, "select=layer3.2.conv2")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = _png_pixels(png)
    assert pixels.shape[:2] == (SHOT[1], SHOT[0])
    rgb = (pixels[..., :3] * 255).round().astype(int)
    colours = {tuple(c) for c in rgb.reshape(-1, 3)[::7]}
    assert len(colours) > 200, "the screenshot is (nearly) uniform"
    header = rgb[5:60, 5:400].reshape(-1, 3)
    assert (abs(header - (0x20, 0x30, 0x40)).sum(axis=1) < 12).mean() > 0.5, "the dark header is not drawn"
    selected = (abs(rgb - (0xC2, 0x4D, 0x00)).sum(axis=2) < 40).sum()
    assert selected > 200, "the selected layer's outline is not on screen"
    if os.environ.get("ARCHCALC_UPDATE_DOCS"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        (IMAGES / "view-resnet50.png").write_bytes(png.read_bytes())


def test_the_page_works_for_an_onnx_model(tmp_path: Path) -> None:
    page = tmp_path / "r18.html"
    assert main(["view", str(ROOT / "tests" / "fixtures" / "onnx" / "resnet18_tv.onnx"), "-o", str(page)]) == 0
    name = "/layer2/layer2.0/conv2/Conv"
    dom = parse(dump_dom(page, "select=" + name.replace("/", "%2F")))
    assert dom.find_all("body")[0].attrs.get("data-selected") == name
    assert len(dom.find_all("tr", cls="layer")) == 70
    clusters = {c.attrs["data-cluster"] for c in dom.find_all("g", cls="cluster")}
    assert {"layer1", "layer1/layer1.0", "layer4/layer4.1"} <= clusters


def test_a_real_mouse_click_on_a_box_and_on_a_row(resnet50: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    """A mouse press and release at the box's place on screen (DevTools protocol), hit-tested by the
    browser, selects the layer; a click on a table row selects it too and scrolls the diagram to it."""
    from tests.browser import DevTools

    page, report = resnet50
    with DevTools(page.resolve().as_uri()) as browser:
        browser.wait_for("document.body && document.body.dataset.ready === '1'")
        rect = browser.evaluate("(function(){ var g = Array.from(document.querySelectorAll('#diagram .node'))"
                                ".find(function(n){ return n.dataset.layer === 'layer1.0.conv1'; });"
                                "var r = g.querySelector('rect').getBoundingClientRect();"
                                "return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        assert isinstance(rect, list) and 0 < rect[1] < 1000, rect  # on screen without scrolling
        browser.click(*rect)
        assert browser.evaluate("document.body.dataset.selected") == "layer1.0.conv1"
        assert browser.evaluate("document.querySelector('#panel h2').textContent") == "layer1.0.conv1"
        marked = browser.evaluate("Array.from(document.querySelectorAll('#diagram .node.anc'))"
                                  ".map(function(n){ return n.dataset.layer; })")
        assert set(marked) == _ancestors(report, "layer1.0.conv1")  # type: ignore[arg-type]
        # a row far down the table: scroll it into view, click it; the diagram pane follows
        xy = browser.evaluate("(function(){ var tr = document.querySelector('#layers tr[data-layer=\"fc\"]');"
                              "tr.scrollIntoView({block: 'center'}); var r = tr.getBoundingClientRect();"
                              "return [r.left + 30, r.top + r.height / 2]; })()")
        browser.click(*xy)  # type: ignore[misc]
        assert browser.evaluate("document.body.dataset.selected") == "fc"
        assert browser.evaluate("document.getElementById('diagram').scrollTop") > 5000
        assert browser.evaluate("document.querySelectorAll('#diagram .node.anc').length") == len(report["layers"]) - 1
