"""A fold's examples over the cached tensors, on any Keras backend: the in-memory store, paper
A's class re-sampling and rotation, the epochs' order, NumPy index batches. (:mod:`.pipeline`
turns them into what ``Model.fit`` takes; :mod:`.tf_data` is TensorFlow's way.)

The tensors of the samples a run needs are loaded once into memory and stacked per key into one
float16 array (as cached). A fold's examples are index records (sample, crop, quarter turns,
label). Their order is drawn with NumPy on every backend (:func:`epoch_orders`: one permutation
per epoch from the fold's seed), so that TensorFlow, JAX and PyTorch train on the same examples
in the same order. On TensorFlow, :mod:`.tf_data` batches the indices in tf.data and can gather
and turn there; on JAX and PyTorch, :func:`index_batches` yields NumPy index batches and the
training step gathers from the store held on the device, casts and turns, with ``keras.ops``
(:func:`~microexp.training.fit.step_input_model`, :func:`turn_batch`). No per-example Python
runs while training.
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
        self._tensors: dict[tuple, object] = {}

    @classmethod
    def from_arrays(cls, samples: Sequence[Sample], arrays: Sequence[dict]) -> TensorStore:
        """A store of tensors made elsewhere (one ``{key: array}`` per sample), without a
        cache: benchmarks fill it with random tensors of the papers' shapes."""
        if len(samples) != len(arrays):
            raise ValueError(f"{len(samples)} samples but {len(arrays)} arrays")
        store = cls.__new__(cls)
        store.samples = list(samples)
        store.arrays = [dict(a) for a in arrays]
        store._stacked, store._tensors = {}, {}
        return store

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

    def variable(self, key: str = "x", flat_crops: bool = False):
        """Any backend: the stacked ``key`` tensors as a non-trainable ``keras.Variable`` of the
        store's dtype, on the backend's device (the GPU when there is one), made once per store:
        the training step gathers from it (:func:`~microexp.training.fit.step_input_model`).
        ``flat_crops``: (N * crops, ...) rather than (N, crops, ...), so that example
        (sample, crop) is row ``sample * crops + crop`` (one gather, no reshape per step)."""
        if ("keras", key, flat_crops) not in self._tensors:
            import keras

            big = self.stacked(key)
            if flat_crops:
                big = big.reshape(-1, *big.shape[2:])
            self._tensors["keras", key, flat_crops] = keras.Variable(
                big, dtype=str(big.dtype), trainable=False, autocast=False, name=f"store_{key}"
            )
        return self._tensors["keras", key, flat_crops]

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


def index_columns(items: Sequence[Item]) -> tuple[np.ndarray, ...]:
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


def epoch_orders(n: int, epochs: int, seed: int = 0, shuffle: bool = True) -> np.ndarray:
    """(epochs, n) int64: the order of a fold's ``n`` examples in each epoch, drawn with NumPy
    from ``seed`` (one permutation per epoch), the same on every Keras backend; ``0..n-1``
    every epoch when not ``shuffle``."""
    if not shuffle:
        return np.tile(np.arange(n), (epochs, 1))
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(epochs)])


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches in an epoch of ``n`` examples (the last one may be smaller)."""
    return -(-n // batch_size)


def index_batches(
    items: Sequence[Item],
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    epochs: int = 1,
    min_batch: int = 1,
    pad: bool = False,
):
    """The backend-neutral input: a generator of ``((sample, crop, turns), label)`` NumPy int32
    batches over ``epochs`` epochs in :func:`epoch_orders`' order (feed it to ``fit`` with
    ``steps_per_epoch``; the training step gathers, :func:`~microexp.training.fit.
    step_input_model`). A batch of fewer than ``min_batch`` examples is sent as copies of
    itself (:func:`microexp.backend.min_batch`: the same mean loss and batch statistics).

    ``pad``: every batch holds exactly ``batch_size`` rows, so that a step compiled for one
    shape serves every batch of every fold (:func:`microexp.backend.compiles_per_shape`). A
    short last batch is filled with copies of its own rows, and each batch comes as
    ``((sample, crop, turns, real), label, real)``: ``real`` is 1.0 for the batch's examples
    and 0.0 for the filling, the weight of each row in the loss (a mean over the real rows)
    and the mask of the batch statistics (:func:`~microexp.training.fit.mask_batch_norm`)."""
    columns = np.stack(index_columns(items))
    n = columns.shape[1]
    for order in epoch_orders(n, epochs, seed, shuffle):
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            real = len(rows)
            want = batch_size if pad else min_batch
            if len(rows) < want:
                rows = np.resize(rows, max(want, len(rows)))
            s_, c_, t_, y_ = columns[:, rows]
            if not pad:
                yield (s_, c_, t_), y_
                continue
            w = (np.arange(len(rows)) < real).astype(np.float32)
            yield (s_, c_, t_, w), y_, w


#: what the training step can do itself: nothing, turn paper A's crops, or gather and turn
TURN_IN = ("pipeline", "turn", "gather")


def checked_items(items: Sequence[Item], turn_in: str, who: str) -> list[Item]:
    """``items`` as a list, or ValueError for none or an unknown ``turn_in``."""
    items = list(items)
    if not items:
        raise ValueError(f"{who}: no items")
    if turn_in not in TURN_IN:
        raise ValueError(f"turn_in must be one of {TURN_IN}. Received: turn_in={turn_in!r}")
    return items


def _turn(x, k: int, flow_channels: tuple[int, int]):
    """A (B, H, W, ...) batch turned k x 90 degrees counter-clockwise as ``np.rot90`` turns
    axes (1, 2), the (u, v) channels turned with it ((u, v) -> (v, -u) per turn); other channels
    only move. ``keras.ops`` only (exact: moves and sign flips)."""
    from keras import ops

    if k == 0:
        return x
    if k == 1:
        x = ops.swapaxes(ops.flip(x, 2), 1, 2)
    elif k == 2:
        x = ops.flip(ops.flip(x, 1), 2)
    else:
        x = ops.flip(ops.swapaxes(x, 1, 2), 2)
    u, v = flow_channels
    chans = [x[..., i : i + 1] for i in range(int(x.shape[-1]))]
    cu, cv = chans[u], chans[v]
    chans[u], chans[v] = {1: (cv, -cu), 2: (-cu, -cv), 3: (-cv, cu)}[k]
    return ops.concatenate(chans, axis=-1)


def turn_batch(x, turns, flow_channels: tuple[int, int] = (0, 1)):
    """A (B, H, W, ...) batch with example i turned ``turns[i]`` quarter turns counter-clockwise
    (grid and flow vectors, as :func:`~microexp.preprocess.augment.rotate_sample`), with
    ``keras.ops`` on any backend: every turn of the whole batch, then a per-example select
    (static shapes, as XLA needs; H == W)."""
    from keras import ops

    turns = ops.mod(ops.cast(turns, "int32"), 4)
    pick = ops.reshape(turns, [-1, *([1] * (len(x.shape) - 1))])
    out = x
    for k in (1, 2, 3):
        out = ops.where(ops.equal(pick, k), _turn(x, k, flow_channels), out)
    return out
