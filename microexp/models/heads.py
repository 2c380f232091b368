"""A model's classifier and blocks, as its registry entry declares them: replace the head for
fine-tuning (timm's ``reset_classifier`` for a functional Keras model) and freeze blocks.

Every registered builder names its softmax classifier ``head`` (``ModelSpec.head``); S3D names
its layers ``block{i}_...`` (``ModelSpec.blocks``). Nothing here assumes a layer name that the
spec does not give.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ..errors import MicroexpError


def replace_head(model: keras.Model, num_classes: int, head: str = "head") -> keras.Model:
    """A new model sharing ``model``'s layers up to its classifier ``head``, with a new softmax
    classifier of ``num_classes`` on that layer's input (paper A: the 7-way CK+ head becomes a
    5-way CASME II head). The new layer is created last, so that seeded weights equal those of
    the layers created before it."""
    names = {layer.name for layer in model.layers}
    if head not in names:
        raise MicroexpError(f"{model.name}: no classifier layer {head!r} to replace")
    features = model.get_layer(head).input
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name=head)(features)
    return keras.Model(model.input, outputs, name=model.name)


def freeze_blocks(
    model: keras.Model, blocks: Sequence[int] = (1, 2, 3), pattern: str = "block{}_"
) -> list[str]:
    """Freeze every layer whose name starts with ``pattern.format(i)`` for i in ``blocks``;
    returns the frozen layers' names. Paper A fine-tunes S3D with blocks 1-3 (six conv pairs)
    frozen."""
    prefixes = tuple(pattern.format(b) for b in blocks)
    frozen = []
    for layer in model.layers:
        if layer.name.startswith(prefixes):
            layer.trainable = False
            frozen.append(layer.name)
    return frozen


__all__ = ["freeze_blocks", "replace_head"]
