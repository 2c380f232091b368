"""The prepared GPU check (issues 27 and 28): training speed on the JAX backend, through
microexp's own store, trainer and LOSO runner, on random tensors of the papers' shapes.

Made for the project's GPU machine (one H200; JAX and torch with CUDA; no TensorFlow, dlib or
cv2.optflow; no network), within 9 minutes: sections run in order of importance, each under
its own time cap, and each appends its JSON to ``OUT/gpu_check.json`` as it finishes, so that a
cut run still returns what it measured. Every batch has one shape (the trainer pads short
batches), so XLA compiles once per model.

    KERAS_BACKEND=jax python benchmarks/gpu_check.py --out OUT           # on the GPU machine
    KERAS_BACKEND=jax python benchmarks/gpu_check.py --out OUT --smoke   # toy sizes, any CPU

Sections: ``env``; ``atscnn`` (128 x 128 x 3, batch 64, float32); ``paper_b_loso`` (paper B's
schedule, 200 epochs, batch 64, lr 1e-4, on a composite of the paper's size, 382 samples and
67 subjects: 5 folds, each fold's phases and epochs against its time in steps, the whole LOSO
extrapolated); ``parallel_folds`` (4 of those folds in 2 and 4 worker processes sharing the
GPU); ``vmap_folds`` (one step of 2, 4 and 8 folds vectorised, against one fold's); ``paper_a`` (pre-training on a measured share of an epoch and 3 fine-tuning folds, each
extrapolated); ``s3d`` (96 x 96 x 10 x 3 crops, batches 20 and 10, float32); ``mixed`` (the
same models in bfloat16 and float16); ``tvl1`` (pairs/s on the device against OpenCV on every
core).
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
    parallel_folds: int = 4
    parallel_ks: tuple[int, ...] = (2, 4)
    vmap_ks: tuple[int, ...] = (2, 4, 8)
    pretrain_samples: int = 48
    pretrain_share_per_class: int = 150  # of paper A's 1,500: a tenth of an epoch, timed
    finetune_samples: int = 247
    finetune_subjects: int = 26
    finetune_per_class: int = 50
    finetune_epochs: int = 40
    finetune_folds_timed: int = 3
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
    loso_folds=2,
    parallel_folds=2,
    parallel_ks=(2,),
    vmap_ks=(2,),
    pretrain_samples=12,
    pretrain_share_per_class=6,
    finetune_samples=12,
    finetune_subjects=3,
    finetune_per_class=4,
    finetune_epochs=1,
    finetune_folds_timed=2,
    tvl1_size=24,
    tvl1_pairs=2,
)

#: seconds each section may start work in (a compile cannot be cut short: caps are soft)
CAPS = {
    "env": 20,
    "atscnn": 45,
    "paper_b_loso": 120,
    "parallel_folds": 90,
    "vmap_folds": 40,
    "paper_a": 110,
    "s3d": 60,
    "mixed": 60,
    "tvl1": 30,
}


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
    """Samples/s of one model trained through ReusedModel, step_input_model (gather, cast and,
    for S3D, quarter turns in the step) and make_input; compile time; peak GPU memory."""
    import keras

    from microexp import backend
    from microexp.data import make_input, plain_items, resampled_items
    from microexp.models import build_model
    from microexp.training import (
        ReusedModel,
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

    factory = ReusedModel(make, cfg, jit_compile=xla, wrap=None if mode == "pipeline" else wrap)
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


def section_paper_b_loso(sz: Sizes, clock: Clock, out_dir: Path) -> dict:
    """Paper B's LOSO at its schedule on a composite of its size (random tensors), a few folds,
    through the library's trainer (fold_overhead.py's phases: fresh model, input, fit, predict,
    each epoch). Fold 0 reads the loss after every step (synchronised), for the steady step
    time; later folds run as a real run does, unsynchronised, for the wall time. "Time in
    steps" is that steady step times each fold's steps."""
    import fold_overhead as fo  # beside this script
    import keras

    from microexp.datasets.loso import split_folds

    keras.backend.clear_session()
    setting = "smoke" if sz.loso_epochs < 10 else "paper"
    trainer, data = fo.trainer_for(setting)
    n_folds = len(split_folds(data.samples, "loso"))
    rows = fo.run_folds(trainer, data, [0], sync_steps=True)
    step = rows[0]["steady_step_s"]
    for k in range(1, min(sz.loso_folds, n_folds)):
        if len(rows) > 1 and clock.left() < 1.5 * max(r["wall_s"] for r in rows[1:]):
            break  # fold 1 always runs: fold 0's wall holds the compile
        rows += fo.run_folds(trainer, data, [k], sync_steps=False)
    for r in rows:
        r["time_in_steps_s"] = round(step * r["steps"], 3)
        r["steps_fraction"] = round(r["time_in_steps_s"] / r["wall_s"], 3)
    later = rows[1:] or rows
    mean_later = float(np.mean([r["wall_s"] for r in later]))
    epochs = fo.SETTINGS[setting].epochs
    return {
        "setting": {"name": setting, **fo.asdict(fo.SETTINGS[setting])},
        "padded_batches": trainer.pad,
        "folds_total": n_folds,
        "folds": rows,
        "steady_step_s": step,
        "first_fold_s": rows[0]["wall_s"],
        "mean_later_fold_s": round(mean_later, 2),
        "later_steps_fraction": round(float(np.mean([r["steps_fraction"] for r in later])), 3),
        "whole_loso_extrapolated_s": round(rows[0]["wall_s"] + mean_later * (n_folds - 1), 1),
        "samples_per_s_later": round(  # training examples seen per second of wall time
            float(np.mean([r["train"] * epochs / r["wall_s"] for r in later])), 1
        ),
    }


def section_parallel_folds(sz: Sizes, clock: Clock, out_dir: Path) -> dict:
    """The same folds of paper B's LOSO trained by K worker processes sharing the device
    (``--parallel-folds K``'s route; each JAX worker preallocates at most 0.9 / K of GPU
    memory), each K timed from the first start to the last end, process start and compile
    included. Fold records are not compared here (tests/test_experiments.py does that)."""
    import subprocess

    setting = "smoke" if sz.loso_epochs < 10 else "paper"
    folds = list(range(sz.parallel_folds))
    script = Path(__file__).with_name("fold_overhead.py")
    runs = []
    for k in sz.parallel_ks:
        if runs and clock.left() < 1.2 * runs[-1]["wall_s"]:
            runs.append({"k": k, "skipped": "section time cap"})
            continue
        shares = [folds[i::k] for i in range(k)]
        env = {**os.environ, "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.9 / k:.3f}"}
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(script),
                    "--size",
                    setting,
                    "--only",
                    ",".join(map(str, share)),
                    "--out",
                    str(out_dir / f"parallel_k{k}_{i}.json"),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i, share in enumerate(shares)
        ]
        errors = [p.communicate()[1][-500:] for p in procs]
        wall = time.perf_counter() - t0
        bad = [e for p, e in zip(procs, errors, strict=True) if p.returncode]
        parts = [json.loads((out_dir / f"parallel_k{k}_{i}.json").read_text()) for i in range(k)]
        runs.append(
            {
                "k": k,
                "folds": len(folds),
                "wall_s": round(wall, 2),
                "folds_per_min": round(60 * len(folds) / wall, 2),
                "worker_wall_s": [p["wall_s"] for p in parts] if not bad else None,
                "peak_gpu_bytes": [p["peak_gpu_bytes"] for p in parts] if not bad else None,
                **({"error": bad[0]} if bad else {}),
            }
        )
    return {"setting": setting, "runs": runs}


def section_vmap_folds(sz: Sizes, clock: Clock) -> dict:
    """One ATSCNN step of K folds vectorised (``jax.vmap`` over each fold's weights,
    optimizer state and batch) against one fold's step (vmap_folds.py)."""
    import keras
    import vmap_folds  # beside this script

    keras.backend.clear_session()
    return vmap_folds.step_times(sz.atscnn_size, sz.atscnn_batch, list(sz.vmap_ks))


def section_paper_a(sz: Sizes, clock: Clock, out_dir: Path) -> dict:
    """Paper A at its schedule on random tensors of its shapes, flows excluded: pre-training
    (CK+, 7 classes, 1,500 re-sampled crops per class, batch 20, 80 epochs) timed on a share of
    an epoch (fewer crops per class) and extrapolated by steps; fine-tuning (blocks 1-3 frozen,
    5 classes, 50 crops per class, batch 10, 40 epochs) timed on a few of its 26 LOSO folds and
    extrapolated."""
    import keras

    from microexp import backend
    from microexp.datasets.loso import split_folds
    from microexp.models import build_model, freeze_blocks, replace_head
    from microexp.training import TrainConfig

    keras.backend.clear_session()
    shape = (9, sz.s3d_size, sz.s3d_size, sz.s3d_frames, 3)
    share = sz.pretrain_share_per_class
    cfg = TrainConfig(epochs=2, batch_size=20, lr=1e-4, decay_every=20)
    ck = _prepared(shape, sz.pretrain_samples, 6, 7, "ckplus")
    pre = _trainer(
        lambda: build_model("s3d", num_classes=7, input_shape=shape[1:]),
        cfg, share, tuple(range(9)), None, ck, out_dir,
    )  # fmt: skip
    clock_cb = _EpochClock()
    t0 = time.perf_counter()
    pre.fit(ck.samples, None, "pretrain", callbacks=[clock_cb])
    steps_share = -(-7 * share // 20)
    epoch_s = clock_cb.epochs[-1]  # the first epoch also compiles
    paper_steps = -(-7 * 1500 // 20) * 80
    pretrain = {
        "measured_steps_per_epoch": steps_share,
        "epoch_s": [round(e, 3) for e in clock_cb.epochs],
        "wall_s": round(time.perf_counter() - t0, 2),
        "step_ms": round(1000 * epoch_s / steps_share, 3),
        "paper_steps": paper_steps,
        "extrapolated_s": round(paper_steps * epoch_s / steps_share + clock_cb.epochs[0], 1),
        "samples_per_s": round(20 * steps_share / epoch_s, 1),
        "peak_gpu_bytes": backend.peak_memory(),
    }
    base = build_model("s3d", num_classes=7, input_shape=shape[1:])  # stands in for pre-trained

    def fine_tune_model():
        clone = keras.models.clone_model(base)
        clone.set_weights(base.get_weights())
        freeze_blocks(clone, (1, 2, 3))
        return replace_head(clone, 5)

    c2 = _prepared(shape, sz.finetune_samples, sz.finetune_subjects, 5, "casme2")
    ft_cfg = TrainConfig(epochs=sz.finetune_epochs, batch_size=10, lr=1e-5, decay_every=10)
    ft = _trainer(
        fine_tune_model, ft_cfg, sz.finetune_per_class, tuple(range(1, 9)), 0, c2, out_dir
    )
    folds = split_folds(c2.samples, "loso")
    walls: list[float] = []
    for fold in folds[: sz.finetune_folds_timed]:
        if walls and clock.left() < 1.5 * max(walls):
            break
        t0 = time.perf_counter()
        train_s = [c2.samples[i] for i in fold.train]
        ft.fit_predict(train_s, [c2.samples[i] for i in fold.test], fold)
        walls.append(round(time.perf_counter() - t0, 2))
    later = walls[1:] or walls
    ft_total = walls[0] + float(np.mean(later)) * (len(folds) - 1)
    return {
        "pretrain": pretrain,
        "fine_tune": {
            "folds_total": len(folds),
            "fold_wall_s": walls,
            "steps_per_fold": -(-5 * sz.finetune_per_class // 10) * sz.finetune_epochs,
            "extrapolated_s": round(ft_total, 1),
            "peak_gpu_bytes": backend.peak_memory(),
        },
        "paper_a_extrapolated_s": round(pretrain["extrapolated_s"] + ft_total, 1),
        "note": "flows excluded; pre-training extrapolated from a measured share of an epoch, "
        "fine-tuning from the folds timed",
    }


def _prepared(shape: tuple[int, ...], n: int, subjects: int, classes: int, dataset: str):
    """A Prepared dataset of ``n`` random samples of ``shape`` (labels in turn)."""
    from microexp.experiments.data import Prepared

    sample_list = samples(n, subjects, dataset)
    labels = [i % classes for i in range(n)]
    return Prepared(sample_list, labels, [str(c) for c in range(classes)],
                    random_store(shape, sample_list))  # fmt: skip


def _trainer(make, cfg, per_class: int, crops, test_crop, data, out_dir: Path):
    """The library's fold trainer with paper A's re-sampling (``per_class`` crops per class
    from ``crops``, random quarter turns)."""
    from microexp.experiments.spec import ByPreset, Sampling
    from microexp.experiments.trainer import FitSetting, KerasTrainer

    setting = FitSetting(
        make=make,
        schedule=cfg,
        sampling=Sampling(
            per_class=ByPreset(per_class, per_class, per_class),
            crops=crops,
            rotate=True,
            test_crop=test_crop,
        ),
        per_class=per_class,
        seed=0,
        mixed_precision=False,
        xla=True,
        run_eagerly=False,
        tensorboard=False,
        log_dir=out_dir / "paper_a_logs",
        log=lambda m: None,
    )
    return KerasTrainer(setting, data)


class _EpochClock:
    """Keras callback: each epoch's seconds, the loss read at its end (synchronised)."""

    def __new__(cls):
        import keras

        class _Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.epochs = []

            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                float(logs["loss"])
                self.epochs.append(time.perf_counter() - self.t0)

        return _Clock()


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
    ap.add_argument("--budget", type=float, default=540.0, help="seconds for every section")
    ap.add_argument("--sections", default=",".join(CAPS))
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
                res = section_paper_b_loso(sz, clock, out_dir)
            elif name == "parallel_folds":
                res = section_parallel_folds(sz, clock, out_dir)
            elif name == "vmap_folds":
                res = section_vmap_folds(sz, clock)
            elif name == "paper_a":
                res = section_paper_a(sz, clock, out_dir)
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
