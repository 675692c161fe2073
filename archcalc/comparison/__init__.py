"""Two networks side by side (``archcalc compare A B``): totals and per stage/block/layer figures
with deltas and ratios, layers matched by name and by structure, and the first difference with
its reason in words.

    grouping.py     layers into stages and blocks (spec block names, ONNX scopes, graph cuts)
    matching.py     which layer of A is which layer of B (names, then structure; networkx)
    differences.py  what differs with an effect, and why
    result.py       the Comparison (``to_dict()``)
    build.py        compare()
"""

from __future__ import annotations

from archcalc.comparison.build import compare
from archcalc.comparison.result import Comparison

__all__ = ["Comparison", "compare"]
