"""CUDA on this machine: why ORT's CUDA provider cannot run here, and the GPU's name.

Separate checks tell "CUDA libraries missing" (the provider library, or a CUDA/cuDNN library it
links, cannot be loaded) from "no CUDA device" (no driver, or a driver without a GPU). Callers
look these functions up on the module (``cuda.cuda_problems()``), so tests can replace them to
simulate other machines. onnxruntime is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from archcalc.runtime.providers import CUDA


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

