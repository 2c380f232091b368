"""MEGC's spotting evaluation: intervals matched by IoU, counts pooled over videos.

An interval is ``(video, onset, offset)`` or ``(video, onset, offset, kind)`` with 1-based,
inclusive frame numbers; ``kind`` is ``macro`` or ``micro``. A spotted interval is a true
positive when its IoU with a ground-truth interval of the same video (and kind) is at least
``iou``: intersection = min(offsets) - max(onsets) + 1, union = both lengths - intersection.
Each truth is matched at most once and each prediction at most once (a maximum bipartite
matching, so two predictions on one truth give one TP and one FP). Per video FP = n - a and
FN = m - a (n predicted, m true, a matched); the counts are summed over videos before
precision, recall and F1 (MEGC 2019-2022 spotting track). Macro and micro are scored apart;
``overall`` sums their counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import MicroexpError

KINDS = ("macro", "micro")


@dataclass(frozen=True)
class SpotScores:
    """Counts pooled over videos, and the scores they give (0 where a ratio is 0/0)."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: SpotScores) -> SpotScores:
        return SpotScores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def interval_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """IoU of two 1-based inclusive frame intervals (onset, offset)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


def _parse(items: Iterable[Sequence], what: str) -> list[tuple[str, int, int, str]]:
    out = []
    for i, item in enumerate(items):
        if len(item) not in (3, 4):
            raise MicroexpError(
                f"{what}[{i}] = {tuple(item)!r}: expected (video, onset, offset[, kind])"
            )
        video, onset, offset = str(item[0]), int(item[1]), int(item[2])
        kind = str(item[3]).lower() if len(item) == 4 else "all"
        if offset < onset or onset < 1:
            raise MicroexpError(
                f"{what}[{i}] = {tuple(item)!r}: expected 1 <= onset <= offset (1-based frames)"
            )
        if len(item) == 4 and kind not in KINDS:
            raise MicroexpError(f"{what}[{i}]: kind {item[3]!r}, expected macro or micro")
        out.append((video, onset, offset, kind))
    return out


def _matched(pred: list[tuple[int, int]], true: list[tuple[int, int]], iou: float) -> int:
    """Size of a maximum one-to-one matching of ``pred`` to ``true`` with IoU >= ``iou``."""
    if not pred or not true:
        return 0
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    edges = np.array([[interval_iou(p, t) >= iou for t in true] for p in pred], dtype=np.int8)
    match = maximum_bipartite_matching(csr_matrix(edges), perm_type="column")
    return int((match >= 0).sum())


def count(predicted: Sequence[Sequence], truth: Sequence[Sequence], iou: float = 0.5) -> SpotScores:
    """TP, FP, FN of ``predicted`` against ``truth`` (kinds ignored), pooled over videos."""
    pred = _parse(predicted, "predicted")
    true = _parse(truth, "truth")
    total = SpotScores(0, 0, 0)
    for video in sorted({p[0] for p in pred} | {t[0] for t in true}):
        p = [(a, b) for v, a, b, _ in pred if v == video]
        t = [(a, b) for v, a, b, _ in true if v == video]
        a = _matched(p, t, iou)
        total = total + SpotScores(a, len(p) - a, len(t) - a)
    return total


def spot_scores(
    predicted: Sequence[Sequence], truth: Sequence[Sequence], iou: float = 0.5
) -> dict[str, dict]:
    """MEGC spotting scores: ``{"macro": {...}, "micro": {...}, "overall": {...}}`` with tp,
    fp, fn, precision, recall and f1 each (only ``overall`` when no interval has a kind).

    ``predicted``, ``truth``: ``(video, onset, offset[, kind])``, 1-based inclusive frames.
    A prediction is compared with the truths of its own kind; ``overall`` sums the kinds'
    counts (as MEGC does), so a macro prediction on a micro truth counts in neither.
    """
    if not 0 < iou <= 1:
        raise MicroexpError(f"iou {iou}: expected a value in (0, 1]")
    pred = _parse(predicted, "predicted")
    true = _parse(truth, "truth")
    kinds = sorted({k for *_, k in pred} | {k for *_, k in true})
    if "all" in kinds and len(kinds) > 1:
        raise MicroexpError("give a kind (macro or micro) to every interval or to none")
    out: dict[str, dict] = {}
    total = SpotScores(0, 0, 0)
    for kind in kinds:
        scores = count(
            [p[:3] for p in pred if p[3] == kind], [t[:3] for t in true if t[3] == kind], iou
        )
        total = total + scores
        if kind != "all":
            out[kind] = scores.as_dict()
    out["overall"] = total.as_dict()
    return out


def subject_counts(
    predicted: Sequence[Sequence], truth: Sequence[Sequence], subject_of: dict, iou: float = 0.5
) -> dict[str, np.ndarray]:
    """Per kind (and ``overall``), the (subjects, 3) TP/FP/FN counts of each subject's videos
    (``subject_of``: video -> subject; the rows follow its sorted subjects)."""
    pred, true = _parse(predicted, "predicted"), _parse(truth, "truth")
    subjects = sorted(set(subject_of.values()))
    kinds = sorted({k for *_, k in pred} | {k for *_, k in true}) or ["all"]
    out = {}
    for kind in kinds:
        rows = []
        for s in subjects:
            mine = {v for v, subj in subject_of.items() if subj == s}
            c = count(
                [p[:3] for p in pred if p[3] == kind and p[0] in mine],
                [t[:3] for t in true if t[3] == kind and t[0] in mine],
                iou,
            )
            rows.append((c.tp, c.fp, c.fn))
        out[kind] = np.array(rows, float).reshape(len(subjects), 3)
    out["overall"] = sum(out.values())
    return out


def f1_interval(counts: np.ndarray, n_resamples: int = 2000, seed: int = 0) -> list[float]:
    """95 % percentile bootstrap interval of the pooled F1 over subjects (``counts``: the
    (subjects, 3) TP/FP/FN of :func:`subject_counts`); [nan, nan] with fewer than 2 subjects."""
    from .intervals import _percentile_ci

    if len(counts) < 2:
        return [float("nan"), float("nan")]

    def f1(idx, axis=-1):
        idx = np.moveaxis(np.asarray(idx, int), axis, -1)
        tp, fp, fn = np.moveaxis(counts[idx].sum(axis=-2), -1, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = 2 * tp / (2 * tp + fp + fn)
        return np.nan_to_num(v)

    return [round(v, 4) for v in _percentile_ci(f1, len(counts), n_resamples, seed)]


def chance_scores(
    predicted: Sequence[Sequence],
    truth: Sequence[Sequence],
    frames: dict[str, tuple[int, int]],
    iou: float = 0.5,
    draws: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """Mean F1 per kind (and ``overall``) of a chance spotter: in each video, as many
    intervals of each kind, of the same lengths, as ``predicted`` has, placed uniformly at
    random within the video's frames (``frames``: video -> (first, last)); ``draws`` repeats.
    A spotter's F1 means something only above this."""
    rng = np.random.default_rng(seed)
    pred = _parse(predicted, "predicted")
    totals: dict[str, list[float]] = {}
    for _ in range(draws):
        drawn = []
        for video, onset, offset, kind in pred:
            first, last = frames[video]
            length = min(offset - onset, last - first)
            start = int(rng.integers(first, last - length + 1))
            drawn.append((video, start, start + length) + (() if kind == "all" else (kind,)))
        for kind, v in spot_scores(drawn, truth, iou).items():
            totals.setdefault(kind, []).append(v["f1"])
    if not pred:
        return {k: 0.0 for k in spot_scores([], truth, iou)}
    return {k: round(float(np.mean(v)), 4) for k, v in totals.items()}


__all__ = [
    "KINDS",
    "SpotScores",
    "chance_scores",
    "count",
    "f1_interval",
    "interval_iou",
    "spot_scores",
    "subject_counts",
]
