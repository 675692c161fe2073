"""The measuring half of benchmarks/gpu_check.sh (run by it, in the virtual environment it made).

    python benchmarks/gpu_check.py OUT_DIR

On ORT's CUDA provider: a quick roofline calibration (MatMul, copy, launch), then five bundled
models at batch 1 and 32, each with its median time, the provider the session really used
(``session.get_providers()``, through archcalc's profile), the datasheet roofline estimate (fp32
and tf32) and the calibrated roofline estimate, each as estimate/measured. When the CUDA provider
cannot run, it says so plainly, writes the datasheet estimates alone, and times the same networks
with torch on CUDA when torch with CUDA is importable (labelled torch, never ONNX Runtime).
Writes OUT_DIR/gpu_check.json and OUT_DIR/gpu_check.md; prints progress on stderr.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

MODELS = ("lenet5_modern", "alexnet_torchvision", "resnet18", "resnet50", "vgg")
BATCHES = (1, 32)
#: torchvision's constructor of the same network, where there is one
TORCHVISION = {"alexnet_torchvision": "alexnet", "resnet18": "resnet18", "resnet50": "resnet50", "vgg": "vgg16"}
WARMUP, REPEAT = 5, 20


def say(text: str) -> None:
    print(f"gpu_check: {text}", file=sys.stderr, flush=True)


def _sheet_for(gpu: str | None) -> Any:
    from archcalc.estimate.datasheets import DATASHEETS
    from archcalc.estimate.ondevice import gpu_matches

    return next((s for s in DATASHEETS.values() if gpu_matches(s, gpu)), None)


def _roofline_ms(model: str, batch: int, sheet: Any, precision: str) -> float | None:
    from archcalc.analysis import analyze
    from archcalc.estimate.datasheets import PRECISIONS, roofline
    from archcalc.sources import load_any

    if sheet is None or (precision != "fp32" and precision not in sheet.tflops):
        return None
    report = analyze(load_any(model), overrides={"batch": batch, "dtype": PRECISIONS[precision]})
    return sum(r.ms for r in roofline(report, sheet, precision))


def _ratio(est: float | None, measured: float | None) -> float | None:
    return est / measured if est is not None and measured else None


def _torch_ms(model: str, batch: int) -> tuple[float | None, str]:
    """torch's CUDA time of torchvision's same network (median of REPEAT, synchronised)."""
    import torch
    import torchvision

    name = TORCHVISION.get(model)
    if name is None:
        return None, "no torchvision counterpart"
    net = getattr(torchvision.models, name)().eval().cuda()
    x = torch.randn(batch, 3, 224, 224, device="cuda")
    times = []
    with torch.inference_mode():
        for i in range(WARMUP + REPEAT):
            torch.cuda.synchronize()
            start = time.perf_counter()
            net(x)
            torch.cuda.synchronize()
            if i >= WARMUP:
                times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), f"torch {torch.__version__}, torchvision.models.{name}"


def _torch_available() -> str | None:
    try:
        import torch
        import torchvision  # noqa: F401
    except ImportError as exc:
        return f"torch/torchvision not importable ({exc})"
    return None if torch.cuda.is_available() else "torch has no CUDA device"


def run(out: Path) -> dict[str, Any]:
    import onnxruntime as ort

    from archcalc import measure
    from archcalc.estimate.gpu_roofline import measure_roofline
    from archcalc.runtime import cuda
    from archcalc.runtime.devices import choose_device

    started = time.perf_counter()
    gpu = cuda.gpu_name()
    sheet = _sheet_for(gpu)
    summary: dict[str, Any] = {
        "gpu": gpu, "python": platform.python_version(), "ort_version": ort.__version__,
        "available_providers": ort.get_available_providers(), "datasheet": sheet.name if sheet else None,
        "datasheet_source": sheet.source if sheet else None, "notes": [], "results": [],
    }
    if sheet is None:
        summary["notes"].append(f"no datasheet in archcalc matches {gpu!r}: no datasheet estimates")
    problems = cuda.cuda_problems()
    summary["cuda_problems"] = problems
    measured_sheet = None
    if problems:
        say("THE CUDA EXECUTION PROVIDER CANNOT RUN HERE: " + "; ".join(problems))
        summary["notes"].append("CUDA provider missing: " + "; ".join(problems) + " -- no ONNX Runtime GPU timing")
        why_not_torch = _torch_available()
        if why_not_torch:
            summary["notes"].append(f"no torch timing either: {why_not_torch}")
            say(f"no torch timing either: {why_not_torch}; writing datasheet estimates only")
    else:
        choice = choose_device("cuda")
        say("quick roofline calibration on CUDA")
        measured_sheet = measure_roofline(choice, gpu=gpu)
        summary["calibrated_roofline"] = {"tflops_fp32": measured_sheet.tflops["fp32"],
                                          "bandwidth_gbs": measured_sheet.bandwidth_gbs,
                                          "launch_us": measured_sheet.launch_us, "source": measured_sheet.source}
    for model in MODELS:
        for batch in BATCHES:
            row: dict[str, Any] = {"model": model, "batch": batch,
                                   "datasheet_fp32_ms": _roofline_ms(model, batch, sheet, "fp32"),
                                   "datasheet_tf32_ms": _roofline_ms(model, batch, sheet, "tf32"),
                                   "datasheet_label": "datasheet, not calibrated"}
            if not problems:
                say(f"{model} batch {batch} on CUDA")
                (result,) = measure.profile(model, device="cuda", batches=[batch], warmup=WARMUP, repeat=REPEAT)
                row.update(timed_by="onnxruntime", provider=result.provider, providers=list(result.providers),
                           median_ms=result.timing.median_ms, p90_ms=result.timing.p90_ms,
                           stable=result.timing.stable, notes=list(result.notes),
                           calibrated_ms=_roofline_ms(model, batch, measured_sheet, "fp32"))
            elif _torch_available() is None:
                say(f"{model} batch {batch} with torch on CUDA")
                ms, what = _torch_ms(model, batch)
                row.update(timed_by="torch", provider=what, median_ms=ms)
            else:
                row.update(timed_by=None, provider=None, median_ms=None)
            for key in ("datasheet_fp32_ms", "datasheet_tf32_ms", "calibrated_ms"):
                row[key.replace("_ms", "_over_measured")] = _ratio(row.get(key), row.get("median_ms"))
            summary["results"].append(row)
            _write(out, summary, started)
    summary["seconds"] = time.perf_counter() - started
    _write(out, summary, started)
    return summary


def _f(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown(summary: dict[str, Any]) -> str:
    providers = ", ".join(summary["available_providers"])
    lines = [f"# archcalc GPU check: {summary['gpu'] or 'unknown GPU'}", "",
             f"- ONNX Runtime {summary['ort_version']}, providers available: {providers}",
             f"- datasheet: {summary['datasheet'] or 'none matches'} ({summary['datasheet_source'] or '-'}); "
             f"datasheet figures are *datasheet, not calibrated*"]
    cal = summary.get("calibrated_roofline")
    if cal:
        lines.append(f"- calibrated roofline (measured here): {cal['tflops_fp32']:.1f} TFLOP/s fp32 MatMul, "
                     f"{cal['bandwidth_gbs']:.0f} GB/s, {cal['launch_us']:.1f} us per kernel")
    lines += [f"- note: {n}" for n in summary["notes"]]
    lines += ["", "| model | batch | timed by | provider used | median ms | datasheet fp32 ms (est/meas) | "
              "datasheet tf32 ms (est/meas) | calibrated ms (est/meas) |", "|---|---|---|---|---|---|---|---|"]
    for r in summary["results"]:
        lines.append(f"| {r['model']} | {r['batch']} | {r.get('timed_by') or '-'} | {r.get('provider') or '-'} | "
                     f"{_f(r.get('median_ms'))} | "
                     f"{_f(r['datasheet_fp32_ms'])} ({_f(r['datasheet_fp32_over_measured'], 2)}) | "
                     f"{_f(r['datasheet_tf32_ms'])} ({_f(r['datasheet_tf32_over_measured'], 2)}) | "
                     f"{_f(r.get('calibrated_ms'))} ({_f(r.get('calibrated_over_measured'), 2)}) |")
    if "seconds" in summary:
        lines += ["", f"Measured in {summary['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def _write(out: Path, summary: dict[str, Any], started: float) -> None:
    summary["elapsed_s"] = time.perf_counter() - started
    (out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "gpu_check.md").write_text(markdown(summary))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    run(out)
    say(f"wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
