"""Channel selection, for networks whose streams each read one channel of the flow tensor."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="microexp")
class SelectChannel(layers.Layer):
    """Channel ``index`` of the last axis, kept as a length-1 axis."""

    def __init__(self, index: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index = index

    def call(self, x):
        return ops.take(x, [self.index], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "index": self.index}
