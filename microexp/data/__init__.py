"""Cached tensors -> tf.data pipelines."""

from .pipeline import (
    EmptyClassWarning,
    Item,
    TensorStore,
    make_dataset,
    plain_items,
    resampled_items,
    to_arrays,
)

__all__ = [
    "EmptyClassWarning",
    "Item",
    "TensorStore",
    "make_dataset",
    "plain_items",
    "resampled_items",
    "to_arrays",
]
