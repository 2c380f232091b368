"""Training steps/s of S3D and ATSCNN on every installed Keras backend, from one run: each
backend in its own process (Keras picks its backend once per process), each model trained as
microexp's trainer trains it there (the input mode it picks, ReusedModel, make_input), on random
tensors of the demo preset's shapes. Writes one JSON.

    .venv/bin/python benchmarks/bench_backends.py --out benchmarks/results/backends.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent

CHILD = """
import json, sys
sys.path.insert(0, {here!r})
from gpu_check import Clock, Sizes, throughput
sz = Sizes(s3d_size={s3d_size}, s3d_frames={frames}, s3d_samples=20, s3d_batches=(10,),
           s3d_steps={steps}, atscnn_size={atscnn_size}, atscnn_batch=64,
           atscnn_steps={steps}, timed_epochs={epochs})
runs = [throughput("s3d", "float32", 10, sz, Clock(1e9), xla=False),
        throughput("atscnn", "float32", 64, sz, Clock(1e9), xla=False)]
print("RESULT " + json.dumps(runs))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="benchmarks/results/backends.json")
    ap.add_argument("--backends", default="tensorflow,jax,torch")
    ap.add_argument("--steps", type=int, default=20, help="steps per timed epoch")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after a warm-up one")
    ap.add_argument("--s3d-size", type=int, default=24, help="demo preset: 24 px, 6 frames")
    ap.add_argument("--frames", type=int, default=5, help="flows per S3D crop (demo: 5)")
    ap.add_argument("--atscnn-size", type=int, default=64, help="demo preset: 64 px")
    args = ap.parse_args()
    code = CHILD.format(
        here=str(HERE),
        s3d_size=args.s3d_size,
        frames=args.frames,
        atscnn_size=args.atscnn_size,
        steps=args.steps,
        epochs=args.epochs,
    )
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        "date": time.strftime("%Y-%m-%d"),
        "settings": vars(args),
        "backends": {},
    }
    for name in args.backends.split(","):
        if importlib.util.find_spec(name) is None:
            results["backends"][name] = {"skipped": f"{name} is not installed"}
            continue
        env = {**os.environ, "KERAS_BACKEND": name, "TF_CPP_MIN_LOG_LEVEL": "3"}
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if done.returncode or line is None:
            results["backends"][name] = {"error": done.stderr[-2000:]}
            continue
        runs = json.loads(line[len("RESULT ") :])
        for r in runs:
            r["steps_per_s"] = round(1000 / r["step_ms"], 2)
        results["backends"][name] = {"runs": runs, "process_s": round(time.perf_counter() - t0, 1)}
        for r in runs:
            print(
                f"{name:10s} {r['model']:6s} {r['input_mode']:8s} {r['steps_per_s']:7.2f} steps/s"
                f" ({r['samples_per_s']} samples/s, first epoch {r['first_epoch_s']} s)"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
