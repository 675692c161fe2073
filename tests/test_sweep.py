"""Sweeps: grid expansion, invalid-variant rows, exact agreement with direct analyses, parallel and
Dask executors, Pareto/best, output formats, plots (opened and checked), the CLI."""

from __future__ import annotations

import copy
import io
import json
from concurrent.futures import ProcessPoolExecutor
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

import archcalc
from archcalc.cli import main
from archcalc.language.yamlmarks import load_yaml
from archcalc.sweeps import SweepResult, expand_grid, parse_values, sweep
from tests.conftest import SPECS

RESNET = SPECS / "resnet18.yaml"


def test_values_and_ranges() -> None:
    assert parse_values("160:320:32") == [160, 192, 224, 256, 288, 320]  # both ends
    assert parse_values("1:3") == [1, 2, 3]
    assert parse_values("32,64,128") == [32, 64, 128]
    assert parse_values("fp16,fp32") == ["fp16", "fp32"]
    with pytest.raises(archcalc.SpecError, match="empty"):
        parse_values("5:1:1")


def test_grid_product_and_zip() -> None:
    grid = {"a": [1, 2], "b": "10:30:10"}
    assert expand_grid(grid) == [{"a": a, "b": b} for a in (1, 2) for b in (10, 20, 30)]
    assert expand_grid({"a": [1, 2, 3], "b": [4, 5, 6]}, mode="zip") == [{"a": 1, "b": 4}, {"a": 2, "b": 5},
                                                                          {"a": 3, "b": 6}]
    with pytest.raises(archcalc.SpecError, match="one length"):
        expand_grid(grid, mode="zip")


def _direct(variant: dict[str, Any], conv: dict[str, Any] | None = None) -> archcalc.Report:
    """The same variant written into the spec text by hand: an independent path to the numbers."""
    doc = copy.deepcopy(dict(load_yaml(RESNET.read_text(), str(RESNET))))
    variables = {}
    for key, value in variant.items():
        if key == "width":
            variables["width"] = value
        elif key == "input.size":
            doc["input"] = [3, value, value]
        elif key == "layer3.repeat":
            next(e for e in doc["layers"] if e.get("name") == "layer3")["repeat"] = value
        elif key == "conv1.kernel":
            next(e for e in doc["layers"] if e.get("name") == "conv1")["kernel"] = value
    doc["variables"] = {**doc["variables"], **variables}
    return archcalc.analyze(archcalc.load(doc), overrides=conv)


GRID = {"width": [16, 40], "input.size": [96, 224], "layer3.repeat": [1, 3], "conv1.kernel": [3, 7]}


def test_rows_equal_direct_analyses() -> None:
    result = sweep(RESNET, GRID)
    assert len(result) == 16 and not result.errors
    for row in result.rows:
        variant = {k: row[k] for k in GRID}
        report = _direct(variant)
        t = report.totals
        assert (row["params"], row["macs"], row["flops"]) == (t.params, t.macs, t.flops), variant
        assert (row["peak_activation_bytes"], row["training_bytes"]) == (t.peak_activation_bytes, t.training_bytes)
        assert row["output_shape"] == "1000"


def test_conventions_as_grid_keys() -> None:
    result = sweep(RESNET, {"batch": [1, 4], "dtype": ["fp32", "fp16"]}, conventions="paper_macs")
    by = {(r["batch"], r["dtype"]): r for r in result.rows}
    assert by[(4, "fp16")]["macs"] == 4 * by[(1, "fp32")]["macs"] == 4 * 1_814_073_344
    assert by[(1, "fp16")]["param_bytes"] * 2 == by[(1, "fp32")]["param_bytes"]


def test_invalid_variants_become_rows() -> None:
    result = sweep(SPECS / "vgg.yaml", {"input.size": [224, 16, 64], "n3": [3]})
    assert [r["error"] is None for r in result.rows] == [True, False, True]
    bad = result.rows[1]  # 16 -> 8 -> 4 -> 2 -> 1: the fifth 2x2 pool has one pixel
    assert "window of 2 does not fit" in bad["error"] and bad["params"] is None
    result = sweep(RESNET, {"layer2.0.conv2.filters": [128, 100]})
    assert result.rows[0]["error"] is None
    assert "channel mismatch at an add" in result.rows[1]["error"]


def test_bad_grid_keys_are_errors() -> None:
    with pytest.raises(archcalc.SpecError, match="no top-level block use named 'layer9'"):
        sweep(RESNET, {"layer9.repeat": [1]})
    with pytest.raises(archcalc.SpecError, match="did you mean 'width'"):
        sweep(RESNET, {"widht": [1]})
    with pytest.raises(archcalc.SpecError, match=r"grid key 'conv1.kernal': layer conv1 \(conv\) has no key 'kernal' "
                                                 r"\(did you mean 'kernel'\?\)"):
        sweep(RESNET, {"conv1.kernal": [3]})
    with pytest.raises(archcalc.SpecError, match=r"no layer named 'conv9' \(did you mean 'conv1'\?\)"):
        sweep(RESNET, {"conv9.kernel": [3]})
    # a layer only some variants have (layer3.2 exists with 3 repeats): checked per variant
    result = sweep(RESNET, {"layer3.repeat": [2, 3], "layer3.2.conv1.kernel": [3]})
    assert "no layer named 'layer3.2.conv1'" in result.rows[0]["error"] and result.rows[1]["error"] is None
    with pytest.raises(archcalc.OptionError, match=r"unknown metric 'mac' \(did you mean 'macs'\?\)"):
        sweep(RESNET, {"width": [16]}, metrics=("params", "mac"))
    with pytest.raises(archcalc.SpecError, match=r"mode must be 'product' or 'zip', got 'prod' \(did you mean 'product'\?\)"):
        sweep(RESNET, {"width": [16]}, mode="prod")


def test_process_pool_and_chunks_agree_with_inline() -> None:
    grid = {"width": list(range(8, 72, 8)), "input.size": "96:256:32"}
    inline = sweep(RESNET, grid, workers=1)
    seen: list[tuple[int, int]] = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = sweep(RESNET, grid, executor=pool, chunk_size=7, progress=lambda d, t: seen.append((d, t)))
    assert pooled.rows == inline.rows
    assert seen[-1] == (len(inline), len(inline))


def test_dask_distributed_executor() -> None:
    distributed = pytest.importorskip("distributed", reason="dask.distributed is the optional 'cluster' extra")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        result = sweep(RESNET, {"width": [16, 32, 48], "layer3.repeat": [1, 2]}, executor=client.get_executor())
        worker_pids = set(client.run(lambda: __import__("os").getpid()).values())
    import os

    assert os.getpid() not in worker_pids and len(worker_pids) == 2
    assert result.rows == sweep(RESNET, {"width": [16, 32, 48], "layer3.repeat": [1, 2]}, workers=1).rows


def _rows(*pairs: tuple[int, int]) -> SweepResult:
    rows = [{"k": i, "x": x, "y": y, "error": None} for i, (x, y) in enumerate(pairs)]
    rows.append({"k": 99, "x": None, "y": None, "error": "bad"})
    return SweepResult(rows, ("k",), ("x", "y"), archcalc.preset("default"))


def test_pareto_best_where() -> None:
    r = _rows((1, 5), (2, 3), (3, 4), (4, 1), (2, 6), (5, 1))
    assert [row["k"] for row in r.pareto("x", "y")] == [0, 1, 3]  # min x, min y
    assert [row["k"] for row in r.pareto("x", "y", minimize=(True, False))] == [0, 4]  # min x, max y
    assert r.best("y")["k"] in (3, 5)
    assert r.best("y", where="x <= 4")["k"] == 3
    assert r.best("x", where=["y >= 4", "x > 1"])["k"] == 2 or r.best("x", where=["y >= 4", "x > 1"])["k"] == 4
    assert r.best("x", maximize=True)["k"] == 5
    assert r.best("x", where="x > 100") is None
    assert len(r.where(lambda row: row["x"] % 2 == 0)) == 3
    with pytest.raises(archcalc.SpecError, match="metric <= value"):
        r.where("x <=")


def test_outputs(tmp_path: Path) -> None:
    result = sweep(RESNET, {"width": [16, 32], "layer2.0.conv2.filters": [32, 100]})
    text = result.to_csv(tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text() == text
    assert text.splitlines()[0].split(",")[:3] == ["width", "layer2.0.conv2.filters", "params"]  # header first
    with_context = result.to_csv(context=True)
    assert with_context.startswith("# conventions: preset default") and with_context.endswith("\n" + text)
    data = json.loads(result.to_json())
    assert data["schema_version"] == 1 and len(data["rows"]) == 4
    assert [bool(row["error"]) for row in data["rows"]] == [False, True, True, True]
    pd = pytest.importorskip("pandas")
    frame = result.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and list(frame["width"]) == [16, 16, 32, 32]
    assert frame["params"].isna().sum() == 3
    read = pd.read_csv(tmp_path / "s.csv")  # plain CSV: the header is the first row
    assert list(read.columns) == result.columns and len(read) == 4 and list(read["width"]) == [16, 16, 32, 32]
    assert read["params"].isna().sum() == 3 and read["params"][0] == result.rows[0]["params"]
    assert pd.read_csv(io.StringIO(with_context), comment="#").equals(read)


def test_plots_show_what_they_claim(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg

    from archcalc import plots

    report = archcalc.analyze(archcalc.load(SPECS / "lenet5.yaml"))
    fig = plots.layer_bars(report)
    bars = fig.axes[0].patches
    shown = [r for r in report.layers if r.params or r.macs or r.activation_bytes]
    assert [b.get_width() for b in bars] == [r.params for r in shown]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [r.name for r in shown]
    plots.save(fig, tmp_path / "layers.png")
    image = mpimg.imread(tmp_path / "layers.png")
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert (image[..., :3] < 0.9).any(axis=-1).mean() > 0.02  # not blank

    fig = plots.rf_growth(archcalc.analyze(archcalc.load(SPECS / "vgg.yaml")))
    sizes = list(fig.axes[0].lines[0].get_ydata())
    assert sizes[-1] == 212 and sizes == sorted(sizes)  # VGG-16: a chain, the field only grows
    plots.save(fig, tmp_path / "rf.svg")
    assert (tmp_path / "rf.svg").read_text().lstrip().startswith(("<?xml", "<svg"))

    result = sweep(RESNET, {"width": [16, 32, 64], "input.size": [96, 160, 224]})
    fig = plots.sweep_scatter(result, "macs", "params")  # by default both costs are minimised
    front = result.pareto("macs", "params")
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [r["macs"] for r in front]
    assert "min macs, min params" in fig.axes[0].get_legend().get_texts()[-1].get_text()
    most = plots.sweep_scatter(result, "macs", "params", minimize=(True, False))
    assert list(most.axes[0].lines[0].get_xdata()) == [r["macs"] for r in result.pareto("macs", "params",
                                                                                          minimize=(True, False))]
    with pytest.raises(archcalc.OptionError, match="did you mean 'params'"):
        plots.sweep_scatter(result, "macs", "param")
    assert len(fig.axes[0].collections[0].get_offsets()) == 9
    plots.save(fig, tmp_path / "sweep.png")
    with pytest.raises(archcalc.ArchcalcError, match=r"\.png or \.svg"):
        plots.save(fig, tmp_path / "sweep.jpg")


def test_cli_sweep_and_plot(tmp_path: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["sweep", "resnet18", "--vary", "width=16,32", "--vary", "input.size=96:160:64",
                     "--format", "json", "-o", str(tmp_path / "s.json"), "--plot", str(tmp_path / "s.png")])
    assert code == 0 and (tmp_path / "s.png").stat().st_size > 1000
    rows = json.loads((tmp_path / "s.json").read_text())["rows"]
    assert [(r["width"], r["input.size"]) for r in rows] == [(16, 96), (16, 160), (32, 96), (32, 160)]
    with redirect_stdout(io.StringIO()):
        assert main(["plot", "sweep", str(tmp_path / "s.json"), "-o", str(tmp_path / "p.svg")]) == 0
        assert main(["plot", "layers", "lenet5", "-o", str(tmp_path / "l.png")]) == 0
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["sweep", "lenet5_modern", "--vary", "C1.filters=4,6,8", "--metrics", "params,macs"]) == 0
    text = out.getvalue()
    assert "3 variants, 0 invalid" in text and "pareto" in text


def test_latency_estimate_metric_equals_the_estimator() -> None:
    from archcalc.estimate import estimate_latency
    from tests.test_estimate import synthetic

    profile = synthetic()
    result = sweep(SPECS / "lenet5_modern.yaml", {"C1.filters": [4, 8], "batch": [1, 4]},
                   metrics=("macs", "latency_ms"), device_profile=profile)
    for row in result.rows:
        doc = copy.deepcopy(dict(load_yaml((SPECS / "lenet5_modern.yaml").read_text(), "m")))
        next(e for e in doc["layers"] if isinstance(e, dict) and e.get("name") == "C1")["filters"] = row["C1.filters"]
        expected = estimate_latency(archcalc.load(doc), profile, batch=row["batch"]).total_ms
        assert row["latency_ms"] == pytest.approx(expected, rel=1e-6)
    assert result.rows[0]["latency_ms"] < result.rows[3]["latency_ms"]


def test_profile_rows_are_measured_one_by_one() -> None:
    result = sweep(SPECS / "lenet5_modern.yaml", {"C1.filters": [2, 6]}, metrics=("params",), profile=True)
    for row in result.rows:
        assert row["measured_ms"] > 0 and row["measured_p90_ms"] >= row["measured_ms"]
        assert row["provider"] == "CPUExecutionProvider" and row["runs"] == 20


def test_queries_reject_unknown_metric_names() -> None:
    result = sweep(RESNET, {"width": [16, 32]}, metrics=("params", "macs"))
    with pytest.raises(archcalc.OptionError, match=r"unknown metric 'mac' \(did you mean 'macs'\?\)"):
        result.best("mac")
    with pytest.raises(archcalc.OptionError, match=r"unknown metric 'param' in condition 'param >= 5e6' "
                                                   r"\(did you mean 'params'\?\)"):
        result.where("param >= 5e6")
    with pytest.raises(archcalc.OptionError, match=r"did you mean 'params'"):
        result.best("macs", where="param >= 5e6")
    with pytest.raises(archcalc.OptionError, match=r"unknown metric 'param' \(did you mean 'params'\?\)"):
        result.pareto("macs", "param")
    with pytest.raises(archcalc.OptionError, match=r"'flops' is a metric this sweep did not compute.*params, macs"):
        result.best("flops")
    assert result.best("macs", where="width > 16")["width"] == 32  # grid keys are names too
    assert result.where("params > 1e12") == [] and result.best("macs", where="params > 1e12") is None


def test_default_pareto_front_minimises_costs() -> None:
    rows = [{"k": i, "macs": m, "params": p, "error": None} for i, (m, p) in enumerate([(1, 9), (2, 3), (3, 1),
                                                                                        (4, 5)])]
    result = SweepResult(rows, ("k",), ("macs", "params"), archcalc.preset("default"))
    assert [r["k"] for r in result.pareto("macs", "params")] == [0, 1, 2]
    from archcalc.render.sweep import render_sweep

    text = render_sweep(result)
    marked = [line.split()[0] for line in text.splitlines()[2:6] if line.rstrip().endswith("*")]
    assert marked == ["0", "1", "2"] and "Pareto front (macs, params): 3 rows" in text
    only_macs = [{"k": r["k"], "macs": r["macs"], "error": None} for r in rows]
    assert "pareto" not in render_sweep(SweepResult(only_macs, ("k",), ("macs",), archcalc.preset("default")))
    with pytest.raises(archcalc.OptionError, match="did you mean 'macs'"):
        render_sweep(result, x="mac")


def test_cli_sweep_rejects_an_unknown_layer_key_before_running() -> None:
    from tests.test_cli import run

    code, out, err = run("sweep", "resnet18", "--vary", "conv1.kernal=3,5")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "has no key 'kernal' (did you mean 'kernel'?)" in err
    code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--x", "mac")
    assert code == 2 and "did you mean 'macs'" in err
    code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--metrics", "params", "--plot", "p.png")
    assert code == 2 and out == "" and "'macs' is a metric this sweep did not compute" in err
    code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--metrics", "params,mac", "--x", "mac")
    assert code == 2 and "unknown metric 'mac' (did you mean 'macs'?); metrics: params, macs" in err
    code, out, _ = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--metrics", "params,flops")
    assert code == 0 and "2 variants, 0 invalid\n" in out and "pareto" not in out


def test_grids_are_counted_and_streamed_never_built() -> None:
    from archcalc.sweeps import MAX_VARIANTS, make_grid

    huge = make_grid({"width": "1:1000", "input.size": "1:1000", "conv1.kernel": "1:1000"})
    assert huge.count == 10**9 and huge.shape == "1,000 x 1,000 x 1,000"
    assert all(isinstance(a, range) for a in huge.axes)  # ranges stay lazy
    assert huge.variant(0) == {"width": 1, "input.size": 1, "conv1.kernel": 1}
    assert huge.variant(10**9 - 1) == {"width": 1000, "input.size": 1000, "conv1.kernel": 1000}
    small = {"a": [1, 2], "b": "10:30:10", "c": ["x", "y"]}
    assert list(make_grid(small)) == expand_grid(small) == [{"a": a, "b": b, "c": c} for a in (1, 2)
                                                            for b in (10, 20, 30) for c in "xy"]
    assert list(make_grid(small).variants(3, 5)) == expand_grid(small)[3:5]
    with pytest.raises(archcalc.SpecError, match="the grid has 1,000,000,000 variants"):
        expand_grid({"width": "1:1000", "input.size": "1:1000", "conv1.kernel": "1:1000"})
    with pytest.raises(archcalc.SpecError, match=r"^the grid has 1,000,000,000 variants \(1,000 x 1,000 x 1,000\); "
                                                 r"the limit is 1,000,000 \(max_variants="):
        sweep(RESNET, {"width": "1:1000", "input.size": "1:1000", "conv1.kernel": "1:1000"})
    assert MAX_VARIANTS == 1_000_000
    with pytest.raises(archcalc.SpecError, match=r"the grid has 4 variants \(2 x 2\); the limit is 3"):
        sweep(RESNET, {"width": [16, 32], "conv1.kernel": [3, 5]}, max_variants=3)
    seen: list[tuple[int, int]] = []
    result = sweep(RESNET, {"width": [16, 32], "conv1.kernel": [3, 5]}, max_variants=4,
                   progress=lambda d, t: seen.append((d, t)))
    assert len(result) == 4 and seen[0] == (0, 4) and seen[-1] == (4, 4)  # the count comes before any row
    with pytest.raises(archcalc.SpecError, match="values are limited to 10"):
        parse_values("1,2," + "9" * 5000)
    with pytest.raises(archcalc.SpecError, match=r"range 1:10000000000000:1 has 10,000,000,000,000 values \(limit 1,000,000,000,000\)"):
        make_grid({"width": "1:10000000000000"})


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
def test_a_refused_grid_costs_no_memory() -> None:
    import subprocess
    import sys

    code = ("import archcalc\n"
            "try:\n    archcalc.sweep('resnet18', {'width': '1:10000', 'input.size': '1:1000'})\n"
            "except archcalc.SpecError as e:\n    print(e)\n"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    message, peak_kib = out.splitlines()
    assert message.startswith("the grid has 10,000,000 variants")
    assert int(peak_kib) < 300 * 1024, peak_kib  # 2.4 GB when the grid was a list


def _cli(*args: str) -> tuple[int, str, str]:
    """``main`` as the command line runs it: usage errors (argparse's SystemExit) are exit codes too."""
    from contextlib import redirect_stderr

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_workers_are_validated_at_the_edge() -> None:
    from archcalc.sweeps import MAX_WORKERS

    run = _cli

    for bad in (0, -3, 10000, True, 2.0):
        with pytest.raises(archcalc.OptionError, match=rf"workers must be an integer from 1 to {MAX_WORKERS:,}"):
            sweep(RESNET, {"width": [16]}, workers=bad)
    with pytest.raises(archcalc.OptionError, match=r"got an integer of about 5,001 digits$"):
        sweep(RESNET, {"width": [16]}, workers=-10**5000)
    with pytest.raises(archcalc.OptionError, match=r"^chunk_size must be a positive integer, got 0$"):
        sweep(RESNET, {"width": [16]}, chunk_size=0)
    with pytest.raises(archcalc.OptionError, match=r"^max_variants must be a positive integer, got 'x'$"):
        sweep(RESNET, {"width": [16]}, max_variants="x")  # type: ignore[arg-type]
    for bad in ("10000", "-3", "0", "x"):
        code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--workers", bad)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert f"--workers: must be an integer from 1 to {MAX_WORKERS:,}" in err
    code, out, err = run("sweep", "resnet18", "--vary", "width=1:10000", "--vary", "input.size=1:1000")
    assert code == 2 and out == "" and err == ("archcalc: the grid has 10,000,000 variants (10,000 x 1,000); the "
                                               "limit is 1,000,000 (max_variants=, --max-variants N, allows more)\n")
    code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--max-variants", "1")
    assert code == 2 and "the grid has 2 variants (2); the limit is 1" in err
    code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--max-variants", "2")
    assert code == 0 and err == "archcalc: sweep: 2 variants\n"
    code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--format", "csv", "--csv-context")
    assert code == 0 and out.startswith("# conventions: ") and out.splitlines()[1].startswith("C1.filters,")
    code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4,8", "--format", "csv")
    assert code == 0 and out.startswith("C1.filters,params,")
    code, out, err = run("sweep", "lenet5_modern", "--vary", "C1.filters=4," + "9" * 5000)
    assert code == 2 and err.count("\n") == 1 and "values are limited to 10^18" in err


def test_one_variant_does_not_abort_a_sweep() -> None:
    huge = 10**5000
    result = sweep(RESNET, {"width": [16, huge, 32]}, metrics=("params", "macs"))
    assert [r["error"] is None for r in result.rows] == [True, False, True]
    bad = result.rows[1]
    assert bad["params"] is None and bad["macs"] is None and "\n" not in bad["error"]
    assert bad["error"].startswith("cannot analyse this variant")
    assert result.rows[0]["params"] == sweep(RESNET, {"width": [16]}, metrics=("params",)).rows[0]["params"]
    from archcalc.render.sweep import render_sweep

    assert "<an integer of 5,001 digits>" in result.to_csv() and "<an integer of 5,001 digits>" in render_sweep(result)
    assert json.loads(result.to_json())["rows"][1]["width"] == "<an integer of 5,001 digits>"
    assert result.rows[1]["width"] == huge  # the row keeps the value; only output shows it so
    result = sweep(RESNET, {"conv1.filters": [64, 2**80]}, metrics=("params", "macs", "peak_activation_bytes"))
    assert result.rows[0]["error"] is None and result.rows[1]["error"]
    assert "\n" not in result.rows[1]["error"]


@pytest.mark.parametrize("failure", [OverflowError("int too large to convert to float"), ValueError("math domain"),
                                     RecursionError("maximum recursion depth exceeded"), MemoryError()])
def test_each_variant_failure_becomes_a_row(monkeypatch: pytest.MonkeyPatch, failure: BaseException) -> None:
    from archcalc.sweeps import variants

    real = variants.variant_graph

    def flaky(job: Any, variant: dict[str, Any]) -> Any:
        if variant["width"] == 24:
            raise failure
        return real(job, variant)

    monkeypatch.setattr(variants, "variant_graph", flaky)
    result = sweep(RESNET, {"width": [16, 24, 32]}, metrics=("params",), workers=1)
    assert [r["error"] is None for r in result.rows] == [True, False, True]
    assert result.rows[1]["error"].startswith("cannot analyse this variant: ")
    assert type(failure).__name__ in result.rows[1]["error"]


def test_an_archcalc_bug_still_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    from archcalc.sweeps import variants

    def broken(job: Any, variant: dict[str, Any]) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(variants, "variant_graph", broken)
    with pytest.raises(KeyError):
        sweep(RESNET, {"width": [16, 24]}, metrics=("params",), workers=1)
