"""Devices: one class per device archcalc times on (CPU, CUDA), each owning its provider list,
the reasons it refuses to run, its IO binding decisions and its names.

A device string (``"auto"``, ``"cpu"``, ``"cuda"``) is parsed once, by :func:`choose_device`, where
it enters (an API call, a CLI option); everything below works on :class:`Device` objects. ONNX
Runtime silently falls back to the CPU when the CUDA provider cannot load, so a device also checks
the providers a session really got (``session.get_providers()``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from archcalc.errors import ArchcalcError, DeviceError
from archcalc.runtime import cuda
from archcalc.runtime.providers import CPU, CUDA, GPU_PROVIDERS

AUTO = "auto"
#: what a device request may say
DEVICES = (AUTO, "cpu", "cuda")


class Device(Protocol):
    """What the runtime needs to know about a device."""

    @property
    def name(self) -> str:
        """``cpu`` or ``cuda``: in results and cache names, and ORT's device for IO binding."""

    @property
    def label(self) -> str:
        """How messages name it (``CPU``, ``CUDA``)."""

    @property
    def providers(self) -> tuple[str, ...]:
        """The execution providers to ask ORT for, in order."""

    @property
    def synchronizes(self) -> bool:
        """Whether a run must wait for its outputs (IO binding on a device with its own memory)."""

    @property
    def estimable(self) -> bool:
        """Whether archcalc's latency model describes this device's kernels."""

    def problems(self) -> list[str]:
        """Why this device cannot run here (empty when nothing stands in the way)."""

    def refusal(self, problems: Sequence[str]) -> DeviceError:
        """The error for a request of this device where it cannot run."""

    def check_session(self, used: Sequence[str]) -> None:
        """Refuse a session whose providers (as ORT reports them) are not this device's."""

    def gpu_name(self) -> str | None:
        """The GPU's name, for a GPU device the driver answers for."""

    def display_name(self, cpu: str, gpu: str | None) -> str:
        """The device's name in results: the CPU model, or the GPU's."""


@dataclass(frozen=True)
class CpuDevice:
    """ORT's CPU execution provider: host memory, nothing to wait for after a run."""

    name: str = "cpu"
    label: str = "CPU"
    providers: tuple[str, ...] = (CPU,)
    synchronizes: bool = False
    estimable: bool = True

    def problems(self) -> list[str]:
        return []

    def refusal(self, problems: Sequence[str]) -> DeviceError:
        return DeviceError("--device cpu cannot run here: " + "; ".join(problems))

    def check_session(self, used: Sequence[str]) -> None:
        return None

    def gpu_name(self) -> str | None:
        return None

    def display_name(self, cpu: str, gpu: str | None) -> str:
        return cpu


@dataclass(frozen=True)
class CudaDevice:
    """ORT's CUDA execution provider (the CPU provider behind it for unsupported ops), with IO
    binding: inputs and outputs on the GPU, the device synchronised after each run."""

    name: str = "cuda"
    label: str = "CUDA"
    providers: tuple[str, ...] = (CUDA, CPU)
    synchronizes: bool = True
    #: the estimator models ORT's CPU kernels only (for now)
    estimable: bool = False

    def problems(self) -> list[str]:
        return cuda.cuda_problems()

    def refusal(self, problems: Sequence[str]) -> DeviceError:
        return DeviceError("--device cuda: CUDA cannot run here: " + "; ".join(problems)
                           + " (nothing was timed; --device cpu times the CPU)")

    def check_session(self, used: Sequence[str]) -> None:
        if not used or used[0] != CUDA:
            raise DeviceError(
                f"CUDA was asked for, but onnxruntime runs this session on {', '.join(used) or 'nothing'} "
                f"(the CUDA provider failed to load: {'; '.join(cuda.cuda_problems()) or 'reason not reported'}); "
                f"nothing was timed"
            )

    def gpu_name(self) -> str | None:
        return cuda.gpu_name()

    def display_name(self, cpu: str, gpu: str | None) -> str:
        return gpu or "CUDA device"


@dataclass(frozen=True)
class DeviceChoice:
    """The device to run on, whether it was chosen automatically, and why (notes)."""

    device: Device
    notes: tuple[str, ...] = ()
    auto: bool = False

    @property
    def providers(self) -> tuple[str, ...]:
        return self.device.providers

    def fallback(self, reason: str) -> DeviceChoice | None:
        """An automatic choice whose device did not come up falls back to the CPU, saying why;
        None when there is nothing to fall back to (the device was asked for, or is the CPU)."""
        if not self.auto or isinstance(self.device, CpuDevice):
            return None
        return DeviceChoice(CpuDevice(), (*self.notes, f"{self.device.label} not used: {reason}"), auto=True)


def device_named(name: str) -> Device:
    """The device called ``name`` (``cpu`` or ``cuda``)."""
    if name == CpuDevice.name:
        return CpuDevice()
    if name == CudaDevice.name:
        return CudaDevice()
    raise ArchcalcError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")


def choose_device(request: Device | str = AUTO) -> DeviceChoice:
    """Parse a device request and decide the device before any session exists: ``auto`` takes
    CUDA when nothing stands in its way, else the CPU (with a note); a named device (or a Device)
    that cannot run here is refused with the reasons."""
    if isinstance(request, str) and request not in DEVICES:
        raise ArchcalcError(f"device must be one of {', '.join(DEVICES)}, got {request!r}")
    if request == AUTO:
        gpu = CudaDevice()
        problems = gpu.problems()
        if problems:
            return DeviceChoice(CpuDevice(), (f"{gpu.label} not used: {'; '.join(problems)}",), auto=True)
        return DeviceChoice(gpu, auto=True)
    device = device_named(request) if isinstance(request, str) else request
    problems = device.problems()
    if problems:
        raise device.refusal(problems)
    return DeviceChoice(device)


def device_for_provider(provider: str) -> Device:
    """The device a session runs on, from the first provider it reports."""
    return CudaDevice() if provider in GPU_PROVIDERS else CpuDevice()


def provider_device(provider: str) -> str:
    """The name of the device a provider runs on."""
    return device_for_provider(provider).name


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def load_average() -> float | None:
    """The 1-minute load average (None where the OS keeps none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
