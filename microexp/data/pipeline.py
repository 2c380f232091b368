"""Cached tensors -> tf.data: per-fold training and test sets with paper A's class re-sampling
and rotation, shuffling, batching and prefetch.

The tensors of the samples a run needs are loaded once into memory (float16, as cached); the
pipeline picks crops, rotates flow vectors with the grid, casts to float32 and batches in a
background thread, so the model does not wait for input.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..datasets import Sample
from ..features import FlowCache
from ..preprocess.augment import rotate_sample


@dataclass(frozen=True)
class Item:
    """One training or test example: a sample, which of its crops, a rotation, its label."""

    sample: int
    crop: int | None
    rotation: int
    label: int


class TensorStore:
    """The cached tensors of ``samples`` in memory: ``store[i][key]``."""

    def __init__(self, cache: FlowCache, samples: Sequence[Sample]) -> None:
        self.samples = list(samples)
        self.arrays = [cache.load(s) for s in self.samples]

    def example(self, item: Item, key: str = "x") -> np.ndarray:
        x = self.arrays[item.sample][key]
        if item.crop is not None:
            x = x[item.crop]
        if item.rotation:
            x = rotate_sample(x, item.rotation)
        return np.asarray(x, dtype=np.float32)


class EmptyClassWarning(UserWarning):
    """A class has no training example in a fold."""


def resampled_items(
    indices: Sequence[int],
    labels: Sequence[int],
    per_class: int,
    crops: Sequence[int | None],
    rotate: bool,
    rng: np.random.Generator,
    n_classes: int,
    context: str = "",
) -> list[Item]:
    """Paper A's class re-sampling: ``per_class`` examples of every class drawn with
    replacement from the (sample, crop) pool of that class, each with a random quarter turn if
    ``rotate``. A class with no example is left out with an :class:`EmptyClassWarning` naming it
    (the model then cannot predict it in this fold)."""
    items: list[Item] = []
    for c in range(n_classes):
        pool = [(i, k) for i in indices if labels[i] == c for k in crops]
        if not pool:
            warnings.warn(
                f"class {c} has no training example{context}; it is not re-sampled",
                EmptyClassWarning,
                stacklevel=2,
            )
            continue
        picks = rng.integers(0, len(pool), per_class)
        turns = rng.integers(0, 4, per_class) if rotate else np.zeros(per_class, int)
        items += [
            Item(pool[p][0], pool[p][1], int(r), c) for p, r in zip(picks, turns, strict=True)
        ]
    return items


def plain_items(
    indices: Sequence[int], labels: Sequence[int], crop: int | None = None
) -> list[Item]:
    """Every sample once, unrotated (test sets; paper B's training sets)."""
    return [Item(i, crop, 0, int(labels[i])) for i in indices]


def to_arrays(
    store: TensorStore, items: Sequence[Item], key: str = "x"
) -> tuple[np.ndarray, np.ndarray]:
    """The items as one in-memory (x, y) pair (small sets, and the benchmark's reference)."""
    x = np.stack([store.example(it, key) for it in items])
    return x, np.array([it.label for it in items], np.int32)


#: a fold's examples up to this size (float32) are materialised once and fed from memory
IN_MEMORY_BYTES = 256 * 2**20


def make_dataset(
    store: TensorStore,
    items: Sequence[Item],
    batch_size: int,
    key: str = "x",
    shuffle: bool = False,
    seed: int = 0,
    in_memory_bytes: int = IN_MEMORY_BYTES,
):
    """A ``tf.data.Dataset`` of (x, y) batches over ``items``; shuffled each epoch if asked.

    Up to ``in_memory_bytes`` the examples (crops picked, flows rotated, float32) are built
    once and shuffled by tf.data (seeded, a new order each epoch): on a 2-core CPU the
    per-example generator below cost as much as a small model's training step. Larger sets
    (paper A's re-sampling at paper size) stream through the generator."""
    import tensorflow as tf

    items = list(items)
    shape = store.example(items[0], key).shape
    if len(items) * int(np.prod(shape)) * 4 <= in_memory_bytes:
        x, y = to_arrays(store, items, key)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            ds = ds.shuffle(len(items), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    order = np.arange(len(items))

    def gen():
        idx = np.random.default_rng([seed, gen.epoch]).permutation(order) if shuffle else order
        gen.epoch += 1
        for i in idx:
            it = items[i]
            yield store.example(it, key), np.int32(it.label)

    gen.epoch = 0
    ds = tf.data.Dataset.from_generator(
        gen,
        output_signature=(
            tf.TensorSpec(shape, tf.float32),
            tf.TensorSpec((), tf.int32),
        ),
    )
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(items)))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
