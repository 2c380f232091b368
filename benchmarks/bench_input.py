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
from microexp.data import TensorStore, make_dataset, plain_items, resampled_items
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


def _turn_rate(store: TensorStore, items, batch: int, epochs: int) -> float:
    """What the training step adds on a CPU: the cast to float32 and the quarter turns of
    each batch (:func:`turn_batch`, as ``turning_model`` runs them), alone."""
    import tensorflow as tf

    from microexp.data.pipeline import turn_batch

    ds = make_dataset(store, items, batch, shuffle=True, seed=0, turn_in="step")
    batches = [b[0] for b in ds.take(20)]
    step = tf.function(lambda x, k: turn_batch(tf.cast(x, tf.float32), k))
    step(*batches[0])
    t = time.perf_counter()
    for _ in range(epochs):
        for x, k in batches:
            step(x, k).numpy()
    return epochs * sum(int(x.shape[0]) for x, _ in batches) / (time.perf_counter() - t)


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
    # the trainer's mode: the pipeline gathers, the training step turns (on the device)
    s3d_rates = {b: _rate(s3d, items, b, args.epochs, "step") for b in (10, 64)}
    print(f"s3d (turns in the step): {s3d_rates}")
    turned_rates = {b: _rate(s3d, items, b, args.epochs) for b in (10, 64)}
    print(f"s3d (turns in the pipeline): {turned_rates}")
    turn_rate = _turn_rate(s3d, items, 10, args.epochs)
    print(f"the step's turn alone on this CPU, float32, batch 10: {turn_rate:.0f} samples/s")

    # paper B as it trains: a composite's samples (MEGC2019 has 442), each once an epoch
    atscnn = _store("atscnn", (128, 128, 3), args.composite, 128)
    labels = [i % 3 for i in range(args.composite)]
    once = plain_items(range(args.composite), labels)
    atscnn_rates = {64: _rate(atscnn, once, 64, 5 * args.epochs)}
    print(f"atscnn, {args.composite} samples each once an epoch: {atscnn_rates}")
    # the previous measurement: 40 samples repeated to 10,000 items (gathered per batch)
    small = _store("atscnn", (128, 128, 3), args.samples, 128)
    labels = [i % 3 for i in range(args.samples)]
    plain = plain_items([i % args.samples for i in range(args.examples * 5)], labels)
    repeated = {64: _rate(small, plain, 64, args.epochs)}
    print(f"atscnn, {args.samples} samples repeated to {len(plain)} items: {repeated}")

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "s3d_samples_per_s": s3d_rates[10],
        "atscnn_samples_per_s": atscnn_rates[64],
        "s3d_by_batch": s3d_rates,
        "s3d_mode": "gather in tf.data; cast and quarter turns in the training step",
        "s3d_turned_in_pipeline_by_batch": turned_rates,
        "s3d_step_turn_samples_per_s_cpu": turn_rate,
        "atscnn_by_batch": atscnn_rates,
        "atscnn_mode": f"{args.composite} samples, each once an epoch (sliced from memory)",
        "atscnn_repeated_items_by_batch": repeated,
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
