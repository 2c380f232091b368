"""CASME II (Yan et al. 2014): 26 subjects, 200 fps, 640x480.

On disk: ``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`` (or ``CASME2-RAW``, or the pre-cropped
``Cropped/sub01/EP02_01f/reg_img46.jpg``) and the coding file ``CASME2-coding-20140508.xlsx``
(sheet ``Sheet1``; the 2019 release ``CASME2-coding-20190701.xlsx`` has the same columns).
"""

from __future__ import annotations

import os
import re
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
FRAME_FOLDERS = {
    "raw_selected": ("CASME2_RAW_selected", "CASME2-RAW-selected", "RAW_selected"),
    "raw": ("CASME2-RAW", "CASME2_RAW", "RAW"),
    "cropped": ("Cropped", "CASME2_Cropped", "CASME2-Cropped"),
}
CODING_FILES = ("CASME2-coding-20140508.xlsx", "CASME2-coding-20190701.xlsx", "CASME2-coding*.xls*")
COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("OnsetFrame", "Onset Frame", "Onset"),
    "apex": ("ApexFrame", "Apex Frame", "Apex"),
    "offset": ("OffsetFrame", "Offset Frame", "Offset"),
    "aus": ("Action Units", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
}
_SUBJECT_DIR = re.compile(r"^sub\d+$", re.IGNORECASE)


def _has_subject_dirs(d: Path) -> bool:
    return any(c.is_dir() and _SUBJECT_DIR.match(c.name) for c in d.iterdir())


def load(
    root: str | os.PathLike, frames: str = "auto", coding: str | os.PathLike | None = None
) -> LoadResult:
    """Read a CASME II folder as its owners ship it.

    Args:
        root: the unpacked folder, holding the coding file and one frame folder.
        frames: ``auto`` (RAW_selected, then RAW, then Cropped), ``raw_selected``, ``raw`` or
            ``cropped``.
        coding: a specific coding file; by default the 2014 release (the papers' counts),
            else the 2019 one, else any ``CASME2-coding*``.
    """
    root = require_root(root, "casme2")
    if frames != "auto" and frames not in FRAME_FOLDERS:
        raise MicroexpError(
            f"unknown CASME II frame folder kind {frames!r}; expected auto, {', '.join(FRAME_FOLDERS)}"
        )
    coding = coding_file(root, coding, CODING_FILES, "CASME II coding file")
    kinds = list(FRAME_FOLDERS) if frames == "auto" else [frames]
    frame_root = None
    for kind in kinds:
        frame_root = find_dir(root, FRAME_FOLDERS[kind], max_depth=2, accept=_has_subject_dirs)
        if frame_root is None:  # e.g. CASME2_RAW_selected/CASME2_RAW_selected/sub01
            outer = find_dir(root, FRAME_FOLDERS[kind], max_depth=2)
            if outer is not None:
                frame_root = next(
                    (d for d in sorted(outer.iterdir()) if d.is_dir() and _has_subject_dirs(d)),
                    None,
                )
        if frame_root is not None:
            break
    if frame_root is None:
        names = ", ".join(n for k in kinds for n in FRAME_FOLDERS[k][:1])
        raise MicroexpError(f"{root}: no CASME II frame folder (expected {names} with sub01...)")

    table = read_table(
        coding,
        COLUMNS,
        required=("subject", "clip", "onset", "offset", "emotion"),
        preferred_sheet="Sheet1",
    )
    result = LoadResult("casme2", str(root), synthetic=is_synthetic(root))
    subject_dirs = {
        f"sub{int(d.name[3:]):02d}": d
        for d in frame_root.iterdir()
        if d.is_dir() and _SUBJECT_DIR.match(d.name)
    }
    add_coded_rows(result, table, subject_dirs, lambda n: f"sub{n:02d}", FPS, load_corrections())
    return result
