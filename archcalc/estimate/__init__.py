"""Device calibration with ONNX Runtime micro-benchmarks, its cache, and the latency estimator.

**Calibration** (:func:`calibrate`, :mod:`~archcalc.estimate.suite`) measures the device with
synthetic models only (:mod:`~archcalc.estimate.microbench`, shapes from
:mod:`~archcalc.estimate.samples`), never with a model being estimated: per-kernel and per-run
overheads (chains of tiny ops), memory bandwidth by working-set size (copies),
elementwise/LRN/pooling/softmax costs, GEMM kernels over a spread of (M, K, N), and convolution
kernels over a generic, seeded sample of shapes in four classes (regular, pointwise 1x1,
few-input-channel "first layer", depthwise) with batch 1-8. Kernel times come from ORT's profiler
(minus its own per-kernel overhead, calibrated too); overheads from wall times. The machines
drift, so probes (:mod:`~archcalc.estimate.probes`) run before every block of measurements and
each block is scaled to the calibration's median probe by the probes on both sides of it; every
point is the median of its repeats, and a point whose repeats disagree is measured again, or
dropped when it disagrees again (:mod:`~archcalc.estimate.noise`, said in the profile).

**Estimation** (:func:`estimate_latency`, :mod:`~archcalc.estimate.model`) predicts each layer
from the analysis: which kernels ORT will run (:mod:`~archcalc.estimate.kernels`: conv/gemm
absorb following batchnorm, activations and residual adds; no-ops vanish; NCHWc layout reorders
where blocked and plain tensors meet), then per kernel a fixed cost plus work: convolutions at the
efficiency interpolated from the nearest calibrated shapes (log-space features: channels per
group, output size, batch, kernel, stride), GEMMs likewise, everything else as bytes over the
bandwidth for that working set or per-element costs. The total adds the per-run overhead. The
estimate is scaled by probes measured at the time of use (and by the preemption they saw, for
runs longer than a scheduler slice), and carries the band the measured noise allows
(``Estimate.band``).

Numbers live in a :class:`DeviceProfile` (:mod:`~archcalc.estimate.deviceprofile`), cached as
JSON (:mod:`~archcalc.estimate.calibration`); a cache from another ORT version, CPU, device or
thread setting, or that does not parse, is rebuilt rather than trusted.
"""

from __future__ import annotations

from archcalc.errors import CalibrationError
from archcalc.estimate.calibration import (
    cache_dir,
    cache_path,
    check_profile_matches,
    device_profile,
    expected_key,
    load_cached,
    save_profile,
)
from archcalc.estimate.deviceprofile import SCHEMA_VERSION, SUITE_VERSION, DeviceProfile
from archcalc.estimate.kernels import SMALL_KERNEL_US
from archcalc.estimate.layout import executed_conv, nchwc_block
from archcalc.estimate.microbench import (
    FIXED_CHAINS,
    OPSET,
    Bench,
    chain_model,
    conv_model,
    copy_model,
    gemm_model,
    kernel_of,
    median_time,
    model_of,
    ops_model,
)
from archcalc.estimate.model import Estimate, LayerEstimate, estimate_latency
from archcalc.estimate.probes import Probes, drift_of
from archcalc.estimate.samples import COPY_SIZES, conv_samples, gemm_samples
from archcalc.estimate.shapes import F32, ConvShape, GemmShape, conv_class
from archcalc.estimate.suite import calibrate

__all__ = [
    "COPY_SIZES", "F32", "FIXED_CHAINS", "OPSET", "SCHEMA_VERSION", "SMALL_KERNEL_US", "SUITE_VERSION", "Bench",
    "CalibrationError", "ConvShape", "DeviceProfile", "Estimate", "GemmShape", "LayerEstimate", "Probes",
    "cache_dir", "cache_path", "calibrate", "chain_model", "check_profile_matches", "conv_class", "conv_model",
    "conv_samples", "copy_model", "device_profile", "drift_of", "estimate_latency", "executed_conv",
    "expected_key", "gemm_model", "gemm_samples", "kernel_of", "load_cached", "median_time", "model_of",
    "nchwc_block", "ops_model", "save_profile",
]
