"""The view of an ONNX graph the multi-node pattern matchers share (``patterns.py``, ``act_patterns.py``):
producers, users, which tensors are constants, and small readers of constant values and attributes."""

from __future__ import annotations

from typing import Any

from archcalc.onnx_import.values import Const

#: (layer, kind, attrs, inputs, outputs, nodes[, params: role -> the constants holding them])
Record = (tuple[str, str, dict[str, Any], tuple[str, ...], tuple[str, ...], frozenset[str]]
          | tuple[str, str, dict[str, Any], tuple[str, ...], tuple[str, ...], frozenset[str], dict[str, list[str]]])


class NodeView:
    """A node's fields, read once: matching on views leaves the model's own nodes unchanged."""

    __slots__ = ("attribute", "domain", "input", "name", "op_type", "output")

    def __init__(self, node: Any) -> None:
        for key in self.__slots__:
            setattr(self, key, getattr(node, key))


def name_unnamed(nodes: list[Any]) -> None:
    """The importer's label on each unnamed node (in place), unless another node has that name."""
    taken: set[str] | None = None
    for i, n in enumerate(nodes):
        if not n.name:
            if taken is None:
                taken = {m.name for m in nodes if m.name}
            if f"{n.op_type}_{i}" not in taken:
                n.name = f"{n.op_type}_{i}"
                taken.add(n.name)


class PatternGraph:
    """``in_place``: unnamed nodes get the importer's label on the model's own nodes (the importer finds
    them by it); otherwise on views of them."""

    def __init__(self, model: Any, in_place: bool = True) -> None:
        g = model.graph
        self.nodes: list[Any] = list(g.node) if in_place else [NodeView(n) for n in g.node]
        name_unnamed(self.nodes)
        self.inits = {t.name: t for t in g.initializer}
        self.producer = {o: n for n in self.nodes for o in n.output if o}
        self.users: dict[str, list[Any]] = {}
        for n in self.nodes:
            for t in n.input:
                self.users.setdefault(t, []).append(n)
        self.outputs = {o.name for o in g.output}
        self._consts: set[str] | None = None  # found at the first question (most graphs ask none)

    def _constants(self) -> set[str]:
        """Constants, as the importer folds them: initializers, Constant outputs, the shape of anything
        (shapes are static) and what is computed from those only (passes until nothing changes, so an
        unsorted graph is handled; never recursive, so a deep graph is fine)."""
        if self._consts is not None:
            return self._consts
        consts = set(self.inits)
        todo = [n for n in self.nodes if any(n.output)]  # a node with no output makes no constant
        while todo:
            left = []  # the nodes not found constant in this pass (asked again if it found any)
            for n in todo:
                if n.op_type not in ("Constant", "Shape", "Size"):
                    for t in n.input:
                        if t and t not in consts:
                            break
                    else:
                        consts.update([o for o in n.output if o])
                        continue
                    left.append(n)
                else:
                    consts.update([o for o in n.output if o])
            if len(left) == len(todo):
                break
            todo = left
        self._consts = consts
        return consts

    def only_user(self, tensor: str, op_type: str) -> Any | None:
        """The one node reading ``tensor``, when it is an ``op_type`` with an output (a malformed node
        without one is left for the importer to report)."""
        users = self.users.get(tensor, [])
        if tensor in self.outputs or len(users) != 1 or users[0].op_type != op_type or users[0].domain not in ("",
                                                                                                             "ai.onnx"):
            return None
        return users[0] if users[0].output and users[0].output[0] else None

    def is_const(self, tensor: str) -> bool:
        return tensor in self._constants()

    def value(self, tensor: str) -> Const | None:
        """An initializer or Constant output whose values are known, read as the importer reads it
        (None when not stored: stripped, external, too large or malformed). ``.flat()`` gives its
        values as Python numbers, without numpy."""
        from archcalc.errors import ArchcalcError
        from archcalc.onnx_import.protos import constant_node, initializer, node_attrs

        n = self.producer.get(tensor)
        try:
            if tensor in self.inits:
                c = initializer(self.inits[tensor], {})
            elif n is not None and n.op_type == "Constant":
                c = constant_node(node_attrs(n), tensor)
            else:
                return None
        except ArchcalcError:
            return None
        return c if c.known else None

    def dims(self, tensor: str) -> tuple[int, ...] | None:
        """The dims of an initializer or a Constant output (stored or not); None for anything else."""
        from archcalc.errors import ArchcalcError
        from archcalc.onnx_import.protos import constant_node, node_attrs

        if tensor in self.inits:
            return tuple(self.inits[tensor].dims)
        n = self.producer.get(tensor)
        if n is None or n.op_type != "Constant":
            return None
        try:
            return tuple(constant_node(node_attrs(n), tensor).shape)
        except ArchcalcError:
            return None

    def values(self, tensor: str) -> list[Any] | None:
        """The values of a known 1-D or scalar constant as Python numbers (a shape, axes)."""
        c = self.value(tensor)
        return None if c is None or len(c.shape) > 1 else c.flat()

    def attr(self, node: Any, name: str, default: Any = None) -> Any:
        """An attribute as the importer reads it; a malformed one is left for the importer to report
        at its node (here: the default, so nothing matches on it)."""
        from archcalc.errors import ArchcalcError
        from archcalc.onnx_import.protos import node_attrs

        try:
            return node_attrs(node).get(name, default)
        except ArchcalcError:
            return default


def scalar(g: PatternGraph, tensor: str) -> float | None:
    c = g.value(tensor)
    values = c.flat() if c is not None and c.size == 1 else None
    return float(values[0]) if values else None


def alone(g: PatternGraph, tensor: str) -> bool:
    """An inner tensor of a pattern: read by one node only, not a graph output."""
    return len(g.users.get(tensor, [])) == 1 and tensor not in g.outputs


def by_const(g: PatternGraph, node: Any, op_type: str) -> tuple[float, str] | None:
    """A binary ``op_type`` node of a scalar constant and a computed tensor: (the scalar, the tensor)."""
    if node is None or node.op_type != op_type or len(node.input) != 2:
        return None
    for c, t in (node.input, reversed(node.input)):
        v = scalar(g, c)
        if v is not None and not g.is_const(t):
            return v, t
    return None


def other(node: Any, tensor: str) -> str:
    return next((t for t in node.input if t != tensor), "")
