"""How hard is the synthetic world? The linear probe (and the majority class) under LOSO on
each recipe's ``demo`` tensors, for one generator difficulty.

This is the only yardstick the synthetic data is calibrated against: never a paper's number,
never a deep model's result. Targets (issue 13): pooled UF1 of the probe between 0.45 and 0.75
on paper B's composite (atscnn tensors) and on CASME II 5-class (s3d tensors); CK+ 7-class
(macro-expressions, s3d tensors) stays easy, accuracy >= 0.85.

    .venv/bin/python benchmarks/bench_calibration.py --difficulty default \
        --data /tmp/calib --out benchmarks/results/calibration_default.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from microexp import synthetic
from microexp.evaluation import all_metrics, run_loso
from microexp.evaluation.intervals import bootstrap_ci
from microexp.experiments.data import prepare
from microexp.experiments.defaults import RECIPE_PRESETS
from microexp.experiments.trainer import baseline_fit_predict
from microexp.fileio import write_text
from microexp.preprocess import TVL1Params, get_recipe

#: (protocol, recipe, crop the probe reads)
TASKS = (
    ("atscnn-composite", "atscnn", None),
    ("casme2-5class", "s3d", 0),
    ("ckplus-7class", "s3d", 0),
)


def _recipe(name: str):
    over = dict(RECIPE_PRESETS[name]["demo"])
    over["tvl1"] = TVL1Params(**over["tvl1"])
    return get_recipe(name, **over)


def probe(protocol: str, recipe_name: str, crop, roots: dict, cache: Path, work: Path) -> dict:
    data = prepare(protocol, roots, _recipe(recipe_name), cache, lambda _: None)
    out = {"samples": len(data.samples), "subjects": len({s.subject_key for s in data.samples})}
    for name in ("majority", "linear_probe"):
        fp = baseline_fit_predict(name, data, crop)
        run_dir = work / f"{protocol}-{recipe_name}-{name}"
        recs = run_loso(data.samples, data.labels, fp, run_dir, {"b": name}, log=lambda _: None)
        t = [v for r in recs for v in r["y_true"]]
        p = [v for r in recs for v in r["y_pred"]]
        s = [r["test_subject"] for r in recs for _ in r["y_true"]]
        metrics = all_metrics(t, p, s, len(data.classes))
        metrics["ci95"] = bootstrap_ci(t, p, s, len(data.classes))
        out[name] = json.loads(json.dumps(metrics), parse_float=lambda v: round(float(v), 4))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--difficulty", default="default", choices=sorted(synthetic.DIFFICULTY))
    ap.add_argument("--data", required=True, help="work folder (data, caches, probe runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="JSON (default benchmarks/results/calibration_DIFFICULTY.json)")
    args = ap.parse_args()
    work = Path(args.data) / args.difficulty
    params = synthetic.DIFFICULTY[args.difficulty]
    t0 = time.time()
    roots = {
        name: synthetic.generate(name, work / "data" / name, "demo", args.seed, params=params)
        for name in ("ckplus", "casme", "casme2", "samm")
    }
    results = {
        "difficulty": args.difficulty,
        "params": json.loads(json.dumps(params.__dict__, default=list)),
        "seed": args.seed,
        "tasks": {
            f"{p}/{r}": probe(p, r, c, roots, work / "cache", work / "probe") for p, r, c in TASKS
        },
        "seconds": round(time.time() - t0, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    out = Path(args.out or f"benchmarks/results/calibration_{args.difficulty}.json")
    write_text(out, json.dumps(results, indent=2) + "\n")
    for task, r in results["tasks"].items():
        lp, mj = r["linear_probe"], r["majority"]
        print(
            f"{task}: probe UF1 {lp['pooled_uf1']:.3f} {lp['ci95']['pooled_uf1']} "
            f"acc {lp['pooled_accuracy']:.3f} "
            f"subject-mean {lp['subject_mean_accuracy']:.3f} | majority UF1 "
            f"{mj['pooled_uf1']:.3f} acc {mj['pooled_accuracy']:.3f}"
        )


if __name__ == "__main__":
    main()
