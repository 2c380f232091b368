from __future__ import annotations

import warnings

import numpy as np
import pytest

from microexp import backend, synthetic
from microexp import datasets as ds
from microexp import preprocess as pp
from microexp.data import (
    EmptyClassWarning,
    Item,
    TensorStore,
    epoch_orders,
    index_batches,
    make_input,
    plain_items,
    resampled_items,
    to_arrays,
    turn_batch,
)
from microexp.features import FlowCache, build_cache

#: tests of tf.data run on TensorFlow only; the rest also under KERAS_BACKEND=jax
tf_only = pytest.mark.skipif(
    backend.requested() != "tensorflow", reason="tf.data: the TensorFlow backend's input"
)


def make_dataset(*args, **kw):
    from microexp.data.tf_data import make_dataset as tf_make_dataset

    return tf_make_dataset(*args, **kw)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TensorStore:
    root = synthetic.generate("casme2", tmp_path_factory.mktemp("d") / "casme2", "tiny", 1, 2, 3)
    samples = ds.load("casme2", root).samples
    recipe = pp.get_recipe("s3d", frames=4, size=16, shift=4)
    cache_root = tmp_path_factory.mktemp("cache")
    build_cache(samples, recipe, cache_root, workers=1, progress=False)
    return TensorStore(FlowCache(cache_root, recipe), samples)


def test_resampling_counts_crops_and_rotations() -> None:
    labels = [0, 0, 1, 2]
    rng = np.random.default_rng(0)
    items = resampled_items(range(4), labels, 50, list(range(1, 9)), True, rng, 3)
    assert len(items) == 150
    for c in range(3):
        assert sum(it.label == c for it in items) == 50
    assert {it.crop for it in items} <= set(range(1, 9))  # shifted crops only
    assert {it.rotation for it in items} == {0, 1, 2, 3}
    assert all(labels[it.sample] == it.label for it in items)


def test_empty_class_is_named() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = resampled_items(
            [0, 1], [0, 2, 1], 5, [0], False, np.random.default_rng(0), 3, " for fold x"
        )
    assert len(items) == 10 and {it.label for it in items} == {0, 2}
    assert {type(w.message) for w in caught} == {EmptyClassWarning}
    assert any("class 1 has no training example for fold x" in str(w.message) for w in caught)


@tf_only
def test_dataset_batches_match_the_store(store: TensorStore) -> None:
    labels = list(range(len(store.samples)))
    items = [Item(0, 3, 1, 0), Item(1, 0, 0, 1), Item(2, 5, 3, 2)]
    batches = list(make_dataset(store, items, batch_size=2))
    assert [b[0].shape[0] for b in batches] == [2, 1]
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    assert y.tolist() == [0, 1, 2]
    expected = pp.rotate_sample(store.arrays[0]["x"][3].astype(np.float32), 1)
    assert np.allclose(x[0], expected)
    ref_x, ref_y = to_arrays(store, items)
    assert np.allclose(ref_x, x) and ref_y.tolist() == y.tolist()
    assert len(plain_items([0, 2], labels, crop=0)) == 2


@tf_only
def test_dataset_holds_every_epoch_in_its_numpy_order(store: TensorStore) -> None:
    """One dataset holds every epoch, each in its own NumPy-drawn order (no batch crosses an
    epoch), the order that every backend's input follows."""
    items = [Item(i % len(store.samples), 0, 0, i) for i in range(12)]
    ds_ = make_dataset(store, items, batch_size=5, shuffle=True, seed=3, epochs=2)
    labels = [b[1].numpy().tolist() for b in ds_]
    assert [len(b) for b in labels] == [5, 5, 2, 5, 5, 2]
    orders = epoch_orders(12, 2, seed=3)
    assert sum(labels[:3], []) == orders[0].tolist() and sum(labels[3:], []) == orders[1].tolist()
    assert orders[0].tolist() != orders[1].tolist() and sorted(orders[1]) == list(range(12))


@pytest.mark.jax
def test_every_backend_and_mode_draws_the_same_examples(store: TensorStore) -> None:
    """The backend-neutral index batches and every tf.data mode yield the same examples, in
    the same order, epoch after epoch (NumPy draws the order on every backend)."""
    rng = np.random.default_rng(1)
    items = resampled_items(range(3), [0, 1, 2], 7, list(range(1, 9)), True, rng, 3)
    neutral = [
        (s_.tolist(), c_.tolist(), t_.tolist(), y_.tolist())
        for (s_, c_, t_), y_ in index_batches(items, 4, shuffle=True, seed=3, epochs=2)
    ]
    assert len(neutral) == 2 * 6 and [len(b[0]) for b in neutral[:6]] == [4] * 5 + [1]
    order = epoch_orders(len(items), 2, seed=3).ravel()
    assert sum((b[3] for b in neutral), []) == [items[i].label for i in order]
    assert sum((b[0] for b in neutral), []) == [items[i].sample for i in order]
    fit_input = make_input(store, items, 4, shuffle=True, seed=3, epochs=2)
    assert fit_input.steps_per_epoch == 6 and fit_input.turn_in == "gather"
    if backend.name() != "tensorflow":
        with pytest.raises(ValueError, match="needs tf.data"):
            make_input(store, items, 4, turn_in="turn")
        return
    gathered = list(make_dataset(store, items, 4, shuffle=True, seed=3, epochs=2, turn_in="gather"))
    for ((s_, c_, t_), y_), ref in zip(gathered, neutral, strict=True):
        assert (s_.numpy().tolist(), c_.numpy().tolist(), t_.numpy().tolist()) == ref[:3]
        assert y_.numpy().tolist() == ref[3]
    ref_x, _ = to_arrays(store, [items[i] for i in order])
    x = np.concatenate(
        [b[0].numpy() for b in make_dataset(store, items, 4, shuffle=True, seed=3, epochs=2)]
    )
    assert np.array_equal(x.astype(np.float32), ref_x)


@tf_only
def test_in_graph_batches_equal_the_per_example_reference(store: TensorStore) -> None:
    """Every crop and quarter turn, gathered and turned in the tf.data graph, equals the NumPy
    reference (np.rot90 with the vector turn), in order when unshuffled."""
    items = [
        Item(i % 3, c, r, i % 3)
        for i, (c, r) in enumerate((c, r) for c in (0, 4, 8) for r in range(4))
    ]
    ref_x, ref_y = to_arrays(store, items)
    batches = list(make_dataset(store, items, batch_size=5))
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    assert x.dtype == np.float16  # as stored; the model casts (exactly) to float32
    assert np.array_equal(x.astype(np.float32), ref_x) and y.tolist() == ref_y.tolist()
    cast = next(iter(make_dataset(store, items, batch_size=5, dtype="float32")))[0]
    assert cast.dtype == "float32" and np.array_equal(cast.numpy(), ref_x[:5])


@pytest.mark.jax
def test_a_batch_below_the_backends_minimum_is_sent_as_copies() -> None:
    items = [Item(i, None, 0, i % 2) for i in range(5)]
    sizes = [len(y) for _, y in index_batches(items, 4, min_batch=2)]
    assert sizes == [4, 2]  # the last example twice: the same mean loss, the same statistics
    (s_, _, _), y = list(index_batches(items, 4, min_batch=2))[1]
    assert s_.tolist() == [4, 4] and y.tolist() == [0, 0]
    assert [len(y) for _, y in index_batches(items, 4)] == [4, 1]
    assert backend.min_batch() == (
        2 if backend.name() == "torch" and not backend.gpu_count() else 1
    )


@tf_only
def test_tf_data_turns_as_the_step_does(store: TensorStore) -> None:
    """``turn_in="turn"`` yields the stored examples with their turns, ``"gather"`` only their
    indices: the step's keras.ops turn (static) and tf.data's grouped turn give the same
    examples, in the same shuffled order."""
    from microexp.data.tf_data import turn_groups

    rng = np.random.default_rng(2)
    items = resampled_items(range(3), [0, 1, 2], 6, list(range(9)), True, rng, 3)
    turned = list(make_dataset(store, items, batch_size=5, shuffle=True, seed=1))
    raw = list(make_dataset(store, items, batch_size=5, shuffle=True, seed=1, turn_in="turn"))
    assert len(turned) == len(raw)
    for (x, y), ((x0, k), y0) in zip(turned, raw, strict=True):
        assert np.array_equal(y, y0) and set(k.numpy()) <= {0, 1, 2, 3}
        assert np.array_equal(turn_groups(x0, k).numpy(), x.numpy())
        assert np.array_equal(np.asarray(turn_batch(x0, k)), x.numpy())
    plain = next(iter(make_dataset(store, plain_items([0], [0]), 1, turn_in="turn")))
    assert plain[0][1].numpy().tolist() == [0]  # unturned items still carry their turn
    with pytest.raises(ValueError, match="turn_in"):
        make_dataset(store, items, 5, turn_in="model")


@pytest.mark.jax
def test_step_gathers_and_turns_as_numpy_does(store: TensorStore) -> None:
    """The training step's input work on the backend in use (gather (sample, crop) from the
    store's keras.Variable, cast, turn with keras.ops) equals the NumPy reference
    (np.rot90 with the vector turn) for every crop and quarter turn."""
    from keras import ops

    items = [
        Item(i % 3, c, r, i % 3)
        for i, (c, r) in enumerate((c, r) for c in (0, 4, 8) for r in range(4))
    ]
    ref_x, _ = to_arrays(store, items)
    var = store.variable("x", flat_crops=True)
    crops = store.stacked("x").shape[1]
    assert store.variable("x", flat_crops=True) is var  # made once
    (s_, c_, t_), _ = next(index_batches(items, len(items)))
    x = ops.take(var, ops.convert_to_tensor(s_ * crops + c_), axis=0)
    x = turn_batch(ops.cast(x, "float32"), ops.convert_to_tensor(t_))
    assert np.array_equal(ops.convert_to_numpy(x), ref_x)


@tf_only
def test_flow_images_without_crops(tmp_path) -> None:
    """Paper B's (H, W, 3) tensors: no crop axis, every sample once."""
    recipe = pp.get_recipe("atscnn", size=8)
    cache = FlowCache(tmp_path, recipe)
    cache.ensure()
    rng = np.random.default_rng(0)
    samples = [
        ds.Sample("casme2", f"sub{i}", f"EP{i}", "/x", "img{:d}.jpg", 1, 2, 3, "a", 200.0)
        for i in range(5)
    ]
    for sm in samples:
        cache.save(sm, {"x": rng.normal(size=(8, 8, 3)).astype(np.float16)})
    st = TensorStore(cache, samples)
    items = plain_items([4, 0, 2], [0, 1, 2, 0, 1])
    x = np.concatenate([b[0].numpy() for b in make_dataset(st, items, batch_size=2)])
    assert np.array_equal(x, np.stack([st.arrays[i]["x"] for i in (4, 0, 2)]).astype(np.float32))
    assert st.nbytes() == 5 * 8 * 8 * 3 * 2  # float16, held once


@pytest.mark.jax
def test_padded_batches_have_one_shape_and_mark_their_real_rows() -> None:
    """pad: every batch of every epoch holds batch_size rows; the real rows are the unpadded
    batch's, in its order, weighted 1; the filling repeats them, weighted 0."""
    items = [Item(i, None, i % 4, i % 3) for i in range(10)]
    plain = list(index_batches(items, 4, shuffle=True, seed=2, epochs=2))
    padded = list(index_batches(items, 4, shuffle=True, seed=2, epochs=2, pad=True))
    assert len(padded) == len(plain) == 6
    for ((s_, _, t_), y_), ((ps, pc, pt, real), py, w) in zip(plain, padded, strict=True):
        assert len(ps) == len(pc) == len(pt) == len(py) == 4 and real is w
        n = len(s_)
        assert real.tolist() == [1.0] * n + [0.0] * (4 - n)
        assert (ps[:n].tolist(), pt[:n].tolist(), py[:n].tolist()) == (
            s_.tolist(),
            t_.tolist(),
            y_.tolist(),
        )
        assert set(ps[n:].tolist()) <= set(s_.tolist())  # copies of the batch's own rows
    fit_input = make_input(TensorStore.from_arrays([], []), items, 4, pad=True)
    assert fit_input.padded and fit_input.steps_per_epoch == 3
