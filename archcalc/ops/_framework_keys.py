"""Layer keys as frameworks spell them (PyTorch, Keras, Caffe, ONNX, Flax), and what archcalc
calls them: an unknown key that is one of these is answered with the spec's key, never with a
near spelling of some other key (``activation`` is not ``dilation``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: framework key -> the archcalc keys it stands for, first match in the layer's schema wins
RENAMED: dict[str, tuple[str, ...]] = {
    "out_channels": ("filters",),
    "num_output": ("filters", "units"),
    "num_outputs": ("filters", "units"),
    "features": ("units", "filters"),
    "out_features": ("units", "filters"),
    "output_dim": ("units",),
    "hidden_size": ("units",),
    "kernel_size": ("kernel",),
    "kernel_shape": ("kernel",),
    "ksize": ("kernel",),
    "pool_size": ("kernel",),
    "window_shape": ("kernel",),
    "strides": ("stride",),
    "stride_size": ("stride",),
    "subsample": ("stride",),
    "pad": ("padding",),
    "pads": ("padding",),
    "dilation_rate": ("dilation",),
    "dilations": ("dilation",),
    "kernel_dilation": ("dilation",),
    "group": ("groups",),
    "num_groups": ("groups",),
    "feature_group_count": ("groups",),
    "use_bias": ("bias",),
    "bias_term": ("bias",),
    "output_size": ("size",),
    "scale_factor": ("scale",),
    "p": ("rate",),
    "drop_rate": ("rate",),
    "negative_slope": ("alpha",),
    "epsilon": ("eps",),
    "local_size": ("size",),
    "dim": ("axis",),
    "start_dim": ("axis",),
    "output_padding_size": ("output_padding",),
}

#: framework keys archcalc has no key for, and why
NOT_NEEDED: dict[str, str] = {
    "in_channels": "archcalc takes the input channels from the input shape",
    "in_features": "archcalc takes the input size from the input shape",
    "input_dim": "archcalc takes the input size from the input shape",
    "num_features": "archcalc takes the channels from the input shape",
    "input_shape": "archcalc takes it from the previous layer (the network's `input:` sets the first)",
    "activation": "archcalc has no fused activation: add a layer after it, e.g. {type: relu}",
    "padding_mode": "archcalc pads convolutions with zeros; a `pad` layer has `mode` (constant, reflect, edge)",
    "inplace": "in-place is a convention (--set inplace=true), not a layer key",
    "ceil_mode": "archcalc calls it 'rounding' (rounding: ceil)",
}

#: at or above this similarity a misspelt key is suggested (0.6, difflib's default, is too loose:
#: 'activation' would suggest 'dilation')
CUTOFF = 0.75


def key_hint(key: str, schema: Iterable[str]) -> str:
    """What to say after ``unknown key 'KEY' for layer type T``: the spec's name for a framework
    spelling, why the key is not needed, a near spelling of a key of this layer, or nothing."""
    keys = list(schema)
    lowered = key.lower()
    for target in RENAMED.get(lowered, ()):
        if target in keys:
            return f": archcalc calls it '{target}'"
    reason = NOT_NEEDED.get(lowered)
    if reason and not (lowered == "ceil_mode" and "rounding" not in keys):
        return f": {reason}"
    if lowered in RENAMED or lowered in NOT_NEEDED:
        return ""  # a framework key that this layer type has no counterpart for
    near = difflib.get_close_matches(key, keys, n=1, cutoff=CUTOFF)
    return f" (did you mean '{near[0]}'?)" if near else ""
