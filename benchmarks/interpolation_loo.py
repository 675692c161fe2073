"""Leave-one-out error of the conv and GEMM efficiency interpolation on a calibration's own points:
each point is predicted from all the others, for a few settings of the local fit (neighbours,
ridge). The setting in ``archcalc/estimate/deviceprofile.py`` was chosen with this, on calibration
points only (never on a model the accuracy benchmark scores). Prints figures; asserts nothing.

    python benchmarks/interpolation_loo.py [PROFILE.json ...]    (default: the cached CPU profile)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.estimate import deviceprofile as D  # noqa: E402
from archcalc.estimate.calibration import load_cached  # noqa: E402

#: (neighbours, ridge) tried; the first is the one archcalc uses
SETTINGS = [(D.NEIGHBOURS, D.RIDGE), (6, 0.05), (10, 0.05), (6, 0.5), (10, 0.5), (12, 0.5), (16, 1.0)]


def errors(dev: D.DeviceProfile, neighbours: int, ridge: float) -> tuple[list[float], list[float]]:
    """|log(predicted / measured)| of every conv and GEMM point, each left out of its own fit
    (``DeviceProfile.interpolation_error``, as the estimate's band takes them)."""
    D.NEIGHBOURS, D.RIDGE = neighbours, ridge
    left_out = dev.with_points().interpolation_error()  # a fresh profile: its errors under this setting
    return [e for _, e in left_out.conv], [e for _, e in left_out.gemm]


def main() -> int:
    if sys.argv[1:]:
        profiles = [D.DeviceProfile.from_dict(json.loads(Path(p).read_text())) for p in sys.argv[1:]]
    else:
        cached, why = load_cached("cpu", None)
        if cached is None:
            print(why)
            return 1
        profiles = [cached]
    kept = D.NEIGHBOURS, D.RIDGE
    for neighbours, ridge in SETTINGS:
        got = [errors(dev, neighbours, ridge) for dev in profiles]
        print(f"neighbours {neighbours:2d} ridge {ridge:4.2f}: median |log error| conv "
              + ", ".join(f"{statistics.median(c):.3f}" for c, _ in got) + "; gemm "
              + ", ".join(f"{statistics.median(g):.3f}" for _, g in got)
              + (" (archcalc's)" if (neighbours, ridge) == kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
