"""CASME (Yan et al. 2013): 19 subjects, 60 fps, 8 emotion classes.

On disk: ``CASME_A/Section A/sub01/EP01_5/EP01_5-1.jpg`` (some copies ``img1.jpg``) and
``CASME_B/Section B/sub08/...``; coding in ``Section A.xls`` / ``Section B.xls`` or one merged
sheet (``Subject, Filename, OnsetF, ApexF1, ApexF2, OffsetF, ..., Emotion``). The official
file names are unverified, so every spreadsheet named like these is read and its header row is
detected by content. Without onset/offset columns the clip's first and last frames are used.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import MicroexpError
from .base import (
    LoadResult,
    add_coded_rows,
    find_files,
    is_synthetic,
    read_table,
    require_root,
    subject_number,
    walk_dirs,
)
from .manifests import load_corrections

FPS = 60.0
CODING_FILES = ("Section A.xls*", "Section B.xls*", "CASME*coding*.xls*", "CASME*.xls*")
COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename", "File name"),
    "onset": ("OnsetF", "Onset Frame", "OnsetFrame", "Onset"),
    "apex": ("ApexF1", "ApexF", "Apex Frame", "ApexFrame", "Apex"),
    "offset": ("OffsetF", "Offset Frame", "OffsetFrame", "Offset"),
    "aus": ("AU", "Action Units", "AUs"),
    "emotion": ("Emotion", "Estimated Emotion"),
}
#: spellings found in copies of the coding file
LABEL_ALIASES = {"comtempt": "contempt"}
_SUBJECT_DIR = re.compile(r"^sub(\d+)$", re.IGNORECASE)


def load(root: str | os.PathLike, coding: list[str | os.PathLike] | None = None) -> LoadResult:
    """Read a CASME folder (Sections A and B) as its owners ship it."""
    root = require_root(root, "casme")
    if coding is None:
        files = find_files(root, CODING_FILES, max_depth=3)
        if not files:
            raise MicroexpError(
                f"{root}: no CASME coding file (expected Section A.xls, Section B.xls)"
            )
    else:
        files = [Path(f) for f in coding]
        for f in files:
            if not f.is_file():
                raise MicroexpError(f"{f}: CASME coding file does not exist")
    subject_dirs: dict[str, Path] = {}
    for d in walk_dirs(root, 4):
        m = _SUBJECT_DIR.match(d.name)
        if m and d.is_dir():
            subject_dirs.setdefault(f"sub{int(m.group(1)):02d}", d)
    if not subject_dirs:
        raise MicroexpError(
            f"{root}: no CASME frame folders (expected CASME_A/Section A/sub01/...)"
        )
    result = LoadResult("casme", str(root), synthetic=is_synthetic(root))
    corrections = load_corrections()
    for f in files:
        table = read_table(
            f, COLUMNS, required=("subject", "clip", "emotion"), preferred_sheet="Sheet1"
        )
        # only this table's subjects: folders of another section are that section's business
        numbers = {
            f"sub{n:02d}" for r in table.rows if (n := subject_number(r["subject"])) is not None
        }
        dirs = {k: v for k, v in subject_dirs.items() if k in numbers}
        add_coded_rows(
            result,
            table,
            dirs,
            lambda n: f"sub{n:02d}",
            FPS,
            corrections,
            range_required=False,
            label_aliases=LABEL_ALIASES,
        )
    return result
