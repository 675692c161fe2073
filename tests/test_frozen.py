"""``archcalc.frozen.quick_init``: the quick ``__init__`` of a frozen dataclass takes the same
arguments, with the same defaults, as the one dataclasses writes, makes an equal instance, and
leaves it frozen."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from archcalc.connectivity import Connectivity
from archcalc.frozen import quick_init
from archcalc.ir import Layer, Origin
from archcalc.onnx_import.view import Tensor
from archcalc.ops._onnx import Act
from archcalc.ops._window import Geometry
from archcalc.ops.base import Applied, Cost, Window
from archcalc.receptive import Field
from archcalc.report import LayerRecord

DECORATED = [Origin, Layer, Cost, Window, Applied, Act, Geometry, Connectivity, Field, LayerRecord, Tensor]


def _reference(cls: type) -> type:
    """The same fields as ``cls``, in a frozen dataclass with the ``__init__`` dataclasses writes."""
    fields = [(f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory))
              for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(f"Reference{cls.__name__}", fields, frozen=True, slots=True)


def _sample_args(cls: type) -> list[Any]:
    """One distinct value per field (the quick init stores what it is given, whatever its type)."""
    return [f"value of {f.name}" for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
def test_same_signature_as_dataclasses_init(cls: type) -> None:
    quick = inspect.signature(cls.__init__).parameters
    reference = inspect.signature(_reference(cls).__init__).parameters
    assert list(quick) == list(reference)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    for name, param in quick.items():
        if name != "self" and by_name[name].default_factory is dataclasses.MISSING:
            assert param.default == reference[name].default, name  # (a factory's marker differs: see below)


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
def test_stores_every_field_and_stays_frozen(cls: type) -> None:
    args = _sample_args(cls)
    positional = cls(*args)
    keywords = cls(**{f.name: v for f, v in zip(dataclasses.fields(cls), args, strict=True)})
    reference = _reference(cls)(*args)
    assert positional == keywords
    assert dataclasses.astuple(positional) == dataclasses.astuple(reference)
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(positional, first, "changed")
    assert dataclasses.replace(positional, **{first: "replaced"}) != positional


def test_defaults_and_factories() -> None:
    assert Cost() == Cost(0, 0, 0, 0, 0, 0, 0, 0, ())
    layer, other = Layer("a", "relu", {}, ()), Layer("b", "relu", {}, ())
    assert layer.origin == Origin() and layer.origin is not other.origin  # a new Origin per layer
    assert Applied(((1,),), Cost()).rf == "pass" and Applied(((1,),), Cost()).out_rfs is None


def test_refuses_what_it_cannot_copy() -> None:
    @dataclasses.dataclass
    class Plain:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int = dataclasses.field(kw_only=True)

    for cls in (Plain, PostInit, KeywordOnly):
        with pytest.raises(TypeError):
            quick_init(cls)
