"""``archcalc explain`` as text, markdown (for slides) or JSON. Values get thousands separators
in text and markdown; JSON keeps exact integers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from archcalc.errors import OptionError, suggest

if TYPE_CHECKING:
    from archcalc.explain import FigureExplanation, LayerExplanation

FORMATS = ("text", "markdown", "json")


def _value(item: FigureExplanation) -> str:
    return f"{item.value:,}" if isinstance(item.value, int) else item.value


def render_explanation(explained: LayerExplanation, network: str, fmt: str = "text") -> str:
    """One layer's explanation (all its figures, or the one asked for) in ``fmt``."""
    if fmt == "json":
        return json.dumps({"network": network, **explained.to_dict()}, indent=2) + "\n"
    if fmt == "markdown":
        lines = [f"### {network}: {explained.layer} ({explained.kind})", ""]
        for item in explained.figures:
            lines += [f"**{item.figure} = {_value(item)}**: {item.words}", "",
                      f"- formula: `{item.symbols}`", f"- numbers: {item.numbers}"]
            if item.conventions:
                lines.append(f"- conventions: {'; '.join(item.conventions)}")
            lines.append("")
        lines.append(f"_{explained.conventions}_")
        return "\n".join(lines) + "\n"
    if fmt != "text":
        raise OptionError(f"unknown format '{fmt}'{suggest(fmt, FORMATS)}; formats: {', '.join(FORMATS)}")
    lines = [f"{network}: {explained.layer} ({explained.kind})", ""]
    for item in explained.figures:
        lines += [f"{item.figure} = {_value(item)}", f"  {item.words}", f"  formula: {item.symbols}",
                  f"  numbers: {item.numbers}"]
        if item.conventions:
            lines.append(f"  conventions: {'; '.join(item.conventions)}")
        lines.append("")
    lines.append(explained.conventions)
    return "\n".join(lines) + "\n"
