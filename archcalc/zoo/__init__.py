"""The bundled reference specs (shipped inside the package), found by name."""

from __future__ import annotations

from pathlib import Path

from archcalc.errors import SpecError, suggest

SPEC_DIR = Path(__file__).resolve().parent
#: folder names that stand for the bundled specs in a relative path (``specs/lenet5.yaml``)
BUNDLED_FOLDERS = ("specs", "zoo")


def bundled_specs() -> dict[str, Path]:
    """Bundled spec name (file stem) -> path, sorted by name."""
    return {p.stem: p for p in sorted(SPEC_DIR.glob("*.yaml"))}


def spec_path(name_or_path: str | Path) -> Path:
    """A path as given when it exists; otherwise a bundled spec of that name: ``resnet18``,
    ``resnet18.yaml``, or ``specs/resnet18.yaml`` (the repository's ``specs/`` links to the
    bundled specs, so the examples in the docs work from any directory)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    bundled = bundled_specs()
    named = len(path.parts) == 1 or (len(path.parts) == 2 and path.parts[0] in BUNDLED_FOLDERS)
    key = path.stem if path.suffix in (".yaml", ".yml") and named else str(name_or_path)
    if key in bundled:
        return bundled[key]
    hint = suggest(key, bundled) or " (nor a bundled spec of that name: archcalc list)"
    raise SpecError(f"no such file{hint}", file=str(name_or_path))
