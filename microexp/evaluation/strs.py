"""Spot-then-recognise scoring: the STR track of MEGC 2024-2025 (Liong, See and Chan,
"Spot-then-recognize", Signal Processing: Image Communication 110, 2023).

An interval is ``(subject, video, onset, offset, label)``, frames inclusive at both ends. As the
challenge's public evaluator (genbing99/STRS-Metric, ``strs_metric.py``) scores them:

- **spotting**: per video, the predictions are taken in their given order and each claims
  every still-unmatched truth whose IoU with it is at least 0.5 (frames counted inclusively).
  So one prediction over two truths gives two TPs, and of two predictions on one truth the
  first is the TP and the second an FP. TP, FP and FN are summed over videos, then precision,
  recall and F1 (0 where a ratio is 0/0);
- **analysis**: over the spotting TP pairs whose true label is one of ``classes``, one class
  against the rest: per-class precision and recall; **analysis F1** is the harmonic mean of
  the class-averaged precision and the class-averaged recall; UF1 is the mean per-class F1;
- **STRS** = spotting F1 x analysis F1.

Where that definition differs from microexp's elsewhere, both are given and named:
``spotting_bipartite`` is :mod:`.spotting`'s one-to-one matching (MEGC 2019-2022 spotting: one
prediction counts for one truth at most); the evaluator's "UAR" is the mean per-class
*precision* (``uar_evaluator``), ``uar`` is the textbook mean per-class recall. The evaluator
also drops the truths of subjects that have no prediction and scores a class whose one-vs-rest
table has a single cell (every pair that class, or none) as 0; ``evaluator_quirks=True``
reproduces both (to check against its own files), the default counts every truth and scores
such a class from its counts. A 0/0 analysis F1 is 0 here (the evaluator gives nan).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import MicroexpError
from .spotting import SpotScores, count, interval_iou


@dataclass(frozen=True)
class Interval:
    """One spotted or coded interval; frames inclusive at both ends."""

    subject: str
    video: str
    onset: int
    offset: int
    label: str

    @property
    def key(self) -> tuple[str, str]:
        return self.subject, self.video


def parse_intervals(
    rows: Iterable[Sequence], what: str, labels: Iterable[str] | None = None
) -> list[Interval]:
    """``(subject, video, onset, offset, label)`` rows, checked: a bad row is a one-line
    error naming it (an inverted interval, a label outside ``labels``)."""
    known = None if labels is None else set(labels)
    out = []
    for i, row in enumerate(rows):
        if len(row) != 5:
            raise MicroexpError(
                f"{what} row {i}: {tuple(row)!r}: expected (subject, video, onset, offset, label)"
            )
        subject, video, onset, offset, label = row
        try:
            onset, offset = int(onset), int(offset)
        except (TypeError, ValueError):
            raise MicroexpError(f"{what} row {i}: onset and offset must be frame numbers") from None
        if offset < onset:  # a window may start before frame 0, as the evaluator allows
            raise MicroexpError(
                f"{what} row {i}: {subject}/{video} {onset}-{offset}: expected onset <= offset"
            )
        if known is not None and str(label) not in known:
            raise MicroexpError(
                f"{what} row {i}: label {label!r} is not one of {', '.join(sorted(known))}"
            )
        out.append(Interval(str(subject), str(video), onset, offset, str(label)))
    return out


#: the columns of an STR file, as the evaluator's pred.csv and gt.csv have them
CSV_COLUMNS = ("subject", "video", "onset", "offset", "emotion")


def read_csv(path, what: str = "prediction") -> list[tuple]:
    """An STR file (columns :data:`CSV_COLUMNS`, ``label`` accepted for ``emotion``) as rows
    for :func:`strs`; a missing file, a missing column or a row that is not five cells with
    frame numbers is a one-line error naming the file and line. A file of only a header is
    an empty set (valid: it scores 0)."""
    import csv
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise MicroexpError(f"{path}: {what} file does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            reader.fieldnames = ["emotion" if h == "label" else h for h in header]
            missing = [c for c in CSV_COLUMNS if c not in reader.fieldnames]
            if missing:
                raise MicroexpError(
                    f"{path}: expected the columns {', '.join(CSV_COLUMNS)}; missing "
                    f"{', '.join(missing)}"
                )
            rows = []
            for line, r in enumerate(reader, start=2):
                cells = [r.get(c) for c in CSV_COLUMNS]
                if any(c is None or str(c).strip() == "" for c in cells):
                    raise MicroexpError(f"{path} line {line}: expected five non-empty cells")
                try:
                    onset, offset = int(float(cells[2])), int(float(cells[3]))
                except ValueError:
                    raise MicroexpError(
                        f"{path} line {line}: onset {cells[2]!r} and offset {cells[3]!r} must "
                        "be frame numbers"
                    ) from None
                rows.append((cells[0].strip(), cells[1].strip(), onset, offset, cells[4].strip()))
    except UnicodeDecodeError:
        raise MicroexpError(f"{path}: not a text CSV file") from None
    return rows


def strs_files(pred, truth, classes: Sequence[str] | None = None, **kwargs) -> dict:
    """:func:`strs` of two STR files (:func:`read_csv`); a bad row is named by its file and
    line (data line 1 is the file's line 2)."""
    p, t = read_csv(pred, "prediction"), read_csv(truth, "ground-truth")
    try:
        return strs(p, t, classes, **kwargs)
    except MicroexpError as e:
        text = str(e)
        for who, path in (("prediction row ", pred), ("truth row ", truth)):
            if text.startswith(who):
                i, _, rest = text[len(who) :].partition(":")
                raise MicroexpError(f"{path} line {int(i) + 2}:{rest}") from None
        raise


def match_in_order(
    predicted: Sequence[Interval], truth: Sequence[Interval], iou: float = 0.5
) -> tuple[list[tuple[int, int]], SpotScores]:
    """The evaluator's spotting: (prediction, truth) index pairs and the pooled counts."""
    pairs: list[tuple[int, int]] = []
    matched: set[int] = set()
    claimed: set[int] = set()
    by_video: dict[tuple[str, str], list[int]] = {}
    for j, t in enumerate(truth):
        by_video.setdefault(t.key, []).append(j)
    for i, p in enumerate(predicted):
        for j in by_video.get(p.key, []):
            t = truth[j]
            if j not in matched and interval_iou((p.onset, p.offset), (t.onset, t.offset)) >= iou:
                pairs.append((i, j))
                matched.add(j)
                claimed.add(i)
    fp = len(predicted) - len(claimed)
    return pairs, SpotScores(len(pairs), fp, len(truth) - len(matched))


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def analysis_scores(
    true: Sequence[str], pred: Sequence[str], classes: Sequence[str], quirks: bool = False
) -> dict:
    """Per-class one-vs-rest precision, recall and F1 of the spotted TP pairs, and their
    averages: ``f1`` (harmonic mean of the mean precision and the mean recall, MEGC's analysis
    F1), ``uf1`` (mean per-class F1), ``uar`` (mean recall), ``uar_evaluator`` (mean
    precision, what the evaluator calls UAR). ``tp``/``fp``/``fn`` as the evaluator shows them:
    right labels, and wrong ones (each both a false positive and a false negative)."""
    per_class = {}
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(true, pred, strict=True))
        fp = sum(t != c and p == c for t, p in zip(true, pred, strict=True))
        fn = sum(t == c and p != c for t, p in zip(true, pred, strict=True))
        single_cell = len({(t == c, p == c) for t, p in zip(true, pred, strict=True)}) <= 1
        if quirks and single_cell:  # the evaluator's confusion_matrix(...).ravel() fails
            prec = rec = 0.0
        else:
            prec, rec = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[c] = {"precision": prec, "recall": rec, "f1": f1}
    n = len(classes)
    mean_p = sum(v["precision"] for v in per_class.values()) / n if n else 0.0
    mean_r = sum(v["recall"] for v in per_class.values()) / n if n else 0.0
    right = sum(t == p for t, p in zip(true, pred, strict=True))
    return {
        "tp": right,
        "fp": len(true) - right,
        "fn": len(true) - right,
        "precision": mean_p,
        "recall": mean_r,
        "f1": 2 * mean_p * mean_r / (mean_p + mean_r) if mean_p + mean_r else 0.0,
        "uf1": sum(v["f1"] for v in per_class.values()) / n if n else 0.0,
        "uar": mean_r,
        "uar_evaluator": mean_p,
        "per_class": per_class,
    }


def strs(
    predicted: Iterable[Sequence],
    truth: Iterable[Sequence],
    classes: Sequence[str] | None = None,
    iou: float = 0.5,
    evaluator_quirks: bool = False,
) -> dict:
    """The STR scores of ``predicted`` against ``truth`` (rows of ``(subject, video, onset,
    offset, label)``): ``spotting`` (the evaluator's in-order matching), ``spotting_bipartite``
    (microexp's one-to-one matching), ``analysis`` (:func:`analysis_scores` over the spotting
    TPs whose true label is in ``classes``; default every label in ``truth``) and ``strs``.

    A prediction for a (subject, video) absent from ``truth``, or with a label outside
    ``classes`` and ``truth``'s labels, is a one-line error naming its row. No prediction at all
    is valid and scores 0."""
    if not 0 < iou <= 1:
        raise MicroexpError(f"iou {iou}: expected a value in (0, 1]")
    true = parse_intervals(truth, "truth")
    labels = sorted({t.label for t in true})
    classes = list(labels if classes is None else classes)
    pred = parse_intervals(predicted, "prediction", set(labels) | set(classes))
    videos = {t.key for t in true}
    for i, p in enumerate(pred):
        if p.key not in videos:
            raise MicroexpError(
                f"prediction row {i}: video {p.subject}/{p.video} is not in the ground truth"
            )
    if evaluator_quirks:  # truths of subjects with no prediction are not counted
        subjects = {p.subject for p in pred}
        true = [t for t in true if t.subject in subjects]
    pairs, spotting = match_in_order(pred, true, iou)
    kept = [(true[j].label, pred[i].label) for i, j in pairs if true[j].label in classes]
    analysis = analysis_scores(
        [t for t, _ in kept], [p for _, p in kept], classes, evaluator_quirks
    )
    video_of = {key: f"{key[0]}/{key[1]}" for key in videos}
    shift = 1 - min([x.onset for x in [*pred, *true]], default=1)  # spotting's frames are 1-based
    bipartite = count(
        [(video_of[p.key], p.onset + shift, p.offset + shift) for p in pred],
        [(video_of[t.key], t.onset + shift, t.offset + shift) for t in true],
        iou,
    )
    return {
        "spotting": spotting.as_dict(),
        "spotting_bipartite": bipartite.as_dict(),
        "analysis": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in analysis.items()},
        "strs": round(spotting.f1 * analysis["f1"], 4),
        "classes": classes,
        "predictions": len(pred),
        "truths": len(true),
    }
