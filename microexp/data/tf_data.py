"""TensorFlow only: a fold's input as a tf.data pipeline (the default backend's path).

The order of the examples comes from NumPy (:func:`~.pipeline.epoch_orders`), as on every
backend; tf.data batches the index records of each epoch and, unless the training step does it
(``turn_in``), gathers the examples from the store's ``tf.Variable`` and turns each quarter-turn
group on its own threads, overlapping the model's step. Imported only on TensorFlow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from .examples import Item, TensorStore, _turn, checked_items, epoch_orders, index_columns


def store_variable(stacked: np.ndarray, key: str, device: str | None) -> tf.Variable:
    """``stacked`` as a non-trainable ``tf.Variable`` on ``device`` (None: TF's placement)."""
    with tf.device(device) if device else contextlib.nullcontext():
        return tf.Variable(stacked, trainable=False, name=f"store_{key}")


def store_tensor(store: TensorStore, key: str = "x", device: str | None = "/CPU:0") -> tf.Variable:
    """The store's stacked ``key`` tensors as a non-trainable float16 ``tf.Variable`` on
    ``device`` (None: TensorFlow's placement), made once per store and device, for tf.data
    graphs (captured by reference, so a large store never enters a graph as a constant). It
    holds a second copy beside :meth:`TensorStore.stacked`."""
    if ("tf", key, device) not in store._tensors:
        store._tensors["tf", key, device] = store_variable(store.stacked(key), key, device)
    return store._tensors["tf", key, device]


def turn_groups(x, turns, flow_channels: tuple[int, int] = (0, 1)):
    """:func:`~.pipeline.turn_batch` as tf.data does it: one turn per group of equal turns
    (partition, turn, stitch: each example is moved once; dynamic shapes). Keras runs on
    TensorFlow here, so :func:`~.pipeline._turn`'s ``keras.ops`` are TensorFlow ops."""
    turns = tf.math.floormod(tf.cast(turns, tf.int32), 4)
    order = tf.dynamic_partition(tf.range(tf.shape(x)[0]), turns, 4)
    parts = tf.dynamic_partition(x, turns, 4)
    out = tf.dynamic_stitch(order, [_turn(p, k, flow_channels) for k, p in enumerate(parts)])
    return tf.ensure_shape(out, [None, *x.shape[1:]])


def batch_gather(
    store,
    columns,
    crops: bool,
    rotate: bool,
    flow_channels: tuple[int, int] = (0, 1),
    dtype: str | None = None,
    turn_in: str = "pipeline",
):
    """One batch from index columns: gather (sample[, crop]) from ``store`` (N[, crops], H, W,
    ...), cast to ``dtype`` (None: the store's), turn each quarter-turn group. Returns (x,
    label), or ((x, turns), label) with ``x`` unturned when ``turn_in == "turn"``."""
    sample, crop, turns, label = columns
    if crops:
        x = tf.gather_nd(store, tf.stack([sample, crop], axis=1))
    else:
        x = tf.gather(store, sample)
    if dtype is not None:
        x = tf.cast(x, dtype)
    if turn_in == "turn":
        return (x, turns), label
    if not rotate:
        return x, label
    return turn_groups(x, turns, flow_channels), label


def make_dataset(
    store: TensorStore,
    items: Sequence[Item],
    batch_size: int,
    key: str = "x",
    shuffle: bool = False,
    seed: int = 0,
    dtype: str | None = None,
    turn_in: str = "pipeline",
    epochs: int = 1,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``epochs`` epochs of batches over ``items``, each epoch in its
    :func:`~.pipeline.epoch_orders` order (give ``fit`` ``steps_per_epoch``: batches never
    cross an epoch).

    ``turn_in``: what the training step does itself. ``"pipeline"``: nothing, the dataset
    yields turned (x, y); ``"turn"``: it yields ((x, turns), y) with x as stored, and the step
    turns; ``"gather"``: it yields ((sample, crop, turns), y) index batches only, and the step
    gathers from the store (held on the device) and turns. ``dtype`` None keeps the store's
    float16: the model casts in the step (float16 -> float32 is exact)."""
    items = checked_items(items, turn_in, "make_dataset")
    columns = np.stack(index_columns(items))  # (4, n)
    orders = epoch_orders(len(items), epochs, seed, shuffle)  # (epochs, n)
    table = np.ascontiguousarray(columns[:, orders].transpose(1, 0, 2))  # (epochs, 4, n)
    ds = tf.data.Dataset.from_tensor_slices(table).flat_map(
        lambda t: tf.data.Dataset.from_tensor_slices(tuple(t[i] for i in range(4))).batch(
            batch_size
        )
    )
    if turn_in == "gather":  # index batches; the training step gathers
        return ds.map(lambda s_, c_, t_, y_: ((s_, c_, t_), y_)).prefetch(tf.data.AUTOTUNE)
    crops = items[0].crop is not None
    rotate = any(it.rotation % 4 for it in items)
    var = store_tensor(store, key)
    ds = ds.map(
        lambda *cols: batch_gather(var, cols, crops, rotate, dtype=dtype, turn_in=turn_in),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
