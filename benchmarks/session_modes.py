"""Do ORT sessions of one model run it at one speed? Prints figures; asserts nothing.

    python benchmarks/session_modes.py [--sessions 6] [--rounds 4] [--runs 100] [--models a,b] [--settle S]
                                       [--track S [--no-pin]] [--slopes S]

For each model (ONNX fixtures and bundled specs, prepared as ``archcalc profile`` prepares them),
``--sessions`` ORT sessions are opened at once, with ORT's default threads left where the scheduler
puts them (``default``), with one intra-op thread (``1``), and with the default threads pinned one
per CPU (``pinned``, ``archcalc.runtime.affinity``), and timed in rounds (a block of ``--runs``
runs of every session per round, after a pause that lets idle workers stop spinning, the order of
the sessions turned each round, so the machine's drift hits them alike). Per session: the median
of each round's block median. Printed per model and thread setting: every session's median, the
slowest over the fastest session (``sessions x``), and the largest round-to-round move of one
session (``rounds x``): when ``sessions x`` is well above ``rounds x``, what a run costs depends
on which session runs it, not on the moment. The load average is printed before and after.

``--track S`` instead keeps one pinned session per model and a pinned dispatch probe (a spinning
chain of 17 tiny 1x1 convs, minus a chain of one: the cost of one pooled kernel's hand-over
between the threads) for S seconds, in rounds (probe, then a block of every model), and prints
each round and the correlation of log(probe) with log(block median) per model: does the speed
of the thread pool's hand-over follow the networks' speed from moment to moment? (``--no-pin``:
the same with the threads left to the scheduler.) ``--slopes S`` does it for calibration conv
shapes, each alone: the slope of its time against the probe is how many hand-overs it pays.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.runtime.affinity import pinned_caller  # noqa: E402
from archcalc.runtime.devices import choose_device  # noqa: E402
from archcalc.runtime.prepare import prepare  # noqa: E402
from archcalc.runtime.session import Runner, feeds_for, open_session  # noqa: E402
from archcalc.sources import load_any  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "onnx"
#: before every block: the idle workers of the session timed before stop spinning (ORT spins them
#: for ~20-30 ms after a run), so no block is timed beside another session's spinning thread
SETTLE_S = 0.04
_settle = [SETTLE_S]
MODELS = {
    "lenet5_modern": str(FIXTURES / "lenet5_modern.onnx"),
    "mobilenet_small": str(FIXTURES / "mobilenet_small.onnx"),
    "convnext_stage": str(FIXTURES / "torch_export" / "convnext_stage_legacy_op17.onnx"),
    "mobilenet_v2": "mobilenet_v2",
}


def _sessions(source: str, count: int, threads: int | None) -> list[Runner]:
    prepared = prepare(load_any(source), 1)
    choice = choose_device("cpu")
    runners = []
    for _ in range(count):
        session = open_session(prepared.payload, choice, threads, disabled_optimizers=prepared.disabled_optimizers)
        runners.append(Runner(session, feeds_for(session, 1)))
    return runners


def _block(runner: Runner, runs: int) -> float:
    time.sleep(_settle[0])
    runner.run()
    times = [runner.timed() for _ in range(runs)]
    return statistics.median(times)


def _measure(runners: list[Runner], rounds: int, runs: int) -> list[list[float]]:
    for runner in runners:
        for _ in range(max(runs // 2, 10)):
            runner.run()
    per: list[list[float]] = [[] for _ in runners]
    for r in range(rounds):
        order = list(range(len(runners)))
        order = order[r % len(order):] + order[:r % len(order)]
        for i in order:
            per[i].append(_block(runners[i], runs))
    return per


def _row(name: str, setting: str, per: list[list[float]]) -> dict[str, Any]:
    medians = [statistics.median(p) for p in per]
    rounds_x = max(max(p) / min(p) for p in per)
    return {"model": name, "threads": setting, "medians_us": [m * 1e6 for m in medians],
            "sessions_x": max(medians) / min(medians), "rounds_x": rounds_x}


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _correlation(a: list[float], b: list[float]) -> float:
    la, lb = [math.log(x) for x in a], [math.log(x) for x in b]
    ma, mb = statistics.fmean(la), statistics.fmean(lb)
    num = sum((x - ma) * (y - mb) for x, y in zip(la, lb, strict=True))
    den = math.sqrt(sum((x - ma) ** 2 for x in la) * sum((y - mb) ** 2 for y in lb))
    return num / den if den else float("nan")


def _track(names: list[str], seconds: float, runs: int, pin: bool) -> None:
    from archcalc.estimate.microbench import chain_model

    with pinned_caller() if pin else contextlib.nullcontext() as placed:
        print(f"# pinned: {placed}")
        probe = {n: _runner_of(chain_model("Conv", n, (1, 16, 4, 4)).SerializeToString()) for n in (1, 17)}
        models = {name: _sessions(MODELS[name], 1, None)[0] for name in names}
        for runner in [*probe.values(), *models.values()]:
            for _ in range(30):
                runner.run()
        rows: list[dict[str, float]] = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            row = {"dispatch_us": (_block(probe[17], 100) - _block(probe[1], 100)) / 16 * 1e6}
            for name, runner in models.items():
                row[name] = _block(runner, runs) * 1e6
            rows.append(row)
            print(" ".join(f"{k} {v:9.2f}" for k, v in row.items()), flush=True)
    if len(rows) < 3:
        print("# too few rounds for a correlation")
        return
    for name in names:
        values = [r[name] for r in rows]
        corr = _correlation([r["dispatch_us"] for r in rows], values)
        print(f"correlation of log(dispatch) with log({name}): {corr:+.2f}; "
              f"{name} {min(values):.1f}-{max(values):.1f} us")


def _slopes(seconds: float) -> None:
    """Per calibration conv shape (14 of the default suite's, small to large), alone in its own
    session: the slope of its wall time (less an empty run's) against the dispatch probe, in us per
    us: how many hand-overs between the threads it pays."""
    from archcalc.estimate.microbench import chain_model, conv_model
    from archcalc.estimate.samples import conv_samples

    shapes = sorted(conv_samples(0.25), key=lambda shape: shape.flops)
    picked = shapes[:: max(1, len(shapes) // 14)][:14]
    probe = {n: _runner_of(chain_model("Conv", n, (1, 16, 4, 4)).SerializeToString()) for n in (1, 17)}
    empty = _runner_of(chain_model("Relu", 1, (1, 16)).SerializeToString())
    convs = [_runner_of(conv_model([shape])[0].SerializeToString()) for shape in picked]
    for runner in [*probe.values(), empty, *convs]:
        for _ in range(20):
            runner.run()
    dispatch: list[float] = []
    times: list[list[float]] = [[] for _ in convs]
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        dispatch.append((_block(probe[17], 100) - _block(probe[1], 100)) / 16 * 1e6)
        base = _block(empty, 100)
        for i, runner in enumerate(convs):
            times[i].append((_block(runner, 30 if i < 10 else 5) - base) * 1e6)
    print(f"# {len(dispatch)} rounds; dispatch {min(dispatch):.2f}-{max(dispatch):.2f} us per kernel")
    mean_d = statistics.fmean(dispatch)
    spread = sum((d - mean_d) ** 2 for d in dispatch)
    for shape, ys in zip(picked, times, strict=True):
        mean_y = statistics.fmean(ys)
        slope = sum((d - mean_d) * (y - mean_y) for d, y in zip(dispatch, ys, strict=True)) / spread if spread else 0.0
        print(f"{shape}: fastest {min(ys):9.1f} us, slope {slope:8.2f} us per us of dispatch")


def _runner_of(payload: bytes) -> Runner:
    session = open_session(payload, choose_device("cpu"), None)
    return Runner(session, feeds_for(session, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--models", default="", help=f"comma-separated, of: {', '.join(MODELS)}")
    parser.add_argument("--track", type=float, default=0.0, metavar="S",
                        help="track the pinned dispatch probe beside the models for S seconds instead")
    parser.add_argument("--settle", type=float, default=SETTLE_S, metavar="S",
                        help=f"pause before every block (default {SETTLE_S} s; 0: back to back)")
    parser.add_argument("--slopes", type=float, default=0.0, metavar="S",
                        help="for S seconds: calibration conv shapes against the dispatch probe instead")
    parser.add_argument("--no-pin", action="store_true", help="with --track: leave the threads to the scheduler")
    args = parser.parse_args()
    _settle[0] = max(args.settle, 0.0)
    names = [m for m in args.models.split(",") if m] or list(MODELS)
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    if args.slopes > 0:
        print(f"# {os.cpu_count()} cores; load average before {_load()}")
        _slopes(args.slopes)
        print(f"# load average after {_load()}")
        return
    if args.track > 0:
        print(f"# {os.cpu_count()} cores; load average before {_load()}")
        _track(names, args.track, max(args.runs // 2, 10), not args.no_pin)
        print(f"# load average after {_load()}")
        return
    started = time.perf_counter()
    print(f"# {os.cpu_count()} cores; load average before {'/'.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{args.sessions} sessions per model and setting, {args.rounds} rounds of {args.runs} runs each")
    print(f"{'model':16s} {'threads':8s} {'sessions x':>10s} {'rounds x':>9s}  session medians (us)")
    for name in names:
        for setting, threads, pin in (("default", None, False), ("1", 1, False), ("pinned", None, True)):
            with pinned_caller() if pin else contextlib.nullcontext():
                runners = _sessions(MODELS[name], args.sessions, threads)
                row = _row(name, setting, _measure(runners, args.rounds, args.runs))
                del runners
            print(f"{name:16s} {setting:8s} {row['sessions_x']:10.2f} {row['rounds_x']:9.2f}  "
                  + " ".join(f"{m:8.1f}" for m in row["medians_us"]), flush=True)
    print(f"# {time.perf_counter() - started:.0f} s; load average after {_load()}")


if __name__ == "__main__":
    main()
