"""Folds trained together by vectorising the training step over them (issue 28's JAX route):
one optimiser step of K folds at once (``jax.vmap`` of Keras' stateless ``train_step`` over
each fold's weights, optimizer state and batch) against K steps of one fold, ATSCNN on random
tensors. JAX only. Writes JSON::

    KERAS_BACKEND=jax python benchmarks/vmap_folds.py --out benchmarks/results/vmap_folds.json
    KERAS_BACKEND=jax python benchmarks/vmap_folds.py --size 128 --batch 64 --ks 1,4,8 --out ...

This measures the step only (what the route could gain); it is not wired into the runner.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")


def step_times(size: int, batch: int, ks: list[int], repeats: int = 10) -> dict:
    """Seconds per step of one fold, and of K folds vmapped, for each K in ``ks``."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from microexp import backend
    from microexp.models import build_model
    from microexp.training import TrainConfig, compile_model

    if backend.name() != "jax":
        raise SystemExit("vmap_folds.py: KERAS_BACKEND=jax only")
    keras.utils.set_random_seed(0)
    model = build_model("atscnn", num_classes=3, input_size=size)
    compile_model(model, TrainConfig(1, batch, 1e-4), from_logits=False)
    rng = np.random.default_rng(0)

    def batch_of(*lead):
        x = rng.normal(size=(*lead, batch, size, size, 3)).astype("float32")
        return jnp.asarray(x), jnp.asarray(rng.integers(0, 3, (*lead, batch)))

    model.train_on_batch(*(np.asarray(a) for a in batch_of()))  # builds optimizer and metrics
    state = tuple(
        [v.value for v in group]
        for group in (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
    )

    def timed(fn, st, data) -> tuple[float, float]:
        t = time.perf_counter()
        logs, st = fn(st, data)
        jax.block_until_ready(logs)
        first = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(repeats):
            logs, st = fn(st, data)
        jax.block_until_ready(logs)
        return (time.perf_counter() - t) / repeats, first

    one, one_first = timed(jax.jit(model.train_step), state, batch_of())
    rows = []
    for k in ks:
        stacked = jax.tree_util.tree_map(lambda a, k=k: jnp.stack([a] * k), state)
        per_step, first = timed(jax.jit(jax.vmap(model.train_step)), stacked, batch_of(k))
        rows.append(
            {
                "k": k,
                "step_s": round(per_step, 5),
                "per_fold_step_s": round(per_step / k, 5),
                "speedup_vs_one_by_one": round(k * one / per_step, 3),
                "compile_s": round(max(first - per_step, 0.0), 2),
            }
        )
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "devices": [str(d) for d in jax.devices()],
        "size": size,
        "batch": batch,
        "one_fold_step_s": round(one, 5),
        "one_fold_compile_s": round(max(one_first - one, 0.0), 2),
        "vmapped": rows,
        "peak_gpu_bytes": backend.peak_memory(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSON file")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--ks", default="2,4")
    args = ap.parse_args(argv)
    result = step_times(args.size, args.batch, [int(v) for v in args.ks.split(",")])
    from microexp.fileio import write_text

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
