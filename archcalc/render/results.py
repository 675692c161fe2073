"""Short results as text: ``check``'s comparisons and ``export``'s summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archcalc.expected import Check
    from archcalc.onnx_export.export import Exported


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 mismatch``, ``2 mismatches``, ``0 errata`` (thousands separated)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def tally(results: Sequence[Check]) -> str:
    """The one summary ``check`` and ``tables`` both print: figures reproduced (exact or within
    the source's rounding) of all published, known errata, mismatches."""
    counts = {status: sum(1 for r in results if r.status == status)
              for status in ("exact", "close", "erratum", "mismatch")}
    reproduced = counts["exact"] + counts["close"]
    detail = f" ({counts['exact']:,} exact, {counts['close']:,} within the source's rounding)" \
        if counts["close"] else ""
    errata = plural(counts["erratum"], "known erratum", "known errata")
    mismatches = plural(counts["mismatch"], "mismatch", "mismatches")
    return f"{reproduced:,} of {plural(len(results), 'published figure')} reproduced{detail}; {errata}; {mismatches}"


def check_lines(file: str, results: Sequence[Check], quiet: bool = False) -> str:
    """One line per comparison (mismatches only when ``quiet``), then the tally."""
    if not results:
        return f"{file}: no expected: figures\n"
    lines = [f"{file}: {r.describe()}" for r in results if not quiet or not r.ok]
    lines.append(f"{file}: {tally(results)}")
    return "".join(line + "\n" for line in lines)


def export_summary(exported: Exported, output: str, weights: str) -> str:
    """What ``archcalc export`` wrote: nodes, opset, IR version, weight bytes, then its notes."""
    model = exported.model
    lines = [f"wrote {output}: {len(model.graph.node)} nodes, opset {model.opset_import[0].version}, "
             f"IR {model.ir_version}, {exported.weight_bytes:,} bytes of {weights} weights"]
    lines += [f"note: {note}" for note in exported.notes]
    return "".join(line + "\n" for line in lines)
