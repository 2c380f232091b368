"""Cached tensors -> a fold's input: tf.data on TensorFlow, NumPy index batches and a gather in
the training step on any backend (the order drawn with NumPy on all)."""

from .examples import (
    EmptyClassWarning,
    Item,
    TensorStore,
    epoch_orders,
    index_batches,
    plain_items,
    resampled_items,
    steps_per_epoch,
    to_arrays,
    turn_batch,
)
from .pipeline import FitInput, make_input

__all__ = [
    "EmptyClassWarning",
    "FitInput",
    "Item",
    "TensorStore",
    "epoch_orders",
    "index_batches",
    "make_input",
    "plain_items",
    "resampled_items",
    "steps_per_epoch",
    "to_arrays",
    "turn_batch",
]
