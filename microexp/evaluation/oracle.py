"""What test-subject epoch picking reports: a labelled measurement, never a result.

A ``--selection test-oracle`` run records every epoch's predictions on each held-out subject
(``extra["epoch_pred"]`` of its fold records). From them:

- ``fold_best_epoch``: each fold scored at the epoch with the best accuracy on its own test
  subject (ties: the later epoch, as ``best <= val_acc`` in HTNet's public ``main_HTNet.py``),
  then pooled as usual (pooled UF1, UAR; mean per-subject accuracy);
- ``subject_best_uf1_mean``: for each subject, the best UF1 over epochs of its own samples,
  averaged over subjects (the practice of averaging each subject's best score).

The honest number is the run's own: every fold at its fixed last epoch, computed from the same
run. ``inflation`` is oracle minus honest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import all_metrics, uf1


def _best_epoch(epochs: Sequence[Sequence[int]], y_true: Sequence[int]) -> int:
    acc = [float(np.mean(np.asarray(p) == np.asarray(y_true))) for p in epochs]
    best = max(acc)
    return max(i for i, a in enumerate(acc) if a == best)  # ties: the later epoch


def oracle_scores(records: Sequence[dict], n_classes: int) -> dict:
    """The oracle figures of one seed's fold records (each with ``extra["epoch_pred"]``), the
    honest ones (last epoch) beside them, and the inflation."""
    t, honest, oracle, subjects, best_uf1, epochs = [], [], [], [], [], []
    labels = list(range(n_classes))
    for r in records:
        per_epoch = r["extra"]["epoch_pred"]
        k = _best_epoch(per_epoch, r["y_true"])
        epochs.append(k + 1)
        t += r["y_true"]
        honest += r["y_pred"]
        oracle += per_epoch[k]
        subjects += [r["test_subject"]] * len(r["y_true"])
        best_uf1.append(max(uf1(r["y_true"], p, labels) for p in per_epoch))
    h = all_metrics(t, honest, subjects, n_classes)
    o = all_metrics(t, oracle, subjects, n_classes)
    keys = ("pooled_uf1", "pooled_uar", "subject_mean_accuracy")
    return {
        "honest": {k: h[k] for k in keys},
        "fold_best_epoch": {k: o[k] for k in keys},
        "inflation": {k: o[k] - h[k] for k in keys},
        "inflation_ci95": paired_interval(t, honest, oracle, subjects, n_classes),
        "subject_best_uf1_mean": float(np.nanmean(best_uf1)),
        "chosen_epochs": epochs,
        "epochs": len(records[0]["extra"]["epoch_pred"]) if records else 0,
    }


def paired_interval(
    y_true, honest, oracle, subjects, n_classes: int, n_resamples: int = 2000, seed: int = 0
) -> dict[str, list[float]]:
    """95 % percentile bootstrap interval of oracle minus honest pooled UF1 and UAR, over
    subjects: the same subjects drawn for both (paired), every draw pooled again."""
    from .metrics import uar

    t, a, b, s = map(np.asarray, (y_true, honest, oracle, subjects))
    names = np.unique(s)
    rows = [np.flatnonzero(s == k) for k in names]
    labels = list(range(n_classes))
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {"pooled_uf1": [], "pooled_uar": []}
    for _ in range(n_resamples if len(names) > 1 else 0):
        idx = np.concatenate([rows[i] for i in rng.integers(0, len(names), len(names))])
        for key, metric in (("pooled_uf1", uf1), ("pooled_uar", uar)):
            diffs[key].append(metric(t[idx], b[idx], labels) - metric(t[idx], a[idx], labels))
    return {
        k: [float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))]
        if v
        else [float("nan")] * 2
        for k, v in diffs.items()
    }


def mean_oracle(per_seed: Sequence[dict]) -> dict:
    """The mean over seeds of :func:`oracle_scores` (chosen epochs and the paired interval:
    the first seed's; ``benchmarks/bench_oracle.py`` gives intervals over seeds)."""
    if len(per_seed) == 1:
        return per_seed[0]
    out = dict(per_seed[0])
    for group in ("honest", "fold_best_epoch", "inflation"):
        out[group] = {k: float(np.mean([s[group][k] for s in per_seed])) for k in out[group]}
    out["subject_best_uf1_mean"] = float(np.mean([s["subject_best_uf1_mean"] for s in per_seed]))
    return out


__all__ = ["mean_oracle", "oracle_scores", "paired_interval"]
