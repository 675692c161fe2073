"""Generators and mutators for fuzzing (used by tests/test_fuzz.py and benchmarks/fuzz_long.py).

Generated specs are random layer sequences and DAGs (residual adds, concats), with blocks,
repeats and variables; many are invalid on purpose (a window that does not fit): the contract is
that every outcome is either a report or an ArchcalcError with a one-line message.
"""

from __future__ import annotations

import random
from typing import Any

import yaml

CHAIN_KINDS = ("conv", "conv", "maxpool", "avgpool", "bn", "relu", "tanh", "dropout", "subsample", "lrn",
               "upsample", "pad", "conv_transpose", "depthwise")


def random_layer(rng: random.Random, kind: str, spatial: int) -> dict[str, Any]:
    if kind == "conv":
        layer: dict[str, Any] = {"type": "conv", "filters": rng.randint(1, 12), "kernel": rng.randint(1, 5),
                                 "stride": rng.choice([1, 1, 2, 3]), "rounding": rng.choice(["floor", "ceil", "exact"])}
        layer["padding"] = rng.choice([0, 1, 2, "same", "valid", [[rng.randint(0, 2), rng.randint(0, 2)]] * spatial])
        if rng.random() < 0.2:
            layer["dilation"] = rng.randint(1, 3)
        if rng.random() < 0.2:
            layer["bias"] = rng.choice(["none", "per_unit"])
        return layer
    if kind == "depthwise":
        return {"type": "depthwise_conv", "kernel": 3, "padding": 1}
    if kind in ("maxpool", "avgpool"):
        return {"type": kind, "kernel": rng.randint(1, 3), "stride": rng.randint(1, 3),
                "rounding": rng.choice(["floor", "ceil"]), "padding": rng.choice([0, 0, 1])}
    if kind == "subsample":
        return {"type": "subsample", "kernel": rng.randint(1, 2), "rounding": "floor"}
    if kind == "lrn":
        return {"type": "lrn", "size": rng.choice([1, 3, 5])}
    if kind == "upsample":
        return {"type": "upsample", "scale": rng.randint(1, 2), "mode": rng.choice(["nearest", "bilinear"])}
    if kind == "pad":
        return {"type": "pad", "padding": rng.randint(0, 2)}
    if kind == "conv_transpose":
        return {"type": "conv_transpose", "filters": rng.randint(1, 8), "kernel": rng.randint(1, 4),
                "stride": rng.randint(1, 2), "padding": rng.randint(0, 1)}
    return {"type": kind}


def random_spec(rng: random.Random) -> dict[str, Any]:
    """A random spec: a chain with optional residual/concat merges, a block with repeats, variables."""
    spatial = rng.choice([1, 2, 2, 2])
    size = rng.randint(6, 48)
    channels = rng.randint(1, 6)
    layers: list[dict[str, Any]] = []
    names: list[str] = []
    for i in range(rng.randint(1, 10)):
        kind = rng.choice(CHAIN_KINDS)
        layer = {"name": f"l{i}", **random_layer(rng, kind, spatial)}
        roll = rng.random()
        if roll < 0.12 and names:  # a residual add with an earlier layer through a 1x1 conv
            src = rng.choice(names)
            layers.append({"name": f"p{i}", "type": "conv", "inputs": src, "filters": rng.randint(1, 8),
                           "kernel": 1})
            layer = {"name": f"l{i}", "type": "add", "inputs": [f"p{i}", names[-1]]}
        elif roll < 0.2 and names:
            layer = {"name": f"l{i}", "type": "concat", "inputs": [rng.choice(names), names[-1]]}
        layers.append(layer)
        names.append(layer["name"])
    spec: dict[str, Any] = {
        "name": "fuzz",
        "input": [channels, *([size] * spatial)],
        "variables": {"width": rng.randint(1, 8)},
        "blocks": {"unit": {"params": {"f": "required"}, "layers": [
            {"name": "c", "type": "conv", "filters": "${f}", "kernel": 3, "padding": 1},
            {"name": "n", "type": "bn"},
            {"name": "r", "type": "relu"},
            {"name": "s", "type": "add", "inputs": ["r", "skip"]},
            {"name": "skip", "type": "conv", "inputs": "input", "filters": "${f}", "kernel": 1},
        ]}},
        "layers": layers,
    }
    if rng.random() < 0.5:
        spec["layers"].append({"name": "stage", "block": "unit", "repeat": rng.randint(1, 3),
                               "with": {"f": "${width * 2}"}})
    if rng.random() < 0.6:
        spec["layers"] += [{"name": "gap", "type": "global_avgpool"}, {"name": "fc", "type": "fc",
                                                                       "units": rng.randint(1, 10)}]
    return spec


# -- mutations -------------------------------------------------------------------------------

NASTY = ["-1", "0", "1e12", "99999999999999999999", "2.5", "'x'", "null", "[]", "{}", "true", "${nope}",
         "${width / 0}", "${(((((1)))))}", "!!python/object/apply:os.system ['true']", "&a [*a]", "\"\\x00\""]


def mutate_text(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    if not lines:
        return rng.choice(NASTY)
    op = rng.randrange(9)
    i = rng.randrange(len(lines))
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif op == 2:  # replace a number
        import re

        numbers = [m for m in re.finditer(r"\b\d+\b", lines[i])]
        if numbers:
            m = rng.choice(numbers)
            lines[i] = lines[i][: m.start()] + rng.choice(NASTY) + lines[i][m.end():]
    elif op == 3:  # drop a key: value
        import re

        lines[i] = re.sub(r"\w+:\s*[^,}]+,?\s*", "", lines[i], count=1)
    elif op == 4:
        lines[i] = " " * rng.randint(0, 6) + lines[i].lstrip()
    elif op == 5:
        pos = rng.randint(0, len(lines[i]))
        lines[i] = lines[i][:pos] + rng.choice(["{", "}", "[", "]", ":", "-", "'", "\"", "\t", "&x", "*x"]) + \
            lines[i][pos:]
    elif op == 6:
        lines = lines[: rng.randint(0, len(lines))]
    elif op == 7:  # swap two lines
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    else:  # rename a reference
        lines[i] = lines[i].replace("inputs: ", "inputs: zz", 1)
    return "\n".join(lines) + "\n"


def mutate_doc(rng: random.Random, doc: Any) -> Any:
    """Structural mutation of a parsed spec: wrong types, huge/negative numbers, dropped keys, cycles."""
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(layers, list) or not layers:
        return doc
    entry = rng.choice(layers)
    if not isinstance(entry, dict):
        return doc
    op = rng.randrange(7)
    keys = [k for k in entry if k != "name"]
    if op == 0 and keys:
        entry.pop(rng.choice(keys))
    elif op == 1 and keys:
        entry[rng.choice(keys)] = rng.choice([-3, 0, 2**40, 10**12, 1.5, "x", None, [], {}, True, [1, 2, 3, 4]])
    elif op == 2:  # a cycle
        names = [e.get("name") for e in layers if isinstance(e, dict) and e.get("name")]
        if names:
            entry["inputs"] = [rng.choice(names)]
    elif op == 3:
        entry["type"] = rng.choice(["conv", "add", "concat", "split", "fc", "nonsense", "input", 3])
    elif op == 4:
        doc["input"] = rng.choice([[0, 8, 8], [3, 2**40, 2**40], [3], [], "x", [3, -1, 5], [2**31, 4, 4]])
    elif op == 5:
        entry["name"] = rng.choice(["input", "a:b", "", " x", 5, entry.get("name")])
    else:
        layers.insert(rng.randrange(len(layers) + 1), {"type": "add", "inputs": ["l0", "l0", "nowhere"]})
    return doc


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False)
