"""How close does apex spotting (``microexp predict``'s default) come to the annotated apex?

On a synthetic CASME II tree (generated if missing), each sample's frames onset..offset are
spotted with :func:`microexp.preprocess.spot_apex` and the result compared with the coding
file's apex. Writes JSON. Synthetic clips carry blinks in 35 % of clips and small head drift,
so this is a check of the method, not a figure for real data.

    .venv/bin/python benchmarks/bench_spotting.py --out benchmarks/results/spotting.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from microexp import datasets as ds
from microexp import synthetic
from microexp.fileio import write_text
from microexp.preprocess import read_frames, spot_apex


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/spotting.json")
    ap.add_argument("--data", help="a synthetic or real CASME II root (default: generate demo)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many samples (0: all)")
    args = ap.parse_args()
    root = Path(args.data) if args.data else Path(tempfile.mkdtemp()) / "casme2"
    if not args.data:
        synthetic.generate("casme2", root, "demo", 0)
    samples = [s for s in ds.load("casme2", root).samples if s.apex is not None]
    samples = samples[: args.limit] if args.limit else samples
    errors, lengths, seconds = [], [], []
    for s in samples:
        frames = read_frames(s)
        t = time.perf_counter()
        spot = spot_apex(frames, what=str(s.frame_path(s.onset)))
        seconds.append(time.perf_counter() - t)
        errors.append(abs(spot.apex - (s.apex - s.onset)))
        lengths.append(len(frames))
    err, n = np.array(errors), np.array(lengths)
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "data": str(root),
        "synthetic": ds.load("casme2", root).synthetic,
        "samples": len(samples),
        "mean_frames": round(float(n.mean()), 1),
        "abs_error_frames_mean": round(float(err.mean()), 2),
        "abs_error_frames_median": float(np.median(err)),
        "abs_error_ms_mean_at_200fps": round(float(err.mean()) * 5, 1),
        "within_10pct_of_clip": round(float(np.mean(err <= 0.1 * n)), 3),
        "seconds_per_clip": round(float(np.mean(seconds)), 3),
    }
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
