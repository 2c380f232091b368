"""Spot-then-recognise (``microexp str``) on synthetic long videos: STRS, spotting F1 and
analysis F1 per dataset and seed, beside the majority-class and chance baselines, with the wall
time of each run. Each seed draws its own synthetic videos and trains its own recognisers.
Writes JSON (the machine named):

    .venv/bin/python benchmarks/bench_str.py --out benchmarks/results/str.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from microexp.experiments.str_run import STR_DATASETS, spot_then_recognise
from microexp.fileio import write_text


def _summary(values: list[float]) -> dict:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.mean(values), 4), "sd": round(sd, 4), "values": values}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/str.json")
    ap.add_argument("--datasets", default=",".join(STR_DATASETS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--model", default="atscnn")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_str_"))
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "preset": args.preset,
        "model": args.model,
        "datasets": {},
    }
    for dataset in args.datasets.split(","):
        runs = []
        for seed in range(args.seeds):
            t0 = time.time()
            report = spot_then_recognise(
                dataset, work / f"{dataset}-{seed}", None, args.model, args.preset, seed,
                log=lambda m: None,
            )  # fmt: skip
            m = json.loads((report.parent / "metrics.json").read_text())
            runs.append({"seed": seed, "seconds": round(time.time() - t0, 1), **m["headline"],
                         "ci95": m["ci95"], "baselines": m["baselines"], "truths": m["truths"],
                         "subjects": m["subjects"]})  # fmt: skip
            print(dataset, seed, runs[-1]["seconds"], m["headline"], flush=True)
        keys = ("strs", "spotting_f1", "analysis_f1")
        result["datasets"][dataset] = {
            "runs": runs,
            "ours": {k: _summary([r[k] for r in runs]) for k in keys},
            **{
                name: {k: _summary([r["baselines"][name][k] for r in runs]) for k in keys}
                for name in runs[0]["baselines"]
            },
            "seconds": _summary([r["seconds"] for r in runs]),
        }
    write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
