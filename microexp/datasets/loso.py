"""Leave-one-group-out splits: leave one subject out (LOSO, the default) or, for a composite,
leave one dataset out (LODO). Subjects are qualified by dataset (``samm/006``), so subjects of
different datasets never merge into one fold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import unknown_name
from .sample import Sample


@dataclass(frozen=True)
class Fold:
    """One fold: the held-out group and the sample indices on each side. ``test_subject`` is
    the held-out subject key (``casme2/sub01``) under LOSO, the held-out dataset (``casme2``)
    under LODO."""

    index: int
    test_subject: str
    train: tuple[int, ...]
    test: tuple[int, ...]


def _subject(s: Sample) -> str:
    return s.subject_key


def _dataset(s: Sample) -> str:
    return s.dataset


#: split name -> the group a sample belongs to; one fold holds out one group
SPLITS: dict[str, Callable[[Sample], str]] = {"loso": _subject, "lodo": _dataset}


def group_of(split: str) -> Callable[[Sample], str]:
    """The grouping of ``split`` (``loso`` or ``lodo``)."""
    if split not in SPLITS:
        raise unknown_name("split", split, tuple(SPLITS))
    return SPLITS[split]


def split_folds(samples: Sequence[Sample], split: str = "loso") -> list[Fold]:
    """One fold per group of ``split`` (sorted); indices refer to ``samples``. LODO needs at
    least two datasets."""
    key = group_of(split)
    groups = sorted({key(s) for s in samples})
    if split == "lodo" and len(groups) < 2:
        raise ValueError(f"leave-one-dataset-out needs a composite; the samples are all {groups}")
    folds = []
    for i, g in enumerate(groups):
        test = tuple(j for j, s in enumerate(samples) if key(s) == g)
        train = tuple(j for j, s in enumerate(samples) if key(s) != g)
        folds.append(Fold(i, g, train, test))
    return folds


def loso_folds(samples: Sequence[Sample]) -> list[Fold]:
    """One fold per subject (sorted by ``dataset/subject``); indices refer to ``samples``."""
    return split_folds(samples, "loso")
