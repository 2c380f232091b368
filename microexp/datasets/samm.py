"""SAMM (Davison et al. 2018): 29 subjects (in the micro sheet), 200 fps, 960x650 grayscale.

On disk: ``SAMM/006/006_1_2/006_05562.jpg`` and ``SAMM_Micro_FACS_Codes_v2.xlsx`` (sheet
``MICRO_ONLY``; 13 note rows above the header in one release, none in another: the header row is
found by its content).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MicroexpError
from .base import (
    LoadResult,
    add_coded_rows,
    coding_file,
    find_dir,
    is_synthetic,
    read_table,
    require_root,
)
from .manifests import load_corrections

FPS = 200.0
CODING_FILES = ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_Micro_FACS_Codes*.xls*", "SAMM*Codes*.xls*")
COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("Onset Frame", "OnsetFrame", "Onset"),
    "apex": ("Apex Frame", "ApexFrame", "Apex"),
    "offset": ("Offset Frame", "OffsetFrame", "Offset"),
    "aus": ("Action Units",),
    "emotion": ("Estimated Emotion", "Emotion"),
}


def _has_subject_dirs(d: Path) -> bool:
    return any(c.is_dir() and c.name.isdigit() for c in d.iterdir())


def load(root: str | os.PathLike, coding: str | os.PathLike | None = None) -> LoadResult:
    """Read a SAMM folder as its owners ship it; subject ids become 3-digit text (``006``)."""
    root = require_root(root, "samm")
    coding = coding_file(root, coding, CODING_FILES, "SAMM coding file")
    frame_root = find_dir(
        root, ("SAMM", "SAMM_CROP", "samm_frames"), max_depth=2, accept=_has_subject_dirs
    )
    if frame_root is None and _has_subject_dirs(root):
        frame_root = root
    if frame_root is None:
        raise MicroexpError(f"{root}: no SAMM frame folder (expected SAMM/006/006_1_2/...)")
    table = read_table(
        coding,
        COLUMNS,
        required=("subject", "clip", "onset", "offset", "emotion"),
        preferred_sheet="MICRO_ONLY",
    )
    result = LoadResult("samm", str(root), synthetic=is_synthetic(root))
    subject_dirs = {
        f"{int(d.name):03d}": d for d in frame_root.iterdir() if d.is_dir() and d.name.isdigit()
    }
    add_coded_rows(result, table, subject_dirs, lambda n: f"{n:03d}", FPS, load_corrections())
    return result
