"""The rows of a sweep and the questions asked of them: filters, the best row, the Pareto front,
CSV/JSON/pandas. A metric name the result does not carry is an error (with a did-you-mean), never
an empty answer."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archcalc.conventions import Conventions
from archcalc.errors import ArchcalcError, OptionError, SpecError, suggest

#: metrics a row can carry
METRICS: dict[str, str] = {
    "params": "trainable parameters",
    "macs": "multiply-accumulates (x batch)",
    "flops": "forward FLOPs (x batch)",
    "connections": "connections",
    "units": "units",
    "param_bytes": "bytes of stored parameters",
    "activation_bytes": "bytes of all activations (x batch)",
    "peak_activation_bytes": "peak activation memory of an inference pass",
    "training_bytes": "training memory (params, stored activations, gradients, optimizer state)",
    "rf": "receptive field (largest axis) of the last layer with a spatial field",
    "output_shape": "per-sample shape of the (first) output",
    "layers": "number of layers",
    "latency_ms": "estimated latency (ms) on the calibrated device (archcalc calibrate); calibrated rows also "
                  "carry latency_low_ms and latency_high_ms, the band the calibration's noise allows",
}
DEFAULT_METRICS = ("params", "macs", "flops", "param_bytes", "peak_activation_bytes", "training_bytes", "rf",
                   "output_shape")

#: the columns ``profile=True`` adds to every valid row
PROFILE_COLUMNS = ("measured_ms", "measured_p90_ms", "provider", "runs")

Condition = Callable[[Mapping[str, Any]], bool]

_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|==|!=|<|>)\s*([^<>=!\s]\S*)\s*$")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def shown(value: Any) -> Any:
    """``value`` as output shows it: an integer past Python's int-to-text digit limit (a grid value
    of thousands of digits) becomes ``"<an integer of 5,001 digits>"``; lists are looked into."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 13_000:
        try:
            str(value)
        except ValueError:
            return f"<an integer of {int(value.bit_length() * 0.30103) + 1:,} digits>"
        return value
    if isinstance(value, (list, tuple)):
        return [shown(v) for v in value]
    return value


def check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """The metric names, each one a known metric (else an OptionError naming them all)."""
    for metric in metrics:
        if metric not in METRICS:
            raise OptionError(f"unknown metric '{metric}'{suggest(metric, METRICS)}; metrics: {', '.join(METRICS)}")
    return tuple(metrics)


def check_names(names: Sequence[str], keys: Sequence[str], metrics: Sequence[str], profile: bool = False) -> None:
    """Names to rank, filter or plot by, checked before a sweep runs against what its rows will carry
    (the grid keys, the metrics, the measured columns with ``profile``)."""
    known = [*keys, *check_metrics(metrics), *(PROFILE_COLUMNS if profile else ())]
    for name in names:
        if name not in known:
            raise _unknown(name, known)


def parse_condition(text: str, names: Sequence[str] | None = None) -> Condition:
    """``"params <= 5e6"`` -> a predicate (a tiny parser: nothing is evaluated as code). With
    ``names``, the left side must be one of them."""
    m = _CONDITION.match(text)
    if not m:
        raise SpecError(f"condition {text!r} must look like 'metric <= value'")
    key, op, raw = m.groups()
    if names is not None and key not in names:
        raise _unknown(key, names, f" in condition {text!r}")
    try:
        value: Any = float(raw)
    except ValueError:
        value = raw
    compare = _COMPARE[op]

    def check(row: Mapping[str, Any]) -> bool:
        got = row.get(key)
        if got is None or isinstance(got, str) != isinstance(value, str):
            return False
        return compare(got, value)

    return check


def _unknown(name: str, names: Sequence[str], where: str = "") -> OptionError:
    known = f"'{name}' is a metric this sweep did not compute" if name in METRICS else f"unknown metric '{name}'"
    return OptionError(f"{known}{where}{suggest(name, names)}; this sweep has: {', '.join(names)}")


@dataclass(frozen=True)
class SweepResult:
    rows: list[dict[str, Any]]
    keys: tuple[str, ...]
    metrics: tuple[str, ...]
    conventions: Conventions
    spec: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["error"] is None]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["error"] is not None]

    @property
    def columns(self) -> list[str]:
        extra = [k for k in self.rows[0] if k not in (*self.keys, *self.metrics, "error")] if self.rows else []
        return [*self.keys, *self.metrics, *extra, "error"]

    @property
    def names(self) -> list[str]:
        """What rows can be filtered, ranked and plotted by: the grid keys and the metrics."""
        return [c for c in self.columns if c != "error"]

    def metric(self, name: str) -> str:
        """``name`` if the rows carry it, else an OptionError with a did-you-mean."""
        if name not in self.names:
            raise _unknown(name, self.names)
        return name

    def to_csv(self, path: str | Path | None = None, *, context: bool = False) -> str:
        """A header row, then one row per variant (any CSV reader, ``pandas.read_csv``, takes it as
        it is); ``context=True`` puts the conventions first as a ``#`` line (``comment="#"``)."""
        buf = io.StringIO()
        if context:
            buf.write(f"# conventions: {self.conventions.describe()}\n")
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: ("" if v is None else shown(v)) for k, v in row.items()})
        text = buf.getvalue()
        if path is not None:
            from archcalc.fileio import write_atomic

            write_atomic(path, text)
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        data = {"schema_version": 1, "spec": self.spec, "keys": list(self.keys), "metrics": list(self.metrics),
                "conventions": self.conventions.to_dict(),
                "rows": [{k: shown(v) for k, v in row.items()} for row in self.rows], **self.meta}
        text = json.dumps(data, indent=2, default=str) + "\n"
        if path is not None:
            from archcalc.fileio import write_atomic

            write_atomic(path, text)
        return text

    def to_dataframe(self) -> Any:
        try:
            import pandas as pd
        except ImportError:
            raise ArchcalcError("to_dataframe needs pandas: pip install 'archcalc[dataframe]'") from None
        return pd.DataFrame(self.rows, columns=self.columns)

    def where(self, *conditions: str | Condition) -> list[dict[str, Any]]:
        """The valid rows meeting every condition (``"params <= 5e6"``, or a predicate)."""
        checks = [parse_condition(c, self.names) if isinstance(c, str) else c for c in conditions]
        return [r for r in self.ok if all(check(r) for check in checks)]

    def best(self, by: str, where: str | Sequence[str] | Condition | None = None,
             maximize: bool = False) -> dict[str, Any] | None:
        """The row with the smallest (or largest) ``by`` among the valid rows meeting ``where``
        (None when no row does)."""
        self.metric(by)
        conditions: list[Any] = [] if where is None else [where] if isinstance(where, str) or callable(where) \
            else list(where)
        rows = [r for r in self.where(*conditions) if r.get(by) is not None]
        if not rows:
            return None
        return (max if maximize else min)(rows, key=lambda r: r[by])

    def pareto(self, x: str, y: str, *, minimize: tuple[bool, bool] = (True, True)) -> list[dict[str, Any]]:
        """Rows not dominated in (x, y), sorted by x. Both are minimised by default (the metrics are
        costs: params, MACs, FLOPs, bytes, latency); ``minimize=(True, False)`` asks for the most
        ``y`` for the least ``x``."""
        self.metric(x)
        self.metric(y)
        sx = 1 if minimize[0] else -1
        sy = 1 if minimize[1] else -1
        rows = sorted((r for r in self.ok if r.get(x) is not None and r.get(y) is not None),
                      key=lambda r: (sx * r[x], sy * r[y]))
        front: list[dict[str, Any]] = []
        best_y: Any = None
        for r in rows:
            if best_y is None or sy * r[y] < best_y:
                front.append(r)
                best_y = sy * r[y]
        return front
