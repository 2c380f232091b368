"""4DME micro-expressions (Li et al., IEEE TAC 2022), read from the grey frames.

Annotation ``4DME_Labelling_Micro_release v1.xlsx`` (a space in the name): ``sub_ID,
fold_name, Onset, Apex, Offset, AUs`` and an emotion column whose values are capitalised and
may combine (``Positive``, ``Surprise+Negative``, ...). Frames: ``gray_micro/{sub_ID}/
{fold_name}/``. Multi-label emotions are kept as they are (lower-cased, ``surprise+negative``);
a protocol decides what to do with them. The frame rate and subject count are stated in no
file: ``fps`` is a parameter (default unknown, so recipes that need it, EVM, exclude the
sample with that reason; a synthetic tree's marker states its rate) and subjects are counted
from the table. The extras file
(self-reported emotions) is not read.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MicroexpError
from .base import (
    Exclusion,
    LoadResult,
    add_clip,
    as_int,
    coding_file,
    find_dir,
    frame_rate,
    is_synthetic,
    known_label,
    read_table,
    require_root,
    synthetic_fps,
)
from .manifests import load_corrections

CODING_FILES = ("4DME_Labelling_Micro_release*.xls*",)
COLUMNS = {
    "subject": ("sub_ID",),
    "clip": ("fold_name",),
    "onset": ("Onset",),
    "apex": ("Apex",),
    "offset": ("Offset",),
    "aus": ("AUs", "AU"),
    "emotion": ("Emotion", "Emotions", "Estimated Emotion", "Label", "emotion label"),
}
LABELS = ("positive", "negative", "surprise", "repression", "others")


def load(
    root: str | os.PathLike, coding: str | os.PathLike | None = None, fps: float | None = None
) -> LoadResult:
    """Read 4DME's micro-expressions (grey frames) as the owners ship them; ``fps`` None:
    the rate a synthetic tree states, else unknown (NaN, noted)."""
    fps = None if fps is None else frame_rate("4dme", fps)
    root = require_root(root, "4dme")
    coding = coding_file(root, coding, CODING_FILES, "4DME micro-expression labelling file")
    frames_root = find_dir(root, ("gray_micro",), max_depth=3)
    if frames_root is None:
        raise MicroexpError(f"{root}: no 4DME frame folder (expected gray_micro/SUB/FOLD/)")
    table = read_table(
        coding, COLUMNS, required=("subject", "clip", "onset", "apex", "offset", "emotion")
    )
    result = LoadResult("4dme", str(root), synthetic=is_synthetic(root))
    fps = synthetic_fps(root) if fps is None else fps  # a synthetic tree states its own
    rate = float("nan") if fps is None else float(fps)
    if fps is None:
        result.notes.append(
            Exclusion("4dme", "frame rate stated in no file: pass fps= to recipes that need it")
        )
    corrections = load_corrections()
    for i, row in enumerate(table.rows):
        subject, clip = str(row["subject"] or "").strip(), str(row["clip"] or "").strip()
        if subject.endswith(".0") and subject[:-2].isdigit():
            subject = subject[:-2]
        if not subject or not clip:
            raise MicroexpError(f"{table.where(i)}: expected a sub_ID and a fold_name")
        folder = Path(frames_root) / subject / clip
        add_clip(
            result,
            subject=subject,
            clip=clip,
            folder=folder,
            onset=as_int(row["onset"]),
            apex=as_int(row["apex"]),
            offset=as_int(row["offset"]),
            label=known_label(row["emotion"], LABELS, table.where(i)),
            fps=rate,
            action_units=str(row.get("aus") or ""),
            corrections=corrections,
            where=table.where(i),
        )
    return result
