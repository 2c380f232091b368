"""The prepared GPU check (issue 27): training speed on the JAX backend, through microexp's own
store, trainer and LOSO runner, on random tensors of the papers' shapes.

Made for the project's GPU machine (one H200; JAX and torch with CUDA; no TensorFlow, dlib or
cv2.optflow; no network), within 8 minutes: sections run in order of importance, each under
its own time cap, and each appends its JSON to ``OUT/gpu_check.json`` as it finishes, so that a
cut run still returns what it measured. Batch shapes are fixed (example counts are multiples of
the batch) so that XLA compiles once per model, except where the LOSO folds' own sizes vary.

    KERAS_BACKEND=jax python benchmarks/gpu_check.py --out OUT           # on the GPU machine
    KERAS_BACKEND=jax python benchmarks/gpu_check.py --out OUT --smoke   # toy sizes, any CPU

Sections: ``env``; ``s3d`` (96 x 96 x 10 x 3 crops, batches 20 and 10, float32); ``atscnn``
(128 x 128 x 3, batch 64, float32); ``paper_b_loso`` (paper B's schedule, 200 epochs, batch
64, lr 1e-4, on a composite of the paper's size, 382 samples and 67 subjects: 5 folds, their
wall time against pure step time, the whole LOSO extrapolated); ``tvl1`` (pairs/s on the device
against OpenCV on every core); ``mixed`` (the same models in bfloat16 and float16).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
from random_data import random_store, samples  # noqa: E402 - beside this script


@dataclass(frozen=True)
class Sizes:
    """The papers' sizes, or toy ones (``--smoke``)."""

    s3d_size: int = 96
    s3d_frames: int = 10
    s3d_samples: int = 40
    s3d_batches: tuple[int, ...] = (20, 10)
    s3d_steps: int = 30
    atscnn_size: int = 128
    atscnn_batch: int = 64
    atscnn_steps: int = 30
    timed_epochs: int = 3
    loso_samples: int = 382
    loso_subjects: int = 67
    loso_epochs: int = 200
    loso_folds: int = 5
    tvl1_size: int = 128
    tvl1_pairs: int = 64


SMOKE = Sizes(
    s3d_size=16,
    s3d_frames=2,
    s3d_samples=6,
    s3d_batches=(4,),
    s3d_steps=2,
    atscnn_size=16,
    atscnn_batch=4,
    atscnn_steps=2,
    timed_epochs=1,
    loso_samples=24,
    loso_subjects=6,
    loso_epochs=2,
    loso_folds=1,
    tvl1_size=24,
    tvl1_pairs=2,
)

#: seconds each section may start work in (a compile cannot be cut short: caps are soft)
CAPS = {"env": 30, "s3d": 120, "atscnn": 60, "paper_b_loso": 110, "tvl1": 60, "mixed": 90}


class Clock:
    """The run's budget and the current section's cap."""

    def __init__(self, budget: float) -> None:
        self.end = time.perf_counter() + budget
        self.section_end = self.end

    def start(self, cap: float) -> None:
        self.section_end = min(self.end, time.perf_counter() + cap)

    def left(self) -> float:
        return self.section_end - time.perf_counter()


def throughput(
    model: str, policy: str, batch: int, sz: Sizes, clock: Clock, xla: bool = True
) -> dict:
    """Samples/s of one model trained through FreshModel, step_input_model (gather, cast and,
    for S3D, quarter turns in the step) and make_input; compile time; peak GPU memory."""
    import keras

    from microexp import backend
    from microexp.data import make_input, plain_items, resampled_items
    from microexp.models import build_model
    from microexp.training import (
        FreshModel,
        TrainConfig,
        configure_precision,
        set_determinism,
        step_input_mode,
        step_input_model,
        train,
    )

    keras.backend.clear_session()
    configure_precision(policy)
    set_determinism(0)
    s3d = model == "s3d"
    if s3d:
        shape = (9, sz.s3d_size, sz.s3d_size, sz.s3d_frames, 3)
        n_samples, steps = sz.s3d_samples, sz.s3d_steps
    else:
        shape = (sz.atscnn_size, sz.atscnn_size, 3)
        n_samples, steps = batch * sz.atscnn_steps, sz.atscnn_steps
    store = random_store(shape, samples(n_samples, min(n_samples, 5)))
    labels = [i % 5 for i in range(n_samples)]
    n_items = steps * batch  # a multiple of the batch: one batch shape, one compile
    if s3d:
        items = resampled_items(
            range(n_samples),
            labels,
            n_items // 5,
            list(range(1, 9)),
            True,
            np.random.default_rng(0),
            5,
        )
    else:
        items = plain_items(range(n_samples), labels)[:n_items]

    def make():
        if s3d:
            return build_model("s3d", num_classes=5, input_shape=shape[1:])
        return build_model("atscnn", num_classes=5, input_size=sz.atscnn_size)

    cfg = TrainConfig(epochs=1, batch_size=batch, lr=1e-4)

    mode = step_input_mode(turns=s3d)  # as the trainer chooses: "gather" but on TF's CPU

    def wrap(net):
        if mode != "gather":
            return step_input_model(net, turns=True)
        return step_input_model(
            net, store.variable("x", flat_crops=s3d), 9 if s3d else 0, turns=s3d
        )

    factory = FreshModel(make, cfg, jit_compile=xla, wrap=None if mode == "pipeline" else wrap)
    factory.get()
    t0 = time.perf_counter()
    data = make_input(store, items, batch, shuffle=True, seed=0, epochs=1, turn_in=mode)
    train(factory.fit_model, data, cfg)
    first = time.perf_counter() - t0
    epochs = sz.timed_epochs if clock.left() > 4 * first else 1
    timed = TrainConfig(epochs=epochs, batch_size=batch, lr=1e-4)
    t0 = time.perf_counter()
    data = make_input(store, items, batch, shuffle=True, seed=1, epochs=epochs, turn_in=mode)
    train(factory.fit_model, data, timed)
    spent = time.perf_counter() - t0
    per_epoch = spent / epochs
    configure_precision(False)
    return {
        "model": model,
        "backend": backend.name(),
        "input_mode": mode,
        "policy": policy,
        "batch": batch,
        "input": list(shape),
        "steps_per_epoch": steps,
        "timed_epochs": epochs,
        "samples_per_s": round(n_items * epochs / spent, 1),
        "step_ms": round(1000 * per_epoch / steps, 3),
        "first_epoch_s": round(first, 2),
        "compile_s": round(max(first - per_epoch, 0.0), 2),
        "peak_gpu_bytes": backend.peak_memory(),
    }


def section_env(sz: Sizes, clock: Clock) -> dict:
    import keras

    from microexp import backend

    out = {
        "backend": backend.name(),
        "describe": backend.describe(),
        "keras": keras.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "sizes": sz.__dict__,
    }
    if backend.name() == "jax":
        import jax

        out["devices"] = [
            f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}" for d in jax.devices()
        ]
    return out


def section_models(model: str, policies: tuple[str, ...], sz: Sizes, clock: Clock) -> dict:
    batches = sz.s3d_batches if model == "s3d" else (sz.atscnn_batch,)
    runs, skipped = [], []
    for policy in policies:
        for batch in batches:
            if runs and clock.left() < 1.5 * max(r["first_epoch_s"] for r in runs):
                skipped.append(f"{model} {policy} batch {batch}: section time cap")
                continue
            try:
                runs.append(throughput(model, policy, batch, sz, clock))
            except Exception as exc:  # noqa: BLE001 - recorded, the check goes on
                runs.append(
                    {
                        "model": model,
                        "policy": policy,
                        "batch": batch,
                        "error": f"{type(exc).__name__}: {exc}"[:500],
                    }
                )
                runs[-1]["first_epoch_s"] = 0.0
    return {"runs": runs, "skipped": skipped}


def section_paper_b_loso(sz: Sizes, clock: Clock, step_ms: float | None, out_dir: Path) -> dict:
    """Paper B's LOSO at its schedule on a composite of its size, a few folds, through
    KerasTrainer and run_loso (fold records written as in a real run)."""
    import keras

    from microexp.datasets.loso import split_folds
    from microexp.evaluation.loso import run_loso
    from microexp.experiments.data import Prepared
    from microexp.experiments.spec import Sampling
    from microexp.experiments.trainer import FitSetting, KerasTrainer
    from microexp.models import build_model
    from microexp.training import TrainConfig

    keras.backend.clear_session()
    sample_list = samples(sz.loso_samples, sz.loso_subjects)
    labels = [int(v) for v in np.random.default_rng(2).integers(0, 3, len(sample_list))]
    store = random_store((sz.atscnn_size, sz.atscnn_size, 3), sample_list)
    data = Prepared(sample_list, labels, ["negative", "positive", "surprise"], store)
    cfg = TrainConfig(epochs=sz.loso_epochs, batch_size=sz.atscnn_batch, lr=1e-4)
    setting = FitSetting(
        make=lambda: build_model("atscnn", num_classes=3, input_size=sz.atscnn_size),
        schedule=cfg,
        sampling=Sampling(),
        per_class=None,
        seed=0,
        mixed_precision=False,
        xla=True,
        run_eagerly=False,
        tensorboard=False,
        log_dir=out_dir / "logs",
        log=lambda m: None,
    )
    trainer = KerasTrainer(setting, data)
    folds: list[dict] = []

    def timed(train_s, test_s, fold):
        t0 = time.perf_counter()
        result = trainer.fit_predict(train_s, test_s, fold)
        n_train = len(train_s)
        steps = -(-n_train // sz.atscnn_batch) * sz.loso_epochs
        wall = time.perf_counter() - t0
        pure = None if step_ms is None else steps * step_ms / 1000
        folds.append(
            {
                "fold": fold.index,
                "train": n_train,
                "test": len(test_s),
                "steps": steps,
                "wall_s": round(wall, 2),
                "pure_step_s": None if pure is None else round(pure, 2),
                "overhead_s": None if pure is None else round(wall - pure, 2),
            }
        )
        return result

    n_folds = len(split_folds(sample_list, "loso"))
    todo = range(min(sz.loso_folds, n_folds))
    config = {"check": "gpu_check paper_b_loso", "sizes": sz.__dict__, "classes": data.classes}
    t0 = time.perf_counter()
    done = []
    for k in todo:
        if done and clock.left() < 1.5 * max(f["wall_s"] for f in folds):
            break
        run_loso(
            sample_list,
            labels,
            timed,
            out_dir / "paper_b_loso",
            config,
            folds=[k],
            log=lambda m: None,
        )
        done.append(k)
    total = time.perf_counter() - t0
    walls = [f["wall_s"] for f in folds]
    later = walls[1:] or walls
    return {
        "folds_total": n_folds,
        "folds_run": done,
        "folds": folds,
        "wall_s": round(total, 2),
        "first_fold_s": walls[0] if walls else None,
        "mean_later_fold_s": round(float(np.mean(later)), 2) if later else None,
        "whole_loso_extrapolated_s": round(walls[0] + float(np.mean(later)) * (n_folds - 1), 1)
        if walls
        else None,
        "epochs": sz.loso_epochs,
        "batch": sz.atscnn_batch,
    }


def section_tvl1(sz: Sizes, clock: Clock) -> dict:
    """TV-L1 pairs/s: microexp's keras.ops TV-L1 on the backend's device, batched, against
    OpenCV's on every core of this machine (threads; cv2 releases the GIL)."""
    from microexp.preprocess.flow import keras_flow_backend, tvl1_flows

    rng = np.random.default_rng(3)
    size, n = sz.tvl1_size, sz.tvl1_pairs
    base = rng.integers(0, 255, (n, size + 4, size + 4)).astype(np.uint8)
    prev, nxt = base[:, 2:-2, 2:-2], base[:, 1:-3, 3:-1]  # a one-pixel shift
    name = keras_flow_backend()
    t0 = time.perf_counter()
    tvl1_flows(prev, nxt, backend=name)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    flows = tvl1_flows(prev, nxt, backend=name)
    spent = time.perf_counter() - t0
    out = {
        "size": size,
        "pairs": n,
        "flow_backend": name,
        "first_call_s": round(first, 2),
        "device_pairs_per_s": round(n / spent, 2),
    }
    try:
        import cv2

        cv2.optflow.DualTVL1OpticalFlow_create  # noqa: B018 - present or not
    except (ImportError, AttributeError):
        out["cv2"] = "cv2.optflow missing on this machine: OpenCV's figure is the CPU host's"
        return out
    from concurrent.futures import ThreadPoolExecutor

    from microexp.preprocess.flow import tvl1_flow

    cores = os.cpu_count() or 1
    t0 = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        ref = list(pool.map(lambda ab: tvl1_flow(*ab), zip(prev, nxt, strict=True)))
    spent = time.perf_counter() - t0
    out.update(
        cv2_cores=cores,
        cv2_pairs_per_s=round(n / spent, 2),
        max_abs_diff_vs_cv2=float(np.abs(np.stack(ref) - flows).max()),
    )
    return out


def write(out_dir: Path, results: dict) -> None:
    from microexp.fileio import write_text

    write_text(out_dir / "gpu_check.json", json.dumps(results, indent=2, default=str))


def mixed(args: argparse.Namespace) -> list[tuple[str, tuple[str, ...]]]:
    """Both policies for both models; ``--smoke`` tries each policy once (one compile each)."""
    if args.smoke:
        return [("atscnn", ("bfloat16",)), ("s3d", ("float16",))]
    return [(m, ("bfloat16", "float16")) for m in ("atscnn", "s3d")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for gpu_check.json")
    ap.add_argument("--smoke", action="store_true", help="toy sizes (CPU, tests)")
    ap.add_argument("--budget", type=float, default=450.0, help="seconds for every section")
    ap.add_argument("--sections", default="env,s3d,atscnn,paper_b_loso,tvl1,mixed")
    args = ap.parse_args(argv)
    sz = SMOKE if args.smoke else Sizes()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = Clock(args.budget)
    results: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "smoke": args.smoke}
    wanted = args.sections.split(",")
    for name in wanted:
        if clock.end - time.perf_counter() < 5:
            results[name] = {"skipped": "run budget spent"}
            write(out_dir, results)
            continue
        clock.start(CAPS.get(name, 60) * (0.2 if args.smoke else 1))
        t0 = time.perf_counter()
        print(f"[gpu_check] {name} ...", flush=True)
        try:
            if name == "env":
                res = section_env(sz, clock)
            elif name in ("s3d", "atscnn"):
                res = section_models(name, ("float32",), sz, clock)
            elif name == "paper_b_loso":
                atscnn = results.get("atscnn", {}).get("runs", [])
                step = next((r["step_ms"] for r in atscnn if "step_ms" in r), None)
                res = section_paper_b_loso(sz, clock, step, out_dir)
            elif name == "tvl1":
                res = section_tvl1(sz, clock)
            elif name == "mixed":
                res = {m: section_models(m, policies, sz, clock) for m, policies in mixed(args)}
            else:
                res = {"error": f"unknown section {name!r}"}
        except Exception as exc:  # noqa: BLE001 - a broken section is recorded, not fatal
            res = {
                "error": f"{type(exc).__name__}: {exc}"[:1000],
                "traceback": traceback.format_exc()[-3000:],
            }
        res["section_s"] = round(time.perf_counter() - t0, 2)
        results[name] = res
        write(out_dir, results)
        print(f"[gpu_check] {name}: {res['section_s']} s", flush=True)
    errors = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    print(json.dumps(results, indent=1, default=str)[-6000:])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
