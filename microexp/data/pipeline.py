"""Cached tensors -> tf.data: per-fold training and test sets with paper A's class re-sampling
and rotation, shuffling, batching and prefetch.

The tensors of the samples a run needs are loaded once into memory and stacked per key into one
float16 array (as cached). A fold's examples are index records (sample, crop, quarter turns,
label): tf.data shuffles and batches the indices, and one graph function per batch gathers the
examples and turns the grid and the flow vectors of each quarter-turn group; the model casts
the float16 batch to its compute dtype in the training step.
No per-example Python runs while training.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..datasets import Sample
from ..errors import MicroexpError
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
    """The cached tensors of ``samples`` in memory: ``store.arrays[i][key]``, and per key one
    stacked (N, ...) float16 array (:meth:`stacked`) that the pipeline gathers from."""

    def __init__(self, cache: FlowCache, samples: Sequence[Sample]) -> None:
        self.samples = list(samples)
        self.arrays = [cache.load(s) for s in self.samples]
        self._stacked: dict[str, np.ndarray] = {}
        self._tensors: dict[str, object] = {}

    def stacked(self, key: str = "x") -> np.ndarray:
        """Every sample's ``key`` tensor in one (N, ...) array; the per-sample arrays become
        views into it, so the store is held once."""
        if key not in self._stacked:
            first = self.arrays[0][key].shape
            for sample, a in zip(self.samples, self.arrays, strict=True):
                if a[key].shape != first:
                    raise MicroexpError(
                        f"cached tensor {key!r} of {sample.dataset}/{sample.subject}/"
                        f"{sample.clip} has shape {a[key].shape}, expected {first} as the "
                        "others; rebuild the cache"
                    )
            big = np.stack([a[key] for a in self.arrays])
            for i, a in enumerate(self.arrays):
                a[key] = big[i]
            self._stacked[key] = big
        return self._stacked[key]

    def tensor(self, key: str = "x", device: str | None = "/CPU:0"):
        """The stacked ``key`` tensors as a non-trainable float16 ``tf.Variable``, made once
        per store and device (captured by reference in tf.data graphs, so a large store never
        enters a graph as a constant). It holds a second copy beside :meth:`stacked`.
        ``device`` None: TensorFlow's default placement (the GPU when there is one; the
        training step gathers from it, :func:`~microexp.training.fit.step_input_model`)."""
        if (key, device) not in self._tensors:
            import contextlib

            import tensorflow as tf

            with tf.device(device) if device else contextlib.nullcontext():
                self._tensors[key, device] = tf.Variable(
                    self.stacked(key), trainable=False, name=f"store_{key}"
                )
        return self._tensors[key, device]

    def nbytes(self, key: str = "x") -> int:
        """Bytes of every sample's ``key`` tensor (as held: float16 when cached so)."""
        return int(sum(a[key].nbytes for a in self.arrays))

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


def _index_columns(items: Sequence[Item]) -> tuple[np.ndarray, ...]:
    """(sample, crop, quarter turns, label) int32 columns; crop -1 where the tensor has none."""
    return tuple(
        np.array(col, np.int32)
        for col in zip(
            *(
                (it.sample, -1 if it.crop is None else it.crop, it.rotation % 4, it.label)
                for it in items
            ),
            strict=True,
        )
    )


def _turn(x, k: int, flow_channels: tuple[int, int]):
    """A (B, H, W, ...) batch turned k x 90 degrees counter-clockwise as ``np.rot90`` turns
    axes (1, 2), the (u, v) channels turned with it ((u, v) -> (v, -u) per turn); other channels
    only move."""
    import tensorflow as tf

    if k == 0:
        return x
    perm = [0, 2, 1, *range(3, len(x.shape))]
    if k == 1:
        x = tf.transpose(tf.reverse(x, [2]), perm)
    elif k == 2:
        x = tf.reverse(x, [1, 2])
    else:
        x = tf.reverse(tf.transpose(x, perm), [2])
    u, v = flow_channels
    chans = [x[..., i : i + 1] for i in range(int(x.shape[-1]))]
    cu, cv = chans[u], chans[v]
    chans[u], chans[v] = {1: (cv, -cu), 2: (-cu, -cv), 3: (-cv, cu)}[k]
    return tf.concat(chans, axis=-1)


def turn_batch(x, turns, flow_channels: tuple[int, int] = (0, 1), static: bool = False):
    """A (B, H, W, ...) batch with example i turned ``turns[i]`` quarter turns counter-clockwise
    (grid and flow vectors, as :func:`~microexp.preprocess.augment.rotate_sample`), in
    TensorFlow ops. Default: one turn per group of equal turns (partition, turn, stitch: each
    example is moved once). ``static``: every turn of the whole batch, then a per-example
    select; four times the work, but static shapes, as XLA needs (H == W)."""
    import tensorflow as tf

    turns = tf.math.floormod(tf.cast(turns, tf.int32), 4)
    if static:
        pick = tf.reshape(turns, [-1, *([1] * (len(x.shape) - 1))])
        out = x
        for k in (1, 2, 3):
            out = tf.where(tf.equal(pick, k), _turn(x, k, flow_channels), out)
        return out
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
    """One batch from index columns, in TensorFlow ops: gather (sample[, crop]) from ``store``
    (a tensor or variable (N[, crops], H, W, ...)), turn each quarter-turn group, cast to
    ``dtype`` (None: keep the store's). Returns (x, label), or ((x, turns), label) with
    ``x`` unturned when ``turn_in == "turn"`` (the training step turns it:
    :func:`~microexp.training.fit.step_input_model`)."""
    import tensorflow as tf

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
    return turn_batch(x, turns, flow_channels), label


#: plain examples (no crop, no turn; paper B's every training sample once) that take at most
#: this many bytes are copied once per fold and sliced by tf.data, not gathered per batch
SLICE_BYTES = 256 * 2**20


def _sliced(store: TensorStore, items: Sequence[Item], key: str):
    """Plain items' examples as one in-memory array (a copy of the fold's rows), or None when
    they would take more than :data:`SLICE_BYTES` (many repeats: gather instead)."""
    big = store.stacked(key)
    if len(items) * big[0].nbytes > SLICE_BYTES:
        return None
    return big[np.array([it.sample for it in items], np.int64)]


def make_dataset(
    store: TensorStore,
    items: Sequence[Item],
    batch_size: int,
    key: str = "x",
    shuffle: bool = False,
    seed: int = 0,
    dtype: str | None = None,
    turn_in: str = "pipeline",
):
    """A ``tf.data.Dataset`` of (x, y) batches over ``items``, reshuffled each epoch if asked
    (seeded: the same order as a shuffled in-memory ``from_tensor_slices`` of the examples).

    Batches of index records are gathered from the store's tensor (:meth:`TensorStore.tensor`)
    and turned by :func:`batch_gather` inside the tf.data graph. Plain items (no crop, no
    turn: paper B) are copied once into memory and sliced instead, unless that copy would
    exceed :data:`SLICE_BYTES` (bench_input.py: faster than a gather per batch on a CPU). ``dtype`` None keeps the
    store's float16: a Keras model casts its input to its compute dtype in the training step
    (on the GPU when there is one), which halves the pipeline's memory traffic; the values are
    the same (float16 -> float32 is exact). ``"float32"`` casts in the pipeline.

    ``turn_in``: what the training step does itself. ``"pipeline"``: nothing, the dataset
    yields turned (x, y); ``"turn"``: it yields ((x, turns), y) with x as stored, and the
    step turns; ``"gather"``: it yields ((sample, crop, turns), y) index batches only, and the
    step gathers from the store (held on the device) and turns. The last two are for a model
    wrapped by :func:`~microexp.training.fit.step_input_model`. All train on the same
    examples (tested)."""
    import tensorflow as tf

    items = list(items)
    if not items:
        raise ValueError("make_dataset: no items")
    if turn_in not in ("pipeline", "turn", "gather"):
        raise ValueError(
            f"turn_in must be 'pipeline', 'turn' or 'gather'. Received: turn_in={turn_in!r}"
        )
    crops = items[0].crop is not None
    rotate = any(it.rotation % 4 for it in items)
    plain = turn_in == "pipeline" and not crops and not rotate
    x = _sliced(store, items, key) if plain else None
    if x is not None:  # one copy of the fold's examples; tf.data slices and batches it
        labels = np.array([it.label for it in items], np.int32)
        ds = tf.data.Dataset.from_tensor_slices((x, labels))
    else:
        ds = tf.data.Dataset.from_tensor_slices(_index_columns(items))
    if shuffle:  # the same permutation either way: it depends on the count and the seed only
        ds = ds.shuffle(len(items), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if turn_in == "gather":  # index batches; the training step gathers
        return ds.map(lambda s_, c_, t_, y_: ((s_, c_, t_), y_)).prefetch(tf.data.AUTOTUNE)
    if x is not None:
        if dtype is not None:
            ds = ds.map(lambda xb, yb: (tf.cast(xb, dtype), yb))
        return ds.prefetch(tf.data.AUTOTUNE)
    var = store.tensor(key)
    ds = ds.map(
        lambda *cols: batch_gather(var, cols, crops, rotate, dtype=dtype, turn_in=turn_in),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
