"""Leave-one-subject-out splits. Subjects are qualified by dataset (``samm/006``), so subjects of
different datasets never merge into one fold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .sample import Sample


@dataclass(frozen=True)
class Fold:
    """One LOSO fold: the held-out subject and the sample indices on each side."""

    index: int
    test_subject: str
    train: tuple[int, ...]
    test: tuple[int, ...]


def loso_folds(samples: Sequence[Sample]) -> list[Fold]:
    """One fold per subject (sorted by ``dataset/subject``); indices refer to ``samples``."""
    subjects = sorted({s.subject_key for s in samples})
    folds = []
    for i, subj in enumerate(subjects):
        test = tuple(j for j, s in enumerate(samples) if s.subject_key == subj)
        train = tuple(j for j, s in enumerate(samples) if s.subject_key != subj)
        folds.append(Fold(i, subj, train, test))
    return folds
