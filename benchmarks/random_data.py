"""Random stand-ins for a prepared dataset, for benchmarks that time training without data
(the GPU machine has no dlib, so the synthetic generator cannot run there)."""

from __future__ import annotations

import numpy as np


def samples(n: int, subjects: int, dataset: str = "casme2"):
    """``n`` Sample records spread over ``subjects`` subjects (every subject at least one)."""
    from microexp.datasets import Sample

    rng = np.random.default_rng(1)
    owner = np.concatenate([np.arange(subjects), rng.integers(0, subjects, n - subjects)])
    return [
        Sample(dataset, f"s{owner[i]:03d}", f"c{i:04d}", "/none", "{:d}.jpg", 1, 2, 3, "x", 200.0)
        for i in range(n)
    ]


def random_store(shape: tuple[int, ...], sample_list):
    """A TensorStore of random float16 tensors of ``shape`` (as the cache holds them)."""
    from microexp.data import TensorStore

    rng = np.random.default_rng(0)
    arrays = [{"x": rng.standard_normal(shape, dtype=np.float32).astype(np.float16)}]
    arrays += [{"x": np.roll(arrays[0]["x"], i + 1, axis=-2)} for i in range(len(sample_list) - 1)]
    return TensorStore.from_arrays(sample_list, arrays)
