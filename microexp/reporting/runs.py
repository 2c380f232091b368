"""Load a finished run in Python: ``microexp.load_run(OUT)`` or ``load_run(OUT/runs/NAME)``.

A run folder (``OUT/runs/NAME``) holds ``config.json`` and one record per fold in
``folds/``; its report's ``OUT/report/metrics.json`` holds its metrics. :func:`load_run` gives
them together, with the class names beside the class numbers the records store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MicroexpError


@dataclass
class Run:
    """One run: its ``config`` (config.json), ``classes`` (names, in class-number order),
    ``records`` (one per fold; each with ``y_true_names`` and ``y_pred_names`` added) and
    ``metrics`` (its entry of the report's metrics.json; empty before a report is written)."""

    name: str
    folder: Path
    config: dict
    classes: list[str]
    records: list[dict]
    metrics: dict = field(default_factory=dict)

    @property
    def y_true(self) -> list[str]:
        """Every held-out sample's true class name, pooled over folds."""
        return [c for r in self.records for c in r["y_true_names"]]

    @property
    def y_pred(self) -> list[str]:
        """Every held-out sample's predicted class name, pooled over folds."""
        return [c for r in self.records for c in r["y_pred_names"]]


def _run_folders(path: Path) -> list[Path]:
    if (path / "config.json").is_file():
        return [path]
    runs = path / "runs"
    found = sorted(d for d in runs.glob("*") if (d / "config.json").is_file())
    return found


def load_run(path: str | os.PathLike | list) -> Run:
    """The run in ``path``: a run folder (``OUT/runs/NAME``), or an output folder (``OUT``) that
    holds one run. Several shard folders of one run may be given as a list (merged)."""
    from ..evaluation.loso import load_records
    from ..fileio import read_json

    paths = [Path(p) for p in path] if isinstance(path, list | tuple) else [Path(path)]
    if not paths:
        raise MicroexpError("load_run: no folder given")
    folders = []
    for p in paths:
        if not p.is_dir():
            raise MicroexpError(f"{p}: no such folder (expected OUT or OUT/runs/NAME)")
        found = _run_folders(p)
        if not found:
            raise MicroexpError(
                f"{p}: neither a run folder (config.json, folds/) nor an output folder with "
                "runs/NAME/ in it"
            )
        if len(found) > 1:
            names = ", ".join(f.name for f in found)
            raise MicroexpError(f"{p} holds {len(found)} runs ({names}): pass {p}/runs/NAME")
        folders += found
    config, records = load_records(folders)
    classes = list(config.get("classes") or [])
    for r in records:
        for key in ("y_true", "y_pred"):
            r[f"{key}_names"] = [classes[v] if v < len(classes) else str(v) for v in r[key]]
    name = folders[0].name
    report = folders[0].parent.parent / "report" / "metrics.json"
    metrics = read_json(report).get(name, {}) if report.is_file() else {}
    return Run(name, folders[0], config, classes, records, metrics)


__all__ = ["Run", "load_run"]
