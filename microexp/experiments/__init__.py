"""Experiments as data: each paper table is a declaration (:mod:`.paper_a`, :mod:`.paper_b`),
read by one generic runner (:mod:`.runner`) with one fold trainer (:mod:`.trainer`).

    import microexp
    microexp.reproduce("atscnn", "runs/b", preset="demo")        # a paper's declared runs
    microexp.run("casme2-5class", "atscnn", "runs/c", preset="tiny")  # any model, any protocol

A new experiment is one declaration: build an :class:`Experiment` and pass it to
:func:`run_experiments`, or group experiments and tables in a :class:`Paper` and
:func:`register_paper` it (docs/extending.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import MicroexpError, unknown_name
from ..reporting.report import write_report
from ..reporting.tables import Column, TableSpec, register_tables, registered_tables
from .defaults import register_recipe
from .megc import TABLE as MEGC2019_TABLE
from .paper_a import PAPER_A
from .paper_b import PAPER_B
from .runner import RunOptions, _options, experiment_for, run, run_all
from .spec import ByPreset, Experiment, Paper, Sampling, Stage

PAPERS: dict[str, Paper] = {}
MODES = ("transfer", "scratch")


def register_paper(paper: Paper) -> Paper:
    """Make ``paper`` known to ``reproduce`` and its tables to every report."""
    names = [e.name for e in paper.experiments]
    missing = sorted(set(paper.default) - set(names)) + (
        [] if paper.template in names else [paper.template]
    )
    if missing:
        raise MicroexpError(f"paper {paper.name!r} names undeclared experiments: {missing}")
    keys = {t.key for t in paper.tables} | {t.key for t in registered_tables()}
    unknown = sorted({k for e in paper.experiments for k in e.tables} - keys)
    if unknown:
        raise MicroexpError(f"paper {paper.name!r}: experiments feed undeclared tables {unknown}")
    PAPERS[paper.name] = paper
    register_tables(paper.tables)
    return paper


def get_paper(name: str) -> Paper:
    if name not in PAPERS:
        raise unknown_name("paper recipe", name, tuple(PAPERS))
    return PAPERS[name]


def datasets_needed(name: str) -> tuple[str, ...]:
    """The datasets a paper's default experiments read (pre-training protocols first)."""
    from .data import datasets_of

    paper = get_paper(name)
    chosen = [e for e in paper.experiments if e.name in paper.default]
    protocols = [p for e in chosen for p in (e.pretrain and e.pretrain.protocol, e.protocol)]
    return tuple(datasets_of([p for p in protocols if p]))


def select(
    paper: Paper, model: str | None, ablation: str | None, modes: Sequence[str] = MODES
) -> list[Experiment]:
    """The experiments ``reproduce`` runs: the paper's defaults; or those of ``model`` (a
    registered model the paper does not declare runs in its template's setting); the
    ``ablation`` variant (``all``: every one); only the ``modes`` asked for."""
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise unknown_name("mode", bad[0] if bad else "", MODES)
    if model is None and ablation is None:
        chosen = [e for e in paper.experiments if e.name in paper.default]
    else:
        template = next(e for e in paper.experiments if e.name == paper.template)
        wanted = model or template.model
        chosen = [e for e in paper.experiments if e.model == wanted] or [
            _from_template(template, wanted, paper.template_tables)
        ]
        variants = sorted({e.variant for e in chosen})
        if ablation not in (None, "all") and ablation not in variants:
            raise unknown_name(f"ablation of {wanted}", ablation, variants)
        keep = variants if ablation == "all" else [ablation or "full"]
        chosen = [e for e in chosen if e.variant in keep]
    chosen = [e for e in chosen if e.mode in modes]
    if not chosen:
        raise MicroexpError(f"{paper.name}: no declared experiment runs in modes {list(modes)}")
    return chosen


def _from_template(template: Experiment, model: str, tables: tuple[str, ...]) -> Experiment:
    from dataclasses import replace

    return replace(template, name=model, model=model, model_args={}, variant="full", tables=tables)


def reproduce(
    paper: str,
    out: str | os.PathLike,
    model: str | None = None,
    ablation: str | None = None,
    modes: Sequence[str] = MODES,
    **options: object,
) -> Path:
    """Run a paper's declared experiments (``options``: the fields of :class:`RunOptions`,
    e.g. ``data``, ``preset``, ``seed``, ``folds``, ``shard``); returns the report folder.

    After a complete LOSO (no ``folds``/``shard``) each deep run also trains one model on every
    subject and saves ``RUN_DIR/model.keras`` for ``microexp predict``; it is used in no
    reported number.
    """
    declared = get_paper(paper)
    chosen = select(declared, model, ablation, tuple(modes))
    return run_all(out, chosen, _options(options), paper)


def run_experiments(
    experiments: Sequence[Experiment],
    out: str | os.PathLike,
    tables: Sequence[TableSpec] = (),
    **options: object,
) -> Path:
    """Run declared experiments (your own, e.g.) into ``out``, reporting them in the
    registered tables and ``tables``; returns the report folder."""
    return run_all(out, list(experiments), _options(options), tables=tables)


register_tables((MEGC2019_TABLE,))
register_paper(PAPER_A)
register_paper(PAPER_B)

__all__ = [
    "ByPreset",
    "register_recipe",
    "Column",
    "Experiment",
    "PAPERS",
    "Paper",
    "RunOptions",
    "Sampling",
    "Stage",
    "TableSpec",
    "datasets_needed",
    "experiment_for",
    "get_paper",
    "register_paper",
    "reproduce",
    "run",
    "run_experiments",
    "select",
    "write_report",
]
