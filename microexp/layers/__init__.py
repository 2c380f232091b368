"""Custom Keras layers, registered as serialisable under the ``microexp`` package."""

from .attention import CBAM, ChannelAttention, SpatialAttention, attention_layer
from .blocks import (
    ARFResidual,
    BottleneckTransformer,
    EnhancedResidual,
    MABlock,
    MultiHeadSelfAttention2D,
    position_code,
)
from .channels import SelectChannel
from .separable3d import SeparableConv3D

__all__ = [
    "ARFResidual",
    "BottleneckTransformer",
    "CBAM",
    "ChannelAttention",
    "EnhancedResidual",
    "MABlock",
    "MultiHeadSelfAttention2D",
    "SelectChannel",
    "SeparableConv3D",
    "SpatialAttention",
    "attention_layer",
    "position_code",
]
