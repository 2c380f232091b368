"""``microexp report``: tables (Markdown and CSV) with our numbers beside the papers', a
confusion-matrix figure per run, and training curves shaped like paper A's Fig. 5."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MicroexpError
from ..evaluation import all_metrics, confusion_matrix, load_records
from ..fileio import atomic_path, read_json, write_text
from .tables import Column, TableSpec


@dataclass(frozen=True)
class RunResult:
    """One run (its shards merged): what its config.json says, its fold records, its metrics."""

    name: str
    dirs: tuple[Path, ...]
    config: dict
    records: list[dict]
    metrics: dict

    @property
    def meta(self) -> dict:
        return self.config.get("meta") or {"name": self.name, "tables": []}

    def label(self, field: str) -> str:
        value = self.meta.get(field)
        if value is None:
            raise MicroexpError(
                f"{self.dirs[0] / 'config.json'}: run metadata has no {field!r}; "
                "re-run it with this version of microexp"
            )
        return str(value)


def _run_dirs(outs: Sequence[Path]) -> list[Path]:
    dirs = []
    for out in outs:
        runs = out / "runs"
        if not runs.is_dir():
            raise MicroexpError(f"{out}: not a run output folder (no runs/)")
        dirs += sorted(p for p in runs.iterdir() if (p / "config.json").is_file())
    if not dirs:
        raise MicroexpError(f"{outs[0]}: no finished run to report")
    return dirs


def collect_runs(outs: Sequence[Path]) -> list[RunResult]:
    """Every run under ``OUT/runs/`` of each output folder, shards of one run merged by the
    name in their metadata (so a renamed run directory still merges and lands in its tables),
    sorted by that name; runs without a finished fold are left out."""
    by_name: dict[str, list[Path]] = {}
    for d in _run_dirs(outs):
        meta = read_json(d / "config.json").get("meta") or {}
        by_name.setdefault(str(meta.get("name", d.name)), []).append(d)
    results = []
    for name in sorted(by_name):
        cfg, recs = load_records(by_name[name])
        if recs:
            results.append(RunResult(name, tuple(by_name[name]), cfg, recs, run_metrics(cfg, recs)))
    return results


def run_metrics(config: dict, records: list[dict]) -> dict:
    """Every metric of one run, plus paper A's Table 3 figures from the training histories."""
    from ..training.fit import convergence_epoch

    y_true = [v for r in records for v in r["y_true"]]
    y_pred = [v for r in records for v in r["y_pred"]]
    subjects = [r["test_subject"] for r in records for _ in r["y_true"]]
    classes = config["classes"]
    m = all_metrics(y_true, y_pred, subjects, len(classes))
    m["folds"] = len(records)
    m["samples"] = len(y_true)
    hists = [r["history"] for r in records if r.get("history", {}).get("accuracy")]
    if hists:
        m["mean_convergence_epoch"] = float(
            np.mean([convergence_epoch(h["accuracy"]) for h in hists])
        )
        m["mean_final_train_accuracy"] = float(np.mean([h["accuracy"][-1] for h in hists]))
        m["mean_final_train_loss"] = float(np.mean([h["loss"][-1] for h in hists]))
    m["confusion"] = confusion_matrix(y_true, y_pred, list(range(len(classes)))).tolist()
    return m


def _table(header: list[str], rows: list[list]) -> tuple[str, str]:
    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else f"{v:.2f}"
        return "" if v is None else str(v)

    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([[cell(v) for v in r] for r in rows])
    return "\n".join(md), buf.getvalue()


def _ours(run: RunResult, col: Column) -> float:
    return col.scale * run.metrics.get(col.metric, np.nan)


def _paper(spec: TableSpec, label: str) -> list[float | None]:
    values = spec.paper.get(label)
    return list(values) if values is not None else [None] * len(spec.paper_columns())


def build_table(spec: TableSpec, runs: Sequence[RunResult]) -> tuple[list[str], list[list]]:
    """The header and rows of ``spec`` over the runs that feed it (in name order)."""
    labels = [spec.row_format.format(r.label(spec.row)) for r in runs]
    if spec.transpose:
        paper_cols = spec.paper_columns()
        header = [spec.row_title, *(f"paper {lb}" for lb in labels)]
        header += [f"ours {lb}" for lb in labels]
        rows = []
        for col in spec.columns:
            i = paper_cols.index(col) if col in paper_cols else None
            paper = [None if i is None else _paper(spec, lb)[i] for lb in labels]
            rows.append([col.ours, *paper, *(_ours(r, col) for r in runs)])
        return header, rows
    header = [spec.row_title, *(c.paper for c in spec.paper_columns())]
    header += [c.ours for c in spec.columns]
    rows = [[k, v] + [None] * (len(header) - 2) for k, v in spec.reference.items()]
    for run, lb in zip(runs, labels, strict=True):
        rows.append([lb, *_paper(spec, lb), *(_ours(run, c) for c in spec.columns)])
    return header, rows


def _feeding(runs: Sequence[RunResult], tables: Sequence[TableSpec]) -> dict[str, list]:
    """table key -> the runs whose metadata says they feed it; a run naming a table that no
    declaration defines is an error naming its config.json (never silently dropped)."""
    known = {t.key for t in tables}
    feeding: dict[str, list] = {t.key: [] for t in tables}
    for run in runs:
        for key in run.meta.get("tables", []):
            if key not in known:
                raise MicroexpError(
                    f"{run.dirs[0] / 'config.json'}: feeds table {key!r}, which no declared "
                    "experiment defines (import the module that declares it)"
                )
            feeding[key].append(run)
    return feeding


def write_report(
    out: str | os.PathLike,
    more: Sequence[str | os.PathLike] = (),
    dest: str | os.PathLike | None = None,
    tables: Sequence[TableSpec] = (),
) -> Path:
    """Write ``report/`` for the output folder ``out`` (and shards ``more``): the declared
    ``tables`` that its runs feed, every run's metrics, confusion matrices and figures."""
    outs = [Path(out), *map(Path, more)]
    dest = Path(dest) if dest else outs[0] / "report"
    dest.mkdir(parents=True, exist_ok=True)
    runs = collect_runs(outs)
    write_text(
        dest / "metrics.json", json.dumps({r.name: r.metrics for r in runs}, indent=2) + "\n"
    )
    sections = ["# microexp report", ""]
    if any(_is_synthetic(o) for o in outs):
        sections += [
            "**Synthetic data**: these numbers check that the chain works; they are not comparable to the papers'.",
            "",
        ]
    images = []
    feeding = _feeding(runs, tables)
    for spec in tables:
        fed = feeding[spec.key]
        if len(fed) < spec.min_rows:
            continue
        header, rows = build_table(spec, fed)
        if spec.columns:  # a figure alone (paper A's Fig. 5) has no table
            md, csv_text = _table(header, rows)
            write_text(dest / f"{spec.key}.csv", csv_text)
            sections += [f"## {spec.key.replace('_', ' ')}", "", md, ""]
        if spec.figure is not None:
            _FIGURES[spec.figure](spec, header, rows, fed, dest / spec.figure_file)
            images.append(f"![{spec.caption or spec.key}]({spec.figure_file})")
    sections += ["## every run, every metric", ""]
    md, csv_text = _table(_ALL_HEADER, [_all_row(r) for r in runs])
    write_text(dest / "all_runs.csv", csv_text)
    sections += [md, ""]
    for r in runs:
        png = dest / f"confusion_{r.name}.png"
        _confusion_png(np.array(r.metrics["confusion"]), r.config["classes"], r.name, png)
        sections.append(f"![confusion matrix of {r.name}]({png.name})")
    write_text(dest / "report.md", "\n".join(sections + images) + "\n")
    return dest


_ALL_HEADER = [
    "run",
    "folds",
    "samples",
    "subject-mean acc",
    "pooled acc",
    "pooled UF1",
    "pooled UAR",
    "fold-mean UF1",
    "fold-mean UAR",
]
_ALL_KEYS = (
    "folds",
    "samples",
    "subject_mean_accuracy",
    "pooled_accuracy",
    "pooled_uf1",
    "pooled_uar",
    "fold_mean_uf1",
    "fold_mean_uar",
)


def _all_row(run: RunResult) -> list:
    return [run.name, *(run.metrics[k] for k in _ALL_KEYS)]


def _is_synthetic(out: Path) -> bool:
    """Did the run read synthetic data? From ``out/data.json`` (written by reproduce, wherever
    the data lives), else from generator markers under ``out/data``."""
    from ..datasets.base import SYNTHETIC_MARKER

    info = out / "data.json"
    if info.is_file():
        return any(d.get("synthetic") for d in json.loads(info.read_text()).values())
    return any((out / "data").glob(f"*/{SYNTHETIC_MARKER}"))


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _confusion_png(cm: np.ndarray, classes: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(classes), 1 + 0.8 * len(classes)))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(
            j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black"
        )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _curves(
    spec: TableSpec, header: list, rows: list, runs: Sequence[RunResult], path: Path
) -> None:
    """Paper A's Fig. 5: training accuracy per epoch of two folds (its 6 and 16, 1-based) for
    each run that feeds ``spec``; the last two folds when there are fewer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folds = (6, 16)
    n = min(len(r.records) for r in runs)
    chosen = [f - 1 for f in folds if f <= n] or list(range(max(0, n - 2), n))
    fig, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 3.5), squeeze=False)
    for ax, k in zip(axes[0], chosen, strict=True):
        for run in runs:
            acc = run.records[k]["history"].get("accuracy", [])
            ax.plot(range(1, len(acc) + 1), acc, label=run.label(spec.row))
        ax.set_title(f"fold {k + 1} ({runs[-1].records[k]['test_subject']})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training accuracy")
        ax.legend()
    fig.tight_layout()
    _save(fig, path)


def _bars(spec: TableSpec, header: list, rows: list, runs: Sequence[RunResult], path: Path) -> None:
    """Paper A's Fig. 4: the paper's bar beside ours for each row ([label, paper, ours])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = np.arange(len(rows))
    for offset, col in ((-0.2, 1), (0.2, 2)):
        values = [np.nan if r[col] is None else r[col] for r in rows]
        bars = ax.bar(x + offset, values, width=0.4, label=header[col])
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(x, [r[0] for r in rows])
    ax.set_ylabel(spec.columns[0].ours)
    ax.set_ylim(0, 100)
    ax.legend()
    fig.tight_layout()
    _save(fig, path)


#: TableSpec.figure -> the function drawing it
_FIGURES = {"curves": _curves, "bars": _bars}
