"""Paper B's ATSCNN: three shallow streams (u, v, strain) with CBAM, SELU, and a dense head.

Each stream: 4 x [Conv 5x5 "same", BatchNorm, activation, MaxPool 2] with 3, 5, 8, 16 channels
(128 -> 8 px), then attention. The streams are flattened (3 x 1,024), concatenated, and go
through Dense 1024 -> Dense 1024 -> Dense 3. Paper B does not describe the head; this one is
inferred because it gives its reported 4.21 x 10^6 parameters (4,214,754 with CBAM ratio 2), and
its reported 19.01 M "FLOPs" match this build's multiply-accumulates. Pool type (max) and CBAM's
reduction ratio (2) are also assumptions.
"""

from __future__ import annotations

import keras
from keras import layers

from ..layers import SelectChannel, attention_layer

STREAMS = {"uvs": (0, 1, 2), "uv": (0, 1), "gray": ()}


def build_atscnn(
    num_classes: int = 3,
    input_size: int = 128,
    streams: str = "uvs",
    attention: str | None = "cbam",
    activation: str = "selu",
    channels: tuple[int, ...] = (3, 5, 8, 16),
    kernel_size: int = 5,
    ratio: int = 2,
    attention_kernel: int = 3,
    dense_units: tuple[int, ...] = (1024, 1024),
    dropout: float = 0.0,
    name: str = "atscnn",
) -> keras.Model:
    """ATSCNN with paper B's ablations as arguments.

    Args:
        streams: ``uvs`` (u, v, strain from input ``flow`` (H, W, 3)), ``uv`` (no strain) or
            ``gray`` (one stream on input ``apex`` (H, W, 1), the grey apex frame).
        attention: ``cbam``, ``channel``, ``spatial`` or ``None``.
        activation: ``selu`` (paper B; lecun-normal initialisation) or ``relu``.
        dropout: after each hidden dense layer; paper B names none, so 0.
    """
    if streams not in STREAMS:
        raise ValueError(f"streams must be one of {tuple(STREAMS)}. Received: streams={streams!r}")
    if activation not in ("selu", "relu"):
        raise ValueError(
            f"activation must be 'selu' or 'relu'. Received: activation={activation!r}"
        )
    init = "lecun_normal" if activation == "selu" else "glorot_uniform"
    if streams == "gray":
        inputs = keras.Input((input_size, input_size, 1), name="apex")
        branches = [("gray", inputs)]
    else:
        inputs = keras.Input((input_size, input_size, 3), name="flow")
        names = ("u", "v", "strain")
        branches = [
            (names[i], SelectChannel(i, name=f"{names[i]}_select")(inputs))
            for i in STREAMS[streams]
        ]
    features = []
    for stream, x in branches:
        for i, c in enumerate(channels, start=1):
            x = layers.Conv2D(
                c, kernel_size, padding="same", kernel_initializer=init, name=f"{stream}_conv{i}"
            )(x)
            x = layers.BatchNormalization(name=f"{stream}_bn{i}")(x)
            x = layers.Activation(activation, name=f"{stream}_act{i}")(x)
            x = layers.MaxPooling2D(2, name=f"{stream}_pool{i}")(x)
        att = attention_layer(attention, ratio, attention_kernel, name=f"{stream}_attention")
        if att is not None:
            x = att(x)
        features.append(layers.Flatten(name=f"{stream}_flatten")(x))
    x = features[0] if len(features) == 1 else layers.Concatenate(name="concat")(features)
    for i, units in enumerate(dense_units, start=1):
        x = layers.Dense(units, activation=activation, kernel_initializer=init, name=f"fc{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs, name=name)
