"""MEGC's recognition submission log and per-dataset scores of a composite run."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..fileio import write_text
from .metrics import uar, uf1


def megc_log_lines(records: Sequence[dict]) -> list[str]:
    """For every held-out subject in fold order, a ``dataset subject`` line, then one
    ``clip true predicted`` line per clip (class indices of the protocol)."""
    lines: list[str] = []
    for rec in records:
        current = None
        for sid, t, p in zip(rec["samples"], rec["y_true"], rec["y_pred"], strict=True):
            dataset, subject, clip = sid.split("/", 2)
            if (dataset, subject) != current:
                current = (dataset, subject)
                lines.append(f"{dataset} {subject}")
            lines.append(f"{clip} {int(t)} {int(p)}")
    return lines


def write_megc_log(path: str | os.PathLike, records: Sequence[dict]) -> None:
    """``megc_log.txt`` (atomic) from a run's fold records."""
    write_text(path, "\n".join(megc_log_lines(records)) + "\n")


def per_dataset_scores(
    sample_ids: Sequence[str], y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, dict]:
    """Pooled UF1 and UAR on each dataset's slice of a composite's predictions (``y_pred``:
    (seeds, samples), averaged over seeds), as MEGC papers report them; empty for one dataset.
    On each slice the classes are those present in it (true or predicted), as scikit-learn's
    macro F1 and balanced accuracy count them."""
    datasets = np.array([sid.split("/", 1)[0] for sid in sample_ids])
    names = sorted(set(datasets.tolist()))
    if len(names) < 2:
        return {}
    y_pred = np.atleast_2d(y_pred)
    out = {}
    for d in names:
        m = datasets == d
        t = np.asarray(y_true)[m]
        out[d] = {
            "pooled_uf1": float(np.mean([uf1(t, p[m]) for p in y_pred])),
            "pooled_uar": float(np.mean([uar(t, p[m]) for p in y_pred])),
            "samples": int(m.sum()),
        }
    return out
