"""A quick calibration of a GPU's roofline on ORT's CUDA execution provider: the MatMul
throughput, the copy bandwidth and the per-kernel launch overhead measured here, in the same
form as a datasheet (:class:`~archcalc.estimate.datasheets.Datasheet`), so the datasheet roofline
and the measured one can be put side by side against measured times.

Three micro-benchmarks (wall time, IO binding, outputs synchronised): a fp32 MatMul of
``MATMUL_N``^3, a ReLU over ``COPY_FLOATS`` floats (read + write), and chains of 1 and 33 tiny
ReLUs (the difference over 32 is one kernel's launch). A session that did not come up on CUDA is
refused by :func:`~archcalc.runtime.session.open_session`: a CPU time is never called a GPU one.
"""

from __future__ import annotations

from archcalc.errors import CalibrationError
from archcalc.estimate.datasheets import Datasheet
from archcalc.estimate.microbench import Bench, chain_model, copy_model, gemm_model
from archcalc.estimate.shapes import F32, GemmShape
from archcalc.runtime.devices import DeviceChoice
from archcalc.runtime.timing import Progress

MATMUL_N = 4096
COPY_FLOATS = 1 << 26  # 256 MiB read, 256 MiB written


def measure_roofline(choice: DeviceChoice, *, gpu: str | None = None, progress: Progress | None = None,
                     runs: int = 20) -> Datasheet:
    """The roofline measured on ``choice`` (a CUDA device): TFLOP/s, GB/s and launch microseconds."""
    if choice.device.name != "cuda":
        raise CalibrationError(f"the GPU roofline is measured on CUDA, not on {choice.device.name}")
    bench = Bench(choice, None)
    steps = 4
    if progress:
        progress("calibrating this GPU's roofline (MatMul, copy, launch), about 10 s", 0, steps)
    gemm = GemmShape(MATMUL_N, MATMUL_N, MATMUL_N)
    matmul_s = bench.wall(gemm_model([gemm])[0], runs=runs, warmup=3)
    if progress:
        progress("calibrate: MatMul", 1, steps)
    copy_s = bench.wall(copy_model([COPY_FLOATS])[0], runs=runs, warmup=3)
    if progress:
        progress("calibrate: copy", 2, steps)
    one = bench.wall(chain_model("Relu", 1, (1, 16)), runs=runs * 5, warmup=10)
    many = bench.wall(chain_model("Relu", 33, (1, 16)), runs=runs * 5, warmup=10)
    if progress:
        progress("calibrate: launch", 3, steps)
    if min(matmul_s, copy_s, one, many) <= 0:
        raise CalibrationError("a GPU micro-benchmark took no time: the timer or the session is broken")
    launch_us = max((many - one) / 32 * 1e6, 0.1)
    tflops = gemm.flops / max(matmul_s - one, matmul_s * 0.5) / 1e12
    gbs = 2 * COPY_FLOATS * F32 / max(copy_s - one, copy_s * 0.5) / 1e9
    if progress:
        progress("calibrate: done", 4, steps)
    return Datasheet("measured", gpu or "this GPU", {"fp32": tflops, "tf32": tflops, "fp16": tflops, "bf16": tflops},
                     gbs, f"measured here on ORT's CUDA provider: MatMul {MATMUL_N}^3 fp32, copy of "
                          f"{COPY_FLOATS * F32 >> 20} MiB, chains of 1 and 33 tiny kernels", launch_us,
                     ("fp32 MatMul throughput (ORT may use TF32 tensor cores for it), used for every precision",))
