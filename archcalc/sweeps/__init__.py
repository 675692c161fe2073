"""Design-space sweeps: many variants of one spec, analysed in parallel, as rows.

``grid`` keys (names as the spec language defines them):

- ``width`` or ``${width}``: a spec variable;
- ``input.size`` (an int for a square input, or [H, W]), ``input.channels``, ``input.shape``;
- ``NAME.repeat``: the repeat count of the block use NAME (a top-level ``layers:`` entry);
- ``LAYER.KEY``: an attribute of an expanded layer (``conv1.filters``, ``layer2.0.conv1.kernel``);
- ``batch``, ``dtype`` and any other convention name (unless the spec declares a variable of that
  name): how the variant is counted.

Values are lists; ``"160:320:32"`` is an inclusive range. A grid key that names nothing (a layer
key no such layer has, an unknown variable) is an error before anything runs; a variant that is
invalid (a stride no longer fits, channels mismatch) becomes a row with its error; the sweep goes on.

Work: the spec is parsed once. Each distinct combination of variables, repeats (the keys that
change the block expansion) is expanded once per worker and cached; input sizes and layer
attributes are applied to the expanded graph; then the analysis runs. Variants run in chunks on
the local cores (processes), or on any ``concurrent.futures.Executor`` (``executor=``), such as
Dask's ``Client.get_executor()`` or a Ray-backed executor. Progress is reported through a callback.

Size and lifetime: a grid is counted before anything runs (``progress(0, total)`` says how many
variants it has) and refused past ``MAX_VARIANTS`` (one million) unless ``max_variants=`` allows
more; variants are never all in memory (workers get index ranges and make their own). Workers die
with the sweeping process, and an interrupt stops them at once (``pool``).

Modules: ``grid`` (values, the lazy ``Grid``, the plan of each key), ``variants`` (one variant -> one
row, in the workers), ``pool`` (the local process pool and its workers' lifetime), ``results``
(``SweepResult``: filters, best, Pareto front, CSV/JSON), ``run`` (``sweep``: inline, process pool
or executor; measured latencies). Text tables are rendered by ``archcalc.render.sweep``.
"""

from __future__ import annotations

from archcalc.sweeps.grid import MAX_VARIANTS, Grid, SweepMode, expand_grid, expand_range, make_grid, parse_values
from archcalc.sweeps.pool import MAX_WORKERS
from archcalc.sweeps.results import DEFAULT_METRICS, METRICS, SweepResult, parse_condition
from archcalc.sweeps.run import Progress, sweep

__all__ = [
    "DEFAULT_METRICS", "MAX_VARIANTS", "MAX_WORKERS", "METRICS", "Grid", "Progress", "SweepMode", "SweepResult",
    "expand_grid", "expand_range", "make_grid", "parse_condition", "parse_values", "sweep",
]
