"""The cheap-op costs that differ between counting tools: activations, pooling and BatchNorm
FLOPs under the ``activation_flops``, ``pool_flops`` and ``bn_flops`` conventions.

Each op states its own (archcalc) cost in ``Cost.cheap``; ``cheap_value`` returns what the
conventions count instead, from the layer's kind, function and element counts. Pure integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archcalc.choices import ActivationFlops, PoolFlops

#: ptflops (PyTorch backend, 0.7.5): elements counted per activation function, as the number of
#: hooks that see the tensor: nn.ReLU is hooked and calls the patched F.relu (2); nn.ReLU6 is
#: hooked and calls F.hardtanh, which is not patched (1); tanh is neither (0). ReLU, ReLU6 and
#: tanh are measured (tests/reference/peer_counts.yaml); the others follow ptflops' tables.
PTFLOPS_ACTIVATION: dict[str, int] = {
    "relu": 2, "prelu": 2, "elu": 2, "relu6": 1, "leaky_relu": 1, "gelu": 1, "softmax": 1,
}

#: pooling layer types (a ``reduce`` is torch.mean & co., which neither tool counts)
POOLS = frozenset({"maxpool", "avgpool", "adaptive_avgpool", "global_avgpool", "global_maxpool"})


def cheap_value(category: str, value: int, kind: str, attrs: Mapping[str, Any], n_in: int, n_out: int,
                activation: ActivationFlops, pool: PoolFlops, bn: int) -> int:
    """The FLOPs counted for one cheap op: ``value`` (the op's own cost) unless a convention
    says otherwise. ``n_in``/``n_out``: elements of the first input / the output(s). A layer
    with ``module: false`` is a function call in the framework code, which hooks on modules miss."""
    module = attrs.get("module", True) is not False
    if category == "activation" and kind == "activation" and activation == ActivationFlops.PTFLOPS:
        # a functional ReLU (torchvision GoogLeNet's BasicConv2d) measured 0
        return PTFLOPS_ACTIVATION.get(str(attrs.get("fn")), 0) * n_out if module else 0
    if category == "norm" and kind == "batchnorm":
        return bn * n_out
    if category == "pool" and pool != PoolFlops.WINDOW:
        if pool == PoolFlops.INPUT:
            return n_in
        if kind not in POOLS:
            return 0
        if pool == PoolFlops.PTFLOPS:  # module hook + the patched F.*pool* it calls; a bare call: 1
            return 2 * n_in if module else n_in
        if not module:
            return 0
        if kind == "avgpool":
            return n_out
        if kind in ("adaptive_avgpool", "global_avgpool"):
            return n_in + n_out
        return 0
    return value
