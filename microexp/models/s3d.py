"""Paper A's S3D CNN and its 2D and 3D variants: one builder, ``conv`` selects the variant.

Input (H, W, T, C) = (96, 96, 10, 3): 10 TV-L1 flows of u, v and strain. Four blocks of two
convolutions (16, 32, 64, 128 filters), max-pool (2, 2, 1) after blocks 1-3, average-pool
(2, 2, 2) after block 4, Dense 128, Dropout 0.2, softmax (paper A, Table 1). ReLU and "same"
padding are assumed (the paper names neither; its output sizes imply "same").

Layer names start with ``block{i}_`` (its registry entry declares it) so that paper A's transfer
split (blocks 1-3 frozen) is ``freeze_blocks(model, (1, 2, 3))``; the classifier is ``head``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ..layers import SeparableConv3D

CONVS = ("separable", "2d", "3d")


def build_s3d(
    num_classes: int = 7,
    input_shape: Sequence[int] = (96, 96, 10, 3),
    conv: str = "separable",
    filters: Sequence[int] = (16, 32, 64, 128),
    dense_units: int = 128,
    dropout: float = 0.2,
    activation: str = "relu",
    kernel_initializer: str = "he_normal",
    name: str | None = None,
) -> keras.Model:
    """Paper A's network.

    Args:
        kernel_initializer: of every ReLU layer (the convolutions and Dense 128). Paper A is
            silent. Keras' default (Glorot uniform) halves the signal's variance at each of the
            16 ReLU convolutions: CK+ pre-training with quarter turns stayed at chance for 315
            steps with it, and reached 0.61 train accuracy by epoch 6 with He normal (He et al.
            2015, made for ReLU); so He normal is the default, for every preset.
        conv: ``separable`` (S3D: (3,3,1) then (1,1,3), each with its activation), ``2d``
            (paper A's "2D CNN": the temporal convs dropped) or ``3d`` (each pair one (3,3,3)
            conv). With 7 classes: 3,374,711 / 3,243,671 / 3,829,751 parameters.
    """
    if conv not in CONVS:
        raise ValueError(f"conv must be one of {CONVS}. Received: conv={conv!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2. Received: num_classes={num_classes}")
    init = {"kernel_initializer": kernel_initializer}
    inputs = keras.Input(tuple(input_shape), name="flow")
    x = inputs
    for b, f in enumerate(filters, start=1):
        for j in (1, 2):
            lname = f"block{b}_conv{j}"
            if conv == "separable":
                x = SeparableConv3D(f, activation=activation, **init, name=lname)(x)
            else:
                kernel = (3, 3, 1) if conv == "2d" else (3, 3, 3)
                x = layers.Conv3D(
                    f, kernel, padding="same", activation=activation, name=lname, **init
                )(x)
        if b < len(filters):
            x = _spatial_max_pool(x, b)
        else:
            x = layers.AveragePooling3D((2, 2, 2), name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation=activation, name="fc", **init)(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")(x)
    default = {"separable": "s3d", "2d": "cnn2d", "3d": "cnn3d"}[conv]
    return keras.Model(inputs, outputs, name=name or default)


def _spatial_max_pool(x, block: int):
    """``MaxPooling3D((2, 2, 1))`` computed as a 2D max-pool over (H, W) with T and C merged
    into one axis: the same outputs, and the same gradient on every backend. (TensorFlow's CPU
    ``MaxPool3DGrad`` hands the whole gradient to every element within about 1e-5 (absolute)
    of its window's maximum, where JAX, torch and TensorFlow's 2D pooling hand it to one
    element; S3D's training losses on TensorFlow and JAX then drifted ~1e-3 apart in ten Adam
    steps, against ~7e-7 with this pooling: tests/test_backends.py.) The pooling layer
    is ``block{block}_pool``; ``pool{block}_merge`` and ``pool{block}_split`` reshape around it
    (no weights; named outside the block so that :func:`freeze_blocks` lists what it did)."""
    h, w, t, c = x.shape[1:]
    name = f"block{block}_pool"
    if None in (h, w, t, c):
        return layers.MaxPooling3D((2, 2, 1), name=name)(x)
    x = layers.Reshape((h, w, t * c), name=f"pool{block}_merge")(x)
    x = layers.MaxPooling2D(2, name=name)(x)
    return layers.Reshape((h // 2, w // 2, t, c), name=f"pool{block}_split")(x)
