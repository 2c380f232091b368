"""Start-up time of microexp's commands that train nothing: wall seconds from process start to
exit, median of ``--repeat`` runs each, and whether TensorFlow (or Keras) got imported. With
``--before REV`` the same commands also run from that commit's code (a temporary ``git
worktree``), interleaved with this tree's, so that both columns share one machine and load.
Writes JSON (the machine named):

    .venv/bin/python benchmarks/startup.py --before 5c5db0f --out benchmarks/results/startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import sys, runpy; sys.path.insert(0, {tree!r}); sys.argv = ['microexp', *{args!r}]\n"
    "code = 0\ntry:\n    runpy.run_module('microexp', run_name='__main__')\n"
    "except SystemExit as exc:\n    code = exc.code or 0\n"
    "print('IMPORTED', 'tensorflow' in sys.modules, 'keras' in sys.modules, code,"
    " file=sys.stderr)\n"
)


def command_lines(work: Path) -> dict[str, list[str]]:
    from microexp.synthetic import generate

    casme2 = generate("casme2", work / "casme2", "tiny", 0)
    report = work / "report-src"
    if not (report / "runs").is_dir():
        import microexp

        microexp.run("casme2-5class", "atscnn", report, preset="tiny", final_model=False,
                     data=f"casme2={casme2}", log=lambda m: None)  # fmt: skip
    return {
        "--help": ["--help"],
        "data summary": ["data", "summary", "--dataset", "casme2", "--root", str(casme2)],
        "report": ["report", str(report), "--dest", str(work / "report-out")],
        "models": ["models"],
        "models summary --help": ["models", "summary", "--help"],
    }


def _probe(tree: Path, argv: list[str]) -> tuple[float, list[str] | None]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE.format(tree=str(tree), args=argv)],
                          env=env, capture_output=True, text=True, cwd=tree)  # fmt: skip
    elapsed = time.perf_counter() - t0
    line = [x for x in done.stderr.splitlines() if x.startswith("IMPORTED")]
    return elapsed, (line[-1].split()[1:] if line else None)


def _row(argv: list[str], runs: list[tuple[float, list[str] | None]]) -> dict:
    imported = runs[-1][1]
    return {
        "argv": argv,
        "median_s": round(statistics.median(r[0] for r in runs), 2),
        "tensorflow_imported": bool(imported and imported[0] == "True"),
        "keras_imported": bool(imported and imported[1] == "True"),
        "exit_codes": sorted({int(r[1][2]) if r[1] else -1 for r in runs}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/startup.json")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", default=None, help="a commit to time beside this tree")
    ap.add_argument("--work", default=None, help="a folder for the synthetic data and run")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="startup_"))
    trees = {"after": ROOT}
    if args.before:
        trees["before"] = work / "before"
        if not trees["before"].is_dir():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach",
                            str(trees["before"]), args.before], check=True)  # fmt: skip
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "trees": {k: str(v) for k, v in trees.items()},
        "before": args.before,
        "commands": {},
    }
    try:
        for name, argv in command_lines(work).items():
            runs: dict[str, list] = {k: [] for k in trees}
            for _ in range(args.repeat):
                for key, tree in trees.items():  # interleaved: one load for both
                    runs[key].append(_probe(tree, argv))
            result["commands"][name] = {k: _row(argv, v) for k, v in runs.items()}
            print(name, result["commands"][name], flush=True)
    finally:
        if args.before:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(trees["before"])], check=False)  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
