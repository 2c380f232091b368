"""Where a LOSO fold's time goes: the fold's phases (fresh model, input, fit, predict), each
epoch's time, and the time in optimiser steps, through the library's own trainer
(:class:`microexp.experiments.trainer.KerasTrainer`) on a random store of the demo's or the
paper's sizes (issue 28).

"Time in steps" is the steady-state median of one optimiser step (each step synchronised by
reading its loss, so that JAX's asynchronous dispatch is not mistaken for speed) times the
fold's number of steps; the rest of the fold's wall time is overhead. Writes JSON::

    python benchmarks/fold_overhead.py --out benchmarks/results/fold_overhead.json
    KERAS_BACKEND=jax python benchmarks/fold_overhead.py --out ...   # any backend
    python benchmarks/fold_overhead.py --size paper --folds 3 ...     # paper B's schedule
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from random_data import random_store, samples  # noqa: E402 - beside this script


@dataclass(frozen=True)
class Setting:
    """A paper B composite and schedule: ``demo`` as the demo preset trains ATSCNN (64 px, 5
    epochs, batch 16, Adam 1e-3) on a composite of the demo's size (78 samples of 18 subjects); ``paper`` paper B's (128 px,
    200 epochs, batch 64, 1e-4, 382 samples of 67 subjects)."""

    size: int
    epochs: int
    batch: int
    lr: float
    samples: int
    subjects: int


SETTINGS = {
    "demo": Setting(size=64, epochs=5, batch=16, lr=1e-3, samples=78, subjects=18),
    "paper": Setting(size=128, epochs=200, batch=64, lr=1e-4, samples=382, subjects=67),
    "smoke": Setting(size=16, epochs=2, batch=4, lr=1e-3, samples=24, subjects=6),  # tests
}


def machine() -> str:
    cores = os.cpu_count()
    return f"{platform.machine()} {platform.processor() or 'cpu'}, {cores} cores"


def data_for(s: Setting):
    """A Prepared composite of random float16 flow images (the cache's dtype)."""
    from microexp.experiments.data import Prepared

    sample_list = samples(s.samples, s.subjects)
    store = random_store((s.size, s.size, 3), sample_list)
    labels = [int(v) for v in np.random.default_rng(2).integers(0, 3, s.samples)]
    return Prepared(sample_list, labels, ["negative", "positive", "surprise"], store)


class StepClock:
    """Keras callback: each epoch's span (the loss read at its end: synchronised) and, when
    ``sync_steps``, each step's end, the loss read after every step (which stops JAX from
    queueing the next step early: a GPU's wall time is then measured without it)."""

    def __new__(cls, sync_steps: bool = True):
        import keras

        class _Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.epochs, self.steps, self.t0 = [], [], time.perf_counter()

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch_start = time.perf_counter()
                self.steps.append([self.epoch_start])

            def on_train_batch_end(self, batch, logs=None):
                if sync_steps:
                    float(logs["loss"])  # wait for the step
                    self.steps[-1].append(time.perf_counter())

            def on_epoch_end(self, epoch, logs=None):
                float(logs["loss"])
                self.epochs.append(time.perf_counter() - self.epoch_start)

        return _Clock()


def fold_phases(trainer, data, train_s, test_s, k: int, sync_steps: bool = True) -> dict:
    """One fold as :meth:`KerasTrainer.fit_predict` runs it, each phase timed; with
    ``sync_steps`` also each step (``steady_step_s``: the median after the first epoch)."""
    from microexp.data import make_input, plain_items, to_arrays
    from microexp.experiments.trainer import draw_items, seeds_for
    from microexp.training import configure_precision, predict_fixed, set_determinism, train

    s = trainer.s
    times = {}
    t = time.perf_counter()
    seeds = seeds_for(s.seed, k)
    configure_precision(s.mixed_precision)
    set_determinism(seeds.keras)
    items, _ = draw_items(s, data, data.indices(train_s), seeds.rng, f" fold {k}")
    model = trainer.factory.get()
    times["fresh_model_s"] = time.perf_counter() - t
    t = time.perf_counter()
    fit_input = make_input(
        data.store,
        items,
        s.schedule.batch_size,
        s.input_key,
        shuffle=True,
        seed=seeds.shuffle,
        epochs=s.schedule.epochs,
        turn_in=trainer.turn_in,
        pad=trainer.pad,
    )
    times["input_s"] = time.perf_counter() - t
    clock = StepClock(sync_steps)
    fit_model = trainer.factory.fit_model
    t = time.perf_counter()
    train(fit_model, fit_input, s.schedule, None, tensorboard=False, callbacks=[clock])
    times["fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    test_items = plain_items(data.indices(test_s), data.labels)
    x_test, _ = to_arrays(data.store, test_items, s.input_key)
    predict_fixed(model, x_test, s.schedule.batch_size)
    times["predict_s"] = time.perf_counter() - t
    gaps = [b - a for epoch in clock.steps for a, b in zip(epoch, epoch[1:], strict=False)]
    first_epoch_steps = len(clock.steps[0]) - 1
    later = gaps[first_epoch_steps:] or gaps
    return {
        "fold": k,
        "train": len(items),
        "test": len(test_s),
        "steps": -(-len(items) // s.schedule.batch_size) * s.schedule.epochs,
        "epoch_s": [round(e, 3) for e in clock.epochs],
        "steady_step_s": statistics.median(later) if later else None,
        **{key: round(v, 3) for key, v in times.items()},
    }


def trainer_for(setting: str, seed: int = 0):
    """The library's trainer for ``setting`` on its random composite, and the composite."""
    from microexp.experiments.spec import Sampling
    from microexp.experiments.trainer import FitSetting, KerasTrainer
    from microexp.models import build_model
    from microexp.training import TrainConfig

    s = SETTINGS[setting]
    data = data_for(s)
    fit = FitSetting(
        make=lambda: build_model("atscnn", num_classes=3, input_size=s.size),
        schedule=TrainConfig(epochs=s.epochs, batch_size=s.batch, lr=s.lr),
        sampling=Sampling(),
        per_class=None,
        seed=seed,
        mixed_precision=False,
        xla=False,  # as the demo runs (JAX compiles every step with XLA anyway)
        run_eagerly=False,
        tensorboard=False,
        log_dir=Path(tempfile.mkdtemp(prefix="fold_overhead-")),  # train() gets log_dir None
        log=lambda m: None,
    )
    return KerasTrainer(fit, data), data


def run_folds(trainer, data, indices, sync_steps: bool = True) -> list[dict]:
    """Folds ``indices`` (LOSO order) through :func:`fold_phases`, each with its wall time,
    time in steps (its steady step times its steps; with ``sync_steps`` False, none) and
    overhead."""
    from microexp.datasets.loso import split_folds

    folds = split_folds(data.samples, "loso")
    rows = []
    for k in indices:
        fold = folds[k]
        t0 = time.perf_counter()
        train_s = [data.samples[i] for i in fold.train]
        test_s = [data.samples[i] for i in fold.test]
        row = fold_phases(trainer, data, train_s, test_s, fold.index, sync_steps)
        row["wall_s"] = round(time.perf_counter() - t0, 3)
        if row["steady_step_s"] is not None:
            row["step_time_s"] = round(row["steady_step_s"] * row["steps"], 3)
            row["overhead_s"] = round(row["wall_s"] - row["step_time_s"], 3)
            row["overhead_fraction"] = round(row["overhead_s"] / row["wall_s"], 3)
        rows.append(row)
    return rows


def measure(setting: str, folds: int, seed: int) -> dict:
    import keras

    from microexp import backend

    trainer, data = trainer_for(setting, seed)
    rows = run_folds(trainer, data, range(folds))
    later = rows[1:] or rows
    return {
        "backend": backend.name(),
        "keras": keras.__version__,
        "machine": machine(),
        "setting": {"name": setting, **asdict(SETTINGS[setting])},
        "input_mode": trainer.turn_in,
        "padded_batches": trainer.pad,
        "folds": rows,
        "later_folds": {
            key: round(statistics.mean(r[key] for r in later), 3)
            for key in (
                "wall_s",
                "step_time_s",
                "overhead_s",
                "overhead_fraction",
                "fresh_model_s",
                "input_s",
                "fit_s",
                "predict_s",
            )
        },
    }


def worker(setting: str, indices: list[int], seed: int) -> dict:
    """Folds ``indices`` as one of several processes sharing a device would train them."""
    from microexp import backend

    t0 = time.perf_counter()
    trainer, data = trainer_for(setting, seed)
    rows = run_folds(trainer, data, indices, sync_steps=False)
    return {
        "folds": rows,
        "wall_s": round(time.perf_counter() - t0, 3),
        "peak_gpu_bytes": backend.peak_memory(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSON file")
    ap.add_argument("--size", choices=sorted(SETTINGS), default="demo")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--only",
        help="these fold indices, e.g. 0,3,6 (a worker of gpu_check's parallel_folds), "
        "without per-step synchronisation: wall times only",
    )
    args = ap.parse_args(argv)
    if args.only:
        result = worker(args.size, [int(v) for v in args.only.split(",")], args.seed)
    else:
        result = measure(args.size, args.folds, args.seed)
    from microexp.fileio import write_text

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, json.dumps(result, indent=1))
    print(json.dumps(result.get("later_folds", result), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
