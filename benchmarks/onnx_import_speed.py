"""ONNX import + analysis time, archcalc against onnx-tool, paired in one run (issue 12). Prints
figures and the goals' verdicts; asserts nothing.

    python benchmarks/onnx_import_speed.py [--runs 5] [--process-runs 3] [--keep DIR] [--only WORD] [--big]

The benchmark set (written once into DIR, reused with --keep):
  fixture/*     the project's fixtures (tests/fixtures/onnx: torch exports, weight-stripped; a file of
                zeros stands in for each missing weight file, as onnx-tool cannot load a model without it)
  spec/*        bundled specs exported by archcalc with random weights in the file (--big adds VGG-16 and
                AlexNet, 240-530 MB)
  caffe2/*      Caffe2-converted graphs (tests/caffe2_graphs.py): opsets 7-9, BN + Scale as Mul/Add whose
                per-channel constants are initializers, Constant nodes, ConstantOfShape -> Unsqueeze or
                Expand; LRN, Sum, Dropout, constant-shape Reshape, Gemm, Softmax; with the weights in the
                file, and weightless (weights as external data: the .onnx holds only the structure)
  chain/*       synthetic chains of 1k, 10k and 50k nodes (Conv 1x1 -> Relu ...), for time per node

Timed per model, interleaved (each round runs every model and both tools, alternating which goes
first, so drift of a shared machine hits both alike), after one untimed warm-up run:
  in-process:  archcalc.analyze(archcalc.load(p, batch=1))  vs   onnx_tool.Model(p) + shape_infer() + profile()
  process:     python -m archcalc report p -f json --batch 1  vs   python <script: the same onnx-tool calls> p
               (both with bytecode cached, as installed packages have it: PYTHONDONTWRITEBYTECODE is
               dropped from their environment)
Medians, min and max of the rounds (garbage collected before each timing); ratios are archcalc /
onnx-tool, the median of per-round ratios (paired). Goals: in-process <= 0.5x on every model,
process <= 0.3x, and archcalc's time per node flat from 1k to 50k nodes (the per-node times within
1.5x of each other). Load average is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archcalc  # noqa: E402

TOOL_SCRIPT = """import contextlib, io, sys
import onnx_tool
with contextlib.redirect_stdout(io.StringIO()):
    m = onnx_tool.Model(sys.argv[1])
    m.graph.shape_infer()
    m.graph.profile()
"""
SPECS = ("lenet5_modern", "googlenet", "mobilenet_v2", "resnet18", "resnet50", "densenet121")
BIG_SPECS = ("alexnet_torchvision", "vgg")
CHAINS = (1_000, 10_000, 50_000)


def _fixtures(folder: Path) -> list[Path]:
    """Each fixture with a file of zeros where its weights were (the same bytes for both tools)."""
    import onnx

    out = []
    for src in sorted((ROOT / "tests" / "fixtures" / "onnx").glob("*.onnx")):
        dst = folder / "fixture" / src.name
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
            model = onnx.load(str(src), load_external_data=False)
            ends: dict[str, int] = {}
            for t in model.graph.initializer:
                entries = {e.key: e.value for e in t.external_data}
                if t.data_location == onnx.TensorProto.EXTERNAL and "location" in entries:
                    end = int(entries.get("offset", "0")) + int(entries.get("length", "0"))
                    ends[entries["location"]] = max(ends.get(entries["location"], 0), end)
            for location, size in ends.items():
                with open(dst.parent / location, "wb") as f:
                    f.truncate(size)
        out.append(dst)
    return out


def _specs(folder: Path, big: bool) -> list[Path]:
    from archcalc.onnx_export.export import export_onnx, save

    out = []
    for name in SPECS + (BIG_SPECS if big else ()):
        path = folder / "spec" / f"{name}.onnx"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            save(export_onnx(archcalc.load(name), seed=1), path)
        out.append(path)
    return out


def _caffe2(folder: Path) -> list[Path]:
    import onnx

    from tests.caffe2_graphs import caffe2_net

    kinds = [("initializer", 7), ("constant", 8), ("expand", 8), ("constant_of_shape", 9), ("initializer", 9)]
    channels = (64, 128, 256, 512, 1024)
    out = []
    for storage, opset in kinds:
        for weightless in (False, True):
            path = folder / "caffe2" / f"{storage}_op{opset}{'_weightless' if weightless else ''}.onnx"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                model = caffe2_net(channels, opset=opset, storage=storage, size=224)
                onnx.save_model(model, str(path), save_as_external_data=weightless, all_tensors_to_one_file=True,
                                location=path.stem + ".weights.bin", size_threshold=1024)
            out.append(path)
    return out


def _chain(nodes: int, path: Path) -> None:
    """``nodes`` nodes: Conv 1x1 (4 channels, its own weight) and Relu, alternating."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    graph_nodes, inits, x = [], [], "x"
    for i in range(nodes):
        y = f"t{i}"
        if i % 2 == 0:
            inits.append(numpy_helper.from_array(rng.standard_normal((4, 4, 1, 1)).astype(np.float32), f"w{i}"))
            graph_nodes.append(helper.make_node("Conv", [x, f"w{i}"], [y], name=y, kernel_shape=[1, 1]))
        else:
            graph_nodes.append(helper.make_node("Relu", [x], [y], name=y))
        x = y
    graph = helper.make_graph(graph_nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                    [1, 4, 8, 8])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def _chains(folder: Path) -> list[Path]:
    out = []
    for n in CHAINS:
        path = folder / "chain" / f"chain_{n // 1000}k.onnx"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _chain(n, path)
        out.append(path)
    return out


def _time(fn: Callable[[], object]) -> float:
    gc.collect()  # neither tool pays for the other's garbage (one process holds both)
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _archcalc(path: Path) -> None:
    archcalc.analyze(archcalc.load(str(path), batch=1))


def _onnx_tool(path: Path) -> None:
    import onnx_tool

    with contextlib.redirect_stdout(io.StringIO()):
        m = onnx_tool.Model(str(path))
        m.graph.shape_infer()
        m.graph.profile()


#: the processes run with their bytecode cached, as an installed package has it (pip compiles it at
#: install; a source checkout writes __pycache__ on first import): a shell that sets
#: PYTHONDONTWRITEBYTECODE (these machines do) would make every archcalc process compile its ~100
#: modules from source (~100 ms) while onnx-tool's site-packages are compiled. The untimed warm-up
#: run writes the cache.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _cli(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "archcalc", "report", str(path), "-f", "json", "--batch", "1"], check=True,
                   capture_output=True, env=CHILD_ENV)


def _median_ratio(mine: list[float], theirs: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(mine, theirs, strict=True))


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:9.1f} [{min(values) * 1e3:.1f}-{max(values) * 1e3:.1f}]"


def _nodes(path: Path) -> int:
    from archcalc.onnx_import.reader import read_model

    return len(read_model(path).model.graph.node)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="interleaved in-process rounds")
    parser.add_argument("--process-runs", type=int, default=3, help="interleaved whole-process rounds (0: none)")
    parser.add_argument("--keep", help="a folder to write the models to (and reuse)")
    parser.add_argument("--only", help="only models whose path contains this word")
    parser.add_argument("--big", action="store_true", help="add VGG-16 and AlexNet with their weights")
    parser.add_argument("--tool-max-nodes", type=int, default=10_000,
                        help="onnx-tool is not run on larger models (its load grows with the square of the node "
                             "count: ~0.1 s at 1k nodes, ~9 s at 10k)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="archcalc-onnx-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import onnx_tool  # noqa: F401
        have_tool = True
    except ImportError:
        have_tool = False
        print("onnx-tool is not installed: archcalc is timed alone (pip install onnx-tool to pair it)")
    models = _fixtures(folder) + _specs(folder, args.big) + _caffe2(folder) + _chains(folder)
    if args.only:
        models = [m for m in models if args.only in str(m.relative_to(folder))]
    script = folder / "onnx_tool_script.py"
    script.write_text(TOOL_SCRIPT)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {len(models)} models; "
          f"{args.runs} in-process and {args.process_runs} process rounds")

    tool_ok: dict[Path, str | None] = {}
    node_counts = {path: _nodes(path) for path in models}
    for path in models:  # warm-up: page cache, lazy imports, and which models onnx-tool reads at all
        _archcalc(path)
        if have_tool and node_counts[path] > args.tool_max_nodes:
            tool_ok[path] = f"not run: more than --tool-max-nodes {args.tool_max_nodes:,} nodes"
        elif have_tool:
            try:
                _onnx_tool(path)
                tool_ok[path] = None
            except Exception as exc:
                tool_ok[path] = f"fails, {type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
    if args.process_runs and models:  # writes archcalc's bytecode cache (see CHILD_ENV)
        _cli(models[0])
    times: dict[tuple[Path, str], list[float]] = {}
    for r in range(max(args.runs, args.process_runs)):
        for path in models:
            pairs: list[tuple[str, Callable[[], object]]] = []
            if r < args.runs:
                pairs.append(("archcalc", lambda p=path: _archcalc(p)))
                if have_tool and tool_ok[path] is None:
                    pairs.append(("onnx-tool", lambda p=path: _onnx_tool(p)))
            if r < args.process_runs:
                pairs.append(("archcalc process", lambda p=path: _cli(p)))
                if have_tool and tool_ok[path] is None:
                    pairs.append(("onnx-tool process", lambda p=path: subprocess.run(
                        [sys.executable, str(script), str(p)], check=True, capture_output=True, env=CHILD_ENV)))
            if r % 2:
                pairs.reverse()
            for label, fn in pairs:
                times.setdefault((path, label), []).append(_time(fn))

    print(f"\n{'model':44s} {'nodes':>6s} {'MiB':>7s} | in-process ms: archcalc median [min-max], onnx-tool, "
          f"ratio | process ms: archcalc, onnx-tool, ratio")
    in_ratios: dict[Path, float] = {}
    proc_ratios: dict[Path, float] = {}
    for path in models:
        name = str(path.relative_to(folder))
        line = f"{name:44s} {node_counts[path]:6d} {path.stat().st_size / 2**20:7.1f} | "
        line += _fmt(times[(path, "archcalc")])
        if (path, "onnx-tool") in times:
            in_ratios[path] = _median_ratio(times[(path, "archcalc")], times[(path, "onnx-tool")])
            line += f" {_fmt(times[(path, 'onnx-tool')])} {in_ratios[path]:5.2f}x"
        elif have_tool:
            line += f" onnx-tool: {tool_ok[path]}"
        if (path, "archcalc process") in times:
            line += f" | {_fmt(times[(path, 'archcalc process')])}"
            if (path, "onnx-tool process") in times:
                proc_ratios[path] = _median_ratio(times[(path, "archcalc process")], times[(path, "onnx-tool process")])
                line += f" {_fmt(times[(path, 'onnx-tool process')])} {proc_ratios[path]:5.2f}x"
        print(line)

    print()
    for what, ratios, goal in (("in-process", in_ratios, 0.5), ("process", proc_ratios, 0.3)):
        if ratios:
            worst = max(ratios, key=ratios.__getitem__)
            met = sum(r <= goal for r in ratios.values())
            print(f"goal {what} <= {goal}x onnx-tool: {'MET' if met == len(ratios) else 'NOT MET'} ({met} of "
                  f"{len(ratios)} models within; worst {ratios[worst]:.2f}x, {worst.relative_to(folder)}; median "
                  f"{statistics.median(ratios.values()):.2f}x)")
    chains = [p for p in models if p.parent.name == "chain"]
    if len(chains) > 1:
        per_node = {p: statistics.median(times[(p, "archcalc")]) / node_counts[p] * 1e6 for p in chains}
        spread = max(per_node.values()) / min(per_node.values())
        print("time per node, archcalc in-process: " + ", ".join(
            f"{p.stem} {v:.1f} us" for p, v in per_node.items())
            + f"; max/min {spread:.2f} ({'flat: MET' if spread <= 1.5 else 'NOT flat'}, goal <= 1.5)")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; models in {folder}")


if __name__ == "__main__":
    main()
