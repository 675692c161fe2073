"""``profile`` and ``calibrate``: timing on ONNX Runtime and the device profile of the estimator.

Heavy modules (onnxruntime, numpy) are imported only when one of these commands runs.

    archcalc profile SPEC|MODEL.onnx [--device auto|cuda|cpu] [--batch 1,8,32] [--warmup N]
                     [--repeat N] [--threads N] [--per-layer] [--format ...] [--plot out.png]
                     [--estimate auto|off|recalibrate] [--max-memory 8GiB] [-o OUT]
    archcalc calibrate [--device ...] [--threads N] [--quick|--thorough] [--show] [--fresh] [--format table|json]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from archcalc.cli.base import (
    MAX_RUNS,
    MAX_THREADS,
    Command,
    assignments,
    bounded_int,
    file_input,
    output_options,
    variable_option,
)
from archcalc.cli.output import emit, output_format, plot_bytes
from archcalc.cli.progress import ProgressBar
from archcalc.errors import OptionError

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile

PROFILE_FORMATS = ("table", "markdown", "json", "csv")


def parse_batches(text: str) -> list[int]:
    """``"1,8,32"`` -> ``[1, 8, 32]`` (positive integers)."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise OptionError(f"--batch takes positive integers separated by commas, got {text!r}") from None
        if value < 1:
            raise OptionError(f"--batch takes positive integers, got {value}")
        out.append(value)
    if not out:
        raise OptionError("--batch needs at least one batch size")
    return out


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def parse_bytes(text: str) -> int:
    """``"8GiB"`` -> 8589934592."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise OptionError(f"--max-memory takes a size such as 8GiB, 500MB or 1000000, got {text!r}")
    if len(match.group(1)) > 20:
        raise OptionError(f"--max-memory {text[:40]!r} is not a size a machine has")
    value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if not 0 < value <= 2**60:
        raise OptionError(f"--max-memory must be from 1 byte to 1 EiB, got {text!r}")
    return value


# -- profile -----------------------------------------------------------------------------------


def _profile_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a spec (YAML or bundled name) or an ONNX model")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when it can run, else CPU; cuda refuses (with the reason) where it cannot")
    p.add_argument("--batch", default=None,
                   help="batch sizes, comma-separated (default 1, or an ONNX model's own fixed batch)")
    p.add_argument("--warmup", type=bounded_int(0, MAX_RUNS), default=5, help="untimed runs first (default 5)")
    p.add_argument("--repeat", type=bounded_int(1, MAX_RUNS), default=30, help="timed runs (default 30)")
    p.add_argument("--threads", type=bounded_int(1, MAX_THREADS), default=None,
                   help="intra-op threads (default: ORT's, one per core)")
    p.add_argument("--per-layer", action="store_true", help="per-layer times from ORT's profiler")
    output_options(p, PROFILE_FORMATS)
    p.add_argument("--plot", metavar="OUT.png", help="plot estimate vs measured (needs matplotlib)")
    p.add_argument("--estimate", choices=("auto", "off", "recalibrate"), default="auto",
                   help="auto: use the cached device profile, calibrating first when there is none; "
                        "recalibrate: calibrate now; off: no estimates")
    p.add_argument("--max-memory", help="refuse runs needing more than this (e.g. 8GiB; default 80%% of free memory)")
    variable_option(p)


def _device_profile(args: argparse.Namespace, progress: Callable[[str, int, int], None],
                    notes: list[str]) -> DeviceProfile | None:
    if args.estimate == "off":
        return None
    from archcalc.errors import CalibrationError
    from archcalc.estimate.calibration import device_profile, load_cached
    from archcalc.runtime.devices import choose_device

    choice = choose_device(args.device)
    if not choice.device.estimable:
        notes.append("no estimate: the estimator models ORT's CPU kernels")
        return None
    cached, why = load_cached(choice.device, args.threads)
    if cached is None and args.estimate != "recalibrate":
        print(f"archcalc: {why} (--estimate off skips estimates)", file=sys.stderr)
    try:
        # the calibration announces itself (what, how long) through the progress bar
        dev, got = device_profile(choice.device, args.threads, refresh=args.estimate == "recalibrate",
                                  progress=progress)
    except CalibrationError as exc:
        notes.append(f"no estimate: {exc}")
        return None
    notes.extend(got)
    return dev


def _profile(args: argparse.Namespace) -> int:
    from archcalc.measure import check_inputs, profile
    from archcalc.render.profile_cli import render_results
    from archcalc.sources import SourceKind, what_is

    fmt = output_format(args.format, args.output, PROFILE_FORMATS)
    batches = parse_batches(args.batch) if args.batch is not None else None
    if args.repeat < 1 or args.warmup < 0:
        raise OptionError("--repeat must be at least 1 and --warmup at least 0")
    if args.threads is not None and args.threads < 1:
        raise OptionError("--threads must be at least 1")
    max_memory = parse_bytes(args.max_memory) if args.max_memory else None
    variables: dict[str, Any] = {}
    if args.vars:
        if what_is(args.file) is SourceKind.ONNX:
            raise OptionError("--var sets spec variables; an ONNX model has none")
        variables = assignments(args.vars, "--var")
    # every batch is checked (a fixed-batch model, the memory limit) before a calibration or any
    # timing; -o and --plot were checked before the command started (cli.output.check_outputs)
    check_inputs(args.file, batches, variables=variables or None, max_memory=max_memory)
    bar = ProgressBar()
    notes: list[str] = []
    try:
        dev = _device_profile(args, bar, notes)
        results = profile(args.file, device=args.device, batches=batches, warmup=args.warmup, repeat=args.repeat,
                          threads=args.threads, per_layer=args.per_layer, progress=bar, device_profile=dev,
                          max_memory=max_memory, variables=variables or None)
    finally:
        bar.close()
    emit(render_results(results, fmt, notes), args.output, inputs=[args.file])
    if args.plot:
        from archcalc import plots

        emit(plot_bytes(plots.profile_comparison(results), args.plot), args.plot, inputs=[args.file])
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


# -- calibrate ---------------------------------------------------------------------------------


def _calibrate_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="the device to calibrate (auto: CUDA when usable, else the CPU)")
    c.add_argument("--threads", type=bounded_int(1, MAX_THREADS), default=None,
                   help="intra-op threads (default: ORT's)")
    how = c.add_mutually_exclusive_group()
    how.add_argument("--quick", action="store_true", help="a smoke run: fewer shapes still (about 10 s)")
    how.add_argument("--thorough", action="store_true",
                     help="the full suite: every shape size, three repeats (minutes, several GiB of memory)")
    c.add_argument("--show", action="store_true", help="show the cached profile; measure only if there is none")
    c.add_argument("--fresh", action="store_true",
                   help="replace the cached profile (default: merge the new calibration with it, in probe units)")
    c.add_argument("--format", "-f", default="table", choices=("table", "json"),
                   help="how the device profile is printed")


def _calibrate(args: argparse.Namespace) -> int:
    from archcalc.errors import OutputError
    from archcalc.estimate.calibration import (
        cache_path,
        cache_problem,
        calibrate,
        load_cached,
        merged_with_cache,
        save_profile,
    )
    from archcalc.render.profile_cli import describe_profile, device_profile_json
    from archcalc.runtime.devices import choose_device

    if args.threads is not None and args.threads < 1:
        raise OptionError("--threads must be at least 1")
    choice = choose_device(args.device)
    notes = list(choice.notes)
    dev = None
    if args.show:
        dev, why = load_cached(choice.device, args.threads)
        if dev is None:
            notes.append(why)
    if dev is None:
        problem = cache_problem(choice.device, args.threads)
        if problem:  # the cache is what calibrate makes: refuse before measuring
            raise OutputError(f"{problem} (the device profile cache; set XDG_CACHE_HOME to cache elsewhere)")
        bar = ProgressBar()
        try:
            mode = "quick" if args.quick else "thorough" if args.thorough else "default"
            dev = calibrate(choice.device, args.threads, mode=mode, progress=bar)
        finally:
            bar.close()
        if not args.fresh:
            dev = merged_with_cache(dev, args.threads)
        path = save_profile(dev)
        notes.append(f"calibrated in {dev.seconds:.0f} s; cached at {path}")
    else:
        notes.append(f"cached at {cache_path(dev.device, dev.threads)}")
    emit(device_profile_json(dev) if args.format == "json" else describe_profile(dev, notes), None)
    return 0


COMMANDS = (
    Command("profile", "time a spec or ONNX model on ONNX Runtime (per layer, next to estimates)",
            _profile_arguments, _profile, file_input, reads_source=True),
    Command("calibrate", "measure this device with micro-benchmarks; cache its profile",
            _calibrate_arguments, _calibrate),
)
