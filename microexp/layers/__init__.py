"""Custom Keras layers, registered as serialisable under the ``microexp`` package."""

from .attention import CBAM, ChannelAttention, SpatialAttention, attention_layer
from .separable3d import SeparableConv3D

__all__ = ["CBAM", "ChannelAttention", "SeparableConv3D", "SpatialAttention", "attention_layer"]
