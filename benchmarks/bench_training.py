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
from microexp.data import TensorStore, plain_items, resampled_items, to_arrays
from microexp.data.tf_data import make_dataset, store_tensor
from microexp.datasets import Sample
from microexp.features import FlowCache
from microexp.fileio import write_text
from microexp.models import build_model
from microexp.training import (
    TrainConfig,
    compile_model,
    set_determinism,
    step_input_mode,
    step_input_model,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/training.json")
    ap.add_argument("--model", default="s3d", help="s3d (paper A) or atscnn (paper B)")
    ap.add_argument("--size", type=int, help="input size (papers: 96 for s3d, 128 for atscnn)")
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--batch", type=int, help="papers: 10 for s3d, 64 for atscnn")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument(
        "--mode",
        choices=("pipeline", "turn", "gather"),
        help="make_dataset's turn_in (default: the trainer's choice on this machine)",
    )
    args = ap.parse_args()
    paper_b = args.model == "atscnn"
    args.size = args.size or (128 if paper_b else 96)
    args.batch = args.batch or (64 if paper_b else 10)
    shape = (args.size, args.size, 3) if paper_b else (9, args.size, args.size, 10, 3)

    recipe = pp.get_recipe(args.model, size=args.size)
    root = tempfile.mkdtemp(prefix="bench_train_")
    cache = FlowCache(root, recipe)
    cache.ensure()
    rng = np.random.default_rng(0)
    samples = [
        Sample("casme2", f"sub{i // 4:02d}", f"EP{i:02d}", "/x", "img{:d}.jpg", 1, 2, 3, "a", 200.0)
        for i in range(20)
    ]
    for s in samples:
        cache.save(s, {"x": rng.normal(size=shape).astype(np.float16)})
    store = TensorStore(cache, samples)
    classes = 3 if paper_b else 5
    labels = [i % classes for i in range(len(samples))]
    if paper_b:  # paper B: no re-sampling; every training sample once per epoch
        items = plain_items([i % len(samples) for i in range(args.examples)], labels)
    else:  # paper A: re-sampled shifted crops with random rotation
        items = resampled_items(
            range(len(samples)), labels, args.examples // 5, list(range(1, 9)), True, rng, 5
        )
    cfg = TrainConfig(args.epochs, args.batch, 1e-4)

    mode = args.mode or step_input_mode(turns=not paper_b)  # as the trainer picks it

    def timed(feed, step_input: bool = False) -> float:
        set_determinism(0)
        size = {"input_size": args.size} if paper_b else {"input_shape": shape[1:]}
        model = build_model(args.model, num_classes=classes, **size)
        if step_input and mode == "gather":  # the step gathers (and turns paper A's crops)
            store_x = store_tensor(store, "x", device=None)
            model = step_input_model(model, store_x, crops=not paper_b, turns=not paper_b)
        elif step_input and mode == "turn":
            model = step_input_model(model)
        compile_model(model, cfg)
        model.fit(*feed(1), epochs=1, verbose=0)  # warm-up: tracing
        t = time.perf_counter()
        model.fit(*feed(args.epochs), epochs=args.epochs, verbose=0, shuffle=False)
        return time.perf_counter() - t

    x, y = to_arrays(store, items)
    in_memory = timed(lambda e: (x, y, args.batch))
    pipeline = timed(
        lambda e: (make_dataset(store, items, args.batch, shuffle=True, turn_in=mode),),
        step_input=True,
    )
    steps = args.epochs * int(np.ceil(len(items) / args.batch))
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "model": args.model,
        "input": list(shape[1:] if not paper_b else shape),
        "examples": len(items),
        "batch": args.batch,
        "epochs": args.epochs,
        "steps_per_s_in_memory": round(steps / in_memory, 3),
        "steps_per_s_pipeline": round(steps / pipeline, 3),
        "pipeline_over_in_memory": round(in_memory / pipeline, 3),
        "pipeline_mode": mode,
        "target": ">= 0.95",
    }
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
