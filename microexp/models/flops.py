"""Multiply-accumulate counts of a built Keras model, layer by layer (nothing hard-coded).

Counted: convolutions (output positions x kernel volume x input channels x filters, depthwise
where grouped), dense layers (inputs x units), batch normalisation (one multiply-add per output
element, as folded at inference), and attention gates (one multiply per gated element plus their
own MLP and conv). Not counted: activations, pooling, concatenation, bias additions (the usual
convention). FLOPs are reported as 2 x MACs.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import numpy as np


def _prod(shape: Iterable[int | None]) -> int:
    return int(np.prod([d for d in shape if d is not None]))


def _out_shape(layer) -> tuple:
    return tuple(layer.output.shape)


def layer_macs(layer) -> int:
    """MACs of one layer for a batch of one."""
    from ..layers import CBAM, ChannelAttention, SeparableConv3D, SpatialAttention

    L = keras.layers
    if isinstance(layer, SeparableConv3D):
        return _sep_macs(layer)
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)) and not isinstance(
        layer, L.DepthwiseConv2D
    ):
        kernel = layer.kernel.shape  # (*k, cin, cout)
        return _prod(_out_shape(layer)[1:-1]) * _prod(kernel)
    if isinstance(layer, L.Dense):
        return _prod(layer.kernel.shape)
    if isinstance(layer, L.BatchNormalization):
        return _prod(_out_shape(layer)[1:])
    if isinstance(layer, CBAM):
        shape = _out_shape(layer)
        return _channel_macs(layer.channel, shape) + _spatial_macs(layer.spatial, shape)
    if isinstance(layer, ChannelAttention):
        return _channel_macs(layer, _out_shape(layer))
    if isinstance(layer, SpatialAttention):
        return _spatial_macs(layer, _out_shape(layer))
    return 0


def _sep_macs(layer) -> int:
    positions = _prod(_out_shape(layer)[1:-1])
    return positions * (_prod(layer.conv_s.kernel.shape) + _prod(layer.conv_t.kernel.shape))


def _channel_macs(layer, shape: tuple) -> int:
    mlp = _prod(layer.hidden.kernel.shape) + _prod(layer.out.kernel.shape)
    return 2 * mlp + _prod(shape[1:])  # two pooled vectors through the MLP, then the gate


def _spatial_macs(layer, shape: tuple) -> int:
    positions = _prod(shape[1:-1])
    return positions * _prod(layer.conv.kernel.shape) + _prod(shape[1:])


def count_macs(model: keras.Model) -> dict[str, int]:
    """{layer name: MACs} for every layer with any, in model order."""
    out = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            for name, n in count_macs(layer).items():
                out[f"{layer.name}/{name}"] = n
            continue
        n = layer_macs(layer)
        if n:
            out[layer.name] = n
    return out


def total_macs(model: keras.Model) -> int:
    return sum(count_macs(model).values())
