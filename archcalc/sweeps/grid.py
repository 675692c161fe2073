"""The grid: value lists and ranges, the variants they make, and how each grid key applies to the
spec (a plan, checked against the spec before anything runs)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from archcalc.errors import SpecError, suggest


class SweepMode(StrEnum):
    """How the value lists of the grid combine: every combination, or paired in order."""

    PRODUCT = "product"
    ZIP = "zip"


#: grids with more variants than this are refused unless ``max_variants=`` (``--max-variants``) allows them
MAX_VARIANTS = 1_000_000

#: the longest value list one range may make when read as a list (``parse_values``)
MAX_RANGE_VALUES = 10_000_000

#: the most values one grid axis may have (a lazy range; any grid this long is past every sane limit)
MAX_AXIS_VALUES = 10**12

_RANGE = re.compile(r"(-?\d{1,19}):(-?\d{1,19})(?::(-?\d{1,19}))?")


def parse_values(text: str) -> list[Any]:
    """``"32,64,128"`` -> [32, 64, 128]; ``"160:320:32"`` -> 160..320 step 32 (both ends). Values
    are read as YAML with the spec's limits (an integer past 10^18 is an error); text stays text."""
    values = parse_axis(text)
    if isinstance(values, range):
        if len(values) > MAX_RANGE_VALUES:
            raise SpecError(f"range {text.strip()} has {len(values):,} values (limit {MAX_RANGE_VALUES:,})")
        return list(values)
    return values


def parse_axis(text: str) -> range | list[Any]:
    """The values of one grid axis: a range stays a lazy ``range`` (never a list of its values)."""
    from archcalc.errors import YamlSyntaxError
    from archcalc.language.yamlmarks import load_yaml

    text = text.strip()
    m = _RANGE.fullmatch(text)
    if m:
        return lazy_range(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
    values: list[Any] = []
    for item in text.split(","):
        try:
            value = load_yaml(item, "grid value") if item.strip() else item
        except YamlSyntaxError:
            value = item.strip()
        values.append(value)
    return values


def lazy_range(start: int, stop: int, step: int) -> range:
    """start..stop by step, both ends included, as a ``range``."""
    if step == 0 or (stop - start) * step < 0:
        raise SpecError(f"range {start}:{stop}:{step} is empty")
    count = (stop - start) // step + 1
    if count > MAX_AXIS_VALUES:
        raise SpecError(f"range {start}:{stop}:{step} has {count:,} values (limit {MAX_AXIS_VALUES:,})")
    return range(start, stop + (1 if step > 0 else -1), step)


def expand_range(start: int, stop: int, step: int) -> list[int]:
    values = lazy_range(start, stop, step)
    if len(values) > MAX_RANGE_VALUES:
        raise SpecError(f"range {start}:{stop}:{step} has {len(values):,} values (limit {MAX_RANGE_VALUES:,})")
    return list(values)


def _values(value: Any) -> Sequence[Any]:
    if isinstance(value, str):
        return parse_axis(value)
    if isinstance(value, range):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def sweep_mode(mode: SweepMode | str) -> SweepMode:
    if isinstance(mode, SweepMode):
        return mode
    try:
        return SweepMode(str(mode))
    except ValueError:
        raise SpecError(f"mode must be 'product' or 'zip', got {mode!r}{suggest(str(mode), SweepMode)}") from None


@dataclass(frozen=True)
class Grid:
    """The variants of a grid, never held all at once: ``count`` says how many there are,
    ``variants(start, stop)`` makes those in ``[start, stop)`` one at a time (variant ``i`` is
    computed from ``i``: workers are sent index ranges, not variants). Small to pickle: ranges
    stay ranges."""

    keys: tuple[str, ...]
    axes: tuple[Sequence[Any], ...]
    mode: SweepMode

    @property
    def count(self) -> int:
        if self.mode is SweepMode.ZIP:
            return len(self.axes[0]) if self.axes else 0
        return math.prod(len(a) for a in self.axes)

    @property
    def shape(self) -> str:
        """``"10 x 10 x 4"`` (product) or ``"10 zipped"``."""
        if self.mode is SweepMode.ZIP:
            return f"{self.count:,} zipped"
        return " x ".join(f"{len(a):,}" for a in self.axes)

    def variant(self, index: int) -> dict[str, Any]:
        if self.mode is SweepMode.ZIP:
            return {k: a[index] for k, a in zip(self.keys, self.axes, strict=True)}
        out: dict[str, Any] = {}
        for key, axis in zip(reversed(self.keys), reversed(self.axes), strict=True):
            index, at = divmod(index, len(axis))
            out[key] = axis[at]
        return {k: out[k] for k in self.keys}

    def variants(self, start: int = 0, stop: int | None = None) -> Iterator[dict[str, Any]]:
        for index in range(start, self.count if stop is None else stop):
            yield self.variant(index)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.variants()

    def check_size(self, max_variants: int | None) -> int:
        """The number of variants; past ``max_variants`` (default :data:`MAX_VARIANTS`) an error."""
        limit = MAX_VARIANTS if max_variants is None else max_variants
        count = self.count
        if count > limit:
            raise SpecError(f"the grid has {count:,} variants ({self.shape}); the limit is {limit:,} "
                            f"(max_variants=, --max-variants N, allows more)")
        return count


def make_grid(grid: Mapping[str, Any], mode: SweepMode | str = SweepMode.PRODUCT) -> Grid:
    """The grid as a :class:`Grid` (nothing expanded)."""
    how = sweep_mode(mode)
    keys = tuple(grid)
    axes = tuple(_values(grid[k]) for k in keys)
    if any(len(a) == 0 for a in axes):
        raise SpecError("every grid key needs at least one value")
    if how is SweepMode.ZIP:
        lengths = {len(a) for a in axes}
        if len(lengths) > 1:
            raise SpecError(f"zip mode needs value lists of one length, got {sorted(lengths)}")
    return Grid(keys, axes, how)


def expand_grid(grid: Mapping[str, Any], mode: SweepMode | str = SweepMode.PRODUCT, *,
                max_variants: int | None = None) -> list[dict[str, Any]]:
    """Every variant of ``grid`` as a dict key -> value, as a list: for small grids (past
    ``max_variants``, default :data:`MAX_VARIANTS`, an error); ``sweep`` itself streams them
    through :func:`make_grid`."""
    variants = make_grid(grid, mode)
    variants.check_size(max_variants)
    return list(variants)


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
