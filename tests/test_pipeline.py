from __future__ import annotations

import warnings

import numpy as np
import pytest

from microexp import datasets as ds
from microexp import preprocess as pp
from microexp import synthetic
from microexp.data import (
    EmptyClassWarning,
    Item,
    TensorStore,
    make_dataset,
    plain_items,
    resampled_items,
    to_arrays,
)
from microexp.features import FlowCache, build_cache


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


def test_dataset_shuffles_each_epoch(store: TensorStore) -> None:
    items = [Item(i % len(store.samples), 0, 0, i) for i in range(12)]
    ds_ = make_dataset(store, items, batch_size=12, shuffle=True, seed=3)
    first = next(iter(ds_))[1].numpy().tolist()
    second = next(iter(ds_))[1].numpy().tolist()
    assert sorted(first) == list(range(12)) and first != second


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


def test_shuffled_order_is_that_of_the_in_memory_dataset(store: TensorStore) -> None:
    """For a given seed the pipeline yields the same examples in the same order as a shuffled
    ``from_tensor_slices`` of the materialised examples (the pipeline it replaced)."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    items = resampled_items(range(3), [0, 1, 2], 7, list(range(1, 9)), True, rng, 3)
    ref_x, ref_y = to_arrays(store, items)
    tf.random.set_seed(5)
    old = tf.data.Dataset.from_tensor_slices((ref_x, ref_y)).shuffle(
        len(items), seed=3, reshuffle_each_iteration=True
    )
    old = old.batch(4)
    tf.random.set_seed(5)
    new = make_dataset(store, items, batch_size=4, shuffle=True, seed=3)
    for _ in range(2):  # two epochs: each reshuffled alike
        for (xa, ya), (xb, yb) in zip(old, new, strict=True):
            assert np.array_equal(xa.numpy(), xb.numpy()) and np.array_equal(ya, yb)


def test_turns_in_the_training_step_give_the_same_examples(store: TensorStore) -> None:
    """``turn_in="turn"`` yields the stored examples with their turns, ``"gather"`` only their
    indices; the training step's gather and turn (either implementation: partition, or
    static for XLA) give the pipeline's examples, in the same shuffled order."""
    import tensorflow as tf

    from microexp.data.pipeline import turn_batch

    rng = np.random.default_rng(2)
    items = resampled_items(range(3), [0, 1, 2], 6, list(range(9)), True, rng, 3)
    tf.random.set_seed(5)
    turned = list(make_dataset(store, items, batch_size=5, shuffle=True, seed=1))
    tf.random.set_seed(5)
    raw = list(make_dataset(store, items, batch_size=5, shuffle=True, seed=1, turn_in="turn"))
    assert len(turned) == len(raw)
    for (x, y), ((x0, k), y0) in zip(turned, raw, strict=True):
        assert np.array_equal(y, y0) and set(k.numpy()) <= {0, 1, 2, 3}
        for static in (False, True):
            assert np.array_equal(turn_batch(x0, k, static=static).numpy(), x.numpy())
    tf.random.set_seed(5)
    idx = list(make_dataset(store, items, batch_size=5, shuffle=True, seed=1, turn_in="gather"))
    var = store.tensor("x", device=None)
    for ((x0, k), _), ((s_, c_, k2), y2), (_, y) in zip(raw, idx, turned, strict=True):
        assert np.array_equal(k, k2) and np.array_equal(y2, y)
        gathered = tf.gather_nd(var, tf.stack([s_, c_], axis=1))
        assert np.array_equal(gathered.numpy(), x0.numpy())
    plain = next(iter(make_dataset(store, plain_items([0], [0]), 1, turn_in="turn")))
    assert plain[0][1].numpy().tolist() == [0]  # unturned items still carry their turn
    with pytest.raises(ValueError, match="turn_in"):
        make_dataset(store, items, 5, turn_in="model")


def test_sliced_plain_items_equal_the_gathered_ones(store: TensorStore, monkeypatch) -> None:
    """Paper B's plain items are sliced from one in-memory copy when small enough, else
    gathered per batch: the same batches, in the same shuffled order, either way."""
    import tensorflow as tf

    from microexp.data import pipeline

    items = plain_items([2, 0, 1, 2, 1], [0, 1, 2], crop=None)

    def batches():
        tf.random.set_seed(4)
        ds_ = make_dataset(store, items, batch_size=2, shuffle=True, seed=6, dtype="float32")
        return [(x.numpy(), y.numpy()) for _ in range(2) for x, y in ds_]

    sliced = batches()
    monkeypatch.setattr(pipeline, "SLICE_BYTES", 0)
    gathered = batches()
    assert len(sliced) == len(gathered) == 6
    for (xa, ya), (xb, yb) in zip(sliced, gathered, strict=True):
        assert xa.dtype == np.float32 and np.array_equal(xa, xb) and np.array_equal(ya, yb)


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
