"""``microexp report``: tables (Markdown and CSV) with our numbers beside the papers', a
confusion-matrix figure per run, and training curves shaped like paper A's Fig. 5."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import MicroexpError
from ..evaluation import all_metrics, confusion_matrix, load_records
from ..fileio import atomic_path, write_text

#: paper A, Table 2 (LOSO accuracy %, CASME II) and Fig. 4; Table 3; Table 4
PAPER_A_TABLE2 = {
    "STCLQP": 58.39,
    "LBP-TOP": 63.41,
    "STLBP-IP": 59.51,
    "3D-FCNN": 59.11,
    "C3DEvol": 63.71,
    "SDF": 47.30,
    "MagGA": 63.30,
    "S3D CNN-transfer": 67.58,
}
PAPER_A_TABLE3 = {  # scratch, transfer
    "convergence_epoch": (20.73, 11.46),
    "final_train_accuracy": (64.35, 92.16),
    "final_train_loss": (0.818, 0.458),
}
PAPER_A_TABLE4 = {"cnn2d": 58.27, "cnn3d": 64.68, "s3d": 67.58}
PAPER_A_FIG4 = {"scratch": 49.46, "transfer": 67.58}


def _runs(outs: Sequence[Path]) -> dict[str, list[Path]]:
    names: dict[str, list[Path]] = {}
    for out in outs:
        runs = out / "runs"
        if not runs.is_dir():
            raise MicroexpError(f"{out}: not a reproduce output folder (no runs/)")
        for d in sorted(p for p in runs.iterdir() if (p / "config.json").is_file()):
            names.setdefault(d.name, []).append(d)
    if not names:
        raise MicroexpError(f"{outs[0]}: no finished run to report")
    return names


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


def write_report(
    out: str | os.PathLike,
    more: Sequence[str | os.PathLike] = (),
    dest: str | os.PathLike | None = None,
) -> Path:
    """Write ``report/`` for the reproduce folder ``out`` (and shards ``more``)."""
    outs = [Path(out), *map(Path, more)]
    dest = Path(dest) if dest else outs[0] / "report"
    dest.mkdir(parents=True, exist_ok=True)
    metrics, configs, records = {}, {}, {}
    for name, dirs in _runs(outs).items():
        cfg, recs = load_records(dirs)
        if not recs:
            continue
        configs[name], records[name] = cfg, recs
        metrics[name] = run_metrics(cfg, recs)
    write_text(dest / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    sections = ["# microexp report", ""]
    synthetic = any(_is_synthetic(o) for o in outs)
    if synthetic:
        sections += [
            "**Synthetic data**: these numbers check that the chain works; they are not comparable to the papers'.",
            "",
        ]
    tables = {}
    a_runs = [n for n in metrics if configs[n]["plan"]["paper"] == "s3d"]
    b_runs = [n for n in metrics if configs[n]["plan"]["paper"] == "atscnn"]
    if a_runs:
        rows = [[k, v, None] for k, v in PAPER_A_TABLE2.items()]
        rows += [[f"ours: {n}", None, 100 * metrics[n]["subject_mean_accuracy"]] for n in a_runs]
        tables["paper_a_table2"] = (["method", "paper A (%)", "ours (%)"], rows)
        pair = (
            [n for n in a_runs if n.endswith("-scratch")],
            [n for n in a_runs if n.endswith("-transfer")],
        )
        if pair[0] and pair[1]:
            s, t = metrics[pair[0][0]], metrics[pair[1][0]]
            rows = []
            for key, (ps, pt) in PAPER_A_TABLE3.items():
                ours = f"mean_{key}"
                scale = 100 if "accuracy" in key else 1
                rows.append([key, ps, pt, s.get(ours, np.nan) * scale, t.get(ours, np.nan) * scale])
            tables["paper_a_table3"] = (
                [
                    "quantity (mean over folds)",
                    "paper scratch",
                    "paper transfer",
                    "ours scratch",
                    "ours transfer",
                ],
                rows,
            )
            tables["paper_a_fig4"] = (
                ["run", "paper A (%)", "ours (%)"],
                [
                    ["scratch", PAPER_A_FIG4["scratch"], 100 * s["subject_mean_accuracy"]],
                    ["transfer", PAPER_A_FIG4["transfer"], 100 * t["subject_mean_accuracy"]],
                ],
            )
            _fig5(
                records[pair[0][0]], records[pair[1][0]], dest / "paper_a_fig5_training_curves.png"
            )
            _fig4(tables["paper_a_fig4"][1], dest / "paper_a_fig4_transfer_vs_scratch.png")
        variants = [n for n in a_runs if n.endswith("-transfer")]
        if variants:
            rows = [
                [
                    n.split("-")[0],
                    PAPER_A_TABLE4.get(n.split("-")[0]),
                    100 * metrics[n]["subject_mean_accuracy"],
                ]
                for n in variants
            ]
            tables["paper_a_table4"] = (
                ["network (transfer)", "paper A LOSO accuracy (%)", "ours (%)"],
                rows,
            )
    if b_runs:
        from ..models import ABLATIONS, MODELS

        rows = []
        for n in b_runs:
            model = configs[n]["plan"]["model"]
            paper = MODELS.get(model).paper if model in MODELS else {}
            if configs[n].get("ablation", "full") == "full":
                rows.append(
                    [
                        n,
                        paper.get("uar"),
                        paper.get("uf1"),
                        metrics[n]["pooled_uar"],
                        metrics[n]["pooled_uf1"],
                        metrics[n]["fold_mean_uf1"],
                    ]
                )
        tables["paper_b_table3"] = (
            [
                "model",
                "paper UAR",
                "paper UF1",
                "ours pooled UAR",
                "ours pooled UF1",
                "ours fold-mean UF1",
            ],
            rows,
        )
        ab_rows = []
        for n in b_runs:
            ab = configs[n].get("ablation")
            if ab and configs[n]["plan"]["model"] == "atscnn":
                p = ABLATIONS[ab][1]
                ab_rows.append(
                    [ab, p["uar"], p["uf1"], metrics[n]["pooled_uar"], metrics[n]["pooled_uf1"]]
                )
        if len(ab_rows) > 1:
            tables["paper_b_table4"] = (
                ["ablation", "paper UAR", "paper UF1", "ours pooled UAR", "ours pooled UF1"],
                ab_rows,
            )
    for key, (header, rows) in tables.items():
        md, csv_text = _table(header, rows)
        write_text(dest / f"{key}.csv", csv_text)
        sections += [f"## {key.replace('_', ' ')}", "", md, ""]
    sections += ["## every run, every metric", ""]
    header = [
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
    rows = [
        [
            n,
            m["folds"],
            m["samples"],
            m["subject_mean_accuracy"],
            m["pooled_accuracy"],
            m["pooled_uf1"],
            m["pooled_uar"],
            m["fold_mean_uf1"],
            m["fold_mean_uar"],
        ]
        for n, m in metrics.items()
    ]
    md, csv_text = _table(header, rows)
    write_text(dest / "all_runs.csv", csv_text)
    sections += [md, ""]
    for n in metrics:
        png = dest / f"confusion_{n}.png"
        _confusion_png(np.array(metrics[n]["confusion"]), configs[n]["classes"], n, png)
        sections.append(f"![confusion matrix of {n}]({png.name})")
    if (dest / "paper_a_fig4_transfer_vs_scratch.png").is_file():
        sections.append(
            "![LOSO accuracy, scratch vs transfer](paper_a_fig4_transfer_vs_scratch.png)"
        )
    if (dest / "paper_a_fig5_training_curves.png").is_file():
        sections.append(
            "![training accuracy, scratch vs transfer](paper_a_fig5_training_curves.png)"
        )
    write_text(dest / "report.md", "\n".join(sections) + "\n")
    return dest


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


def _fig5(
    scratch: list[dict], transfer: list[dict], path: Path, folds: tuple[int, int] = (6, 16)
) -> None:
    """Paper A's Fig. 5: training accuracy per epoch of two folds (its 6 and 16, 1-based),
    scratch vs transfer; the last two folds when there are fewer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(len(scratch), len(transfer))
    chosen = [f - 1 for f in folds if f <= n] or list(range(max(0, n - 2), n))
    fig, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 3.5), squeeze=False)
    for ax, k in zip(axes[0], chosen, strict=True):
        for recs, label in ((scratch, "scratch"), (transfer, "transfer")):
            acc = recs[k]["history"].get("accuracy", [])
            ax.plot(range(1, len(acc) + 1), acc, label=label)
        ax.set_title(f"fold {k + 1} ({transfer[k]['test_subject']})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training accuracy")
        ax.legend()
    fig.tight_layout()
    _save(fig, path)


def _fig4(rows: list[list], path: Path) -> None:
    """Paper A's Fig. 4: mean per-subject LOSO accuracy, scratch vs transfer; the paper's bars
    beside ours. ``rows``: [run, paper %, ours %]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = np.arange(len(rows))
    for offset, col, label in ((-0.2, 1, "paper A"), (0.2, 2, "ours")):
        bars = ax.bar(x + offset, [r[col] for r in rows], width=0.4, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(x, [r[0] for r in rows])
    ax.set_ylabel("mean per-subject accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend()
    fig.tight_layout()
    _save(fig, path)
