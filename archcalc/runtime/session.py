"""ONNX Runtime sessions on a device, and runs with IO binding.

:func:`open_session` is where a session is made and its providers verified (ORT falls back to
the CPU without failing, so the provider really used is read back from ``get_providers()``);
:class:`Runner` binds a session's inputs and outputs once so that ``run()`` is one inference.
``_new_session``, ``_to_device`` and ``_empty_like`` are the seams tests replace to simulate other
machines. onnxruntime and numpy are imported inside the functions that need them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError, DeviceError
from archcalc.runtime.affinity import pin_new_threads, snapshot
from archcalc.runtime.devices import DeviceChoice, device_for_provider


def _new_session(model: bytes | str, options: Any, providers: Sequence[str], disabled: Sequence[str] = ()) -> Any:
    """The one place a session is created (tests replace it to simulate other machines)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(4)  # ORT's own log lines (arena, telemetry, kernel errors) stay out of
    # archcalc's output: a failure reaches the user as one DeviceError line
    if disabled:
        return ort.InferenceSession(model, options, providers=list(providers), disabled_optimizers=list(disabled))
    return ort.InferenceSession(model, options, providers=list(providers))


def session_options(threads: int | None = None, *, profile_prefix: str | None = None,
                    optimized_path: str | None = None, spinning: bool = True) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
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
    """A session on ``choice``; refuses when ORT did not really give the asked-for provider.
    Opened inside ``affinity.pinned_caller``, its intra-op workers are pinned one per CPU."""
    options = session_options(threads, profile_prefix=profile_prefix, optimized_path=optimized_path,
                              spinning=spinning)
    before = snapshot()
    try:
        session = _new_session(model, options, choice.providers, disabled_optimizers)
    except Exception as exc:  # ORT raises its own exception types
        if isinstance(exc, ArchcalcError):
            raise
        raise ArchcalcError(f"onnxruntime cannot load the model: {str(exc).strip().splitlines()[0]}") from None
    choice.device.check_session(list(session.get_providers()))
    pin_new_threads(before)  # inside ``affinity.pinned_caller``: its workers one per CPU
    return session


class Runner:
    """One session with its inputs bound once (IO binding): ``run()`` is one timed inference.

    Outputs are bound to buffers allocated once, after one priming run tells their shapes, so no
    run pays for allocating (and first-touching) its outputs.
    """

    def __init__(self, session: Any, feeds: Mapping[str, Any]) -> None:
        self.session = session
        self.provider = str(session.get_providers()[0])
        self.device = device_for_provider(self.provider)
        self.binding = session.io_binding()
        self.io_binding = True
        for name, array in feeds.items():
            self.binding.bind_ortvalue_input(name, _to_device(array, self.device.name))
        names = [out.name for out in session.get_outputs()]
        for name in names:
            self.binding.bind_output(name, self.device.name, 0)
        try:
            self.run()  # priming run: output shapes and types
        except Exception as exc:  # onnxruntime's own errors (an allocation it cannot make, a bad kernel)
            if isinstance(exc, ArchcalcError):
                raise
            text = " ".join(str(exc).split())
            cut = text.find("Status Message:")
            raise DeviceError(f"onnxruntime cannot run the model: {text[cut + 16:] if cut >= 0 else text}"[:400]
                              ) from None
        produced = self.binding.get_outputs()
        if len(produced) == len(names):
            self.binding.clear_binding_outputs()
            for name, value in zip(names, produced, strict=True):
                self.binding.bind_ortvalue_output(name, _empty_like(value, self.device.name))

    def run(self) -> None:
        self.session.run_with_iobinding(self.binding)
        if self.device.synchronizes:
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
