"""``quick_init``: a frozen, slotted dataclass made as fast as a plain one, still frozen.

Why: a frozen dataclass's generated ``__init__`` stores each field with ``object.__setattr__`` (to get
past its own ``__setattr__``, which refuses), the slowest way Python has to store an attribute: about
5x a plain slotted class. The records an import and an analysis make once per layer (``Cost``,
``Applied``, ``Layer``, ``Origin``, ``LayerRecord``, ...) cost ~1 us each that way, several us per
node in all. ``quick_init`` replaces that ``__init__`` by one with the same signature and defaults
that stores each field through its slot's descriptor (``member_descriptor.__set__``, which does not
go through ``__setattr__``): the instance is the same, and assigning to it afterwards still raises
``FrozenInstanceError``. ``tests/test_frozen.py`` checks both for every class it decorates.

It imports nothing of archcalc: any module may use it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

#: the default of a field with a ``default_factory`` (a new value per instance, as dataclasses does)
_FACTORY = object()


def quick_init(cls: type[T]) -> type[T]:
    """``cls`` (a ``@dataclass(frozen=True, slots=True)`` without ``__post_init__``, every field in
    ``__init__``, none keyword-only) with the quick ``__init__`` described above."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"quick_init needs a frozen dataclass with slots, not {cls.__name__}")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"quick_init does not run __post_init__ ({cls.__name__})")
    env: dict[str, Any] = {"_FACTORY": _FACTORY}
    args: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init or f.kw_only:
            raise TypeError(f"quick_init needs every field of {cls.__name__} positional in __init__ ({f.name})")
        env[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is not dataclasses.MISSING:
            env[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_factory_{f.name}"] = f.default_factory
            args.append(f"{f.name}=_FACTORY")
            body.append(f"    if {f.name} is _FACTORY:\n        {f.name} = _factory_{f.name}()")
        else:
            args.append(f.name)
        body.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, {', '.join(args)}):\n" + "\n".join(body or ["    pass"]) + "\n"
    made: dict[str, Any] = {}
    exec(source, env, made)  # as dataclasses itself writes __init__: code from the field list
    init = made["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
