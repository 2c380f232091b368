"""SOFTNet's network (Tran et al. 2021, "Shallow optical flow three-stream CNN for macro- and
micro-expression spotting from long videos"): a regressor of an expression score from the
flow between frames k apart.

Input (size, size, 3): u, v, optical strain (42 px in the paper). Three streams of one 3x3
convolution (3, 5 and 8 filters, ReLU, "same") each followed by a 3x3 max-pool of stride 3,
concatenated, a 2x2 max-pool of stride 2, Dense 400 (ReLU), Dense 1 (linear). Trained with
mean squared error on pseudo-labels (microexp.experiments.spotting).
"""

from __future__ import annotations

import keras
from keras import layers


def build_softnet(input_size: int = 42, filters: tuple[int, ...] = (3, 5, 8)) -> keras.Model:
    """SOFTNet: (None, size, size, 3) -> (None, 1) expression score."""
    inputs = keras.Input((input_size, input_size, 3), name="flow")
    streams = []
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"stream{i}_conv")(inputs)
        streams.append(layers.MaxPooling2D(3, 3, padding="same", name=f"stream{i}_pool")(x))
    x = layers.Concatenate(name="concat")(streams)
    x = layers.MaxPooling2D(2, 2, padding="same", name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(400, activation="relu", name="fc")(x)
    outputs = layers.Dense(1, dtype="float32", name="score")(x)
    return keras.Model(inputs, outputs, name="softnet")
