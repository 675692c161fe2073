"""One way in: what a source is (a YAML spec, a bundled spec's name, an ONNX model) and its graph.

Every command and :func:`archcalc.load` go through here, so a source means the same thing
everywhere::

    what_is("specs/lenet5.yaml")   # SourceKind.SPEC (or BUNDLED when no such file is here)
    what_is("resnet18")            # SourceKind.BUNDLED
    what_is("model.onnx")          # SourceKind.ONNX
    graph = load_any("model.onnx", input_shapes={"x": (1, 3, 224, 224)})

A command that can only work on a spec says so in one line (:func:`require_spec`) instead of
reading an ONNX model as YAML. onnx is imported only when an ONNX model is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from archcalc.errors import OptionError
from archcalc.ir import Graph

#: the file name endings read as ONNX models
ONNX_SUFFIXES = (".onnx",)


class SourceKind(Enum):
    """What a source names."""

    SPEC = "YAML spec"
    BUNDLED = "bundled spec"
    ONNX = "ONNX model"
    DOCUMENT = "parsed spec"

    @property
    def is_spec(self) -> bool:
        return self is not SourceKind.ONNX


def what_is(source: str | Path | Mapping[str, Any]) -> SourceKind:
    """Decide what ``source`` is without reading it: a mapping is a parsed spec; a name ending in
    ``.onnx`` an ONNX model; an existing file a YAML spec; anything else a bundled spec's name
    (``resnet18``, ``resnet18.yaml``, ``specs/resnet18.yaml``), which :func:`load_any` resolves
    (or refuses with the names it knows)."""
    if isinstance(source, Mapping):
        return SourceKind.DOCUMENT
    if str(source).lower().endswith(ONNX_SUFFIXES):
        return SourceKind.ONNX
    if Path(source).exists():
        return SourceKind.SPEC
    return SourceKind.BUNDLED


def require_spec(source: str | Path, command: str, why: str, *, instead: str = "an ONNX model has none") -> None:
    """Refuse, in one line, a source that is not a spec for a command that needs one.

    ``require_spec("m.onnx", "sweep", "it varies spec variables and layer attributes")`` raises
    ``m.onnx: sweep needs a YAML spec (it varies ...); an ONNX model has none``.
    """
    if what_is(source) is SourceKind.ONNX:
        raise OptionError(f"{command} needs a YAML spec ({why}); {instead}", file=str(source))


def load_any(
    source: str | Path | Mapping[str, Any],
    *,
    variables: Mapping[str, Any] | None = None,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    allow_unknown: bool = False,
) -> Graph:
    """A spec file (YAML), a bundled spec's name, a parsed spec mapping, or an ONNX model -> the
    layer graph (a drop-in for :func:`archcalc.load`).

    Specs only: ``variables`` overrides spec variables. ONNX only: ``input_shapes`` fixes input
    dims (``{"x": (1, 3, 224, 224)}``), ``batch`` fixes a symbolic batch axis, ``allow_unknown``
    lets ops archcalc does not model through (not counted).
    """
    if isinstance(source, (str, Path)) and what_is(source) is SourceKind.ONNX:
        from archcalc.onnx_import.importer import import_onnx

        return import_onnx(source, input_shapes=input_shapes, batch=batch, allow_unknown=allow_unknown)
    from archcalc.language.loader import load_spec

    return load_spec(source, variables=variables)


def spec_file(source: str | Path) -> Path:
    """The file a spec source names: the path itself, or the bundled spec of that name."""
    from archcalc.zoo import spec_path

    return spec_path(source)
