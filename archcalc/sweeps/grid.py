"""The grid: value lists and ranges, the variants they make, and how each grid key applies to the
spec (a plan, checked against the spec before anything runs)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from archcalc.errors import SpecError, suggest


class SweepMode(StrEnum):
    """How the value lists of the grid combine: every combination, or paired in order."""

    PRODUCT = "product"
    ZIP = "zip"


def parse_values(text: str) -> list[Any]:
    """``"32,64,128"`` -> [32, 64, 128]; ``"160:320:32"`` -> 160..320 step 32 (both ends)."""
    import yaml

    text = text.strip()
    m = re.fullmatch(r"(-?\d+):(-?\d+)(?::(-?\d+))?", text)
    if m:
        return expand_range(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
    values = []
    for item in text.split(","):
        try:
            values.append(yaml.safe_load(item) if item.strip() else item)
        except yaml.YAMLError:
            values.append(item.strip())
    return values


def expand_range(start: int, stop: int, step: int) -> list[int]:
    if step == 0 or (stop - start) * step < 0:
        raise SpecError(f"range {start}:{stop}:{step} is empty")
    count = (stop - start) // step + 1
    if count > 10_000_000:
        raise SpecError(f"range {start}:{stop}:{step} has {count:,} values")
    return [start + i * step for i in range(count)]


def _values(value: Any) -> list[Any]:
    if isinstance(value, str):
        return parse_values(value)
    if isinstance(value, (range, list, tuple)):
        return list(value)
    return [value]


def sweep_mode(mode: SweepMode | str) -> SweepMode:
    if isinstance(mode, SweepMode):
        return mode
    try:
        return SweepMode(str(mode))
    except ValueError:
        raise SpecError(f"mode must be 'product' or 'zip', got {mode!r}{suggest(str(mode), SweepMode)}") from None


def expand_grid(grid: Mapping[str, Any], mode: SweepMode | str = SweepMode.PRODUCT) -> list[dict[str, Any]]:
    """Every variant of ``grid`` as a dict key -> value."""
    how = sweep_mode(mode)
    keys = list(grid)
    lists = [_values(grid[k]) for k in keys]
    if any(not v for v in lists):
        raise SpecError("every grid key needs at least one value")
    combos: Iterable[tuple[Any, ...]]
    if how is SweepMode.PRODUCT:
        combos = itertools.product(*lists)
    else:
        lengths = {len(v) for v in lists}
        if len(lengths) > 1:
            raise SpecError(f"zip mode needs value lists of one length, got {sorted(lengths)}")
        combos = zip(*lists, strict=True)
    return [dict(zip(keys, combo, strict=True)) for combo in combos]


@dataclass(frozen=True)
class Plan:
    """How each grid key applies to the spec."""

    variables: tuple[str, ...]
    repeats: tuple[tuple[str, str], ...]  # grid key -> use name
    inputs: tuple[tuple[str, str], ...]  # grid key -> size | channels | shape
    attrs: tuple[tuple[str, str, str], ...]  # grid key -> (layer, attribute)
    conventions: tuple[tuple[str, str], ...]  # grid key -> convention name

    def variables_of(self, variant: Mapping[str, Any]) -> dict[str, Any]:
        return {k[2:-1] if k.startswith("${") else k: variant[k] for k in self.variables}

    def repeats_of(self, variant: Mapping[str, Any]) -> dict[str, Any]:
        return {use: variant[k] for k, use in self.repeats}

    def inputs_of(self, variant: Mapping[str, Any]) -> dict[str, Any]:
        return {what: variant[k] for k, what in self.inputs}

    def attrs_of(self, variant: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
        return {(layer, attr): variant[k] for k, layer, attr in self.attrs}

    def conventions_of(self, variant: Mapping[str, Any]) -> dict[str, Any]:
        return {name: variant[k] for k, name in self.conventions}


def make_plan(doc: Mapping[str, Any], keys: Sequence[str]) -> Plan:
    """Each grid key sorted into what it changes; a key that names nothing is an error."""
    from archcalc.conventions import NAMES

    declared = dict(doc.get("variables") or {})
    uses = {str(e.get("name")) for e in doc.get("layers") or [] if isinstance(e, dict) and "block" in e}
    variables, repeats, inputs, attrs, convs = [], [], [], [], []
    for key in keys:
        bare = key[2:-1] if key.startswith("${") and key.endswith("}") else key
        if bare in declared:
            variables.append(key)
        elif bare.startswith("input.") and bare[6:] in ("size", "channels", "shape"):
            inputs.append((key, bare[6:]))
        elif bare.endswith(".repeat"):
            use = bare[: -len(".repeat")]
            if use not in uses:
                raise SpecError(f"grid key {key!r}: no top-level block use named '{use}'{suggest(use, uses)}")
            repeats.append((key, use))
        elif bare in NAMES and bare != "preset":
            convs.append((key, bare))
        elif "." in bare:
            layer, _, attr = bare.rpartition(".")
            attrs.append((key, layer, attr))
        else:
            raise SpecError(
                f"grid key {key!r} is not a spec variable{suggest(bare, declared)}, input.size, NAME.repeat, "
                f"LAYER.KEY or a convention (variables: {', '.join(declared) or 'none'})"
            )
    return Plan(tuple(variables), tuple(repeats), tuple(inputs), tuple(attrs), tuple(convs))


def check_attrs(plan: Plan, layers: Mapping[str, Any]) -> None:
    """LAYER.KEY grid keys checked against the spec as written, before any variant runs: a key
    no layer of that kind has is an error (with a did-you-mean); so is a layer that does not
    exist, unless variables or repeat counts change which layers there are."""
    from archcalc.ops import REGISTRY

    layers_may_change = bool(plan.variables or plan.repeats)
    for key, name, attr in plan.attrs:
        layer = layers.get(name)
        if layer is None:
            if layers_may_change:
                continue
            raise SpecError(f"grid key {key!r}: no layer named '{name}'{suggest(name, layers)}")
        schema = REGISTRY[layer.kind].schema
        if attr not in schema:
            raise SpecError(f"grid key {key!r}: layer {name} ({layer.kind}) has no key '{attr}'{suggest(attr, schema)}"
                            f"; keys: {', '.join(schema) or 'none'}")
