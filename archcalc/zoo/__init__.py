"""The bundled reference specs (shipped inside the package), found by name.

A source names a spec and, optionally, one of its named variants (``variants:`` in the spec)::

    resolve("resnet18")         # (.../resnet18.yaml, None): a bundled spec
    resolve("vgg19")            # (.../vgg.yaml, "vgg19"): a bundled spec's variant, by its name
    resolve("vgg:vgg19")        # (.../vgg.yaml, "vgg19"): spec:variant
    resolve("my.yaml:small")    # (my.yaml, "small"): a path and one of its variants

This is the one place where a source's name is resolved: the loader, and through it every
command, use it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from archcalc.errors import SpecError, suggest

SPEC_DIR = Path(__file__).resolve().parent
#: folder names that stand for the bundled specs in a relative path (``specs/lenet5.yaml``)
BUNDLED_FOLDERS = ("specs", "zoo")
#: what separates a spec from a variant name (``vgg:vgg19``)
VARIANT_SEPARATOR = ":"


def bundled_specs() -> dict[str, Path]:
    """Bundled spec name (file stem) -> path, sorted by name."""
    return {p.stem: p for p in sorted(SPEC_DIR.glob("*.yaml"))}


@lru_cache(maxsize=1)
def _bundled_variants() -> tuple[tuple[str, str, Path], ...]:
    out: list[tuple[str, str, Path]] = []
    for stem, path in bundled_specs().items():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        variants = doc.get("variants") if isinstance(doc, dict) else None
        if isinstance(variants, dict):
            out.extend((str(name), stem, path) for name in variants)
    return tuple(out)


def bundled_variants() -> dict[str, tuple[str, Path]]:
    """Variant name -> (bundled spec name, path) for every named variant of a bundled spec."""
    return {name: (stem, path) for name, stem, path in _bundled_variants()}


def _bundled_path(key: str) -> Path | None:
    path = Path(key)
    bundled = bundled_specs()
    named = len(path.parts) == 1 or (len(path.parts) == 2 and path.parts[0] in BUNDLED_FOLDERS)
    stem = path.stem if path.suffix in (".yaml", ".yml") and named else key
    return bundled.get(stem)


def split_variant(source: str | Path) -> tuple[str, str | None]:
    """``"vgg:vgg19"`` -> ``("vgg", "vgg19")``; a name without a variant (or an existing file whose
    name has a colon) -> ``(source, None)``."""
    text = str(source)
    head, sep, tail = text.rpartition(VARIANT_SEPARATOR)
    if not sep or not head or Path(text).exists() or not tail.replace("-", "_").isidentifier():
        return text, None
    return head, tail


def resolve(source: str | Path) -> tuple[Path, str | None]:
    """The spec file a source names and the variant it picks (None: the spec's own variables).

    An existing path wins; then ``spec:variant``; then a bundled spec's name (``resnet18``,
    ``resnet18.yaml``, ``specs/resnet18.yaml``); then a bundled variant's name (``vgg19``)."""
    path = Path(source)
    if path.exists():
        return path, None
    name, variant = split_variant(source)
    if variant is not None:
        return spec_path(name), variant
    found = _bundled_path(str(source))
    if found is not None:
        return found, None
    variants = bundled_variants()
    if str(source) in variants:
        return variants[str(source)][1], str(source)
    known = [*bundled_specs(), *variants]
    hint = suggest(str(source), known) or " (nor a bundled spec or variant of that name: archcalc list)"
    raise SpecError(f"no such file{hint}", file=str(source))


def spec_path(name_or_path: str | Path) -> Path:
    """A path as given when it exists; otherwise the bundled spec of that name: ``resnet18``,
    ``resnet18.yaml``, or ``specs/resnet18.yaml`` (the repository's ``specs/`` links to the
    bundled specs, so the examples in the docs work from any directory); a variant
    (``vgg19``, ``vgg:vgg19``, ``my.yaml:small``) names its spec's file."""
    return resolve(name_or_path)[0]
