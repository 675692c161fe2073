"""The runtime/estimate layout: one class per device (parsed once from a device string), and
import arrows that point one way: ``archcalc.measure`` on top, ``archcalc.estimate`` below it,
``archcalc.runtime`` at the bottom, no cycle among them (imports inside functions count; only
``if TYPE_CHECKING:`` imports are exempt), every module under 400 lines."""

from __future__ import annotations

import pytest

from archcalc.errors import ArchcalcError, DeviceError
from archcalc.runtime import cuda
from archcalc.runtime.devices import (
    CpuDevice,
    CudaDevice,
    DeviceChoice,
    choose_device,
    device_for_provider,
    device_named,
)
from archcalc.runtime.providers import CPU, CUDA, TENSORRT
from tests.conftest import ROOT
from tests.test_layout import _imports, _modules

PACKAGE = ROOT / "archcalc"
OURS = ("archcalc.runtime", "archcalc.estimate", "archcalc.measure")


def test_each_device_owns_its_providers_binding_and_names() -> None:
    cpu, gpu = CpuDevice(), CudaDevice()
    assert (cpu.name, cpu.providers, cpu.synchronizes, cpu.estimable) == ("cpu", (CPU,), False, True)
    assert (gpu.name, gpu.providers, gpu.synchronizes, gpu.estimable) == ("cuda", (CUDA, CPU), True, False)
    assert cpu.display_name("Some CPU", None) == "Some CPU" and cpu.gpu_name() is None
    assert gpu.display_name("Some CPU", "Some GPU") == "Some GPU" and gpu.display_name("Some CPU", None) == "CUDA device"
    assert device_named("cpu") == cpu and device_named("cuda") == gpu
    assert device_for_provider(CPU) == cpu and device_for_provider(CUDA) == gpu == device_for_provider(TENSORRT)
    with pytest.raises(ArchcalcError, match="device must be one of auto, cpu, cuda"):
        device_named("auto")


def test_a_cuda_session_on_the_cpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuda, "cuda_problems", lambda: ["no CUDA device: test"])
    CpuDevice().check_session([CPU])
    CudaDevice().check_session([CUDA, CPU])
    with pytest.raises(DeviceError, match=r"runs this session on CPUExecutionProvider \(.*no CUDA device: test"):
        CudaDevice().check_session([CPU])


def test_choices_and_the_automatic_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuda, "cuda_problems", lambda: [])
    auto = choose_device("auto")
    assert auto == DeviceChoice(CudaDevice(), auto=True) and auto.providers == (CUDA, CPU)
    fallback = auto.fallback("the provider did not load")
    assert fallback == DeviceChoice(CpuDevice(), ("CUDA not used: the provider did not load",), auto=True)
    assert fallback.fallback("again") is None  # the CPU has nothing to fall back to
    assert choose_device("cuda").fallback("asked for: no fallback") is None
    assert choose_device(CpuDevice()) == DeviceChoice(CpuDevice())
    monkeypatch.setattr(cuda, "cuda_problems", lambda: ["no CUDA device: test"])
    assert choose_device("auto") == DeviceChoice(CpuDevice(), ("CUDA not used: no CUDA device: test",), auto=True)
    with pytest.raises(DeviceError, match="CUDA cannot run here: no CUDA device: test"):
        choose_device(CudaDevice())


def _layer(module: str) -> int:
    return next(i for i, top in enumerate(OURS) if module == top or module.startswith(top + "."))


def test_runtime_estimate_and_measure_import_one_way() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}  # as tests/test_layout.py
    ours = [m for m in graph if m.startswith(OURS)]
    assert len(ours) > 10
    for module in ours:
        for target in graph[module]:
            if target.startswith(OURS):  # runtime (0) <- estimate (1) <- measure (2)
                assert _layer(target) <= _layer(module), f"{module} imports {target}, which sits above it"
    # cycles and module sizes: tests/test_layout.py, for the whole package
