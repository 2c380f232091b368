"""Paper A's separable 3D convolution: a spatial (3, 3, 1) conv with its own activation, then a
temporal (1, 1, 3) conv, on (batch, H, W, T, C) tensors (the paper's H x W x T x C layout)."""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="microexp")
class SeparableConv3D(layers.Layer):
    """Spatial conv (k, k, 1) -> activation -> temporal conv (1, 1, kt) -> activation.

    Parameters: (k*k*C_in + 1) * filters + (kt*filters + 1) * filters; "same" padding (paper A's
    output sizes imply it). Not Keras' depthwise-separable convolution: both convs mix channels.
    ``kernel_initializer``: He normal by default (paper A is silent; see :func:`build_s3d`).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        temporal_size: int = 3,
        activation: str = "relu",
        kernel_initializer: str = "he_normal",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if filters < 1:
            raise ValueError(f"filters must be >= 1. Received: filters={filters}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.temporal_size = temporal_size
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        k, kt = kernel_size, temporal_size
        common = {
            "padding": "same",
            "activation": activation,
            "kernel_initializer": kernel_initializer,
        }
        self.conv_s = layers.Conv3D(filters, (k, k, 1), name="conv_s", **common)
        self.conv_t = layers.Conv3D(filters, (1, 1, kt), name="conv_t", **common)

    def build(self, input_shape) -> None:
        self.conv_s.build(input_shape)
        self.conv_t.build((*input_shape[:-1], self.filters))
        super().build(input_shape)

    def call(self, x):
        return self.conv_t(self.conv_s(x))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "temporal_size": self.temporal_size,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
        }
