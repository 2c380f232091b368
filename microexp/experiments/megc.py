"""The MEGC2019 composite (SMIC-HS + CASME II + SAMM, 3 classes): its table, with the results
the field reports beside ours. Runs on ``megc2019`` feed it (``microexp run --protocol megc2019
--model M``); their per-dataset scores are in every composite report.

The reported figures (DATASETS.md) are pooled UF1 / UAR over LOSO as their authors give them;
most deep entries select each fold's epoch on its test subject (a leakage-free re-run of one
such method reported about 0.59 UF1), which microexp never does.
"""

from __future__ import annotations

from ..reporting.tables import Column, TableSpec

PROTOCOL = "megc2019"
TABLE = TableSpec(
    key="megc2019_composite",
    row_title="method",
    columns=(
        Column("pooled_uf1", "ours pooled UF1", paper="reported UF1"),
        Column("pooled_uar", "ours pooled UAR", paper="reported UAR"),
    ),
    row_format="ours: {}",
    paper={"htnet": (0.8603, 0.8475), "ststnet": (None, 0.7605)},  # beside our run of each
    reference={
        "LBP-TOP, official baseline (reported by its authors)": (0.5882, 0.5785),
        "STSTNet (reported by its authors; UAR only)": (None, 0.7605),
        "HTNet (reported by its authors)": (0.8603, 0.8475),
        "SRMCL (reported by its authors)": (0.8630, 0.8830),
        "LTR3O (reported by its authors)": (0.8931, 0.8819),
    },
)
#: protocol -> the tables any run on it feeds (``microexp run``)
PROTOCOL_TABLES: dict[str, tuple[str, ...]] = {PROTOCOL: (TABLE.key,)}
