"""Spotting in long videos: speed, memory and MEGC F1 of both spotters on the synthetic demo.

For each long-video dataset (CAS(ME)^2 at 30 fps, SAMM-LV at 200 fps) and each method (the
training-free flow spotter, SOFTNet trained per LOSO fold), spots every video in a fresh
folder (nothing cached) and records the wall time, the frames it read per second, the peak resident memory (of
this process, children excluded) and F1 (macro, micro, overall) with its interval and the
chance spotter's. Writes JSON.

    .venv/bin/python benchmarks/bench_longvideo.py --out benchmarks/results/longvideo.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from microexp.datasets import load
from microexp.experiments.spotting import SOFTNET_EPOCHS, SpotOptions, read_metrics, spot_dataset
from microexp.fileio import write_text
from microexp.synthetic import generate_long


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/longvideo.json")
    ap.add_argument("--preset", default="demo", help="synthetic size: tiny or demo")
    ap.add_argument("--methods", default="flow,softnet")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    runs = []
    for dataset in ("casme_sq", "samm_lv"):
        t = time.perf_counter()
        root = generate_long(dataset, work / "data" / dataset, args.preset)
        generated = time.perf_counter() - t
        frames = sum(v.frames for v in load(dataset, root).videos)
        for method in args.methods.split(","):
            out = work / f"{dataset}-{method}"
            opts = SpotOptions(method=method, epochs=SOFTNET_EPOCHS[args.preset])
            t = time.perf_counter()
            spot_dataset(dataset, root, out, opts, log=lambda _: None)
            seconds = time.perf_counter() - t
            m = read_metrics(out)
            runs.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "videos": m["videos"],
                    "subjects": m["subjects"],
                    "frames": frames,
                    "generate_s": round(generated, 1),
                    "seconds": round(seconds, 1),
                    "frames_per_s": round(frames / seconds, 1),
                    "epochs": opts.epochs if method == "softnet" else None,
                    "f1": {k: v["f1"] for k, v in m["scores"].items()},
                    "f1_ci95": {k: v["f1_ci95"] for k, v in m["scores"].items()},
                    "chance_f1": m["chance_f1"],
                    "truth": m["truth"],
                    "folds": m["folds"],
                }
            )
            print(json.dumps(runs[-1]["f1"]), dataset, method, f"{seconds:.0f} s", flush=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "synthetic": True,
        "preset": args.preset,
        "note": "seconds: spotting alone (flows, face track, training, scoring, report); "
        "generate_s: writing the synthetic videos",
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "runs": runs,
    }
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
