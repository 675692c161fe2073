"""Short results as text: ``check``'s comparisons and ``export``'s summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archcalc.expected import Check
    from archcalc.onnx_export.export import Exported


def check_lines(file: str, results: Sequence[Check], quiet: bool = False) -> str:
    """One line per comparison (mismatches only when ``quiet``), then the count reproduced."""
    if not results:
        return f"{file}: no expected: figures\n"
    bad = [r for r in results if not r.ok]
    lines = [f"{file}: {r.describe()}" for r in results if not quiet or not r.ok]
    lines.append(f"{file}: {len(results) - len(bad)}/{len(results)} figures reproduced")
    return "".join(line + "\n" for line in lines)


def export_summary(exported: Exported, output: str, weights: str) -> str:
    """What ``archcalc export`` wrote: nodes, opset, IR version, weight bytes, then its notes."""
    model = exported.model
    lines = [f"wrote {output}: {len(model.graph.node)} nodes, opset {model.opset_import[0].version}, "
             f"IR {model.ir_version}, {exported.weight_bytes:,} bytes of {weights} weights"]
    lines += [f"note: {note}" for note in exported.notes]
    return "".join(line + "\n" for line in lines)
