"""How close is the latency estimate to ONNX Runtime on this machine? Prints figures; asserts
nothing (performance is not a test).

    python benchmarks/estimate_accuracy.py [--batches 1,8] [--models a,b] [--seconds S]
                                           [--cached] [--quick|--thorough] [--json OUT]

1. Calibrate the device with micro-benchmarks only (``archcalc.estimate.calibrate``: synthetic
   convs, GEMMs, copies, op chains; never a bundled model). ``--cached`` reuses the cached
   device profile instead.
2. For every bundled spec at each batch size: time it (median of the timed runs, CPU provider,
   IO binding) with drift probes interleaved between blocks of runs, so the estimate is scaled to
   the machine's speed at the moment of the measurement; then profile it per layer.
3. Print estimate/measured per model and batch, how many are within +-10%, and the per-layer
   accuracy of convolution kernels (estimate vs ORT profiler time, both including the profiler's
   per-kernel cost) for layers of at least 20 us.

These machines are shared and drift (~15% within a minute); the run count, the drift factors and
medians are printed with every figure. Compare runs of this script only by their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.estimate import calibrate, device_profile, estimate_latency, save_profile  # noqa: E402
from archcalc.language.loader import load_spec  # noqa: E402
from archcalc.measure import profile  # noqa: E402
from archcalc.zoo import bundled_specs  # noqa: E402


def _runs_for(estimate_ms: float, seconds: float) -> int:
    return max(10, min(300, int(seconds * 1e3 / max(estimate_ms, 1e-3))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="1,8", help="batch sizes (default 1,8)")
    parser.add_argument("--models", default="", help="comma-separated bundled spec names (default: all)")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per model and batch (default 2)")
    parser.add_argument("--cached", action="store_true", help="use the cached device profile if it is valid")
    parser.add_argument("--quick", action="store_true", help="quick calibration (fewer shapes, one repeat)")
    parser.add_argument("--thorough", action="store_true", help="the thorough calibration suite (minutes)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", help="write every result here")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    names = [n.strip() for n in args.models.split(",") if n.strip()] or list(bundled_specs())

    started = time.perf_counter()
    load_before = os.getloadavg()
    if args.cached:
        dev, notes = device_profile("cpu", args.threads, quick=args.quick)
        for note in notes:
            print(f"# {note}")
    else:
        mode = "quick" if args.quick else "thorough" if args.thorough else "default"
        dev = calibrate("cpu", args.threads, mode=mode)
        print(f"# calibrated in {dev.seconds:.0f} s: {dev.notes[0]}; cached at {save_profile(dev)}")
    print(f"# device: {dev.cpu}; ORT {dev.ort_version}; threads {dev.threads or 'default'} "
          f"({dev.intra_op_threads}); peak MatMul {dev.matmul_gflops:.0f} GFLOP/s; bandwidth "
          f"{max(b for _, b in dev.bandwidth):.0f} GB/s; per-run {dev.run_us:.1f} us; per-kernel "
          f"{dev.fixed_us['ew']:.2f} us (elementwise), {dev.fixed_us['conv']:.2f} us (conv); profiler "
          f"{dev.profiler_us:.1f} us/kernel")
    print()
    header = f"{'model':22s} {'batch':>5s} {'runs':>5s} {'measured ms':>12s} {'p90':>9s} {'estimate ms':>12s} " \
             f"{'est/meas':>8s}  drift(c/o)"
    print(header)
    print("-" * len(header))
    rows = []
    conv_ratios: list[float] = []
    conv_rows: list[tuple[str, int, str, float, float]] = []
    for name in names:
        graph = load_spec(name)
        for batch in batches:
            guess = estimate_latency(graph, dev, batch=batch).total_ms
            runs = _runs_for(guess, args.seconds)
            result = profile(name, batches=(batch,), warmup=max(2, runs // 10), repeat=runs, threads=args.threads,
                             per_layer=True, device_profile=dev, profile_runs=min(runs, 10))[0]
            ratio = result.ratio or float("nan")
            drift = "/".join(f"{result.drift.get(k, float('nan')):.2f}" for k in ("compute", "overhead"))
            mark = "" if abs(ratio - 1) <= 0.10 else "  *"
            print(f"{name:22s} {batch:5d} {result.timing.runs:5d} {result.timing.median_ms:12.4f} "
                  f"{result.timing.p90_ms:9.4f} {result.estimate_ms or 0:12.4f} {ratio:8.3f}  {drift}{mark}",
                  flush=True)
            rows.append(result)
            for layer in result.layers:
                if layer.kind in ("conv", "subsample") and layer.measured_ms and layer.estimate_ms is not None \
                        and layer.measured_ms >= 0.020:
                    r = layer.estimate_ms / layer.measured_ms
                    conv_ratios.append(r)
                    conv_rows.append((name, batch, layer.name, layer.measured_ms, r))
    within = [r for r in rows if r.ratio is not None and abs(r.ratio - 1) <= 0.10]
    print()
    print(f"models within +-10%: {len(within)} of {len(rows)} ({100 * len(within) / max(len(rows), 1):.0f}%)")
    for batch in batches:
        sub = [r for r in rows if r.batch == batch]
        ok = [r for r in sub if r.ratio is not None and abs(r.ratio - 1) <= 0.10]
        ratios = [r.ratio for r in sub if r.ratio is not None]
        print(f"  batch {batch}: {len(ok)} of {len(sub)}; median ratio {statistics.median(ratios):.3f}; "
              f"range {min(ratios):.3f}-{max(ratios):.3f}")
    if conv_ratios:
        ok25 = [r for r in conv_ratios if abs(r - 1) <= 0.25]
        ok10 = [r for r in conv_ratios if abs(r - 1) <= 0.10]
        print(f"conv layers (>= 20 us): {len(ok25)} of {len(conv_ratios)} within +-25% "
              f"({100 * len(ok25) / len(conv_ratios):.0f}%), {100 * len(ok10) / len(conv_ratios):.0f}% within +-10%; "
              f"median ratio {statistics.median(conv_ratios):.3f}")
        worst = sorted(conv_rows, key=lambda c: -abs(c[4] - 1))[:8]
        print("  furthest: " + "; ".join(f"{m}@{b} {n} {ms:.3f} ms x{r:.2f}" for m, b, n, ms, r in worst))
    load_after = os.getloadavg()
    print(f"# {time.perf_counter() - started:.0f} s in all; load average (1/5/15 min) before "
          f"{'/'.join(f'{v:.2f}' for v in load_before)}, after {'/'.join(f'{v:.2f}' for v in load_after)} "
          f"(this benchmark alone keeps about {dev.intra_op_threads} busy)")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": dev.to_dict(), "results": [r.to_dict() for r in rows]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
