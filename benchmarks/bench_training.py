"""Is training input-bound? Steps per second of a model fed through the tf.data pipeline
(cache -> TensorStore -> crop, rotation, cast -> batch -> prefetch) against the same model fed
from in-memory tensors. Writes JSON.

    .venv/bin/python benchmarks/bench_training.py --out benchmarks/results/training.json
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
from microexp.data import TensorStore, make_dataset, resampled_items, to_arrays
from microexp.datasets import Sample
from microexp.features import FlowCache
from microexp.fileio import write_text
from microexp.models import build_model
from microexp.training import TrainConfig, compile_model, set_determinism


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/training.json")
    ap.add_argument("--model", default="s3d")
    ap.add_argument("--size", type=int, default=96, help="S3D input size (paper: 96)")
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()

    recipe = pp.get_recipe("s3d", size=args.size)
    root = tempfile.mkdtemp(prefix="bench_train_")
    cache = FlowCache(root, recipe)
    cache.ensure()
    rng = np.random.default_rng(0)
    samples = [
        Sample("casme2", f"sub{i // 4:02d}", f"EP{i:02d}", "/x", "img{:d}.jpg", 1, 2, 3, "a", 200.0)
        for i in range(20)
    ]
    for s in samples:
        cache.save(s, {"x": rng.normal(size=(9, args.size, args.size, 10, 3)).astype(np.float16)})
    store = TensorStore(cache, samples)
    labels = [i % 5 for i in range(len(samples))]
    items = resampled_items(
        range(len(samples)), labels, args.examples // 5, list(range(1, 9)), True, rng, 5
    )
    cfg = TrainConfig(args.epochs, args.batch, 1e-4)

    def timed(feed) -> float:
        set_determinism(0)
        model = build_model(args.model, num_classes=5, input_shape=(args.size, args.size, 10, 3))
        compile_model(model, cfg)
        model.fit(*feed(1), epochs=1, verbose=0)  # warm-up: tracing
        t = time.perf_counter()
        model.fit(*feed(args.epochs), epochs=args.epochs, verbose=0, shuffle=False)
        return time.perf_counter() - t

    x, y = to_arrays(store, items)
    in_memory = timed(lambda e: (x, y, args.batch))
    pipeline = timed(lambda e: (make_dataset(store, items, args.batch, shuffle=True),))
    steps = args.epochs * int(np.ceil(len(items) / args.batch))
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "model": args.model,
        "input": [args.size, args.size, 10, 3],
        "examples": len(items),
        "batch": args.batch,
        "epochs": args.epochs,
        "steps_per_s_in_memory": round(steps / in_memory, 3),
        "steps_per_s_pipeline": round(steps / pipeline, 3),
        "pipeline_over_in_memory": round(in_memory / pipeline, 3),
        "target": ">= 0.95",
    }
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
