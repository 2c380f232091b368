"""Multiply-accumulate counts of a built Keras model, layer by layer (nothing hard-coded).

Counted, from the shapes each layer saw (:func:`.walk.called_layers`): convolutions (output
positions x kernel volume x input channels x filters), dense layers (inputs x units per row),
batch normalisation (one multiply-add per output element, as folded at inference), and the
attention gates (one multiply per gated element; CBAM's shared MLP once per pooled vector).
Not counted: activations, pooling, concatenation, bias additions, and tensor operations
outside layers (the self-attention's matrix products). FLOPs are reported as 2 x MACs. Paper
B's own convention is :mod:`.torchstat`.
"""

from __future__ import annotations

import keras
import numpy as np

from .walk import Call, called_layers


def _prod(shape) -> int:
    return int(np.prod([int(d) for d in shape if d is not None]))


def call_macs(call: Call) -> int:
    """MACs of one recorded call for a batch of one (nested blocks: their own part only)."""
    from ..layers import ChannelAttention, SpatialAttention

    L = keras.layers
    layer, out = call.layer, call.out_shape
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)) and not isinstance(
        layer, L.DepthwiseConv2D
    ):
        return _prod(out[1:-1]) * _prod(layer.kernel.shape)
    if isinstance(layer, L.Dense):
        return _prod(layer.kernel.shape) * (_prod(out[1:]) // int(out[-1]))
    if isinstance(layer, L.BatchNormalization):
        return _prod(out[1:])
    if isinstance(layer, ChannelAttention):
        # the MLP's layers are recorded once (their last call); add the other pooled vector
        return _prod(layer.hidden.kernel.shape) + _prod(layer.out.kernel.shape) + _prod(out[1:])
    if isinstance(layer, SpatialAttention):
        return _prod(out[1:])
    return 0


def count_macs(model: keras.Model) -> dict[str, int]:
    """{layer path: MACs} for every layer with any, in call order ("block/conv" for nested)."""
    out: dict[str, int] = {}
    for call in called_layers(model):
        n = call_macs(call)
        if n:
            out[call.path] = out.get(call.path, 0) + n
    return out


def total_macs(model: keras.Model) -> int:
    return sum(count_macs(model).values())
