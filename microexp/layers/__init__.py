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
from .nest import LocalTransformer, PaddedMaxPool2D
from .separable3d import SeparableConv3D

__all__ = [
    "ARFResidual",
    "BottleneckTransformer",
    "CBAM",
    "ChannelAttention",
    "EnhancedResidual",
    "LocalTransformer",
    "MABlock",
    "MultiHeadSelfAttention2D",
    "PaddedMaxPool2D",
    "SelectChannel",
    "SeparableConv3D",
    "SpatialAttention",
    "attention_layer",
    "position_code",
]
