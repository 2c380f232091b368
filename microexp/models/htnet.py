"""HTNet (Wang, Zhang, Luo and Sankaranarayana, "HTNet for micro-expression recognition",
Neurocomputing 2024): a hierarchical transformer over four facial regions of the onset->apex
optical flow.

Built as the public code builds it (wangzhifengharrison/HTNet, ``Model.py``; the defaults are
``main_HTNet.py``'s): the (28, 28, 3) input (u, v, optical strain; four 14x14 regions around
the eyes and the mouth corners, :class:`~microexp.preprocess.HTNetRecipe`) is cut into 7x7
patches, each flattened in (row, column, channel) order and projected to ``dim`` channels (a
1x1 convolution); then ``num_hierarchies`` levels, level l with ``dim * 2**l`` channels,
``heads * 2**l`` heads and ``block_repeats[l]`` transformer layers inside each of
``2**(num_hierarchies - 1 - l)`` x ``2**(...)`` regions
(:class:`~microexp.layers.LocalTransformer`), each level but the last followed by an
aggregation (3x3 convolution to the next width, layer norm over channels, max-pool 3 stride 2
padding 1); a layer norm, the spatial mean and a linear classifier. 139,582,982 parameters at
the defaults, as the public model counts them (``sum(p.numel())``). The classifier here ends in
a softmax (``head``), as every registered model's does; the public code trains the logits with
cross-entropy, the same loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ..layers import LocalTransformer, PaddedMaxPool2D


def build_htnet(
    num_classes: int = 3,
    input_size: int = 28,
    patch_size: int = 7,
    dim: int = 256,
    heads: int = 3,
    num_hierarchies: int = 3,
    block_repeats: Sequence[int] = (2, 2, 10),
    mlp_mult: int = 4,
    channels: int = 3,
    name: str = "htnet",
) -> keras.Model:
    """HTNet at the public code's defaults; ``input_size`` must be a multiple of
    ``patch_size * 2**(num_hierarchies - 1)``."""
    if input_size % patch_size:
        raise ValueError(f"input_size {input_size} is not a multiple of patch_size {patch_size}")
    grid = input_size // patch_size
    if grid % 2 ** (num_hierarchies - 1):
        raise ValueError(
            f"{grid}x{grid} patches do not split into 2**{num_hierarchies - 1} regions a side"
        )
    repeats = tuple(block_repeats) if isinstance(block_repeats, Sequence) else (block_repeats,)
    repeats = repeats * num_hierarchies if len(repeats) == 1 else repeats
    if len(repeats) != num_hierarchies:
        raise ValueError(f"block_repeats {block_repeats}: expected {num_hierarchies} numbers")
    inputs = keras.Input((input_size, input_size, channels), name="x")
    x = layers.Reshape((grid, patch_size, grid, patch_size, channels), name="patches_split")(inputs)
    x = layers.Permute((1, 3, 2, 4, 5), name="patches_order")(x)
    x = layers.Reshape((grid, grid, patch_size * patch_size * channels), name="patches")(x)
    x = layers.Dense(dim, name="patch_embedding")(x)
    for level in range(num_hierarchies):
        mult = 2**level
        x = LocalTransformer(
            depth=repeats[level],
            heads=heads * mult,
            blocks=2 ** (num_hierarchies - 1 - level),
            mlp_mult=mlp_mult,
            name=f"level{level + 1}_transformer",
        )(x)
        if level < num_hierarchies - 1:
            x = layers.Conv2D(
                dim * mult * 2, 3, padding="same", name=f"level{level + 1}_aggregate"
            )(x)
            x = layers.LayerNormalization(epsilon=1e-5, name=f"level{level + 1}_norm")(x)
            x = PaddedMaxPool2D(3, 2, 1, name=f"level{level + 1}_pool")(x)
    x = layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    x = layers.GlobalAveragePooling2D(name="mean")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


__all__ = ["build_htnet"]
