"""What moves paper A's S3D on the demo's synthetic CASME II? One change at a time from the
demo's settings, each read against the majority class and the linear probe on the same tensors.

The S3D is trained from scratch as the demo preset declares (Adam, learning rate, epochs, batch
and examples per class from ``TRAINING["s3d"]``; paper A's class re-sampling from crops 1-8,
fixed per fold; tested on crop 0) under leave-one-subject-out, once per training seed. The
headline is paper A's mean per-subject accuracy (eq. 8). A variant changes one of:

- ``--normalise``: ``sample`` (per-sample standardisation, the recipe's default and what the
  cache holds), ``fold`` (per-channel mean and std of the training subjects' raw flows) or
  ``scale`` (their std only); fold statistics never see the held-out subject;
- ``--size`` / ``--frames``: the recipe's tensor (demo: 24 px, 6 frames = 5 flows);
- ``--subjects`` / ``--clips``: the synthetic world's size (demo: 6 x 8);
- ``--redraw``: a new class re-sampling every epoch (paper A draws one set per fold).

A simplified trainer (Keras ``fit`` on in-memory arrays), not the package's runner: it exists to
try what the package does not expose (fold statistics). Results are merged into ``--out``
under ``--tag`` (a tag already there is skipped: re-running resumes).

    .venv/bin/python benchmarks/bench_demo_s3d.py --work /tmp/demo_s3d --tag demo
    .venv/bin/python benchmarks/bench_demo_s3d.py --work /tmp/demo_s3d --tag fold --normalise fold
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from microexp import synthetic
from microexp.data import resampled_items
from microexp.evaluation.baselines import (
    linear_probe_fit_predict,
    majority_fit_predict,
    pooled_features,
)
from microexp.evaluation.metrics import subject_mean_accuracy
from microexp.experiments.data import prepare
from microexp.experiments.defaults import MICRO_RESAMPLING, RECIPE_PRESETS, TRAINING
from microexp.fileio import write_text
from microexp.preprocess import TVL1Params, get_recipe
from microexp.preprocess.augment import standardise
from microexp.synthetic.generator import GENERATOR_VERSION


def load(args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The world's raw (unnormalised) paper-A tensors (N, 9, H, W, T, 3), labels, subjects."""
    work = Path(args.work) / f"world-s{args.subjects}-c{args.clips}-seed{args.data_seed}"
    root = synthetic.generate(
        "casme2", work / "casme2", "demo", args.data_seed, args.subjects, args.clips
    )
    over = dict(
        RECIPE_PRESETS["s3d"]["demo"], tvl1=TVL1Params(**RECIPE_PRESETS["s3d"]["demo"]["tvl1"])
    )
    over.update({k: v for k, v in (("size", args.size), ("frames", args.frames)) if v})
    recipe = get_recipe("s3d", **over, normalise="none")
    data = prepare("casme2-5class", {"casme2": root}, recipe, work / "cache", lambda _: None)
    raw = data.store.stacked("x").astype(np.float32)
    subjects = np.array([s.subject_key for s in data.samples])
    return raw, np.array(data.labels), subjects


def normalised(raw: np.ndarray, how: str, train: np.ndarray) -> np.ndarray:
    if how == "sample":  # what the recipe caches: each crop of each sample on its own
        return np.stack([np.stack([standardise(c) for c in s]) for s in raw])
    axes = tuple(range(raw.ndim - 1))
    std = raw[train].std(axis=axes)
    if how == "scale":
        return raw / std
    return (raw - raw[train].mean(axis=axes)) / std


def fold(x, y, train, test, seed: int, fold_i: int, redraw: bool) -> tuple[list[int], float]:
    """One LOSO fold of the S3D from scratch on the demo schedule; (predictions, final train
    accuracy). ``redraw``: a new class re-sampling every epoch (paper A draws one set)."""
    import keras

    from microexp.models.s3d import build_s3d

    cfg = TRAINING["s3d"].schedules.demo
    rng = np.random.default_rng([seed, fold_i])
    keras.utils.set_random_seed(1000 * seed + fold_i)
    net = None
    for _ in range(cfg.epochs if redraw else 1):
        items = resampled_items(
            train, y, MICRO_RESAMPLING.per_class.demo, MICRO_RESAMPLING.crops, False, rng, 5
        )
        xt = np.stack([x[it.sample, it.crop] for it in items])
        yt = np.array([it.label for it in items])
        if net is None:
            net = build_s3d(5, xt.shape[1:])
            net.compile(
                keras.optimizers.Adam(cfg.lr), "sparse_categorical_crossentropy", metrics=["acc"]
            )
        epochs = 1 if redraw else cfg.epochs
        hist = net.fit(xt, yt, batch_size=cfg.batch_size, epochs=epochs, shuffle=True, verbose=0)
    pred = net.predict(x[test, 0], verbose=0).argmax(axis=1)
    return [int(v) for v in pred], float(hist.history["acc"][-1])


def settings(args) -> dict:
    """A variant's settings as stored beside its results (a tag is reused only with these)."""
    names = ("normalise", "size", "frames", "subjects", "clips", "data_seed", "redraw", "seeds")
    return {k: getattr(args, k) for k in names}


def run(args) -> dict:
    raw, y, subj = load(args)
    t0 = time.time()
    folds = [(np.flatnonzero(subj != s), np.flatnonzero(subj == s)) for s in np.unique(subj)]
    order = np.concatenate([te for _, te in folds])
    truth, subjects = y[order].tolist(), subj[order].tolist()
    preds: dict[str, list[int]] = {"majority": [], "linear_probe": []}
    s3d: list[dict] = []
    xs = [normalised(raw, args.normalise, tr) for tr, _ in folds]
    for x, (tr, te) in zip(xs, folds, strict=True):
        preds["majority"] += majority_fit_predict(y[tr], len(te))
        feats = [np.stack([pooled_features(x[i, 0]) for i in idx]) for idx in (tr, te)]
        preds["linear_probe"] += linear_probe_fit_predict(feats[0], y[tr], feats[1])
    for seed in args.seeds:
        p, train_acc = [], []
        for i, (x, (tr, te)) in enumerate(zip(xs, folds, strict=True)):
            fp, acc = fold(x, y, tr, te, seed, i, args.redraw)
            p += fp
            train_acc.append(acc)
        s3d.append(
            {
                "seed": seed,
                "subject_mean_accuracy": subject_mean_accuracy(truth, p, subjects),
                "final_train_accuracy": float(np.mean(train_acc)),
            }
        )
        print(f"[{args.tag}] seed {seed}: {s3d[-1]}", flush=True)
    acc = [r["subject_mean_accuracy"] for r in s3d]
    return {
        "settings": settings(args),
        "generator_version": GENERATOR_VERSION,
        "samples": len(y),
        "s3d_subject_mean_accuracy": float(np.mean(acc)),
        "s3d_sd_over_seeds": float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0,
        "s3d_final_train_accuracy": float(np.mean([r["final_train_accuracy"] for r in s3d])),
        "s3d_per_seed": s3d,
        **{
            f"{k}_subject_mean_accuracy": subject_mean_accuracy(truth, v, subjects)
            for k, v in preds.items()
        },
        "seconds": round(time.time() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", required=True, help="folder for the worlds and their caches")
    ap.add_argument("--tag", required=True, help="this variant's key in --out")
    ap.add_argument("--out", default="benchmarks/results/demo_s3d.json")
    ap.add_argument("--normalise", default="sample", choices=("sample", "fold", "scale"))
    ap.add_argument("--size", type=int, default=0, help="px (0: the demo's)")
    ap.add_argument("--frames", type=int, default=0, help="frames after TIM (0: the demo's)")
    ap.add_argument("--subjects", type=int, default=synthetic.PRESETS["demo"].subjects)
    ap.add_argument("--clips", type=int, default=synthetic.PRESETS["demo"].samples_per_subject)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--seeds", default="0,1,2", help="training seeds")
    ap.add_argument("--redraw", action="store_true", help="re-sample the classes every epoch")
    args = ap.parse_args()
    args.seeds = [int(v) for v in args.seeds.split(",")]
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"variants": {}}
    if args.tag in results["variants"]:
        stored = results["variants"][args.tag]
        mine = {**settings(args), "generator_version": GENERATOR_VERSION}
        if {**stored["settings"], "generator_version": stored["generator_version"]} != mine:
            raise SystemExit(f"{out}: tag {args.tag!r} holds other settings; use another --tag")
        print(f"{args.tag}: already in {out}")
        return
    results["variants"][args.tag] = run(args)
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    write_text(out, json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["variants"][args.tag], indent=2))


if __name__ == "__main__":
    main()
