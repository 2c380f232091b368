"""Uncertainty over subjects: 95 % bootstrap intervals of a run's metrics, and paired
comparisons of two runs on the same samples (difference, its interval, a permutation p-value).

The unit of resampling is the subject: LOSO's samples of one subject are not independent, and
the field's metrics are computed over subjects' pooled predictions. scipy.stats does the
resampling (``bootstrap``, percentile intervals; ``permutation_test``, paired: within each
subject the two runs' predictions swap places). Each resample's metric is computed from
per-subject confusion matrices summed with the subjects' multiplicities, for all resamples at
once (a resampled subject drawn twice counts twice, also in the subject-mean accuracy).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .metrics import _per_class

#: metrics that get intervals; each is recomputed on every resample of subjects
INTERVAL_METRICS = ("subject_mean_accuracy", "pooled_accuracy", "pooled_uf1", "pooled_uar")


class _SubjectTables:
    """Per-subject confusion matrices, (seeds, subjects, K, K): every seed's predictions of
    the same samples (``y_pred`` 1-D for one seed, or (seeds, samples))."""

    def __init__(self, y_true, y_pred, subjects, n_classes: int) -> None:
        subjects = np.asarray(subjects)
        self.names = list(dict.fromkeys(subjects.tolist()))
        t, p = np.asarray(y_true, int), np.atleast_2d(np.asarray(y_pred, int))
        self.cm = np.zeros((len(p), len(self.names), n_classes, n_classes))
        for j, name in enumerate(self.names):
            mask = subjects == name
            for z in range(len(p)):
                np.add.at(self.cm[z, j], (t[mask], p[z, mask]), 1)

    def value(self, idx: np.ndarray, metric: str) -> np.ndarray:
        """``metric`` of the subjects ``idx`` (..., m) pooled, averaged over seeds -> (...)."""
        idx = np.asarray(idx, int)
        counts = (idx[..., None] == np.arange(len(self.names))).sum(axis=-2).astype(float)
        if metric == "subject_mean_accuracy":
            diag = np.trace(self.cm, axis1=-2, axis2=-1)
            per_subject = diag / self.cm.sum(axis=(-2, -1))  # (seeds, subjects)
            v = np.einsum("...s,zs->...z", counts, per_subject) / counts.sum(-1)[..., None]
            return v.mean(axis=-1)
        pooled = np.einsum("...s,zskl->...zkl", counts, self.cm)
        if metric == "pooled_accuracy":
            v = np.trace(pooled, axis1=-2, axis2=-1) / pooled.sum(axis=(-2, -1))
        elif metric in ("pooled_uf1", "pooled_uar"):
            f1, rec = _per_class(pooled, "skip")
            with warnings.catch_warnings():  # a resample without any class: nan
                warnings.simplefilter("ignore", RuntimeWarning)
                v = np.nanmean(f1 if metric == "pooled_uf1" else rec, axis=-1)
        else:
            raise ValueError(
                f"no interval for metric {metric!r}; expected one of {INTERVAL_METRICS}"
            )
        return v.mean(axis=-1)


def _percentile_ci(statistic, n: int, n_resamples: int, seed: int) -> list[float]:
    from scipy import stats

    res = stats.bootstrap(
        (np.arange(n),),
        statistic,
        vectorized=True,
        n_resamples=n_resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def bootstrap_ci(
    y_true,
    y_pred,
    subjects,
    n_classes: int,
    metrics: Sequence[str] = INTERVAL_METRICS,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """{metric: [low, high]}: 95 % percentile bootstrap over subjects (resample subjects with
    replacement, recompute the pooled metric; with 2-D ``y_pred``, its mean over seeds).
    Fewer than 2 subjects: [nan, nan]."""
    tables = _SubjectTables(y_true, y_pred, subjects, n_classes)
    n = len(tables.names)
    if n < 2:
        return {m: [float("nan"), float("nan")] for m in metrics}
    out = {}
    for m in metrics:
        stat = lambda idx, axis=-1, m=m: tables.value(np.moveaxis(idx, axis, -1), m)  # noqa: E731
        out[m] = _percentile_ci(stat, n, n_resamples, seed)
    return out


def _aligned_seeds(pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two runs' (seeds, samples) predictions with as many seeds each: a run of one seed is
    repeated; otherwise both keep their first common number of seeds."""
    pa, pb = np.atleast_2d(pa), np.atleast_2d(pb)
    if len(pa) == 1:
        pa = np.repeat(pa, len(pb), axis=0)
    if len(pb) == 1:
        pb = np.repeat(pb, len(pa), axis=0)
    rows = min(len(pa), len(pb))
    return pa[:rows], pb[:rows]


def paired_comparison(
    a: tuple, b: tuple, metric: str, n_classes: int, n_resamples: int = 2000, seed: int = 0
) -> dict[str, object]:
    """Run ``a`` minus run ``b`` on the same samples. ``a``/``b``: (y_true, y_pred, subjects)
    in the same sample order; ``y_pred`` may be 2-D (seeds, samples): the metric is then the
    mean over seeds (a run of one seed is repeated to match). Returns the difference of the
    pooled metric, its 95 % bootstrap interval over subjects, and the two-sided p-value of a
    paired permutation test (the two runs' predictions of a subject swap places; exact when
    2^subjects <= ``n_resamples``)."""
    from scipy import stats

    if list(a[0]) != list(b[0]) or list(a[2]) != list(b[2]):
        raise ValueError("paired comparison needs the same samples in the same order")
    pa, pb = _aligned_seeds(a[1], b[1])
    ta, tb = (_SubjectTables(a[0], p, a[2], n_classes) for p in (pa, pb))
    n = len(ta.names)
    everyone = np.arange(n)
    difference = float(ta.value(everyone, metric) - tb.value(everyone, metric))
    out = {"metric": metric, "difference": difference}
    if n < 2:
        return {**out, "ci95": [float("nan")] * 2, "p_value": float("nan")}

    def diff(idx, axis=-1):
        idx = np.moveaxis(idx, axis, -1)
        return ta.value(idx, metric) - tb.value(idx, metric)

    ci = _percentile_ci(diff, n, n_resamples, seed)
    # both runs as one table: subject i of a is group i, of b group n + i
    both = _SubjectTables(
        np.concatenate([a[0], b[0]]),
        np.concatenate([pa, pb], axis=1),
        np.concatenate([[f"a{s}" for s in a[2]], [f"b{s}" for s in b[2]]]),
        n_classes,
    )

    def swapped(x, y, axis=-1):
        x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
        return both.value(x, metric) - both.value(y, metric)

    perm = stats.permutation_test(
        (everyone, everyone + n),
        swapped,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        random_state=np.random.default_rng(seed),
    )
    return {**out, "ci95": ci, "p_value": float(perm.pvalue)}
