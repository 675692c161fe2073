"""The long fuzz run: N cases per category with plain seeded randomness (no shrinking), counting
outcomes. Prints figures; exits 1 if any case broke the contract (a report, or an ArchcalcError with
a one-line message; the invariants on valid specs; the export/import round trip).

    python benchmarks/fuzz_long.py [--cases 2500] [--seed 20261122]

Categories (tests/fuzz_cases.py): generated specs (+ invariants), spec -> ONNX -> import round
trips, mutated spec text, mutated spec structure, mutated ONNX bytes. Total = cases x 5.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import fuzz_cases  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2500, help="cases per category")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="archcalc-fuzz-"))
    categories = {
        "generated": fuzz_cases.generated,
        "round trip": lambda rng: fuzz_cases.round_trip(rng, folder),
        "spec text": fuzz_cases.spec_text,
        "spec structure": fuzz_cases.spec_structure,
        "onnx bytes": lambda rng: fuzz_cases.onnx_bytes(rng, folder),
    }
    counts: Counter[str] = Counter()
    failures: list[str] = []
    start = time.perf_counter()
    for category, case_fn in categories.items():
        for case in range(args.cases):
            rng = random.Random(f"{args.seed}/{category}/{case}")
            try:
                counts[f"{category}: {case_fn(rng)}"] += 1
            except Exception:
                counts[f"{category}: FAILED"] += 1
                failures.append(f"{category} case {case}: {traceback.format_exc(limit=4)}")
    elapsed = time.perf_counter() - start
    print(f"{sum(counts.values()):,} cases in {elapsed:.0f} s (seed {args.seed}, {args.cases:,} per category)")
    for key, n in sorted(counts.items()):
        print(f"  {key}: {n:,}")
    print(f"failures: {len(failures)}")
    for failure in failures[:10]:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
