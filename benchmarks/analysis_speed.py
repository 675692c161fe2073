"""How fast is an exact analysis? Prints figures; asserts nothing (performance is not a test).

    python benchmarks/analysis_speed.py [--runs N]

Times, as medians over N runs (each run analyses with a different batch size, so no run
repeats another's work; nothing is cached):
  - load: YAML text -> expanded, validated graph (parse + blocks + wiring + ordering);
  - analyze: graph -> report (shapes, counts, receptive fields, liveness);
  - render: report -> table text;
for a VGG-16-sized spec and a ResNet-101-style DAG (bottleneck blocks 3-4-23-3: 104 weighted
layers, residual adds), plus CLI start-up (`archcalc report` on a YAML spec) against a bare
`python -c pass`, and whether the report path imports onnx/onnxruntime/numpy/networkx.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archcalc  # noqa: E402
from archcalc.language.loader import load_spec  # noqa: E402
from archcalc.render import render  # noqa: E402

VGG16 = """
name: vgg16_bench
input: [3, 224, 224]
blocks:
  stage:
    params: {filters: required, convs: 2}
    layers:
      - {name: conv, block: convrelu, repeat: "${convs}", with: {filters: "${filters}"}}
      - {name: pool, type: maxpool, kernel: 2}
  convrelu:
    params: {filters: required}
    layers:
      - {name: conv, type: conv, filters: "${filters}", kernel: 3, padding: 1}
      - relu
layers:
  - {name: s1, block: stage, with: {filters: 64}}
  - {name: s2, block: stage, with: {filters: 128}}
  - {name: s3, block: stage, with: {filters: 256, convs: 3}}
  - {name: s4, block: stage, with: {filters: 512, convs: 3}}
  - {name: s5, block: stage, with: {filters: 512, convs: 3}}
  - flatten
  - {name: fc6, type: fc, units: 4096}
  - relu
  - dropout
  - {name: fc7, type: fc, units: 4096}
  - relu
  - dropout
  - {name: fc8, type: fc, units: 1000}
"""

RESNET101 = """
name: resnet101_bench
input: [3, 224, 224]
defaults: {all: {rounding: floor}, conv: {bias: none}}
blocks:
  bottleneck:
    params: {width: required, stride: 1, project: false}
    layers:
      - {name: conv1, type: conv, filters: "${width}", kernel: 1}
      - {name: bn1, type: bn}
      - relu
      - {name: conv2, type: conv, filters: "${width}", kernel: 3, stride: "${stride}", padding: 1}
      - {name: bn2, type: bn}
      - relu
      - {name: conv3, type: conv, filters: "${width * 4}", kernel: 1}
      - {name: bn3, type: bn}
      - {name: proj, type: conv, inputs: input, filters: "${width * 4}", kernel: 1, stride: "${stride}",
         when: "${project}"}
      - {name: proj_bn, type: bn, when: "${project}"}
      - {name: add, type: add, inputs: [bn3, proj_bn]}
      - relu
layers:
  - {name: conv1, type: conv, filters: 64, kernel: 7, stride: 2, padding: 3}
  - {name: bn1, type: bn}
  - relu
  - {name: maxpool, type: maxpool, kernel: 3, stride: 2, padding: 1}
  - {name: layer1, block: bottleneck, repeat: 3, with: {width: 64}, first: {project: true}}
  - {name: layer2, block: bottleneck, repeat: 4, with: {width: 128}, first: {stride: 2, project: true}}
  - {name: layer3, block: bottleneck, repeat: 23, with: {width: 256}, first: {stride: 2, project: true}}
  - {name: layer4, block: bottleneck, repeat: 3, with: {width: 512}, first: {stride: 2, project: true}}
  - global_avgpool
  - {name: fc, type: fc, units: 1000}
"""


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:8.3f} ms (min {min(samples) * 1e3:.3f}, n={len(samples)})"


def bench_spec(name: str, text: str, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(text)
        loads, analyses, renders = [], [], []
        graph = load_spec(path)
        for i in range(runs):
            t0 = time.perf_counter()
            graph = load_spec(path)
            t1 = time.perf_counter()
            report = archcalc.analyze(graph, overrides={"batch": i + 1})
            t2 = time.perf_counter()
            render(report, "table")
            t3 = time.perf_counter()
            loads.append(t1 - t0)
            analyses.append(t2 - t1)
            renders.append(t3 - t2)
        weighted = sum(1 for r in report if r.family in ("conv", "fc"))
        print(f"{name}: {len(report)} layers ({weighted} conv/fc), {report.totals.params:,} params, "
              f"{report.totals.macs // (runs):,} MACs at batch 1")
        print(f"  load    {_median_ms(loads)}")
        print(f"  analyze {_median_ms(analyses)}  ({statistics.median(analyses) / len(report) * 1e6:.1f} us/layer)")
        print(f"  render  {_median_ms(renders)}")


def bench_cli(runs: int) -> None:
    spec = str(ROOT / "specs" / "lenet5.yaml")
    cli, bare = [], []
    for _ in range(runs):  # interleaved, so drift affects both alike
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        t1 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "archcalc", "report", spec], check=True, capture_output=True)
        t2 = time.perf_counter()
        bare.append(t1 - t0)
        cli.append(t2 - t1)
    print(f"CLI start-up: archcalc report lenet5.yaml {_median_ms(cli)}; python -c pass {_median_ms(bare)}")
    probe = (
        "import sys, io, contextlib\nfrom archcalc.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): main(['report', {spec!r}])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'onnx', 'onnxruntime', 'numpy', 'networkx'}))"
    )
    heavy = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout.strip()
    print(f"heavy modules imported by the report path: {heavy}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    bench_spec("vgg16", VGG16, args.runs)
    bench_spec("resnet101", RESNET101, args.runs)
    bench_cli(max(5, args.runs // 3))


if __name__ == "__main__":
    main()
