"""Datasets: the user's licensed folders -> typed samples, protocols and LOSO splits.

``load(name, root)`` reads one dataset as its owners ship it; ``load_protocol(protocol, roots)``
reads every dataset a protocol uses and applies its label mapping and exclusions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..errors import MicroexpError, unknown_name
from . import casme, casme2, casme3, casme3_lv, casme_sq, ckplus, fourdme, mmew, samm, samm_lv, smic
from .base import Exclusion, LoadResult
from .longvideo import Interval, LongVideo, LongVideoResult, half_length, mean_length
from .loso import (
    SPLITS,
    Fold,
    Split,
    get_split,
    group_of,
    loso_folds,
    register_split,
    split_folds,
)
from .protocols import (
    Protocol,
    apply_protocol,
    describe_protocol,
    get_protocol,
    protocol_names,
)
from .sample import Sample, read_samples_csv, write_samples_csv
from .summary import format_summary, summarize

LOADERS: dict[str, Callable[..., LoadResult]] = {
    "ckplus": ckplus.load,
    "casme": casme.load,
    "casme2": casme2.load,
    "samm": samm.load,
    "smic": smic.load,
    "casme3": casme3.load,
    "mmew": mmew.load,
    "4dme": fourdme.load,
    "casme_sq": casme_sq.load,
    "samm_lv": samm_lv.load,
    "casme3_lv": casme3_lv.load,
}
DATASETS = tuple(LOADERS)
#: datasets of long videos for spotting (their loaders return a LongVideoResult)
LONG_VIDEO_DATASETS = ("casme_sq", "samm_lv", "casme3_lv")


def loader_options(name: str) -> tuple[str, ...]:
    """The keyword options dataset ``name``'s loader takes besides its root (e.g. casme3's
    ``frames``)."""
    import inspect

    if name not in LOADERS:
        raise unknown_name("dataset", name, tuple(LOADERS))
    params = list(inspect.signature(LOADERS[name]).parameters.values())[1:]
    return tuple(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)


def load(name: str, root: str | os.PathLike, **options: object) -> LoadResult:
    """Read dataset ``name`` from the folder the user unpacked (``root``); ``options`` are its
    loader's keywords (:func:`loader_options`), an unknown one refused in one line."""
    known = loader_options(name)
    for key in options:
        if key not in known:
            raise MicroexpError(
                f"dataset {name!r} takes no option {key!r}; its options: "
                f"{', '.join(known) or 'none'}"
            )
    return LOADERS[name](root, **options)


def parse_roots(text: str, what: str = "--data") -> dict[str, Path]:
    """``name=DIR,name=DIR`` -> {name: DIR} (``~`` expanded); ``what`` names the setting in the
    errors: a part without a name or a folder, an unknown dataset, a dataset named twice."""
    roots: dict[str, Path] = {}
    for part in text.split(","):
        name, sep, path = (p.strip() for p in part.partition("="))
        if not sep or not name or not path:
            raise MicroexpError(f"{what} {text!r}: expected name=DIR,name=DIR")
        if name not in LOADERS:
            raise MicroexpError(
                f"{what} {text!r}: unknown dataset {name!r}; expected one of: "
                f"{', '.join(sorted(LOADERS))}"
            )
        if name in roots:
            raise MicroexpError(f"{what} {text!r}: dataset {name!r} named twice; expected one DIR")
        roots[name] = Path(path).expanduser()
    return roots


def register_dataset(name: str, loader: Callable[..., LoadResult]) -> None:
    """Add a dataset: ``loader(root, **options)`` returns a :class:`LoadResult` of
    :class:`Sample` rows (subject ids qualified by ``name`` for LOSO), with every sample it
    cannot use listed as an :class:`Exclusion` and a reason."""
    if name in LOADERS:
        raise MicroexpError(f"dataset {name!r} is already registered")
    LOADERS[name] = loader


def check_options(options: Mapping[str, object], reads: Sequence[str]) -> None:
    """Refuse loader options for a dataset that the selection (``reads``) does not read: they
    would be silently ignored."""
    for name in options:
        if name not in reads:
            raise MicroexpError(
                f"options for dataset {name!r}, which this selection does not read "
                f"(it reads {', '.join(reads)})"
            )


def load_protocol(
    protocol: str | Protocol,
    roots: Mapping[str, str | os.PathLike],
    datasets: list[str] | None = None,
    options: Mapping[str, Mapping[str, object]] | None = None,
) -> list[LoadResult]:
    """Read each dataset ``protocol`` uses from ``roots[name]`` and apply the protocol.

    ``datasets`` restricts a composite to some of its parts (e.g. only ``casme2`` of megc2019);
    ``options[name]`` are that dataset's loader options (e.g. ``{"casme3": {"frames": "depth"}}``).
    """
    options = options or {}
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    wanted = datasets or list(proto.datasets)
    for name in wanted:
        if name not in proto.datasets:
            raise MicroexpError(
                f"protocol {proto.name!r} does not use dataset {name!r}; it uses {', '.join(proto.datasets)}"
            )
        if name not in roots:
            raise MicroexpError(
                f"protocol {proto.name!r} needs a root for {name!r} (--root {name}=DIR)"
            )
    check_options(options, wanted)
    return [
        apply_protocol(load(name, roots[name], **options.get(name, {})), proto) for name in wanted
    ]


def merge(results: list[LoadResult], name: str) -> LoadResult:
    """One LoadResult holding every part of a composite."""
    out = LoadResult(name, ", ".join(r.root for r in results))
    for r in results:
        out.samples += r.samples
        out.excluded += r.excluded
        out.ignored += r.ignored
        out.notes += r.notes
        out.synthetic = out.synthetic or r.synthetic
    return out


__all__ = [
    "DATASETS",
    "LONG_VIDEO_DATASETS",
    "Interval",
    "LongVideo",
    "LongVideoResult",
    "half_length",
    "mean_length",
    "Exclusion",
    "Fold",
    "LoadResult",
    "Protocol",
    "Sample",
    "apply_protocol",
    "check_options",
    "describe_protocol",
    "get_protocol",
    "load",
    "parse_roots",
    "register_dataset",
    "load_protocol",
    "loso_folds",
    "split_folds",
    "group_of",
    "get_split",
    "register_split",
    "Split",
    "SPLITS",
    "merge",
    "protocol_names",
    "read_samples_csv",
    "write_samples_csv",
    "format_summary",
    "summarize",
    "unknown_name",
]
