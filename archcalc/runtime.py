"""Run models on ONNX Runtime: a verified provider, honest timing, per-layer profiles.

- **Provider.** ``device="cuda"`` asks for the CUDA execution provider with IO binding (inputs and
  outputs on the GPU, so the timing is the model, not host copies); ``"cpu"`` the CPU provider;
  ``"auto"`` CUDA when it can work, else CPU. ONNX Runtime silently falls back to the CPU when the
  CUDA provider cannot load, so the provider really used is read back from
  ``session.get_providers()`` and recorded with every result; asking for CUDA where it cannot run
  raises :class:`DeviceError` naming the reason (CUDA libraries missing, no driver or device)
  instead of timing the CPU under a GPU label.
- **Timing.** Warm-up runs, then timed runs (``perf_counter`` around one ``run_with_iobinding``,
  outputs synchronised), summarised as median, p90 and min with the run count, thread settings,
  ORT version and CPU/GPU name.
- **Per-layer.** A second session with ORT's profiler (the profiler costs a few microseconds per
  kernel, so it never touches the timed session) and its optimized graph saved; every kernel is
  mapped back to a layer name through ORT's fusions (:func:`map_kernels`): a fused node belongs
  to the layer whose op it computes, the layers it absorbed are reported as fused into it, and
  layout reorders are reported as ``(layout)``.

Library code never prints: ``progress(stage, done, total)`` reports progress to the caller.
onnxruntime and numpy are imported inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.errors import ArchcalcError, DeviceError, MemoryLimitError

if TYPE_CHECKING:
    from archcalc.estimate import DeviceProfile, Estimate
    from archcalc.ir import Graph
    from archcalc.report import Report

#: progress callback: (what is running, runs done, runs in all)
Progress = Callable[[str, int, int], None]

DEVICES = ("auto", "cpu", "cuda")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
#: pseudo-layer of ORT's layout and transfer nodes (NCHWc reorders, memory copies)
LAYOUT = "(layout)"
#: kernels the mapping cannot place (an unknown fusion); reported, never dropped
UNMAPPED = "(unmapped)"
SCHEMA_VERSION = 1
DEFAULT_WARMUP = 5
DEFAULT_REPEAT = 30
#: profile runs for per-layer times (the profiler writes one event per kernel and run)
DEFAULT_PROFILE_RUNS = 20
#: weights above this many bytes are exported as ConstantOfShape fills (same speed, less time)
CONSTANT_WEIGHTS_ABOVE = 16 * 2**20

_LAYOUT_OPS = ("ReorderInput", "ReorderOutput", "MemcpyToHost", "MemcpyFromHost")
_FUSED_OPS = {"FusedConv": "Conv", "FusedGemm": "Gemm", "FusedMatMul": "MatMul", "NhwcConv": "Conv",
              "NhwcMaxPool": "MaxPool", "NhwcFusedConv": "Conv"}




# -- devices and providers --------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceChoice:
    """Which device to ask for, the provider list to pass ORT, and why (notes)."""

    device: str  # "cpu" or "cuda"
    providers: tuple[str, ...]
    notes: tuple[str, ...] = ()


def cuda_problems() -> list[str]:
    """Why the CUDA provider cannot run here (empty when nothing stands in the way).

    Separates "CUDA libraries missing" (the provider library or the CUDA/cuDNN libraries it links
    cannot be loaded) from "no CUDA device" (no driver, driver without a GPU).
    """
    import onnxruntime as ort

    if CUDA not in ort.get_available_providers():
        return [f"this onnxruntime build ({ort.__version__}) has no CUDA execution provider "
                f"(pip install onnxruntime-gpu)"]
    _preload_cuda_wheels()
    problems = []
    libs = _cuda_library_problem()
    if libs:
        problems.append(libs)
    device = _cuda_device_problem()
    if device:
        problems.append(device)
    return problems


def _preload_cuda_wheels() -> None:
    """Let ORT find CUDA/cuDNN installed as nvidia-* wheels (quietly: ORT's helper prints)."""
    import importlib.util

    import onnxruntime as ort

    if importlib.util.find_spec("nvidia") is None or not hasattr(ort, "preload_dlls"):
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.suppress(Exception):
        ort.preload_dlls()


def _cuda_build_version() -> str:
    try:
        from onnxruntime.capi import build_and_package_info as info

        return str(getattr(info, "cuda_version", "") or "")
    except ImportError:
        return ""


def _cuda_library_problem() -> str | None:
    import ctypes

    import onnxruntime as ort

    capi = Path(ort.__file__).resolve().parent / "capi"
    names = ["libonnxruntime_providers_cuda.so", "onnxruntime_providers_cuda.dll"]
    lib = next((capi / n for n in names if (capi / n).exists()), None)
    if lib is None:
        return "CUDA libraries missing: onnxruntime's CUDA provider library is not installed"
    try:
        ctypes.CDLL(str(lib))
    except OSError as exc:
        text = str(exc)
        missing = text.split(":")[0].strip() if "cannot open shared object" in text else text
        version = _cuda_build_version()
        need = f" (onnxruntime {ort.__version__} is built for CUDA {version} with cuDNN 9)" if version else ""
        return f"CUDA libraries missing: {missing} cannot be loaded{need}"
    return None


def _libcuda() -> Any:
    import ctypes
    import ctypes.util

    errors = []
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll", ctypes.util.find_library("cuda")):
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            errors.append(str(exc))
    raise OSError(errors[0] if errors else "libcuda not found")


def _cuda_device_problem() -> str | None:
    import ctypes

    try:
        cuda = _libcuda()
    except OSError:
        return ("no CUDA device: the NVIDIA driver library libcuda.so.1 cannot be loaded "
                "(no NVIDIA GPU or no driver installed)")
    code = cuda.cuInit(0)
    if code != 0:
        return f"no CUDA device: the driver does not initialise (cuInit error {code})"
    count = ctypes.c_int(0)
    code = cuda.cuDeviceGetCount(ctypes.byref(count))
    if code != 0 or count.value == 0:
        return "no CUDA device: the driver reports no GPU"
    return None


def gpu_name() -> str | None:
    """The first CUDA device's name, when a driver answers."""
    import ctypes

    try:
        cuda = _libcuda()
        if cuda.cuInit(0) != 0:
            return None
        dev = ctypes.c_int(0)
        if cuda.cuDeviceGet(ctypes.byref(dev), 0) != 0:
            return None
        buf = ctypes.create_string_buffer(256)
        if cuda.cuDeviceGetName(buf, 256, dev) != 0:
            return None
        return buf.value.decode("utf-8", "replace")
    except (OSError, AttributeError):
        return None


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_device(device: str = "auto") -> DeviceChoice:
    """Decide the provider list before any session exists; ``cuda`` without CUDA is refused."""
    if device not in DEVICES:
        raise ArchcalcError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return DeviceChoice("cpu", (CPU,))
    problems = cuda_problems()
    if device == "cuda":
        if problems:
            raise DeviceError("--device cuda: CUDA cannot run here: " + "; ".join(problems)
                              + " (nothing was timed; --device cpu times the CPU)")
        return DeviceChoice("cuda", (CUDA, CPU))
    if problems:
        return DeviceChoice("cpu", (CPU,), (f"CUDA not used: {'; '.join(problems)}",))
    return DeviceChoice("cuda", (CUDA, CPU))


# -- sessions ---------------------------------------------------------------------------------


def _new_session(model: bytes | str, options: Any, providers: Sequence[str], disabled: Sequence[str] = ()) -> Any:
    """The one place a session is created (tests replace it to simulate other machines)."""
    import onnxruntime as ort

    if disabled:
        return ort.InferenceSession(model, options, providers=list(providers), disabled_optimizers=list(disabled))
    return ort.InferenceSession(model, options, providers=list(providers))


def session_options(threads: int | None = None, *, profile_prefix: str | None = None,
                    optimized_path: str | None = None, spinning: bool = True) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = int(threads)
    if not spinning:  # idle worker threads sleep at once (probes must not steal the model's cores)
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if optimized_path:
        so.optimized_model_filepath = optimized_path
        # big initializers go to a side file so the graph stays small to read back
        so.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                    Path(optimized_path).stem + ".weights")
        so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    return so


def open_session(model: bytes | str, choice: DeviceChoice, threads: int | None = None, *,
                 profile_prefix: str | None = None, optimized_path: str | None = None,
                 disabled_optimizers: Sequence[str] = (), spinning: bool = True) -> Any:
    """A session on ``choice``; refuses when ORT did not really give the asked-for provider."""
    options = session_options(threads, profile_prefix=profile_prefix, optimized_path=optimized_path,
                              spinning=spinning)
    try:
        session = _new_session(model, options, choice.providers, disabled_optimizers)
    except Exception as exc:  # ORT raises its own exception types
        if isinstance(exc, ArchcalcError):
            raise
        raise ArchcalcError(f"onnxruntime cannot load the model: {str(exc).strip().splitlines()[0]}") from None
    used = list(session.get_providers())
    if choice.device == "cuda" and (not used or used[0] != CUDA):
        raise DeviceError(
            f"CUDA was asked for, but onnxruntime runs this session on {', '.join(used) or 'nothing'} "
            f"(the CUDA provider failed to load: {'; '.join(cuda_problems()) or 'reason not reported'}); "
            f"nothing was timed"
        )
    return session


def provider_device(provider: str) -> str:
    return "cuda" if provider in (CUDA, "TensorrtExecutionProvider") else "cpu"


class Runner:
    """One session with its inputs bound once (IO binding): ``run()`` is one timed inference.

    Outputs are bound to buffers allocated once, after one priming run tells their shapes, so no
    run pays for allocating (and first-touching) its outputs.
    """

    def __init__(self, session: Any, feeds: Mapping[str, Any]) -> None:
        self.session = session
        self.provider = str(session.get_providers()[0])
        self.device = provider_device(self.provider)
        self.binding = session.io_binding()
        self.io_binding = True
        for name, array in feeds.items():
            self.binding.bind_ortvalue_input(name, _to_device(array, self.device))
        names = [out.name for out in session.get_outputs()]
        for name in names:
            self.binding.bind_output(name, self.device, 0)
        self.run()  # priming run: output shapes and types
        produced = self.binding.get_outputs()
        if len(produced) == len(names):
            self.binding.clear_binding_outputs()
            for name, value in zip(names, produced, strict=True):
                self.binding.bind_ortvalue_output(name, _empty_like(value, self.device))

    def run(self) -> None:
        self.session.run_with_iobinding(self.binding)
        if self.device != "cpu":
            self.binding.synchronize_outputs()

    def timed(self) -> float:
        """Seconds for one run."""
        start = time.perf_counter()
        self.run()
        return time.perf_counter() - start


def _empty_like(value: Any, device: str) -> Any:
    import numpy as np
    import onnxruntime as ort

    kind = str(value.data_type())
    dtype = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_}.get(kind, np.float32)
    return ort.OrtValue.ortvalue_from_shape_and_type(list(value.shape()), dtype, device, 0)


def _to_device(array: Any, device: str) -> Any:
    import onnxruntime as ort

    return ort.OrtValue.ortvalue_from_numpy(array, device, 0)


def feeds_for(session: Any, batch: int, seed: int = 0) -> dict[str, Any]:
    """Random inputs for every model input (symbolic dims take the batch)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for i, inp in enumerate(session.get_inputs()):
        dims = [d if isinstance(d, int) and d > 0 else (batch if j == 0 else 1) for j, d in enumerate(inp.shape)]
        kind = str(inp.type)
        if "float16" in kind:
            out[inp.name] = rng.standard_normal(dims).astype(np.float16)
        elif "double" in kind:
            out[inp.name] = rng.standard_normal(dims)
        elif "float" in kind:
            out[inp.name] = rng.standard_normal(dims, dtype=np.float32)
        elif "int64" in kind:
            out[inp.name] = np.zeros(dims, dtype=np.int64)
        elif "int32" in kind:
            out[inp.name] = np.zeros(dims, dtype=np.int32)
        elif "bool" in kind:
            out[inp.name] = np.zeros(dims, dtype=bool)
        else:
            raise ArchcalcError(f"input {i} ('{inp.name}') has type {kind}, which profile cannot fill")
    return out


# -- timing statistics ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Wall times of the timed runs (milliseconds); warm-up runs are not among them."""

    runs: int
    warmup: int
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float
    samples_ms: tuple[float, ...] = field(repr=False, default=())

    @property
    def spread(self) -> float:
        """The noise a result reports: (p90 - min) / median of the timed runs."""
        return (self.p90_ms - self.min_ms) / self.median_ms if self.median_ms > 0 else 0.0

    @property
    def stable(self) -> bool:
        return self.stability_note() is None

    def stability_note(self) -> str | None:
        """None when the measurement is stable; otherwise why it is not."""
        if self.runs < MIN_STABLE_RUNS:
            return (f"only {self.runs} timed runs: too few to call the median stable "
                    f"(use --repeat {MIN_STABLE_RUNS} or more)")
        if self.median_ms < MIN_STABLE_MS:
            return (f"too short to time reliably: a median of {self.median_ms * 1e3:.0f} us is dominated by "
                    f"scheduling noise, and medians of separate runs can differ by more than the {self.spread:.0%} "
                    f"spread within this one (measured here: up to 1.4x for LeNet-5)")
        if self.spread > STABLE_SPREAD:
            return (f"unstable measurement: the timed runs spread by {self.spread:.0%} of the median "
                    f"(min {self.min_ms:.3g} ms, p90 {self.p90_ms:.3g} ms), more than {STABLE_SPREAD:.0%}: the "
                    f"machine is busy or the model too short to time; repeat on a quieter machine or with more runs")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "warmup": self.warmup, "median_ms": self.median_ms, "p90_ms": self.p90_ms,
                "min_ms": self.min_ms, "max_ms": self.max_ms, "mean_ms": self.mean_ms,
                "spread": self.spread, "stable": self.stable}


#: a measurement is called stable when (p90 - min) / median is at most this, over enough runs
STABLE_SPREAD = 0.25
MIN_STABLE_RUNS = 5
#: medians below this (ms) are not called stable whatever their spread (benchmarks/timing_stability.py)
MIN_STABLE_MS = 0.1


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def timing_of(seconds: Sequence[float], warmup: int) -> Timing:
    if not seconds:
        raise ArchcalcError("no timed runs (repeat must be at least 1)")
    ms = [s * 1e3 for s in seconds]
    return Timing(runs=len(ms), warmup=warmup, median_ms=statistics.median(ms), p90_ms=percentile(ms, 90),
                  min_ms=min(ms), max_ms=max(ms), mean_ms=statistics.fmean(ms), samples_ms=tuple(ms))


def time_runner(runner: Runner, warmup: int, repeat: int, *, progress: Progress | None = None,
                stage: str = "", offset: int = 0, total: int | None = None,
                between: Callable[[], None] | None = None, blocks: int = 1) -> Timing:
    """Warm up, then time ``repeat`` runs. With ``between``, the runs are split into ``blocks``
    and ``between()`` (a drift probe) runs before each block, followed by one untimed re-warm run."""
    total = total if total is not None else warmup + repeat
    done = offset
    for _ in range(warmup):
        runner.run()
        done += 1
        if progress:
            progress(stage, done, total)
    samples: list[float] = []
    blocks = max(1, min(blocks, repeat))
    sizes = [repeat // blocks + (1 if i < repeat % blocks else 0) for i in range(blocks)]
    for size in sizes:
        if between is not None:
            between()
            runner.run()
        for _ in range(size):
            samples.append(runner.timed())
            done += 1
            if progress:
                progress(stage, done, total)
    return timing_of(samples, warmup)


# -- mapping kernels back to layers -----------------------------------------------------------


@dataclass(frozen=True)
class OptNode:
    """A node of ORT's optimized graph (or of a profile, where inputs/outputs are unknown)."""

    name: str
    op_type: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class KernelMap:
    """Where each optimized node's time goes, and which layers have no kernel of their own."""

    #: optimized node name -> layer name, LAYOUT, or UNMAPPED
    kernels: Mapping[str, str]
    #: layer -> the layer whose kernel computes it (fused, or removed as a no-op: then itself absent)
    fused: Mapping[str, str]
    #: layers that vanished without a kernel taking them (no-ops such as dropout at inference)
    removed: tuple[str, ...] = ()


def node_labels(model: Any) -> list[str]:
    """Node names as archcalc's importer labels them (name, or ``OpType_index``)."""
    return [n.name or f"{n.op_type}_{i}" for i, n in enumerate(model.graph.node)]


def node_layers(model: Any, layer_names: Iterable[str]) -> dict[str, str]:
    """ONNX node label -> archcalc layer, for nodes that belong to a layer.

    A node named like a layer is that layer; the exporter's ``archcalc.layers`` metadata names the
    nodes of multi-node layers; ``layer/part`` helper nodes belong to ``layer``. Nodes left out
    (constant fills, aliases the importer skipped) are placed by the graph walk in map_kernels.
    """
    names = set(layer_names)
    groups: dict[str, str] = {}
    raw = next((p.value for p in model.metadata_props if p.key == "archcalc.layers"), None)
    if raw:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            for g in json.loads(raw)["groups"]:
                for node in g["nodes"]:
                    groups[str(node)] = str(g["layer"])
    out: dict[str, str] = {}
    for label in node_labels(model):
        if label in names:
            out[label] = label
        elif label in groups and groups[label] in names:
            out[label] = groups[label]
        else:
            head = label
            while "/" in head:
                head = head.rsplit("/", 1)[0]
                if head in names:
                    out[label] = head
                    break
    return out


def ort_name_candidates(name: str) -> list[str]:
    """Candidate original names of an ORT node name (``fused X``, ``X_nchwc``, ``X_token_7``)."""
    out = [name]
    base = name[len("fused "):] if name.startswith("fused ") else name
    while True:
        if base not in out:
            out.append(base)
        new = re.sub(r"(_token_\d+)+$", "", base)
        new = re.sub(r"_nchwc$", "", new)
        if new == base:
            break
        base = new
    return out


def map_kernels(original: Any, optimized: Sequence[OptNode], node_layer: Mapping[str, str]) -> KernelMap:
    """Map every optimized node to a layer of ``original`` (an onnx.ModelProto).

    1. Anchor: the original node an optimized node is named after (``fused fc6``, ``relu_nchwc``
       derive from an original node or tensor name), else the producer of an output tensor that
       still exists.
    2. Core: from the anchor, walk up the original graph to the node of the optimized node's op
       type (a FusedConv named after its ReLU computes the Conv above it); the nodes walked over
       are in its group.
    3. Original nodes left without a kernel were fused into the group of their latest producer
       (BN, activation, residual add after a conv), or failing that of a consumer.
    4. Layout nodes (NCHWc reorders, memory copies) are LAYOUT; other unanchored nodes take the
       layer of a neighbouring kernel, or UNMAPPED.
    """
    nodes = list(original.graph.node)
    labels = node_labels(original)
    by_label = {label: i for i, label in enumerate(labels)}
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for t in n.output:
            if t:
                producer[t] = i
    const = {init.name for init in original.graph.initializer}
    constant_nodes: set[int] = set()
    for i, n in enumerate(nodes):
        ins = [t for t in n.input if t]
        if n.op_type == "Constant" or (ins and all(t in const for t in ins)):
            constant_nodes.add(i)
            const.update(t for t in n.output if t)
    act_in = {i: [producer[t] for t in n.input if t and t not in const and t in producer]
              for i, n in enumerate(nodes)}
    consumers: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    for i, ins in act_in.items():
        for p in ins:
            consumers[p].append(i)

    def anchor_of(node: OptNode) -> int | None:
        for cand in ort_name_candidates(node.name):
            if cand in by_label:
                return by_label[cand]
        for cand in ort_name_candidates(node.name):
            if cand in producer:
                return producer[cand]
        for t in node.outputs:
            if t in producer:
                return producer[t]
        return None

    anchors: dict[str, int] = {}
    for node in optimized:
        if node.op_type in _LAYOUT_OPS:
            continue
        a = anchor_of(node)
        if a is not None and a not in constant_nodes:
            anchors[node.name] = a
    claimed = set(anchors.values())
    group_of: dict[int, str] = {}  # original node -> optimized node name
    for node in optimized:
        if node.name not in anchors:
            continue
        a = anchors[node.name]
        target = _FUSED_OPS.get(node.op_type, node.op_type)
        path = [a]
        cur = a
        while nodes[cur].op_type != target and len(path) < 8:
            ups = [p for p in act_in[cur] if p not in claimed and p not in group_of]
            if not ups:
                break
            cur = max(ups)
            path.append(cur)
        members = path if nodes[cur].op_type == target else [a]
        for m in members:
            group_of.setdefault(m, node.name)
    # nodes without a kernel: into a producer's group (the one whose kernel reads the other
    # producers' results, as a conv that absorbed a residual add reads the shortcut), else the
    # latest producer's; failing that, a consumer's
    made_by = {t: n.name for n in optimized for t in n.outputs}
    reads = {n.name: {made_by[t] for t in n.inputs if t in made_by} for n in optimized}
    for i in range(len(nodes)):
        if i in group_of or i in constant_nodes:
            continue
        ups = sorted({p for p in act_in[i] if p in group_of}, key=lambda p: -p)
        if not ups:
            continue
        kernels_up = {group_of[p] for p in ups}
        readers = [p for p in ups if kernels_up - {group_of[p]} <= reads.get(group_of[p], set())]
        group_of[i] = group_of[readers[0] if len(readers) == 1 else ups[0]]
    for i in reversed(range(len(nodes))):
        if i in group_of or i in constant_nodes:
            continue
        downs = [c for c in consumers[i] if c in group_of]
        if downs:
            group_of[i] = group_of[min(downs)]

    def layer_of_node(i: int) -> str | None:
        seen = set()
        stack = [i]
        while stack:  # nodes without a layer of their own (aliases) take their producer's
            j = stack.pop()
            if j in seen:
                continue
            seen.add(j)
            if labels[j] in node_layer:
                return node_layer[labels[j]]
            stack.extend(act_in[j])
        return None

    kernels: dict[str, str] = {}
    core_layer: dict[str, str] = {}
    for node in optimized:
        if node.name not in anchors:
            continue
        a = anchors[node.name]
        members = sorted(i for i, g in group_of.items() if g == node.name)
        target = _FUSED_OPS.get(node.op_type, node.op_type)
        core = next((i for i in members if nodes[i].op_type == target and i != a), a)
        if nodes[a].op_type == target:
            core = a
        layer = layer_of_node(core) or next((x for x in (layer_of_node(i) for i in members) if x), None)
        if layer is not None:
            kernels[node.name] = layer
            core_layer[node.name] = layer
    # unanchored nodes: layout, or a neighbour's layer through the optimized graph's tensors
    node_by = {n.name: n for n in optimized}
    users: dict[str, list[OptNode]] = {}
    for n in optimized:
        for t in n.inputs:
            users.setdefault(t, []).append(n)
    for node in optimized:
        if node.name in kernels:
            continue
        if node.op_type in _LAYOUT_OPS:
            kernels[node.name] = LAYOUT
            continue
        found = None
        for t in node.inputs:
            src = made_by.get(t)
            if src is not None and src in node_by and src in core_layer:
                found = core_layer[src]
        if found is None:
            for t in node.outputs:
                for user in users.get(t, []):
                    if user.name in core_layer:
                        found = core_layer[user.name]
                        break
        kernels[node.name] = found or UNMAPPED

    fused: dict[str, str] = {}
    has_kernel = set(kernels.values())
    layers_seen: dict[str, set[str]] = {}
    for i in range(len(nodes)):
        if i in constant_nodes:
            continue
        layer = node_layer.get(labels[i])
        if layer is None:
            continue
        kernel_layer = kernels.get(group_of.get(i, ""))
        layers_seen.setdefault(layer, set())
        if kernel_layer is not None:
            layers_seen[layer].add(kernel_layer)
    removed = []
    for layer, targets in layers_seen.items():
        if layer in has_kernel:
            continue
        others = sorted(t for t in targets if t not in (LAYOUT, UNMAPPED))
        if others:
            fused[layer] = others[0]
        else:
            removed.append(layer)
    return KernelMap(kernels, fused, tuple(removed))


def read_optimized(path: str) -> list[OptNode]:
    import onnx

    model = onnx.load(path, load_external_data=False)
    return [OptNode(n.name, n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node]


def kernel_times(events: Sequence[Mapping[str, Any]], last_runs: int) -> tuple[list[dict[str, float]], dict[str, str]]:
    """Per run (the last ``last_runs`` runs): kernel name -> microseconds; and kernel -> op type.

    Kernel events (``<node>_kernel_time``) are assigned to the ``model_run`` window holding them.
    """
    import bisect

    windows = sorted((float(e["ts"]), float(e["ts"]) + float(e["dur"])) for e in events
                     if e.get("cat") == "Session" and e.get("name") == "model_run")
    starts = [w[0] for w in windows]
    per_run: list[dict[str, float]] = [{} for _ in windows]
    ops: dict[str, str] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        name = str(e["name"])[: -len("_kernel_time")]
        ts = float(e["ts"])
        k = bisect.bisect_right(starts, ts) - 1
        if k < 0 or ts > windows[k][1]:
            continue
        per_run[k][name] = per_run[k].get(name, 0.0) + float(e["dur"])
        ops.setdefault(name, str(e.get("args", {}).get("op_name", "")))
    kept = per_run[-last_runs:] if last_runs > 0 else per_run
    return kept, ops


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerProfile:
    """One layer's measured kernel time (median over profiled runs) next to its estimate."""

    name: str
    kind: str
    measured_ms: float | None = None
    estimate_ms: float | None = None
    #: the layer whose kernel computes this one (ORT fused it), as measured
    fused_into: str | None = None
    kernels: tuple[str, ...] = ()
    #: what limits the estimate: compute, memory, overhead, fused, none
    bound: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.measured_ms and self.estimate_ms is not None and self.measured_ms > 0:
            return self.estimate_ms / self.measured_ms
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "measured_ms": self.measured_ms,
                "estimate_ms": self.estimate_ms, "ratio": self.ratio, "fused_into": self.fused_into,
                "kernels": list(self.kernels), "bound": self.bound}


@dataclass(frozen=True)
class ProfileResult:
    """One model at one batch size on one device, with everything needed to read the numbers."""

    name: str
    source: str
    batch: int
    device: str
    provider: str
    providers: tuple[str, ...]
    device_name: str
    cpu: str
    gpu: str | None
    ort_version: str
    threads: int | None
    intra_op_threads: int
    io_binding: bool
    timing: Timing
    estimate_ms: float | None = None
    layers: tuple[LayerProfile, ...] = ()
    #: sum of kernel medians in the profiled session (profiler overhead included)
    profiled_kernels_ms: float | None = None
    profile_runs: int = 0
    #: measured/calibrated ratios of the drift probes run next to this measurement
    drift: Mapping[str, float] = field(default_factory=dict)
    params: int = 0
    macs: int = 0
    notes: tuple[str, ...] = ()

    @property
    def median_ms(self) -> float:
        return self.timing.median_ms

    @property
    def ratio(self) -> float | None:
        return self.estimate_ms / self.timing.median_ms if self.estimate_ms is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name, "source": self.source, "batch": self.batch, "device": self.device,
            "provider": self.provider, "providers": list(self.providers), "device_name": self.device_name,
            "cpu": self.cpu, "gpu": self.gpu, "ort_version": self.ort_version, "threads": self.threads,
            "intra_op_threads": self.intra_op_threads, "io_binding": self.io_binding,
            **self.timing.to_dict(),
            "estimate_ms": self.estimate_ms, "ratio": self.ratio,
            "profiled_kernels_ms": self.profiled_kernels_ms, "profile_runs": self.profile_runs,
            "drift": dict(self.drift), "params": self.params, "macs": self.macs,
            "layers": [layer.to_dict() for layer in self.layers], "notes": list(self.notes),
        }


# -- preparing a model ------------------------------------------------------------------------


@dataclass
class Prepared:
    """A model ready for ORT: bytes or path, its ONNX graph, the archcalc graph and report."""

    name: str
    source: str
    model: Any  # onnx.ModelProto (weights may be ConstantOfShape fills)
    payload: bytes | str
    graph: Graph
    report: Report
    notes: list[str] = field(default_factory=list)
    #: ORT optimizers to leave out (constant weights are all alike: common-subexpression
    #: elimination would merge layers of the same shape, which real weights never allow)
    disabled_optimizers: tuple[str, ...] = ()


def memory_limit() -> int:
    """Default limit for one run: 80% of the memory available now (16 GiB if unknown)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(int(line.split()[1]) * 1024 * 0.8)
    return 16 * 2**30


def check_memory(report: Report, limit: int | None) -> int:
    """Bytes a run needs (weights + every activation at this batch); refuse past ``limit``."""
    need = report.totals.param_bytes + report.totals.activation_bytes
    cap = memory_limit() if limit is None else limit
    if need > cap:
        raise MemoryLimitError(
            f"a run at batch {report.conventions.batch} needs about {need / 2**20:,.0f} MiB (weights "
            f"{report.totals.param_bytes / 2**20:,.0f} MiB + activations {report.totals.activation_bytes / 2**20:,.0f}"
            f" MiB), more than the limit of {cap / 2**20:,.0f} MiB: use a smaller batch, or raise the limit "
            f"(--max-memory / max_memory=)"
        )
    return need


def prepare(source: str | Path | Graph, batch: int, *, variables: Mapping[str, Any] | None = None,
            weights: str = "auto", max_memory: int | None = None) -> Prepared:
    """Export a spec/graph (or read an ONNX model) for ``batch``, after the memory check."""
    from archcalc.analysis import analyze
    from archcalc.ir import Graph

    if isinstance(source, Graph):
        graph = source
        src = str(graph.file or graph.name)
    elif str(source).lower().endswith(".onnx"):
        return _prepare_onnx(str(source), batch, max_memory)
    else:
        from archcalc.spec.loader import load_spec

        graph = load_spec(source, variables=variables)
        src = str(source)
    report = analyze(graph, overrides={"batch": batch, "dtype": "fp32"})
    check_memory(report, max_memory)
    from archcalc.onnx_export.export import export_onnx

    mode = weights
    if mode == "auto":
        mode = "constant" if report.totals.param_bytes > CONSTANT_WEIGHTS_ABOVE else "random"
    exported = export_onnx(graph, batch=batch, weights=mode, max_bytes=max(report.totals.param_bytes, 1) * 2)
    model = exported.model
    if mode == "constant":
        return Prepared(graph.name, src, model, model.SerializeToString(), graph, report,
                        ["constant weights made at load time (a distinct value per tensor, so the runtime "
                         "cannot merge equal layers): the same work as random weights"])
    return Prepared(graph.name, src, model, model.SerializeToString(), graph, report)


def model_batch(path: str) -> int:
    """An ONNX model's own batch size (1 when its batch axis is symbolic)."""
    from archcalc.onnx_import.importer import import_onnx

    if not Path(path).exists():
        raise ArchcalcError("no such file", file=path)
    try:
        graph = import_onnx(path, allow_unknown=True)
    except ArchcalcError as exc:
        if "symbolic" in str(exc):
            return 1
        raise
    return int(graph.conventions.get("batch") or 1)


def _prepare_onnx(path: str, batch: int, max_memory: int | None) -> Prepared:
    import onnx

    from archcalc.analysis import analyze
    from archcalc.onnx_import.importer import import_onnx

    if not Path(path).exists():
        raise ArchcalcError("no such file", file=path)
    graph = import_onnx(path, batch=batch, allow_unknown=True)
    model_batch = graph.conventions.get("batch")
    if model_batch is not None and int(model_batch) != batch:
        raise ArchcalcError(f"the model's batch is fixed at {model_batch}: --batch {model_batch} (or export "
                            f"it with a dynamic batch axis)", file=path)
    report = analyze(graph, overrides={"batch": batch, "dtype": "fp32"})
    check_memory(report, max_memory)
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # onnx raises several kinds of errors
        raise ArchcalcError(f"cannot read the model: {exc}", file=path) from None
    return Prepared(graph.name, path, model, path, graph, report)


# -- profile ----------------------------------------------------------------------------------


def _machine(choice_device: str, provider: str) -> tuple[str, str | None, str]:
    cpu = cpu_name()
    gpu = gpu_name() if provider_device(provider) == "cuda" else None
    return cpu, gpu, (gpu or "CUDA device") if provider_device(provider) == "cuda" else cpu


def profile(
    source: str | Path | Graph,
    *,
    device: str = "auto",
    batches: Sequence[int] | None = None,
    warmup: int = DEFAULT_WARMUP,
    repeat: int = DEFAULT_REPEAT,
    threads: int | None = None,
    per_layer: bool = False,
    progress: Progress | None = None,
    device_profile: DeviceProfile | None = None,
    drift_probes: bool = True,
    profile_runs: int | None = None,
    max_memory: int | None = None,
    variables: Mapping[str, Any] | None = None,
    weights: str = "auto",
) -> list[ProfileResult]:
    """Time ``source`` (spec path or bundled name, Graph, or .onnx path) at each batch size
    (default: 1, or an ONNX model's own fixed batch).

    With ``device_profile`` (see ``archcalc.estimate``), each result carries the estimate; with
    ``drift_probes`` the device's peaks are re-measured briefly between blocks of timed runs and
    the estimate is scaled by how far they drifted from the calibration.
    """
    import onnxruntime as ort

    if warmup < 0 or repeat < 1:
        raise ArchcalcError("warmup must be >= 0 and repeat >= 1")
    if threads is not None and threads < 1:
        raise ArchcalcError("threads must be at least 1")
    if batches is None:
        from archcalc.ir import Graph

        is_onnx = not isinstance(source, Graph) and str(source).lower().endswith(".onnx")
        batches = (model_batch(str(source)),) if is_onnx else (1,)
    if not batches or any(not isinstance(b, int) or b < 1 for b in batches):
        raise ArchcalcError(f"batch sizes must be positive integers, got {list(batches)}")
    choice = choose_device(device)
    if device_profile is not None:
        from archcalc.estimate import check_profile_matches

        check_profile_matches(device_profile, choice.device, threads)
    runs_profiled = profile_runs if profile_runs is not None else min(repeat, DEFAULT_PROFILE_RUNS)
    per_batch = warmup + repeat + ((warmup + runs_profiled) if per_layer else 0)
    total = per_batch * len(batches)
    results = []
    probes = None
    if device_profile is not None and drift_probes:
        from archcalc.estimate import Probes

        probes = Probes(choice, threads)
    for index, batch in enumerate(batches):
        prepared = prepare(source, batch, variables=variables, weights=weights, max_memory=max_memory)
        stage = f"{prepared.name} batch {batch}"
        try:
            session = open_session(prepared.payload, choice, threads, disabled_optimizers=prepared.disabled_optimizers)
        except DeviceError as exc:
            if device != "auto" or choice.device != "cuda":
                raise
            # auto: CUDA looked usable but ORT did not give it; time the CPU, labelled as such
            choice = DeviceChoice("cpu", (CPU,), (*choice.notes, f"CUDA not used: {exc}"))
            session = open_session(prepared.payload, choice, threads, disabled_optimizers=prepared.disabled_optimizers)
        runner = Runner(session, feeds_for(session, batch))
        drift_samples: list[dict[str, float]] = []

        def probe(p: Any = probes, samples: list[dict[str, float]] = drift_samples) -> None:
            samples.append(p.measure())

        timing = time_runner(runner, warmup, repeat, progress=progress, stage=stage, offset=index * per_batch,
                             total=total, between=probe if probes is not None else None,
                             blocks=min(5, repeat) if probes is not None else 1)
        if probes is not None:
            drift_samples.append(probes.measure())
        provider = runner.provider
        del runner, session
        layers: tuple[LayerProfile, ...] = ()
        profiled_ms = None
        notes = list(choice.notes) + prepared.notes
        unstable = timing.stability_note()
        if unstable:
            notes.insert(0, unstable)
        kernel_map = None
        per_layer_ms: dict[str, float] = {}
        kernels_of: dict[str, list[str]] = {}
        if per_layer:
            per_layer_ms, kernel_map, profiled_ms, kernels_of = _profile_layers(
                prepared, choice, threads, batch, warmup, runs_profiled, progress, stage,
                index * per_batch + warmup + repeat, total)
        estimate: Estimate | None = None
        layer_estimate: Estimate | None = None
        drift: dict[str, float] = {}
        if device_profile is not None:
            from archcalc.estimate import drift_of, estimate_latency

            if drift_samples:
                drift = drift_of(device_profile, drift_samples)
                far = {k: v for k, v in drift.items() if abs(v - 1.0) > 0.15}
                if far:
                    notes.append("the machine ran at " + ", ".join(f"{k} x{v:.2f}" for k, v in far.items())
                                 + " of its calibrated speed during this measurement: the estimate is scaled, "
                                 "but compare with care")
            estimate = estimate_latency(prepared.graph, device_profile, batch=batch, report=prepared.report,
                                        drift=drift)
            if per_layer:  # per-layer rows compare with profiled kernels: add the profiler's cost
                layer_estimate = estimate_latency(prepared.graph, device_profile, batch=batch,
                                                  report=prepared.report, drift=drift, as_profiled=True)
        layers = _layer_rows(prepared.report, per_layer, per_layer_ms, kernel_map, kernels_of,
                             layer_estimate if per_layer else estimate)
        cpu, gpu, device_name = _machine(choice.device, provider)
        results.append(ProfileResult(
            name=prepared.name, source=prepared.source, batch=batch, device=provider_device(provider),
            provider=provider, providers=tuple(choice.providers), device_name=device_name, cpu=cpu, gpu=gpu,
            ort_version=ort.__version__, threads=threads, intra_op_threads=threads or cpu_count(),
            io_binding=True, timing=timing, estimate_ms=estimate.total_ms if estimate else None,
            layers=layers, profiled_kernels_ms=profiled_ms, profile_runs=runs_profiled if per_layer else 0,
            drift=drift, params=prepared.report.totals.params, macs=prepared.report.totals.macs,
            notes=tuple(notes),
        ))
    return results


def _layer_rows(report: Report, per_layer: bool, measured: Mapping[str, float], kmap: KernelMap | None,
                kernels_of: Mapping[str, list[str]], estimate: Estimate | None) -> tuple[LayerProfile, ...]:
    if not per_layer and estimate is None:
        return ()
    rows = []
    for record in report.layers:
        est = estimate.layers.get(record.name) if estimate is not None else None
        fused = kmap.fused.get(record.name) if kmap is not None else None
        got = measured.get(record.name) if per_layer else None
        if per_layer and got is None:
            got = 0.0
        rows.append(LayerProfile(record.name, record.kind, got, est.ms if est else None, fused,
                                 tuple(kernels_of.get(record.name, ())), est.bound if est else None))
    extra = [LAYOUT, UNMAPPED]
    for name in extra:
        est_ms = estimate.layers[name].ms if estimate is not None and name in estimate.layers else None
        got = measured.get(name) if per_layer else None
        if got is None and est_ms is None:
            continue
        rows.append(LayerProfile(name, "runtime", got if got is not None else (0.0 if per_layer else None),
                                 est_ms, None, tuple(kernels_of.get(name, ())),
                                 estimate.layers[name].bound if estimate is not None and name in estimate.layers
                                 else None))
    return tuple(rows)


def _profile_layers(prepared: Prepared, choice: DeviceChoice, threads: int | None, batch: int, warmup: int,
                    runs: int, progress: Progress | None, stage: str, offset: int, total: int,
                    ) -> tuple[dict[str, float], KernelMap, float, dict[str, list[str]]]:
    with tempfile.TemporaryDirectory(prefix="archcalc-profile-") as tmp:
        optimized = str(Path(tmp) / "optimized.onnx")
        session = open_session(prepared.payload, choice, threads, profile_prefix=str(Path(tmp) / "ort"),
                               optimized_path=optimized, disabled_optimizers=prepared.disabled_optimizers)
        runner = Runner(session, feeds_for(session, batch))
        time_runner(runner, warmup, runs, progress=progress, stage=f"{stage} (per-layer profile)",
                    offset=offset, total=total)
        del runner
        trace = session.end_profiling()
        with open(trace) as handle:
            events = json.load(handle)
        opt_nodes = read_optimized(optimized) if Path(optimized).exists() else []
    per_run, ops = kernel_times(events, runs)
    if not opt_nodes:
        opt_nodes = [OptNode(name, op) for name, op in ops.items()]
    known = {n.name for n in opt_nodes}
    opt_nodes += [OptNode(name, op) for name, op in ops.items() if name not in known]
    kmap = map_kernels(prepared.model, opt_nodes, node_layers(prepared.model, prepared.graph.layers))
    layer_runs: list[dict[str, float]] = []
    for run in per_run:
        sums: dict[str, float] = {}
        for kernel, us in run.items():
            layer = kmap.kernels.get(kernel, UNMAPPED)
            sums[layer] = sums.get(layer, 0.0) + us / 1e3
        layer_runs.append(sums)
    names = {name for run in layer_runs for name in run}
    medians = {name: statistics.median([run.get(name, 0.0) for run in layer_runs]) for name in names}
    totals = [sum(run.values()) for run in layer_runs]
    kernels_of: dict[str, list[str]] = {}
    for kernel, layer in kmap.kernels.items():
        kernels_of.setdefault(layer, []).append(kernel)
    return medians, kmap, statistics.median(totals) if totals else 0.0, kernels_of

