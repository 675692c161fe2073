"""The runtime/estimate layout: one class per device (parsed once from a device string), and
import arrows that point one way: ``archcalc.measure`` on top, ``archcalc.estimate`` below it,
``archcalc.runtime`` at the bottom, no cycle among them (imports inside functions count; only
``if TYPE_CHECKING:`` imports are exempt), every module under 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

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


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """archcalc modules ``name`` imports anywhere but under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for top in ast.walk(tree) if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
               for node in ast.walk(top)}
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rsplit(".", 1)[0] if "." in target else ""
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def _layer(module: str) -> int:
    return next(i for i, top in enumerate(OURS) if module == top or module.startswith(top + "."))


def test_runtime_estimate_and_measure_import_one_way() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    ours = [m for m in graph if m.startswith(OURS)]
    assert len(ours) > 10
    for module in ours:
        for target in graph[module]:
            if target.startswith(OURS):  # runtime (0) <- estimate (1) <- measure (2)
                assert _layer(target) <= _layer(module), f"{module} imports {target}, which sits above it"
    # no cycle through any of them
    state: dict[str, int] = {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target):], target]
                assert not any(m.startswith(OURS) for m in cycle), "import cycle: " + " -> ".join(cycle)
            elif not state.get(target):
                visit(target, [*stack, target])
        state[module] = 2

    for module in ours:
        if not state.get(module):
            visit(module, [module])


def test_runtime_and_estimate_modules_stay_small() -> None:
    for name, path in _modules().items():
        if name.startswith(OURS):
            lines = len(path.read_text().splitlines())
            assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines"
