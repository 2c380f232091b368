"""The attention blocks of paper B's Table 3 networks, as serialisable Keras layers.

Paper B measured the PyTorch re-implementations published by Off-TANet's authors (SPEC.md,
"Paper B's Table 3 networks"); these blocks follow them layer for layer, channels-last. Every
convolution, batch norm, ReLU and pooling inside a block is its own Keras sublayer, so that
:mod:`microexp.models.torchstat` counts them as torchstat counts the PyTorch modules.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .attention import ChannelAttention, SpatialAttention


def position_code(size: int) -> np.ndarray:
    """Off-TANet's fixed (size, size) position code: P[i, j] = e_i + e_j, with
    e_i = sin(1 / 10000^(floor(i/2) / size)) for even i and cos(...) for odd i."""
    i = np.arange(size)
    angle = 1.0 / 10000.0 ** ((i // 2) / size)
    e = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    return (e[:, None] + e[None, :]).astype("float32")


def _conv(filters: int, kernel: int, name: str, use_bias: bool = True) -> layers.Conv2D:
    return layers.Conv2D(filters, kernel, padding="same", use_bias=use_bias, name=name)


class _Block(layers.Layer):
    """Builds its sublayers in order on the shapes they will see (so that weights exist before
    the first call, as ``.keras`` loading needs)."""

    def _build_chain(self, chain, shape) -> tuple:
        for layer in chain:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        return shape


@keras.saving.register_keras_serializable(package="microexp")
class MultiHeadSelfAttention2D(_Block):
    """Off-TANet's multi-head self-attention on a square (B, S, S, C) map.

    Per head, q, k and v are 1x1 convs C -> ``head_channels`` (with bias). Per head and per
    channel, with q, k, v as S x S matrices: A = q k^T + q P^T (matrix products over the
    spatial axes, P = :func:`position_code` (S)); A goes through a softmax over all its S*S
    entries; the output is A * v element-wise (not a matrix product). Heads are concatenated:
    (B, S, S, heads * head_channels).
    """

    def __init__(self, heads: int = 4, head_channels: int = 7, **kwargs) -> None:
        super().__init__(**kwargs)
        if heads < 1 or head_channels < 1:
            raise ValueError(
                f"heads and head_channels must be >= 1. Received: heads={heads}, "
                f"head_channels={head_channels}"
            )
        self.heads = heads
        self.head_channels = head_channels
        self.qkv = [
            [_conv(head_channels, 1, f"head{h}_{w}") for w in ("q", "k", "v")] for h in range(heads)
        ]

    def build(self, input_shape) -> None:
        if input_shape[1] != input_shape[2]:
            raise ValueError(
                f"{self.name}: the position code needs a square map. Received: {input_shape}"
            )
        for convs in self.qkv:
            for conv in convs:
                conv.build(input_shape)
        self.size = int(input_shape[1])
        super().build(input_shape)

    def _head(self, x, convs):
        # channels first: (B, d, S, S), so that matmul works over the spatial axes
        q, k, v = (ops.transpose(c(x), (0, 3, 1, 2)) for c in convs)
        pos = ops.convert_to_tensor(position_code(self.size).T, dtype=q.dtype)
        att = ops.matmul(q, ops.swapaxes(k, -1, -2)) + ops.matmul(q, pos)
        shape = ops.shape(att)
        flat = ops.reshape(att, (shape[0], shape[1], self.size * self.size))
        att = ops.reshape(ops.softmax(flat, axis=-1), shape)
        return ops.transpose(att * v, (0, 2, 3, 1))

    def call(self, x):
        heads = [self._head(x, convs) for convs in self.qkv]
        return heads[0] if len(heads) == 1 else ops.concatenate(heads, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.heads * self.head_channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "heads": self.heads, "head_channels": self.head_channels}


def _conv_bn_relu(filters: int, kernel: int, name: str) -> list[layers.Layer]:
    return [
        _conv(filters, kernel, f"{name}_conv"),
        layers.BatchNormalization(name=f"{name}_bn"),
        layers.ReLU(name=f"{name}_relu"),
    ]


def _apply(chain, x):
    for layer in chain:
        x = layer(x)
    return x


@keras.saving.register_keras_serializable(package="microexp")
class EnhancedResidual(_Block):
    """Off-TANet's enhanced residual (in -> ``filters``), then 2x2 max-pool.

    x0 = Conv 1x1 (in -> filters); x = Conv 3x3 (in -> in) + BN + ReLU; x = CA(x) * x with a
    CBAM channel gate whose shared MLP is in -> 1 -> in without bias; x = SA(x) * x with a 3x3
    spatial gate without bias; x = multi-head self-attention (``heads`` heads of in / heads
    channels); x = Conv 3x3 (in -> filters) + BN + ReLU; out = MaxPool2(x + x0).
    """

    def __init__(self, filters: int = 8, heads: int = 4, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = filters
        self.heads = heads

    def build(self, input_shape) -> None:
        cin = int(input_shape[-1])
        if cin % self.heads:
            raise ValueError(f"{self.name}: {cin} input channels do not split into {self.heads}")
        self.shortcut = _conv(self.filters, 1, "shortcut")
        self.conv1 = _conv_bn_relu(cin, 3, "conv1")
        self.channel = ChannelAttention(ratio=cin, use_bias=False, name="channel")
        self.spatial = SpatialAttention(3, use_bias=False, name="spatial")
        self.attention = MultiHeadSelfAttention2D(self.heads, cin // self.heads, name="mhsa")
        self.conv2 = _conv_bn_relu(self.filters, 3, "conv2")
        self.pool = layers.MaxPooling2D(2, name="pool")
        self.shortcut.build(input_shape)
        self.pool.build(self._build_chain(self._body(), input_shape))
        super().build(input_shape)

    def call(self, x):
        return self.pool(_apply(self._body(), x) + self.shortcut(x))

    def _body(self) -> list:
        """conv1, the channel, spatial and self-attention gates, conv2, in call order."""
        return [*self.conv1, self.channel, self.spatial, self.attention, *self.conv2]

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "heads": self.heads}


@keras.saving.register_keras_serializable(package="microexp")
class ARFResidual(_Block):
    """mini-AORCNN's ARF residual (in -> ``filters``): y = Conv 1x1 (in -> filters) of
    (x + [Conv 3x3 (in -> in) + BN + ReLU] x 2 (x)), then 2x2 max-pool."""

    def __init__(self, filters: int = 16, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape) -> None:
        cin = int(input_shape[-1])
        self.branch = [*_conv_bn_relu(cin, 3, "conv1"), *_conv_bn_relu(cin, 3, "conv2")]
        self.project = _conv(self.filters, 1, "project")
        self.pool = layers.MaxPooling2D(2, name="pool")
        self._build_chain([*self.branch, self.project, self.pool], input_shape)
        super().build(input_shape)

    def call(self, x):
        return self.pool(self.project(x + _apply(self.branch, x)))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="microexp")
class BottleneckTransformer(_Block):
    """mini-AORCNN's bottleneck transformer (in -> ``filters``): x0 = Conv 1x1 (in -> filters);
    two multi-head self-attentions (``heads`` heads of filters / heads channels: in -> filters,
    then filters -> filters); out = MaxPool2(x + x0)."""

    def __init__(self, filters: int = 8, heads: int = 4, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = filters
        self.heads = heads

    def build(self, input_shape) -> None:
        if self.filters % self.heads:
            raise ValueError(f"{self.name}: {self.filters} filters do not split into {self.heads}")
        d = self.filters // self.heads
        self.shortcut = _conv(self.filters, 1, "shortcut")
        self.attention = [MultiHeadSelfAttention2D(self.heads, d, name=f"mhsa{i}") for i in (1, 2)]
        self.pool = layers.MaxPooling2D(2, name="pool")
        self.shortcut.build(input_shape)
        shape = self._build_chain(self.attention, input_shape)
        self.pool.build(shape)
        super().build(input_shape)

    def call(self, x):
        return self.pool(_apply(self.attention, x) + self.shortcut(x))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "heads": self.heads}


@keras.saving.register_keras_serializable(package="microexp")
class MABlock(_Block):
    """Micro-Attention's MA block (in -> ``filters``), as in the re-implementation paper B
    measured.

    l1 = Conv 3x3 (in -> out) + BN + ReLU; l2 = Conv 3x3 (out -> out) + BN + ReLU;
    m = Conv 1x1 (in -> out); l3 = l2 + m; r = Conv 1x1 (3 out -> 3 out) of concat(l1, l2, m);
    a = softmax over all spatial positions of r's channel mean; out = l3 + l3 * a.
    """

    def __init__(self, filters: int = 64, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape) -> None:
        self.l1 = _conv_bn_relu(self.filters, 3, "l1")
        self.l2 = _conv_bn_relu(self.filters, 3, "l2")
        self.m = _conv(self.filters, 1, "m")
        self.r = _conv(3 * self.filters, 1, "r")
        shape = self._build_chain(self.l1, input_shape)
        self._build_chain(self.l2, shape)
        self.m.build(input_shape)
        self.r.build((*shape[:-1], 3 * self.filters))
        super().build(input_shape)

    def call(self, x):
        l1 = _apply(self.l1, x)
        l2 = _apply(self.l2, l1)
        m = self.m(x)
        l3 = l2 + m
        r = ops.mean(self.r(ops.concatenate([l1, l2, m], axis=-1)), axis=-1)
        shape = ops.shape(r)
        a = ops.softmax(ops.reshape(r, (shape[0], -1)), axis=-1)
        return l3 + l3 * ops.reshape(a, (shape[0], shape[1], shape[2], 1))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters}
