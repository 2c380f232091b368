"""The four attention networks of paper B's Table 3, as paper B measured them.

Paper B's Table 3 counts come from the PyTorch re-implementations that Off-TANet's authors
published (the ECNU Cross-Innovation Lab repositories ``PRICAI2021-Off-TANet`` and
``mini-AORCNN``), run with ``torchstat`` on a 3 x 128 x 128 (u, v, strain) input. These builds
follow those re-implementations layer for layer at 128 x 128 (SPEC.md, "Paper B's Table 3
networks"), channels-last. Convolutions use "same" padding; with stride 2 TensorFlow pads one
pixel more after than before where PyTorch pads symmetrically, which shifts windows by a pixel
and changes no count. Every ReLU is its own layer, as the PyTorch modules are. The heads end in
a softmax (the PyTorch code returns logits to a cross-entropy loss; the softmax costs nothing in
either count).
"""

from __future__ import annotations

import keras
from keras import layers

from ..layers import ARFResidual, BottleneckTransformer, EnhancedResidual, MABlock


def _conv(x, filters: int, kernel: int, name: str, **kwargs):
    return layers.Conv2D(filters, kernel, padding="same", name=name, **kwargs)(x)


def _stem(x, filters: int, batch_norm: bool):
    """Conv 7x7 stride 2, ReLU, then BatchNorm when asked (ReLU before BN, as the code has)."""
    x = _conv(x, filters, 7, "stem_conv", strides=2)
    x = layers.ReLU(name="stem_relu")(x)
    return layers.BatchNormalization(name="stem_bn")(x) if batch_norm else x


def _residual(x, filters: int, batch_norm: bool, name: str):
    """[Conv 3x3 (+ BN) + ReLU] x 2 plus a 1x1 conv shortcut (bias, no activation), summed,
    then MaxPool 2: Off-TANet's residual (with BN) and MACNN's residual block (without)."""
    y = x
    for i in (1, 2):
        y = _conv(y, filters, 3, f"{name}_conv{i}")
        if batch_norm:
            y = layers.BatchNormalization(name=f"{name}_bn{i}")(y)
        y = layers.ReLU(name=f"{name}_relu{i}")(y)
    shortcut = _conv(x, filters, 1, f"{name}_shortcut")
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.MaxPooling2D(2, name=f"{name}_pool")(y)


def _head(x, units: tuple[int, ...], dropout: float, num_classes: int):
    """Flatten, [Dense + ReLU + Dropout] per hidden layer, Dense softmax."""
    x = layers.Flatten(name="flatten")(x)
    for i, n in enumerate(units, start=1):
        x = layers.Dense(n, name=f"fc{i}")(x)
        x = layers.ReLU(name=f"fc{i}_relu")(x)
        x = layers.Dropout(dropout, name=f"dropout{i}")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")(x)


def _input(input_size: int):
    return keras.Input((input_size, input_size, 3), name="flow")


def build_offtanet(
    num_classes: int = 3,
    input_size: int = 128,
    widths: tuple[int, int, int] = (8, 18, 28),
    filters: int = 8,
    heads: int = 4,
    dense_units: tuple[int, ...] = (64, 64),
    dropout: float = 0.5,
    name: str = "offtanet",
) -> keras.Model:
    """Off-TANet (Zhang, Liu, Zhou, PRICAI 2021), as re-implemented in ``PRICAI2021-Off-TANet``
    and measured by paper B: stem (Conv 7x7/2 3 -> 8, ReLU, BN), residuals 8 -> 18 and
    18 -> 28, an enhanced residual 28 -> 8 (channel, spatial and 4-head self-attention), then
    Dense 64 -> 64 -> classes with dropout 0.5. At 128 px: 67,083 parameters, a 16 x 16
    attention map, 512 flattened features. The original paper's network takes 112 px
    onset-apex flow; its code's flatten size (392) is the 112 px one."""
    inputs = _input(input_size)
    x = _stem(inputs, widths[0], batch_norm=True)
    x = _residual(x, widths[1], True, "res1")
    x = _residual(x, widths[2], True, "res2")
    x = EnhancedResidual(filters, heads, name="enhanced")(x)
    return keras.Model(inputs, _head(x, dense_units, dropout, num_classes), name=name)


def build_mini_aorcnn(
    num_classes: int = 3,
    input_size: int = 128,
    widths: tuple[int, int, int] = (8, 16, 32),
    filters: int = 8,
    heads: int = 4,
    dense_units: tuple[int, ...] = (64, 64),
    dropout: float = 0.5,
    name: str = "mini_aorcnn",
) -> keras.Model:
    """mini-AORCNN (Zhang, Liu, Qi, Computer Science 49(6A), 2022; "ARFNet" in its code), as
    re-implemented in ``mini-AORCNN``: Off-TANet's stem, ARF residuals 8 -> 16 and 16 -> 32, a
    bottleneck transformer 32 -> 8 (two 4-head self-attentions), Off-TANet's head.

    The widths 8/16/32 are an inference: the public code has 8 -> 18 -> 28 (47,365
    parameters); only 8/16/32 gives both of paper B's figures (46,251 parameters, 16.39 M)."""
    inputs = _input(input_size)
    x = _stem(inputs, widths[0], batch_norm=True)
    x = ARFResidual(widths[1], name="arf1")(x)
    x = ARFResidual(widths[2], name="arf2")(x)
    x = BottleneckTransformer(filters, heads, name="transformer")(x)
    return keras.Model(inputs, _head(x, dense_units, dropout, num_classes), name=name)


def build_macnn(
    num_classes: int = 3,
    input_size: int = 128,
    channels: tuple[int, ...] = (32, 64, 128, 256),
    dense_units: tuple[int, ...] = (4096, 4096),
    dropout: float = 0.5,
    name: str = "macnn",
) -> keras.Model:
    """MACNN (Lai, Chen, Jia, Qian, J. Ambient Intell. Humaniz. Comput. 2020), as
    re-implemented in ``PRICAI2021-Off-TANet``: four residual blocks without BN (3 -> 32 -> 64
    -> 128 -> 256, each followed by MaxPool 2), atrous 3x3 convs with dilation 4 then 2 (256),
    Dense 4096 -> 4096 -> classes with dropout 0.5. At 128 px: 16,384 flattened features and
    86,302,563 parameters, almost all in the first dense layer."""
    inputs = _input(input_size)
    x = inputs
    for i, c in enumerate(channels, start=1):
        x = _residual(x, c, False, f"res{i}")
    for i, rate in enumerate((4, 2), start=1):
        x = _conv(x, channels[-1], 3, f"atrous{i}", dilation_rate=rate)
        x = layers.ReLU(name=f"atrous{i}_relu")(x)
    return keras.Model(inputs, _head(x, dense_units, dropout, num_classes), name=name)


def build_micro_attention(
    num_classes: int = 3,
    input_size: int = 128,
    stem: int = 32,
    channels: tuple[int, ...] = (64, 128, 256),
    dense_units: tuple[int, ...] = (4096,),
    dropout: float = 0.5,
    name: str = "micro_attention",
) -> keras.Model:
    """Micro-Attention (Wang, Peng, Bi, Chen, Neurocomputing 2020), the shallow optical-flow
    version re-implemented in ``PRICAI2021-Off-TANet``: Conv 7x7/2 (3 -> 32) + ReLU, MaxPool
    3x3/2, MA blocks 32 -> 64 -> 128 -> 256 each followed by MaxPool 2, Dense 4096 -> classes.

    The original paper's network is a ResNet with micro-attention units on apex frames (and
    transfer from macro-expression data); paper B compared against this shallow flow version.
    At 128 px: 4,096 flattened features, 18,781,187 parameters."""
    inputs = _input(input_size)
    x = _stem(inputs, stem, batch_norm=False)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for i, c in enumerate(channels, start=1):
        x = MABlock(c, name=f"ma{i}")(x)
        x = layers.MaxPooling2D(2, name=f"ma{i}_pool")(x)
    return keras.Model(inputs, _head(x, dense_units, dropout, num_classes), name=name)
