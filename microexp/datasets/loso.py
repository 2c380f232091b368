"""Leave-one-group-out splits, registered by name like datasets and models: leave one subject
out (LOSO, the default) or, for a composite, leave one dataset out (LODO); a new one through
:func:`register_split`. Subjects are qualified by dataset (``samm/006``), so subjects of
different datasets never merge into one fold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import MicroexpError, unknown_name
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


@dataclass(frozen=True)
class Split:
    """A leave-one-group-out split: ``group(sample)`` names the group a sample belongs to (one
    fold holds out one group); ``what`` words a group ("subject"); ``composite``: it needs
    samples of two datasets or more (a protocol over several datasets)."""

    name: str
    group: Callable[[Sample], str]
    what: str
    composite: bool = False


#: split name -> its :class:`Split`; :func:`register_split` adds one
SPLITS: dict[str, Split] = {}


def register_split(
    name: str, group: Callable[[Sample], str], what: str, composite: bool = False
) -> Split:
    """Register a new split (``--split NAME``): ``group`` maps a sample to the group it holds
    out with, e.g. a culture or a recording site; ``composite``: it needs several datasets.
    Runs under a split other than ``loso`` get its name in their folder (``NAME-lodo``)."""
    if name in SPLITS:
        raise MicroexpError(f"split {name!r} is already registered")
    SPLITS[name] = Split(name, group, what, composite)
    return SPLITS[name]


register_split("loso", lambda s: s.subject_key, "subject")
register_split("lodo", lambda s: s.dataset, "dataset", composite=True)


def get_split(split: str) -> Split:
    if split not in SPLITS:
        raise unknown_name("split", split, tuple(SPLITS))
    return SPLITS[split]


def group_of(split: str) -> Callable[[Sample], str]:
    """The grouping of ``split`` (a registered name: ``loso``, ``lodo``, ...)."""
    return get_split(split).group


def split_folds(samples: Sequence[Sample], split: str = "loso") -> list[Fold]:
    """One fold per group of ``split`` (sorted); indices refer to ``samples``. A composite
    split (LODO) needs at least two datasets."""
    spec = get_split(split)
    key = spec.group
    groups = sorted({key(s) for s in samples})
    if spec.composite and len({s.dataset for s in samples}) < 2:
        raise ValueError(f"{split} needs a composite; the samples are all {groups}")
    folds = []
    for i, g in enumerate(groups):
        test = tuple(j for j, s in enumerate(samples) if key(s) == g)
        train = tuple(j for j, s in enumerate(samples) if key(s) != g)
        folds.append(Fold(i, g, train, test))
    return folds


def loso_folds(samples: Sequence[Sample]) -> list[Fold]:
    """One fold per subject (sorted by ``dataset/subject``); indices refer to ``samples``."""
    return split_folds(samples, "loso")
