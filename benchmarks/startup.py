"""Start-up time of microexp's commands that train nothing: wall seconds from process start to
exit, median of ``--repeat`` runs each, and whether TensorFlow (or Keras) got imported. Writes
JSON (the machine named):

    .venv/bin/python benchmarks/startup.py --out benchmarks/results/startup.json
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

PROBE = (
    "import sys, runpy; sys.argv = ['microexp', *{args!r}]\n"
    "try:\n    runpy.run_module('microexp', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "print('IMPORTED', 'tensorflow' in sys.modules, 'keras' in sys.modules, file=sys.stderr)\n"
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
        "report": ["report", str(report)],
        "models summary --help": ["models", "summary", "--help"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/startup.json")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", default=None, help="a folder for the synthetic data and run")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="startup_"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "commands": {}}
    for name, argv in command_lines(work).items():
        times, imported = [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", PROBE.format(args=argv)], env=env,
                                  capture_output=True, text=True)  # fmt: skip
            times.append(time.perf_counter() - t0)
            line = [x for x in done.stderr.splitlines() if x.startswith("IMPORTED")]
            imported = line[-1].split()[1:] if line else None
        result["commands"][name] = {
            "argv": argv,
            "median_s": round(statistics.median(times), 2),
            "tensorflow_imported": imported and imported[0] == "True",
            "keras_imported": imported and imported[1] == "True",
        }
        print(name, result["commands"][name], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
