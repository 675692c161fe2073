"""ONNX model -> the same layer Graph a spec gives.

1. ``reader.read_model``: the model without its weight bytes (dims only).
2. Inputs get fixed shapes (``--input``, ``--batch``); symbolic dims left over are an error that
   names them.
3. Nodes, in dependency order: a node whose inputs are all constants is folded (shape arithmetic,
   Constant, ConstantOfShape, ...); Identity/Cast on an activation is an alias; every other node
   becomes a layer through its translator, and its per-sample output shapes come from the same
   op code the spec path uses. Unknown ops are collected; with ``allow_unknown`` their shapes come
   from ONNX shape inference and they become ``unknown`` layers counted as nothing.
4. ``build_graph`` checks the wiring as for a spec. What the import saw goes into the graph's
   notes (folded nodes, skipped weight bytes, BN folded by the exporter, shared initializers).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from archcalc.errors import ArchcalcError, SymbolicDimsError, suggest
from archcalc.ir import Graph, Layer, Origin, build_graph, freeze, unique_name
from archcalc.onnx_import.fold import FOLD_OPS, FoldBudget, fold
from archcalc.onnx_import.groups import group_spec, read_groups
from archcalc.onnx_import.notes import exported_conventions, summary
from archcalc.onnx_import.protos import (
    constant_node,
    infer_shapes,
    initializer,
    node_attrs,
    node_order,
    parse_dims,
    unknown_shapes,
)
from archcalc.onnx_import.reader import OnnxFileError, no_gc, read_model
from archcalc.onnx_import.translate import TRANSLATORS, LayerSpec, Node, translate
from archcalc.onnx_import.values import Act, Const, ImportError_
from archcalc.ops import REGISTRY
from archcalc.ops.base import Applied

#: the default-domain opsets archcalc reads (translators are tested from the oldest to the newest)
OPSETS = range(7, 29)

#: node types the driver itself handles (a constant; the shape of an activation)
DRIVER_OPS = frozenset({"Constant", "Shape", "Size"})

#: the largest per-sample tensor we accept from declared dims without comment is unbounded: sizes
#: are exact integers and nothing is allocated; only folding is bounded (fold.py)


def known_ops() -> list[str]:
    """Every ONNX op_type the importer accepts: translated to a layer, folded or handled here."""
    return sorted(set(TRANSLATORS) | FOLD_OPS | DRIVER_OPS)


#: ``known_ops()`` as a set (a static table: the loop asks once per node)
_KNOWN = frozenset(TRANSLATORS) | FOLD_OPS | DRIVER_OPS


def parse_input_shapes(items: list[str] | tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """``["x=1x3x224x224", "2x3x32x32"]`` -> ``{"x": (1, 3, 224, 224), "": (2, 3, 32, 32)}``."""
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        try:
            shape = tuple(int(v) for v in dims.lower().split("x"))
        except ValueError:
            raise ArchcalcError(f"--input expects NAME=1x3x224x224, got {item!r}") from None
        if any(d < 1 for d in shape):
            raise ArchcalcError(f"--input sizes must be positive, got {item!r}")
        out[name if sep else ""] = shape
    return out


def import_onnx(
    path: str | Path,
    *,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    allow_unknown: bool = False,
) -> Graph:
    """Read an ONNX model and build its layer graph (see the module docstring)."""
    file = str(path)
    try:
        with no_gc():  # an import makes no reference cycles: collections would only re-walk what it builds
            return _import(file, dict(input_shapes or {}), batch, allow_unknown)
    except ArchcalcError as exc:
        exc.message = _printable(exc.message)
        if exc.layer:
            exc.layer = _printable(exc.layer)
        raise exc.located(file=file) from None
    except RecursionError:
        raise OnnxFileError("the model nests too deeply", file=file) from None


def _import(file: str, input_shapes: dict[str, tuple[int, ...]], batch: int | None, allow_unknown: bool) -> Graph:
    read = read_model(file)
    model = read.model
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise OnnxFileError("the model imports no default-domain opset")
    if opset not in OPSETS:
        raise OnnxFileError(f"the model's default-domain opset is {opset:,}; archcalc reads opsets "
                            f"{OPSETS.start} to {OPSETS.stop - 1}")
    _refuse_duplicates(graph)

    values: dict[str, Act | Const] = {}
    for tensor in graph.initializer:
        values[tensor.name] = initializer(tensor, read.stripped)

    # inputs ------------------------------------------------------------------------------
    built = _Built(values)
    layers, taken = built.layers, built.taken
    graph_inputs = [vi for vi in graph.input if vi.name not in values]
    if not graph_inputs:
        raise ImportError_("the model has no inputs (besides initializers)")
    _name_inputs(graph_inputs, input_shapes)
    model_batch = 0
    for i, vi in enumerate(graph_inputs):
        shape = _input_shape(vi, input_shapes.get(vi.name), batch)
        if i == 0:
            model_batch = shape[0]
        elif shape[0] != model_batch:
            raise ImportError_(f"inputs disagree on the batch size ({model_batch} vs {shape[0]} of '{vi.name}')")
        layer_name = unique_name(vi.name, taken)
        layers.append(Layer(layer_name, "input", freeze({"shape": shape[1:]}), (), Origin(file, None, ())))
        values[vi.name] = Act((layer_name, 0), shape, shape[1:])
    built.batch = model_batch

    # nodes -------------------------------------------------------------------------------
    nodes = list(graph.node)
    order = node_order(nodes, set(values), file)
    folded: Counter[str] = Counter()
    aliased: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    unknown_nodes: list[str] = []
    poisoned: set[str] = set()
    notes: list[str] = []
    inferred: dict[str, tuple[int, ...]] | None = None
    budget = FoldBudget()
    op_counts: Counter[str] = Counter(n.op_type for n in nodes)
    groups, group_notes = read_groups(model)
    notes.extend(group_notes)

    for index in order:
        proto = nodes[index]
        op_type = proto.op_type
        label = proto.name or f"{op_type}_{index}"
        try:
            group = groups.get(proto.name) if proto.name else None
            if group is not None:
                if not set(group.outputs) & set(proto.output):
                    continue  # an inner node of a layer restored from the export metadata
                spec = group_spec(group, values)
                if any(not isinstance(values.get(t), Act) for t in spec.inputs):
                    raise ImportError_(f"export metadata of layer {group.layer}: its inputs are not activations")
                built.add(group.layer, spec, _origin(file, index, op_type), group.outputs)
                continue
            if proto.domain not in ("", "ai.onnx") or op_type not in _KNOWN:
                raise _Unknown
            if poisoned and any(name in poisoned for name in proto.input):
                poisoned.update(o for o in proto.output if o)
                continue
            ins: list[Act | Const | None] = []  # the inputs' values (None: an optional input left out)
            has_act = False
            for name in proto.input:
                v = values.get(name) if name else None
                if v is None and name and name not in values:
                    raise ImportError_(f"input '{name}' is an output archcalc does not model (e.g. a Dropout "
                                       f"mask, MaxPool indices or BatchNormalization running statistics)")
                if type(v) is Act:
                    has_act = True
                ins.append(v)
            attrs = node_attrs(proto)
            if op_type == "Constant":
                values[proto.output[0]] = constant_node(attrs, proto.output[0])
                folded[op_type] += 1
                continue
            if op_type in ("Shape", "Size") and ins and isinstance(ins[0], Act):
                shape_const = Const(ins[0].shape, None, None)
                outs = fold(op_type, [shape_const], attrs, opset)
                values[proto.output[0]] = outs[0]
                folded[op_type] += 1
                continue
            if not has_act:
                if op_type == "Split" and "num_outputs" not in attrs:
                    attrs["num_outputs"] = len(proto.output)
                outs = fold(op_type, [v if isinstance(v, Const) else None for v in ins], attrs, opset, budget)
                for name, value in zip(proto.output, outs, strict=False):
                    if name:
                        values[name] = value
                folded[op_type] += 1
                continue
            translator = TRANSLATORS.get(op_type)
            if translator is None:
                raise _Unknown
            spec = translate(translator, Node(op_type, label, list(proto.input), list(proto.output), attrs, values,
                                               opset))
            if spec.kind == "identity":
                values[proto.output[0]] = values[spec.inputs[0]]
                aliased[op_type] += 1
                continue
            name = built.add(label, spec, _origin(file, index, op_type), proto.output)
            if spec.notes:
                notes.extend(f"{name}: {n}" for n in spec.notes)
        except _Unknown:
            unknown[op_type if proto.domain in ("", "ai.onnx") else f"{proto.domain}.{op_type}"] += 1
            unknown_nodes.append(label)
            if not allow_unknown:
                poisoned.update(o for o in proto.output if o)
                continue
            if inferred is None:
                inferred = infer_shapes(file, {vi.name: values[vi.name].shape for vi in graph_inputs})
            act_inputs = [n for n in proto.input if n and isinstance(values.get(n), Act)]
            if not act_inputs:
                # computed from constants only: a constant of the inferred dims, no layer
                for out_name in proto.output:
                    if out_name:
                        if out_name not in inferred:
                            raise ImportError_(f"ONNX shape inference gives no shape for '{out_name}' of unknown "
                                               f"op {op_type} ({label})") from None
                        values[out_name] = Const(inferred[out_name], None, None)
                continue
            shapes = unknown_shapes(proto, inferred, model_batch, label)
            built.add(label, LayerSpec("unknown", {"op_type": op_type, "shapes": shapes}, act_inputs),
                      _origin(file, index, op_type),
                      proto.output)
        except ArchcalcError as exc:
            raise exc.located(file=file, layer=label, trace=_origin(file, index, op_type).trace) from None

    if unknown and not allow_unknown:
        listed = ", ".join(f"{op} x{n}" for op, n in unknown.most_common())
        raise ImportError_(
            f"unknown ONNX ops: {listed} (nodes {', '.join(unknown_nodes[:5])}"
            f"{', ...' if len(unknown_nodes) > 5 else ''}); --allow-unknown analyses the rest and marks them "
            f"as not counted; archcalc knows: {', '.join(known_ops())}"
        )
    outputs = [o.name for o in graph.output]
    constant_output_bytes = 0
    for name in outputs:
        const = values.get(name)
        if isinstance(const, Const):
            notes.append(f"output '{name}' is a constant (folded): no layer computes it")
            itemsize = getattr(const.dtype, "itemsize", 4) if const.dtype is not None else 4
            constant_output_bytes += const.size * int(itemsize)  # ONNX Runtime materialises it
    notes[:0] = summary(model, read, op_counts, folded, aliased, unknown, layers, built.claimed)
    return build_graph(
        _stem(file),
        layers,
        built.n_outputs,
        file=file,
        description=f"ONNX model ({model.producer_name or 'unknown producer'} {model.producer_version}, "
                    f"opset {opset})".replace("  ", " "),
        source=file,
        conventions={**exported_conventions(model, notes), "batch": model_batch},
        meta={"notes": tuple(notes), "uncounted": tuple(unknown_nodes) if allow_unknown else (),
              "constant_output_bytes": constant_output_bytes, "applied": MappingProxyType(built.applied)},
    )


def _origin(file: str, index: int, op_type: str) -> Origin:
    return Origin(file, None, (f"ONNX node {index} ({op_type})",))


class _Unknown(Exception):
    pass


@dataclass
class _Built:
    """The layers made so far, and where their outputs are (``values``: tensor name -> value)."""

    values: dict[str, Act | Const]
    batch: int = 0
    layers: list[Layer] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    n_outputs: dict[str, int] = field(default_factory=dict)
    #: initializer -> the layer that counts its parameters
    claimed: dict[str, str] = field(default_factory=dict)
    #: layer name -> (the layer, its input shapes, what its op's ``apply`` made of them): the
    #: analysis takes it from the graph's meta instead of applying the op again (``analysis.analyze``)
    applied: dict[str, tuple[Layer, tuple[tuple[int, ...], ...], Applied]] = field(default_factory=dict)

    def add(self, base: str, spec: LayerSpec, where: Origin, outputs: Sequence[str]) -> str:
        """A layer named after ``base`` from ``spec``; its outputs become the tensors ``outputs``."""
        name = unique_name(base, self.taken)
        layer, ins, result = _make_layer(name, spec, self.values, where, self.claimed, self.applied)
        self.layers.append(layer)
        self.applied[name] = (layer, ins, result)
        shapes = result.outs
        self.n_outputs[name] = len(shapes)
        for i, tensor in enumerate(outputs):
            if tensor and i < len(shapes):
                self.values[tensor] = Act((name, i), (self.batch, *shapes[i]), shapes[i])
        return name


def _refuse_duplicates(graph: Any) -> None:
    """Two graph inputs (or two initializers) of one name: which one a node reads is undefined."""
    for what, names in (("graph input", [vi.name for vi in graph.input]),
                        ("initializer", [t.name for t in graph.initializer])):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise OnnxFileError(f"two {what}s are named '{name}'")
            seen.add(name)


def _name_inputs(graph_inputs: list[Any], input_shapes: dict[str, tuple[int, ...]]) -> None:
    """An unnamed --input goes to the only input (in place); every name given must be an input."""
    unnamed = input_shapes.pop("", None)
    if unnamed is not None:
        if len(graph_inputs) != 1:
            raise ImportError_(f"the model has {len(graph_inputs)} inputs: name them (--input NAME=...)")
        input_shapes[graph_inputs[0].name] = unnamed
    for name in input_shapes:
        if name not in {vi.name for vi in graph_inputs}:
            names = [v.name for v in graph_inputs]
            raise ImportError_(f"--input names '{name}', but the inputs are: {', '.join(names)}{suggest(name, names)}")


def _input_shape(vi: Any, given: tuple[int, ...] | None, batch: int | None) -> tuple[int, ...]:
    """The fixed shape of a graph input: given (--input), else declared with --batch for a symbolic batch."""
    declared = parse_dims(vi)
    if given is not None and declared and len(given) != len(declared):
        shown = "x".join(str(d) if isinstance(d, int) else (d or "?") for d in declared)
        raise ImportError_(f"--input {vi.name} gives {len(given)} dims but the model declares {len(declared)} "
                           f"({shown})")
    dims = list(given or declared)
    if not dims:
        raise ImportError_(f"input '{vi.name}' has no shape: give it with --input {vi.name}=1x3x224x224")
    if batch is not None and not isinstance(dims[0], int):
        dims[0] = batch
    symbolic = [f"{d if d else '?'} (axis {i})" for i, d in enumerate(dims) if not isinstance(d, int)]
    if symbolic:
        hint = f"--batch N or --input {vi.name}=" + "x".join(str(d) if isinstance(d, int) else "N" for d in dims)
        raise SymbolicDimsError(f"input '{vi.name}' has symbolic dims {', '.join(symbolic)}: fix them with {hint}")
    shape = tuple(int(d) for d in dims)  # type: ignore[arg-type]
    if any(d < 1 for d in shape) or len(shape) < 2:
        raise ImportError_(f"input '{vi.name}' has shape {list(shape)}: archcalc needs a batch axis and "
                           f"positive sizes (N, C, ...)")
    return shape


def _stem(file: str) -> str:
    """``Path(file).stem``, without making a Path (the file was opened: its name is its last part)."""
    name = os.path.basename(file)
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _printable(text: str) -> str:
    """Control characters (a corrupted or hostile name) escaped: an error stays on one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _no_line(_key: str) -> None:
    """An imported layer's attributes have no spec line."""


def _make_layer(name: str, spec: LayerSpec, values: dict[str, Act | Const], where: Origin, claimed: dict[str, str],
                applied: Mapping[str, Any]) -> tuple[Layer, tuple[tuple[int, ...], ...], Applied]:
    op = REGISTRY[spec.kind]
    attrs = spec.attrs if spec.normal else op.normalize(spec.attrs, _no_line)
    if spec.normal:  # the translator's attributes are normalize's own result (LayerSpec.normal)
        op.check(attrs)
    shared = []
    for role, names in spec.params.items():
        for const_name in names:
            value = values.get(const_name)
            origin = value.origin if isinstance(value, Const) and value.origin else const_name
            if origin in claimed:
                shared.append(role)
            else:
                claimed[origin] = name
    if shared:
        attrs["shared_params"] = tuple(sorted(set(shared)))
    refs, in_shapes = [], []
    for tensor in spec.inputs:
        act = values[tensor]
        if not isinstance(act, Act):
            raise ImportError_(f"input '{tensor}' of layer {name} must be an activation, not a constant")
        refs.append(act.ref)
        in_shapes.append(act.sample)
    ins = tuple(in_shapes)
    producer = applied.get(refs[0][0]) if len(refs) == 1 and refs[0][1] == 0 else None
    if producer is not None and producer[2].outs == ins:
        ins = producer[2].outs  # the producer's own (equal) tuple: the graph keeps one fewer per layer
    result = op.apply(attrs, ins)
    # ``attrs`` is this layer's own dict (normalize's or the translator's), not changed from here: no copy
    return Layer(name, spec.kind, MappingProxyType(attrs), tuple(refs), where), ins, result


