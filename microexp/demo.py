"""``make demo``: the main job on the embedded synthetic default.

Generates the synthetic datasets the papers use (CK+, CASME, CASME II, SAMM; ``demo`` preset)
once under ``OUT/data``, then reproduces paper A (``OUT/s3d``: CK+ pre-training, LOSO on
CASME II, transfer and scratch) and paper B (``OUT/atscnn``: LOSO on the composite) with the
``demo`` preset, and prints where the reports are. Only paper B's runs also train the final
model on every subject (``OUT/atscnn/runs/atscnn/model.keras``, for ``microexp predict``): paper
A's would cost about 25 s of the 10-minute budget.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .experiments import reproduce


def run_demo(out: str | os.PathLike, preset: str = "demo", seed: int = 0) -> list[Path]:
    """Both papers on synthetic data; returns the report folders."""
    out = Path(out)
    t0 = time.time()
    reports = [
        reproduce(
            paper,
            out / paper,
            preset=preset,
            seed=seed,
            data_dir=out / "data",
            final_model=paper == "atscnn",
        )
        for paper in ("s3d", "atscnn")
    ]
    print(f"demo finished in {time.time() - t0:.0f} s")
    for r in reports:
        print(f"report: {r / 'report.md'}")
    return reports
