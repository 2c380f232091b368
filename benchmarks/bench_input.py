"""The input pipeline alone (no model): samples per second that ``make_dataset`` delivers.

Paper A at paper size (stores of (9 crops, 96, 96, 10, 3) float16 tensors, class re-sampling
with random quarter turns, batch 10 and 64) and paper B (128 x 128 x 3, batch 64: a
composite's 442 samples each once an epoch, as paper B trains; and 40 samples repeated to
10,000 items, the first measurement's setting). Writes JSON with ``s3d_samples_per_s`` and ``atscnn_samples_per_s`` (the papers'
batch sizes), every batch size measured, and the machine.

    .venv/bin/python benchmarks/bench_input.py --out benchmarks/results/input.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np

from microexp import preprocess as pp
from microexp.data import TensorStore, plain_items, resampled_items
from microexp.data.tf_data import make_dataset, store_tensor
from microexp.datasets import Sample
from microexp.features import FlowCache
from microexp.fileio import write_text


def _store(recipe: str, shape: tuple[int, ...], n: int, size: int) -> TensorStore:
    cache = FlowCache(tempfile.mkdtemp(prefix="bench_input_"), pp.get_recipe(recipe, size=size))
    cache.ensure()
    rng = np.random.default_rng(0)
    samples = [
        Sample("casme2", f"sub{i // 4:02d}", f"EP{i:02d}", "/x", "img{:d}.jpg", 1, 2, 3, "a", 200.0)
        for i in range(n)
    ]
    for s in samples:
        cache.save(s, {"x": rng.normal(size=shape).astype(np.float16)})
    return TensorStore(cache, samples)


def _rate(store: TensorStore, items, batch: int, epochs: int, turn_in: str = "pipeline") -> float:
    ds = make_dataset(store, items, batch, shuffle=True, seed=0, turn_in=turn_in)
    for _ in ds:  # warm-up epoch: tracing, the store's variable
        pass
    t = time.perf_counter()
    for _ in range(epochs):
        for _ in ds:
            pass
    return epochs * len(items) / (time.perf_counter() - t)


def _step_rate(store: TensorStore, items, batch: int, epochs: int, crops: bool, turns: bool):
    """The trainer's mode, all its input work and no model: index batches from tf.data, then
    what ``step_input_model`` does in the training step (gather from the store's tensor,
    cast to float32, quarter turns), here in a ``tf.function`` on this CPU, one batch after
    the other. Returns (samples/s of it all, index batches alone in samples/s)."""
    import tensorflow as tf

    from microexp.data.examples import turn_batch

    var = store_tensor(store, "x", device=None)

    @tf.function
    def step_input(s, c, k):
        x = tf.gather_nd(var, tf.stack([s, c], axis=1)) if crops else tf.gather(var, s)
        x = tf.cast(x, tf.float32)
        return turn_batch(x, k) if turns else x

    ds = make_dataset(store, items, batch, shuffle=True, seed=0, turn_in="gather")
    for (s, c, k), _ in ds:  # warm-up: tracing
        step_input(s, c, k)
    t = time.perf_counter()
    for _ in range(epochs):
        for (s, c, k), _ in ds:
            step_input(s, c, k).numpy()
    full = epochs * len(items) / (time.perf_counter() - t)
    return full, _rate(store, items, batch, epochs, "gather")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/input.json")
    ap.add_argument("--samples", type=int, default=40, help="samples in each store")
    ap.add_argument("--examples", type=int, default=2000, help="examples per epoch")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--composite", type=int, default=442, help="paper B's samples (MEGC2019: 442)")
    args = ap.parse_args()

    s3d = _store("s3d", (9, 96, 96, 10, 3), args.samples, 96)
    labels = [i % 5 for i in range(args.samples)]
    rng = np.random.default_rng(0)
    items = resampled_items(
        range(args.samples), labels, args.examples // 5, list(range(1, 9)), True, rng, 5
    )
    # the trainer's mode: index batches; the training step gathers, casts and turns
    s3d_step = {b: _step_rate(s3d, items, b, args.epochs, True, True) for b in (10, 64)}
    print(f"s3d (gather, cast, turns in the step; index batches alone): {s3d_step}")
    gathered = {b: _rate(s3d, items, b, args.epochs, "turn") for b in (10, 64)}
    print(f"s3d (gather in tf.data, turns in the step): {gathered}")
    turned_rates = {b: _rate(s3d, items, b, args.epochs) for b in (10, 64)}
    print(f"s3d (gather and turns in tf.data): {turned_rates}")

    # paper B as it trains: a composite's samples (MEGC2019 has 442), each once an epoch
    atscnn = _store("atscnn", (128, 128, 3), args.composite, 128)
    labels = [i % 3 for i in range(args.composite)]
    once = plain_items(range(args.composite), labels)
    atscnn_step = {64: _step_rate(atscnn, once, 64, 5 * args.epochs, False, False)}
    print(f"atscnn, {args.composite} samples once an epoch, gather in the step: {atscnn_step}")
    sliced = {64: _rate(atscnn, once, 64, 5 * args.epochs)}
    print(f"atscnn, the same, sliced by tf.data: {sliced}")
    # the first measurement's setting: 40 samples repeated to 10,000 items
    small = _store("atscnn", (128, 128, 3), args.samples, 128)
    labels = [i % 3 for i in range(args.samples)]
    plain = plain_items([i % args.samples for i in range(args.examples * 5)], labels)
    repeated = {64: _rate(small, plain, 64, args.epochs)}
    print(f"atscnn, {args.samples} samples repeated to {len(plain)} items, tf.data: {repeated}")

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "s3d_samples_per_s": s3d_step[10][1],
        "atscnn_samples_per_s": atscnn_step[64][1],
        "mode": "the trainer's: tf.data yields index batches (these keys); the training step "
        "gathers from the store's tensor on the device, casts and turns",
        "s3d_by_batch": {b: v[1] for b, v in s3d_step.items()},
        "s3d_step_input_on_this_cpu_by_batch": {b: v[0] for b, v in s3d_step.items()},
        "s3d_gather_in_tfdata_turns_in_step_by_batch": gathered,
        "s3d_gather_and_turns_in_tfdata_by_batch": turned_rates,
        "atscnn_by_batch": {b: v[1] for b, v in atscnn_step.items()},
        "atscnn_step_input_on_this_cpu_by_batch": {b: v[0] for b, v in atscnn_step.items()},
        "atscnn_sliced_in_tfdata_by_batch": sliced,
        "atscnn_repeated_items_in_tfdata_by_batch": repeated,
        "s3d_example": [96, 96, 10, 3],
        "atscnn_example": [128, 128, 3],
        "examples_per_epoch": {
            "s3d": len(items),
            "atscnn": len(once),
            "atscnn_repeated": len(plain),
        },
        "targets": {"s3d_samples_per_s": 3000, "atscnn_samples_per_s": 30000},
    }
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
