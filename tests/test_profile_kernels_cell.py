"""The per-layer table names a few kernels per row; CSV and JSON keep them all."""

from __future__ import annotations

from types import SimpleNamespace

from archcalc.render.profile_cli import KERNELS_SHOWN, _layer_rows
from archcalc.runtime.results import LayerProfile


def test_a_row_of_many_kernels_names_a_few_and_counts_the_rest() -> None:
    reorders = tuple(f"ReorderOutput_token_{i}" for i in range(55))
    result = SimpleNamespace(layers=(LayerProfile("c", "conv", 0.5, 0.4, None, ("c_nchwc",)),
                                     LayerProfile("(layout)", "runtime", 0.7, 0.5, None, reorders)))
    (conv, layout) = _layer_rows(result, human=True)  # type: ignore[arg-type]
    assert conv[-1] == "c_nchwc"
    assert layout[-1] == (", ".join(reorders[:KERNELS_SHOWN]) + f" and {55 - KERNELS_SHOWN} more (all in -f json or csv)")
    (_, layout_csv) = _layer_rows(result, human=False)  # type: ignore[arg-type]
    assert layout_csv[-1] == ", ".join(reorders)
