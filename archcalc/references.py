"""``archcalc tables``: published figures against computed ones, per reference network.

Each bundled spec's ``expected:`` entries are grouped by source; every row shows the published
figure, the computed one, the difference, and whether it is exact, within the source's rounding,
or a known erratum (with the explanation). :mod:`archcalc.render.references` renders them (the
markdown form is meant for a slide).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archcalc.expected import Check, check


@dataclass(frozen=True)
class Reference:
    name: str
    title: str
    file: str
    receptive_field: str
    checks: tuple[Check, ...]


def references(names: Sequence[str] | None = None) -> list[Reference]:
    """The reference tables of the named specs (bundled names or paths), or of every bundled spec."""
    from archcalc.analysis import analyze
    from archcalc.language.loader import load_spec
    from archcalc.receptive import format_field
    from archcalc.zoo import bundled_specs, spec_path

    sources: list[str | Path] = list(names) if names else list(bundled_specs().values())
    out = []
    for source in sources:
        path = spec_path(source)
        graph = load_spec(source)  # a variant (vgg19, vgg:vgg19) checks its own figures
        report = analyze(graph)
        rf = "; ".join(f"{k}: {format_field(v)}" for k, v in report.receptive_field.items())
        last_spatial = next((r for r in reversed(report.layers) if len(r.shape) > 1 and not r.rf.is_global), None)
        if last_spatial is not None:
            rf += f" (last spatial layer {last_spatial.name}: {format_field(last_spatial.rf)})"
        out.append(Reference(graph.name, graph.description or graph.name, str(Path(path)), rf,
                             tuple(check(graph))))
    return out
