"""Do repeated `profile` runs of the same model agree within the noise they report? Prints
figures; asserts nothing.

    python benchmarks/timing_stability.py [--rounds 5] [--repeat 30]

For a few bundled models, `rounds` profile runs each, interleaved between models inside one
process (as the project's timing rules ask). Each run reports its median and its spread
((p90 - min) / median). A pair of runs "agrees" when their medians differ by no more than the
larger of the two reported spreads. Prints every median, the spreads, the agreement rate and which
runs called themselves unstable.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc import measure  # noqa: E402
from archcalc.runtime import ProfileResult  # noqa: E402

MODELS = ("lenet5_modern", "resnet18", "alexnet_torchvision")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    results: dict[str, list[ProfileResult]] = {m: [] for m in MODELS}
    for _ in range(args.rounds):
        for model in MODELS:
            (result,) = measure.profile(model, repeat=args.repeat, drift_probes=False)
            results[model].append(result)
    agree = pairs = 0
    for model, runs in results.items():
        medians = [r.median_ms for r in runs]
        spreads = [r.timing.spread for r in runs]
        for i in range(len(runs)):
            for j in range(i + 1, len(runs)):
                pairs += 1
                diff = abs(medians[i] - medians[j]) / min(medians[i], medians[j])
                agree += diff <= max(spreads[i], spreads[j])
        unstable = sum(not r.timing.stable for r in runs)
        print(f"{model}: medians {', '.join(f'{m:.3f}' for m in medians)} ms; spreads "
              f"{', '.join(f'{s:.0%}' for s in spreads)}; between runs max/min {max(medians) / min(medians):.3f}; "
              f"median of medians {statistics.median(medians):.3f} ms; {unstable} run(s) reported unstable")
    print(f"pairs of runs whose medians agree within their reported spread: {agree} of {pairs}")


if __name__ == "__main__":
    main()
