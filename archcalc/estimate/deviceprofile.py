"""The device profile: what calibration measured on one device with one thread setting, its JSON
form and validation, and the interpolation of conv and GEMM efficiency between calibrated shapes.
numpy is imported inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from archcalc.errors import CalibrationError
from archcalc.estimate import layout
from archcalc.estimate.interperror import InterpolationError, left_out_errors
from archcalc.estimate.layout import executed_conv, timed_conv
from archcalc.estimate.microbench import (
    FIXED_CHAINS,
    REORDER_CHANNELS,
    REORDER_POINTS,
    REORDER_SIZE,
    UNIT_FIXED,
    UNIT_TRAFFIC_BYTES,
)
from archcalc.estimate.profile_schema import check_profile_data
from archcalc.estimate.shapes import ConvShape, GemmShape, conv_class

#: layout of the cached JSON
SCHEMA_VERSION = 1
#: version of the micro-benchmark suite: a cache made by another suite is rebuilt
SUITE_VERSION = 25


@dataclass
class DeviceProfile:
    """What calibration measured on one device with one thread setting."""

    device: str
    provider: str
    ort_version: str
    cpu: str
    gpu: str | None
    threads: int | None
    intra_op_threads: int
    created: float
    seconds: float
    #: per-run overhead (one tiny node, microseconds)
    run_us: float
    #: fixed cost of one kernel by class (microseconds, executor overhead included)
    fixed_us: dict[str, float]
    #: ORT profiler's own cost per kernel (microseconds): profiled kernel time - real, for a
    #: trivial kernel and for a multi-threaded one (conv, gemm, pooling: it records pool stats)
    profiler_us: float
    profiler_heavy_us: float
    #: (bytes moved, GB/s) by working set
    bandwidth: list[tuple[float, float]]
    #: per-unit costs (nanoseconds): lrn (element), pool (output tap), softmax, transcendental
    unit_ns: dict[str, float]
    #: peak MatMul GFLOP/s
    matmul_gflops: float
    #: conv points: [cin, cout, groups, kernel, stride, out, batch, kernel microseconds]
    conv: list[list[float]]
    #: gemm points: [m, k, n, kernel microseconds]
    gemm: list[list[float]]
    #: drift probes at calibration (seconds)
    probes: dict[str, float]
    #: the measured peak GFLOP/s (the MatMul, or a timed kernel that ran faster; 0: the MatMul's)
    peak_gflops: float = 0.0
    suite: int = SUITE_VERSION
    #: which suite measured it: default, thorough or quick (see ``samples.PLANS``)
    mode: str = "default"
    schema_version: int = SCHEMA_VERSION
    notes: list[str] = field(default_factory=list)
    #: the noise calibration measured (see :mod:`~archcalc.estimate.noise`): ``points``, the median
    #: disagreement of the kept points' repeats; ``compute_lo``/``compute_hi``/``overhead_lo``/
    #: ``overhead_hi``, each probe's range during calibration relative to its median
    noise: dict[str, float] = field(default_factory=dict)  # also the counts "remeasured" and "dropped"
    #: (weight bytes, GB/s): how fast a matrix-vector product streams its weights, by weight size
    #: (in cache, and from memory); empty: the copy bandwidth stands in
    stream: list[tuple[float, float]] = field(default_factory=list)
    _conv_index: Any = field(default=None, repr=False, compare=False)
    _gemm_index: Any = field(default=None, repr=False, compare=False)
    _left_out: Any = field(default=None, repr=False, compare=False)

    def key(self) -> dict[str, Any]:
        return {"device": self.device, "ort_version": self.ort_version, "cpu": self.cpu, "gpu": self.gpu,
                "threads": self.threads, "suite": self.suite, "schema_version": self.schema_version}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version, "suite": self.suite, "device": self.device,
            "provider": self.provider, "ort_version": self.ort_version, "cpu": self.cpu, "gpu": self.gpu,
            "threads": self.threads, "intra_op_threads": self.intra_op_threads, "created": self.created,
            "seconds": self.seconds, "run_us": self.run_us, "fixed_us": dict(self.fixed_us),
            "profiler_us": self.profiler_us, "profiler_heavy_us": self.profiler_heavy_us,
            "bandwidth": [list(p) for p in self.bandwidth],
            "unit_ns": dict(self.unit_ns), "matmul_gflops": self.matmul_gflops, "peak_gflops": self.peak_gflops,
            "conv": self.conv,
            "gemm": self.gemm, "probes": dict(self.probes), "mode": self.mode, "notes": list(self.notes),
            "noise": dict(self.noise), "stream": [list(p) for p in self.stream],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceProfile:
        """A profile from its JSON form, checked against the schema first (types and ranges)."""
        if not isinstance(data, Mapping):
            raise CalibrationError("device profile is not a JSON object")
        check_profile_data(data)
        try:
            profile = cls(
                device=str(data["device"]), provider=str(data["provider"]), ort_version=str(data["ort_version"]),
                cpu=str(data["cpu"]), gpu=data.get("gpu"), threads=data.get("threads"),
                intra_op_threads=int(data["intra_op_threads"]), created=float(data["created"]),
                seconds=float(data["seconds"]), run_us=float(data["run_us"]),
                fixed_us={str(k): float(v) for k, v in data["fixed_us"].items()},
                profiler_us=float(data["profiler_us"]), profiler_heavy_us=float(data["profiler_heavy_us"]),
                bandwidth=[(float(a), float(b)) for a, b in data["bandwidth"]],
                unit_ns={str(k): float(v) for k, v in data["unit_ns"].items()},
                matmul_gflops=float(data["matmul_gflops"]), peak_gflops=float(data.get("peak_gflops", 0.0)),
                conv=[[float(x) for x in row] for row in data["conv"]],
                gemm=[[float(x) for x in row] for row in data["gemm"]],
                probes={str(k): float(v) for k, v in data["probes"].items()},
                suite=int(data["suite"]), mode=str(data.get("mode", "default")),
                schema_version=int(data["schema_version"]),
                notes=[str(n) for n in data.get("notes", [])],
                noise={str(k): float(v) for k, v in data.get("noise", {}).items()},
                stream=[(float(a), float(b)) for a, b in data.get("stream", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"device profile is malformed ({type(exc).__name__}: {exc})") from None
        profile.validate()
        return profile

    def validate(self) -> None:
        """Sanity of the numbers (a cache edited or truncated into nonsense is not used)."""
        finite = [self.run_us, self.profiler_us, self.profiler_heavy_us, self.matmul_gflops, *self.fixed_us.values(),
                  *self.unit_ns.values(),
                  *(b for _, b in self.bandwidth), *self.probes.values(), *self.noise.values(),
                  *(b for _, b in self.stream)]
        if not all(math.isfinite(v) and v >= 0 for v in finite):
            raise CalibrationError("device profile holds negative or non-finite numbers")
        if not self.bandwidth or not self.conv or not self.gemm or self.matmul_gflops <= 0:
            raise CalibrationError("device profile lacks bandwidth, conv or gemm measurements")
        for key in FIXED_CHAINS:
            if key not in self.fixed_us:
                raise CalibrationError(f"device profile lacks the fixed cost of {key} kernels")
        if any(len(row) != 8 or row[-1] <= 0 for row in self.conv) or any(len(row) != 4 or row[-1] <= 0
                                                                          for row in self.gemm):
            raise CalibrationError("device profile has malformed conv or gemm points")

    # -- interpolation ----------------------------------------------------------------------

    def bandwidth_at(self, nbytes: float) -> float:
        """Bytes per microsecond for a kernel moving ``nbytes`` (log-log interpolation)."""
        return _loglog(self.bandwidth, nbytes)

    def stream_at(self, nbytes: float) -> float:
        """Bytes per microsecond at which a matrix-vector product reads weights from a working set
        of ``nbytes`` (log-log interpolation between the measured GEMVs; the copy bandwidth when
        the profile has none)."""
        return _loglog(self.stream, nbytes) if self.stream else self.bandwidth_at(nbytes)

    def reorder_ns(self, elements: float) -> float:
        """A layout reorder's cost per element (ns) for a tensor of ``elements``: interpolated in
        log-log between the calibrated points (``reorder@<elements>``, and ``reorder`` itself at
        ``REORDER_CHANNELS x REORDER_SIZE^2``), flat beyond them; a profile without the points has
        the one cost per element."""
        points = [(float(k.partition("@")[2]), v) for k, v in self.unit_ns.items()
                  if k.startswith("reorder@") and v > 0]
        one = self.unit_ns.get("reorder", 0.0)
        if not points:
            return one
        if one > 0:
            points.append((float(REORDER_CHANNELS * REORDER_SIZE ** 2), one))
        return loglog_at(points, elements)

    def conv_us(self, shape: ConvShape) -> float:
        """Estimated kernel microseconds of a convolution as ORT runs it (``executed_conv``),
        work only: without the fixed cost."""
        if self._conv_index is None:
            _, _, features, effs = self._points("conv")
            self._conv_index = _Index(features, effs, _CONV_WEIGHTS)
        return shape.flops / min(self._conv_index.predict(_conv_features(shape)), self.peak_flops_per_us)

    def gemm_us(self, shape: GemmShape) -> float:
        if self._gemm_index is None:
            _, _, features, effs = self._points("gemm")
            self._gemm_index = _Index(features, effs, _GEMM_WEIGHTS)
        return shape.flops / min(self._gemm_index.predict(_gemm_features(shape)), self.peak_flops_per_us)

    def with_points(self, conv: Sequence[Sequence[float]] | None = None,
                    gemm: Sequence[Sequence[float]] | None = None) -> DeviceProfile:
        """This profile with other conv or GEMM points (rows as ``conv``/``gemm`` hold them; a family
        given as None keeps its own): a new profile, its fits built afresh from those points, this
        one unchanged. What a held-out comparison needs, e.g. calibration without some of its points."""
        return replace(self, conv=[list(r) for r in (self.conv if conv is None else conv)],
                       gemm=[list(r) for r in (self.gemm if gemm is None else gemm)],
                       _conv_index=None, _gemm_index=None, _left_out=None)

    def interpolation_error(self) -> InterpolationError:
        """How far ``conv_us`` and ``gemm_us`` miss the calibration's own points, each left out of
        the fit (:mod:`~archcalc.estimate.interperror`; computed once per profile)."""
        if self._left_out is None:
            peak = self.peak_flops_per_us
            self._left_out = InterpolationError(
                left_out_errors(*self._points("conv"), _CONV_WEIGHTS, self.fixed_us["conv"], peak, _Index),
                left_out_errors(*self._points("gemm"), _GEMM_WEIGHTS, self.fixed_us["gemm"], peak, _Index))
        return self._left_out

    def _points(self, family: str) -> tuple[list[float], list[float], list[tuple[float, ...]], list[float]]:
        """A family's (``conv``, ``gemm``) calibration points as the fit takes them: each one's
        FLOPs (a conv as ORT runs it) and kernel microseconds, its features and its efficiency."""
        if family == "conv":
            block = layout.nchwc_block()
            convs = [timed_conv(executed_conv(ConvShape(*(int(v) for v in row[:7])), block, False)[0])
                     for row in self.conv]
            flops, us = [float(c.flops) for c in convs], [row[7] for row in self.conv]
            features = [_conv_features(c) for c in convs]
        else:
            gemms = [GemmShape(*(int(v) for v in row[:3])) for row in self.gemm]
            flops, us = [float(g.flops) for g in gemms], [row[3] for row in self.gemm]
            features = [_gemm_features(g) for g in gemms]
        fixed = self.fixed_us[family]
        return flops, us, features, [_efficiency(f, t, fixed) for f, t in zip(flops, us, strict=True)]

    @property
    def peak_flops_per_us(self) -> float:
        """The measured peak (FLOP/us): no conv or GEMM is estimated faster."""
        return max(self.peak_gflops, self.matmul_gflops) * 1e3


def _loglog(points_in: Sequence[tuple[float, float]], nbytes: float) -> float:
    """Bytes per microsecond at ``nbytes`` from (bytes, GB/s) points, interpolated in log-log,
    flat beyond the ends."""
    return 1e3 * loglog_at(points_in, nbytes)  # GB/s -> bytes/us


def loglog_at(points_in: Sequence[tuple[float, float]], at: float) -> float:
    """The value at ``at`` of (x, y) points, interpolated in log-log, flat beyond the ends."""
    points = sorted(points_in)
    x = math.log(max(at, 1.0))
    xs = [math.log(p[0]) for p in points]
    ys = [math.log(max(p[1], 1e-12)) for p in points]
    if x <= xs[0]:
        return math.exp(ys[0])
    if x >= xs[-1]:
        return math.exp(ys[-1])
    for i in range(1, len(xs)):
        if x <= xs[i]:
            t = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
            return math.exp(ys[i - 1] + t * (ys[i] - ys[i - 1]))
    return math.exp(ys[-1])


def unit_cost_ns(key: str, kernel_us: float, count: float, fixed: Mapping[str, float],
                 bandwidth: Sequence[tuple[float, float]]) -> float:
    """A unit cost (ns per element or tap) from the time of its kernel in ``ops_model`` (less the
    profiler's cost): less what the estimator adds to that kernel besides the unit, its fixed cost
    (``UNIT_FIXED``) and, where it adds the layer's traffic, that traffic at the calibrated
    bandwidth (``UNIT_TRAFFIC_BYTES``); never below zero."""
    traffic = UNIT_TRAFFIC_BYTES.get(key, 0.0)
    moved_us = traffic / _loglog(bandwidth, traffic) if traffic and bandwidth else 0.0
    return max(kernel_us - fixed.get(UNIT_FIXED.get(key, "ew"), fixed["ew"]) - moved_us, 0.0) * 1e3 / count


def reorder_units_ns(get: Callable[[str], float | None], profiler_us: float, fixed: Mapping[str, float],
                     bandwidth: Sequence[tuple[float, float]]) -> dict[str, float]:
    """The reorder's cost per element (ns) at each measured point (``reorder@<elements>``), from
    its kernel time (``get("unit:reorder@<elements>")``) as :func:`unit_cost_ns` takes it."""
    out = {}
    for channels, size in REORDER_POINTS:
        n = channels * size * size
        value = get(f"unit:reorder@{n}")
        if value is not None:
            out[f"reorder@{n}"] = unit_cost_ns("reorder", value - profiler_us, n, fixed, bandwidth)
    return out


def _efficiency(flops: float, us: float, fixed: float) -> float:
    """FLOPs per microsecond of the work beyond the kernel's fixed cost (floored so tiny kernels
    stay finite)."""
    return flops / max(us - fixed, 0.25 * us, 0.05)


_CLASSES = ("regular", "pointwise", "first", "depthwise")
#: feature weights of the conv distance: per-group input and output channels, output size, batch,
#: kernel, stride, groups (for a depthwise conv: its channels, one per group), a large weight on
#: the class (classes do not mix), whether ORT runs the conv in its blocked layout, and its work
#: (log2 FLOPs: the dimensions alone put convs of very different work side by side; with it the
#: leave-one-out error of a calibration conv point, two default calibrations on one quiet
#: machine, median 0.160/0.135 -> 0.130/0.128, mean 0.213/0.189 -> 0.191/0.186)
_CONV_WEIGHTS = (1.0, 1.0, 1.2, 0.8, 1.5, 1.0, 0.7, 8.0, 8.0, 8.0, 4.0, 1.0)
_GEMM_WEIGHTS = (1.2, 1.0, 1.0)


def _conv_features(shape: ConvShape) -> tuple[float, ...]:
    cls = conv_class(shape)
    onehot = tuple(1.0 if cls == c else 0.0 for c in _CLASSES[1:])
    blocked = 1.0 if executed_conv(shape, layout.nchwc_block(), False)[1] else 0.0
    return (math.log2(max(shape.cin // shape.groups, 1)), math.log2(max(shape.cout // shape.groups, 1)),
            math.log2(max(shape.out, 1)), math.log2(max(shape.batch, 1)), math.log2(max(shape.kernel, 1)),
            math.log2(max(shape.stride, 1)), math.log2(max(shape.groups, 1)), *onehot, blocked,
            math.log2(max(shape.flops, 1)))


def _gemm_features(shape: GemmShape) -> tuple[float, ...]:
    return (math.log2(max(shape.m, 1)), math.log2(max(shape.k, 1)), math.log2(max(shape.n, 1)))


class _Index:
    """Locally weighted linear regression of log efficiency over the nearest calibrated shapes
    (inverse-distance weights, ridge-damped slopes): interpolates between shapes and follows
    the trend a little beyond them."""

    def __init__(self, features: Sequence[tuple[float, ...]], values: Sequence[float],
                 weights: Sequence[float], k: int | None = None) -> None:
        import numpy as np

        self.w = np.asarray(weights, dtype=float)
        self.x = np.asarray(features, dtype=float) * self.w
        self.y = np.log(np.asarray(values, dtype=float))
        self.k = min(k or NEIGHBOURS, len(values))

    def predict(self, features: tuple[float, ...]) -> float:
        import numpy as np

        q = np.asarray(features, dtype=float) * self.w
        d = np.sqrt(((self.x - q) ** 2).sum(axis=1))
        idx = np.argsort(d)[: self.k]
        w = 1.0 / (d[idx] + DISTANCE_OFFSET) ** 2
        dx = self.x[idx] - q
        a = np.hstack([np.ones((len(idx), 1)), dx])
        aw = a * w[:, None]
        ridge = np.diag([0.0] + [RIDGE * w.sum()] * dx.shape[1])
        try:
            coef = np.linalg.solve(a.T @ aw + ridge, aw.T @ self.y[idx])
            value = float(coef[0])
        except np.linalg.LinAlgError:
            value = float((w * self.y[idx]).sum() / w.sum())
        lo, hi = float(self.y[idx].min()), float(self.y[idx].max())
        span = hi - lo
        return float(np.exp(min(max(value, lo - EXTRAPOLATE * span), hi + EXTRAPOLATE * span)))


#: ridge damping of the local slopes (relative to the total neighbour weight), and neighbours of a
#: local fit: chosen by leave-one-out error on calibration points only (two default calibrations
#: here, load 1.2-2: median |log error| of a held-out conv point 0.37/0.53 with 6 neighbours and
#: ridge 0.05, 0.29/0.46 with these; GEMMs 0.34/0.38 -> 0.29/0.32)
RIDGE = 1.0
NEIGHBOURS = 10
#: the distance added before inverse-square weighting
DISTANCE_OFFSET = 0.5
#: how far beyond its neighbours' range (as a fraction of it) a local fit may go
EXTRAPOLATE = 0.5
