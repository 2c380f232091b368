"""Paper tables as declarations: which runs a table shows, which metrics, and the paper's
reported numbers beside ours. The experiments' declarations build these; the report renders
them from the run metadata stored in each run's ``config.json``, never from run names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One value column: ``metric`` of a run's metrics (times ``scale``), and the paper's value
    for it when the table declares one."""

    metric: str
    ours: str
    paper: str | None = None  # title of the paper's column; None: the table shows no paper value
    scale: float = 1.0


@dataclass(frozen=True)
class TableSpec:
    """A paper table (or figure) filled from the runs that declare they feed it.

    ``row`` names the run metadata field that labels a run's row (``name``, ``model``, ``mode``,
    ``variant``); ``paper`` maps a row label to the paper's values, one per column that has a
    paper title; ``reference`` rows are other methods' published values (one per paper column;
    None where not reported).
    ``transpose``: metrics as rows and runs as columns (paper A's Table 3). ``figure``:
    ``"bars"`` (ours beside the paper's per row) or ``"curves"`` (training accuracy of two
    folds per run), written as ``figure_file``.
    """

    key: str
    row_title: str
    columns: tuple[Column, ...]
    row: str = "name"
    row_format: str = "{}"
    paper: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    reference: Mapping[str, float | tuple[float | None, ...]] = field(default_factory=dict)
    transpose: bool = False
    min_rows: int = 1
    figure: str | None = None
    figure_file: str | None = None
    caption: str = ""

    def paper_columns(self) -> list[Column]:
        return [c for c in self.columns if c.paper is not None]


#: every declared table by key; the experiments' declarations register theirs
TABLES: dict[str, TableSpec] = {}


def register_tables(specs: tuple[TableSpec, ...] | list[TableSpec]) -> None:
    """Make ``specs`` known to every report (a key declared twice keeps the latest)."""
    TABLES.update({t.key: t for t in specs})


def registered_tables() -> list[TableSpec]:
    return list(TABLES.values())
