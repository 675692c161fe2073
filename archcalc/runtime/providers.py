"""The names of ONNX Runtime's execution providers archcalc asks for or reads back."""

from __future__ import annotations

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
#: providers whose sessions run on a CUDA device
GPU_PROVIDERS = (CUDA, TENSORRT)
