"""Does calibration's conv grid (``archcalc.estimate.samples.grid_convs``) help the estimate of
convs that networks are made of but no calibration measured? Calibrates (the default suite,
which measures the grid), times network-like convs off the grid alone, each as calibration
times its points (``microbench.conv_model``, kernel time from the profiler less its own cost),
in three rounds, and scores the interpolated estimate against them twice on the same
measurements: with every calibration point, and without the grid's. Prints figures; asserts
nothing.

    python benchmarks/conv_grid_heldout.py [--rounds 3]

The held-out convs: ResNet-18 at width 40 (224 px), MobileNetV3-Large's depthwise and 1x1 convs
at 176 px, RegNet-like grouped 3x3 convs (groups of 24 channels), SqueezeNet's fire modules,
ShuffleNetV2's 1x1 and depthwise convs, and a third of them again at batch 8. None is a grid
shape, and none comes from a model ``benchmarks/estimate_accuracy.py`` scores.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.estimate.layout import executed_conv, nchwc_block, timed_conv  # noqa: E402
from archcalc.estimate.microbench import Bench, conv_model, kernel_of  # noqa: E402
from archcalc.estimate.samples import grid_convs  # noqa: E402
from archcalc.estimate.shapes import ConvShape  # noqa: E402
from archcalc.estimate.suite import calibrate  # noqa: E402
from archcalc.runtime.devices import choose_device  # noqa: E402


def held_out() -> list[ConvShape]:
    shapes = []
    w = 40  # ResNet-18 at width 40
    for c, o in ((w, 56), (2 * w, 28), (4 * w, 14), (8 * w, 7)):
        shapes.append(ConvShape(c, c, 1, 3, 1, o, 1))
    for c, o in ((w, 28), (2 * w, 14), (4 * w, 7)):
        shapes += [ConvShape(c, 2 * c, 1, 3, 2, o, 1), ConvShape(c, 2 * c, 1, 1, 2, o, 1)]
    # MobileNetV3-Large at 176 px: depthwise (channels, kernel, stride, output) and 1x1 (in, out, output)
    for c, k, s, o in ((16, 3, 1, 88), (64, 3, 2, 44), (72, 3, 1, 44), (72, 5, 2, 22), (120, 5, 1, 22),
                       (240, 3, 2, 11), (200, 3, 1, 11), (184, 3, 1, 11), (480, 3, 1, 11), (672, 3, 1, 11),
                       (672, 5, 2, 6), (960, 5, 1, 6)):
        shapes.append(ConvShape(c, c, c, k, s, o, 1))
    for a, b, o in ((16, 64, 88), (64, 24, 44), (24, 72, 44), (72, 40, 22), (40, 120, 22), (120, 40, 22),
                    (40, 240, 22), (240, 80, 11), (80, 200, 11), (200, 80, 11), (80, 480, 11), (480, 112, 11),
                    (112, 672, 11), (672, 160, 6), (160, 960, 6)):
        shapes.append(ConvShape(a, b, 1, 1, 1, o, 1))
    for c, o in ((48, 56), (120, 28), (336, 14), (888, 7)):  # RegNet-like: groups of 24 channels
        shapes.append(ConvShape(c, c, c // 24, 3, 1, o, 1))
    for a, squeeze, o in ((96, 16, 55), (256, 32, 27), (512, 64, 13)):  # SqueezeNet's fire modules
        shapes += [ConvShape(a, squeeze, 1, 1, 1, o, 1), ConvShape(squeeze, 4 * squeeze, 1, 1, 1, o, 1),
                   ConvShape(squeeze, 4 * squeeze, 1, 3, 1, o, 1)]
    shapes.append(ConvShape(3, 24, 1, 3, 2, 112, 1))  # ShuffleNetV2 1x
    for c, o in ((58, 28), (116, 14), (232, 7)):
        shapes += [ConvShape(c, c, 1, 1, 1, o, 1), ConvShape(c, c, c, 3, 1, o, 1)]
    return shapes + [ConvShape(s.cin, s.cout, s.groups, s.kernel, s.stride, s.out, 8)
                     for s in shapes[:4] + shapes[10:14] + shapes[25:29]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of timing the held-out convs")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    grid = set(grid_convs())
    shapes = held_out()
    if grid.intersection(shapes):
        raise SystemExit("a held-out conv is a grid shape: it would not be held out")
    started = time.perf_counter()
    dev = calibrate("cpu")
    print(f"calibrated in {time.perf_counter() - started:.1f} s: {len(dev.conv)} conv points", flush=True)
    bench = Bench(choose_device("cpu"), None)
    measured: list[list[float]] = [[] for _ in shapes]
    for _ in range(args.rounds):
        for i, s in enumerate(shapes):
            model, names = conv_model([s])
            got = kernel_of(bench.kernels(model, runs=15), names[0])
            if got is not None:
                measured[i].append(max(got - dev.profiler_heavy_us, 0.05))
    rows = list(dev.conv)
    block = nchwc_block()
    for label, kept in (("every point", rows),
                        ("without the grid's", [r for r in rows if ConvShape(*(int(v) for v in r[:7])) not in grid])):
        fitted = dev.with_points(conv=kept)
        errs = [math.log((fitted.conv_us(timed_conv(executed_conv(s, block, False)[0])) + fitted.fixed_us["conv"])
                         / statistics.median(measured[i])) for i, s in enumerate(shapes) if measured[i]]
        shift = statistics.median(errs)
        print(f"{label:>20s} ({len(kept)} points): median |log error| {statistics.median(abs(e) for e in errs):.3f}, "
              f"median shift {shift:+.3f}, |log error| after it {statistics.median(abs(e - shift) for e in errs):.3f}, "
              f"within 10% {sum(abs(e) < math.log(1.1) for e in errs)} of {len(errs)}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
