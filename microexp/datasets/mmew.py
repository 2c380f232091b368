"""MMEW micro-expressions (Ben et al., TPAMI 2021): 300 samples of 36 subjects, 7 classes.

Annotation ``MMEW_Micro_Exp.xlsx`` (a ``_v2`` also circulates): ``Subject, Filename,
OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion, remarks``. Frames come
emotion-first with no subject level (``Micro_Expression/{emotion}/{Filename}/{n}.jpg``) or
subject-first (``S03/happiness/S03-01-002/1.jpg``): a clip folder is found by its name under any
folder, so "others" clips are found wherever the release put them. The subject is the table's.
The frame rate (90 fps) is stated in no file: a parameter, noted in the load.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MicroexpError
from .base import (
    LoadResult,
    add_clip,
    as_int,
    coding_file,
    frame_rate,
    frame_rate_note,
    is_synthetic,
    known_label,
    read_table,
    require_root,
    walk_dirs,
)
from .manifests import load_corrections

FPS = 90.0
CODING_FILES = ("MMEW_Micro_Exp.xlsx", "MMEW_Micro_Exp*.xls*", "MMEW*Micro*.xls*")
COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("OnsetFrame", "Onset Frame", "Onset"),
    "apex": ("ApexFrame", "Apex Frame", "Apex"),
    "offset": ("OffsetFrame", "Offset Frame", "Offset"),
    "aus": ("Action Units", "AU"),
    "emotion": ("Estimated Emotion", "Emotion"),
}
LABELS = ("happiness", "anger", "surprise", "disgust", "fear", "sadness", "others")


def _clip_folders(root: Path, names: set[str]) -> dict[str, Path]:
    """Every folder under ``root`` (5 levels) whose name is a clip's, by name (the first)."""
    found: dict[str, Path] = {}
    for d in walk_dirs(root, 5):
        if d.name in names and d.name not in found:
            found[d.name] = d
    return found


def _subject(value: object) -> str:
    """``3``, ``3.0``, ``'3'`` -> ``S03``; text ids (``S03``) are kept."""
    n = as_int(value)
    return f"S{n:02d}" if n is not None else str(value or "").strip()


def load(
    root: str | os.PathLike, coding: str | os.PathLike | None = None, fps: float = FPS
) -> LoadResult:
    """Read MMEW's micro-expressions as the owners ship them (either folder layout)."""
    fps = frame_rate("mmew", fps)
    root = require_root(root, "mmew")
    coding = coding_file(root, coding, CODING_FILES, "MMEW annotation file")
    table = read_table(
        coding, COLUMNS, required=("subject", "clip", "onset", "apex", "offset", "emotion")
    )
    names = {str(r["clip"]).strip() for r in table.rows if r["clip"] is not None}
    folders = _clip_folders(root, names)
    if names and not folders:
        raise MicroexpError(
            f"{root}: no MMEW clip folder (expected Micro_Expression/EMOTION/FILENAME/1.jpg "
            "or SUBJECT/EMOTION/FILENAME/1.jpg)"
        )
    result = LoadResult("mmew", str(root), synthetic=is_synthetic(root))
    result.notes.append(frame_rate_note("mmew", fps, "the release's"))
    corrections = load_corrections()
    for i, row in enumerate(table.rows):
        subject, clip = _subject(row["subject"]), str(row["clip"] or "").strip()
        if not subject or not clip:
            raise MicroexpError(f"{table.where(i)}: expected a Subject and a Filename")
        label = known_label(row["emotion"], LABELS, table.where(i))
        add_clip(
            result,
            subject=subject,
            clip=clip,
            folder=folders.get(clip),
            onset=as_int(row["onset"]),
            apex=as_int(row["apex"]),
            offset=as_int(row["offset"]),
            label=label,
            fps=fps,
            action_units=str(row.get("aus") or ""),
            corrections=corrections,
            where=table.where(i),
        )
    return result
