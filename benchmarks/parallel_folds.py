"""LOSO wall time with ``--parallel-folds K`` worker processes against one process, on the
synthetic data of a preset, through the library's own runner (issue 28).

Each K runs paper B's ATSCNN (or ``--model``) on the composite into its own folder, sharing the
generated data and the flow cache (built before the first timing), without the final model.
The fold records of every K are compared with K = 1's (they must be equal). Writes JSON::

    python benchmarks/parallel_folds.py --out benchmarks/results/parallel_folds.json
    python benchmarks/parallel_folds.py --ks 1,2,4 --preset demo --work /tmp/pf --out ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path


def machine() -> str:
    return f"{platform.machine()} {platform.processor() or 'cpu'}, {os.cpu_count()} cores"


def records(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(run.glob("runs/*/folds/*.json"))]


def measure(ks: list[int], preset: str, model: str, protocol: str, work: Path) -> dict:
    import keras

    from microexp import backend
    from microexp.experiments import run

    common = {
        "preset": preset,
        "data_dir": work / "data",
        "cache": work / "cache",
        "final_model": False,
        "log": lambda _: None,
    }
    warm = work / f"warm-{backend.name()}"  # data and flows, once, outside the timings
    run(protocol, model, warm, folds=(0,), **common)
    rows, reference = [], None
    for k in ks:
        out = work / f"k{k}-{backend.name()}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        run(protocol, model, out, parallel_folds=k, **common)
        wall = time.perf_counter() - t
        recs = records(out)
        if reference is None:
            reference = recs
        same = [(a["y_prob"], a["history"]) for a in recs] == [
            (b["y_prob"], b["history"]) for b in reference
        ]
        rows.append({"k": k, "wall_s": round(wall, 2), "folds": len(recs), "same_records": same})
    base = rows[0]["wall_s"]
    for r in rows:
        r["speedup"] = round(base / r["wall_s"], 3)
    return {
        "backend": backend.name(),
        "keras": keras.__version__,
        "machine": machine(),
        "preset": preset,
        "model": model,
        "protocol": protocol,
        "note": "LOSO run wall time (folds, baselines, report); data and flows built before",
        "runs": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSON file")
    ap.add_argument("--ks", default="1,2", help="worker counts, the first is the reference")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--model", default="atscnn")
    ap.add_argument("--protocol", default="atscnn-composite")
    ap.add_argument("--work", help="working folder (default: a temporary one)")
    args = ap.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="parallel_folds-"))
    ks = [int(v) for v in args.ks.split(",")]
    result = measure(ks, args.preset, args.model, args.protocol, work)
    from microexp.fileio import write_text

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, json.dumps(result, indent=1))
    print(json.dumps(result["runs"], indent=1))
    return 0 if all(r["same_records"] for r in result["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
