"""CBAM (Woo et al. 2018) split as in timm: channel attention, spatial attention, and the module
that chains them. Serialisable Keras layers; the reduction ratio is a parameter."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="microexp")
class ChannelAttention(layers.Layer):
    """Channel gate: sigmoid(MLP(avg-pool(x)) + MLP(max-pool(x))) times x, one shared MLP
    C -> C/ratio -> C (ReLU inside). Works on 2D (B, H, W, C) and 3D (B, D, H, W, C) maps.
    ``use_bias=False``: the MLP without biases (Off-TANet's)."""

    def __init__(
        self, ratio: int = 2, activation: str = "relu", use_bias: bool = True, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if ratio < 1:
            raise ValueError(f"ratio must be >= 1. Received: ratio={ratio}")
        self.ratio = ratio
        self.activation = activation
        self.use_bias = use_bias

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        hidden = max(1, channels // self.ratio)
        self.hidden = layers.Dense(
            hidden, activation=self.activation, use_bias=self.use_bias, name="mlp_hidden"
        )
        self.out = layers.Dense(channels, use_bias=self.use_bias, name="mlp_out")
        self.hidden.build((None, channels))
        self.out.build((None, hidden))
        super().build(input_shape)

    def call(self, x):
        axes = tuple(range(1, len(x.shape) - 1))
        avg = self.out(self.hidden(ops.mean(x, axis=axes)))
        mx = self.out(self.hidden(ops.max(x, axis=axes)))
        gate = ops.sigmoid(avg + mx)
        for _ in axes:
            gate = ops.expand_dims(gate, 1)
        return x * gate

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "ratio": self.ratio,
            "activation": self.activation,
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package="microexp")
class SpatialAttention(layers.Layer):
    """Spatial gate: sigmoid(conv([mean_c(x), max_c(x)])) times x. Paper B: a 3x3 conv (CBAM's
    paper uses 7x7); ``kernel_size`` is a parameter; ``use_bias=False`` as in Off-TANet."""

    def __init__(self, kernel_size: int = 3, use_bias: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.use_bias = use_bias

    def build(self, input_shape) -> None:
        self.conv = layers.Conv2D(
            1,
            self.kernel_size,
            padding="same",
            activation="sigmoid",
            use_bias=self.use_bias,
            name="conv",
        )
        self.conv.build((*input_shape[:-1], 2))
        super().build(input_shape)

    def call(self, x):
        pooled = ops.concatenate(
            [ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)], axis=-1
        )
        return x * self.conv(pooled)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package="microexp")
class CBAM(layers.Layer):
    """Convolutional block attention module: channel attention, then spatial attention."""

    def __init__(self, ratio: int = 2, kernel_size: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ratio = ratio
        self.kernel_size = kernel_size
        self.channel = ChannelAttention(ratio, name="channel")
        self.spatial = SpatialAttention(kernel_size, name="spatial")

    def build(self, input_shape) -> None:
        self.channel.build(input_shape)
        self.spatial.build(input_shape)
        super().build(input_shape)

    def call(self, x):
        return self.spatial(self.channel(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "ratio": self.ratio, "kernel_size": self.kernel_size}


def attention_layer(
    kind: str | None, ratio: int = 2, kernel_size: int = 3, name: str | None = None
):
    """``None``/"none" -> None, else ChannelAttention, SpatialAttention or CBAM."""
    if kind in (None, "none"):
        return None
    if kind == "channel":
        return ChannelAttention(ratio, name=name)
    if kind == "spatial":
        return SpatialAttention(kernel_size, name=name)
    if kind == "cbam":
        return CBAM(ratio, kernel_size, name=name)
    raise ValueError(
        f"attention must be None, 'channel', 'spatial' or 'cbam'. Received: attention={kind!r}"
    )
