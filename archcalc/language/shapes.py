"""Shapes inside ``${...}``: ``in.channels`` (the enclosing block's input) and
``LAYER.out.channels`` (any layer expanded above), computed on demand during expansion.

::

    ${in.channels}  ${in.height}  ${in.width}  ${in.shape}      # the block's input
    ${stage2.out.channels}  ${layer2.0.conv1.out.width}          # a layer's (first) output

``channels`` is the first per-sample axis, ``height`` and ``width`` the next two (an error on a
tensor without them), ``shape`` the whole per-sample shape as a list. The expander supplies
``shape_of(name)``: the per-sample output shape of the layer (or ``input``) that ``name`` names
where the expression stands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from archcalc.analysis import output_shapes
from archcalc.errors import ArchcalcError, GraphError, VariableError, suggest

if TYPE_CHECKING:
    from archcalc.language.expansion import Expander, Scope

#: what a shape reference may ask for
ATTRIBUTES = ("channels", "height", "width", "shape")
#: the word that names the block's input in a shape reference
INPUT_WORD = "in"
#: the word between a layer name and the attribute
OUTPUT_WORD = "out"

Shape = tuple[int, ...]


def split_reference(name: str) -> tuple[str, str] | None:
    """``in.channels`` -> ``("input", "channels")``; ``stage2.out.width`` -> ``("stage2", "width")``;
    ``None`` for a name that is no shape reference (a plain variable)."""
    if "." not in name:
        return None
    head, _, attr = name.rpartition(".")
    if head == INPUT_WORD:
        return "input", attr
    layer, dot, word = head.rpartition(".")
    if dot and word == OUTPUT_WORD and layer:
        return layer, attr
    raise VariableError(
        f"'{name}' is no shape reference: write {INPUT_WORD}.channels (the block's input) or "
        f"LAYER.{OUTPUT_WORD}.channels (a layer above); attributes: {', '.join(ATTRIBUTES)}")


def attribute(shape: Shape, attr: str, name: str) -> Any:
    """One attribute of a per-sample shape: ``channels`` (axis 0), ``height`` (1), ``width`` (2)
    or ``shape`` (the list)."""
    if attr == "shape":
        return list(shape)
    if attr not in ATTRIBUTES:
        raise VariableError(f"'{name}': unknown shape attribute '{attr}'{suggest(attr, ATTRIBUTES)}; "
                            f"attributes: {', '.join(ATTRIBUTES)}")
    axis = ATTRIBUTES.index(attr)
    if axis >= len(shape):
        raise VariableError(f"'{name}': a tensor of shape {list(shape)} has no {attr}")
    return shape[axis]


class ShapeNames(Mapping[str, Any]):
    """Variables plus shape references: a plain name is looked up in ``env``; ``in.X`` and
    ``LAYER.out.X`` ask ``shape_of`` (only when an expression names them)."""

    def __init__(self, env: Mapping[str, Any], shape_of: Callable[[str], Shape]) -> None:
        self.env = env
        self.shape_of = shape_of

    def __getitem__(self, key: str) -> Any:
        if key in self.env:
            return self.env[key]
        parsed = split_reference(key)
        if parsed is None:
            raise KeyError(key)
        layer, attr = parsed
        if attr not in ATTRIBUTES:
            raise VariableError(f"'{key}': unknown shape attribute '{attr}'{suggest(attr, ATTRIBUTES)}; "
                                f"attributes: {', '.join(ATTRIBUTES)}")
        try:
            shape = self.shape_of(layer)
        except VariableError as exc:
            exc.message = f"'${{{key}}}': {exc.message}"
            raise
        return attribute(shape, attr, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


class LayerShapes:
    """Per-sample output shapes of expanded layers, computed on demand and cached per layer.

    ``layer_of(name)`` gives a layer's kind and attributes, ``inputs_of(name)`` its resolved
    inputs (``(layer, output index)``); ``locate(name, error)`` adds the layer's file and line to
    an error. Shapes come from :func:`archcalc.analysis.output_shapes` (the registered op's
    ``apply``, as in the analysis). The walk is iterative: a chain of any length is fine.
    """

    def __init__(self, layer_of: Callable[[str], tuple[str, Mapping[str, Any]]],
                 inputs_of: Callable[[str], list[tuple[str, int]]],
                 locate: Callable[[str, ArchcalcError], ArchcalcError]) -> None:
        self.layer_of = layer_of
        self.inputs_of = inputs_of
        self.locate = locate
        self.known: dict[str, tuple[Shape, ...]] = {}

    def outputs(self, name: str) -> tuple[Shape, ...]:
        stack = [name]
        inputs: dict[str, list[tuple[str, int]]] = {}
        while stack:
            top = stack[-1]
            if top in self.known:
                stack.pop()
                continue
            if top not in inputs:
                inputs[top] = self.inputs_of(top)
            missing = [n for n, _ in inputs[top] if n not in self.known]
            if missing:
                # everything above an expanded layer on the stack was pushed by it or by its
                # inputs: needing an expanded, unfinished layer again is a cycle
                if any(n in inputs for n in missing):
                    raise self.locate(top, GraphError("layers feed each other in a cycle"))
                stack.extend(missing)
                continue
            kind, attrs = self.layer_of(top)
            ins = tuple(self.known[n][i] for n, i in inputs[top])
            try:
                self.known[top] = output_shapes(kind, attrs, ins)
            except ArchcalcError as exc:
                raise self.locate(top, exc) from None
            stack.pop()
        return self.known[name]


class ExpansionShapes(LayerShapes):
    """The shapes of an expansion in progress: what a name means in a scope, and the layers
    expanded so far (``expander.by_name``)."""

    def __init__(self, expander: Expander) -> None:
        super().__init__(self._layer_of, self._inputs_of, self._locate_layer)
        self.ex = expander

    def shape_of(self, scope: Scope, text: str) -> Shape:
        """The per-sample shape of what ``text`` names in ``scope``: ``input`` or a layer above."""
        ex = self.ex
        target = scope.input if text == "input" else scope.names.get(text, ex.full.get(text))
        if target is None:
            known = list(scope.names) + list(ex.full)
            raise VariableError(f"'{text}' is not a layer expanded before this point{suggest(text, known)}; "
                                "a shape can name only the block's input and layers above")
        try:
            name, index = ex.follow(target)
        except ArchcalcError as exc:
            raise VariableError(f"the shape of '{text}' is not known here: {exc.message}") from None
        return self.outputs(name)[index]

    def _layer_of(self, name: str) -> tuple[str, Mapping[str, Any]]:
        p = self.ex.by_name[name]
        return p.kind, p.attrs

    def _inputs_of(self, name: str) -> list[tuple[str, int]]:
        p = self.ex.by_name[name]
        try:
            return [self.ex.resolve(ref) for ref in p.refs]
        except ArchcalcError as exc:
            raise VariableError(f"the shape of '{name}' is not known here (its input is declared further "
                                f"down): {exc.message}") from None

    def _locate_layer(self, name: str, exc: ArchcalcError) -> ArchcalcError:
        p = self.ex.by_name.get(name)
        return exc.located(file=p.origin.file if p else self.ex.file, line=p.origin.line if p else None, layer=name,
                           trace=p.origin.trace if p else ())
