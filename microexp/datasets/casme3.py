"""CAS(ME)^3 Part A micro-expressions (Li et al., TPAMI 2022): colour frames, 7 emotions.

On disk (the release): ``{root}/.../spNO.1/a/color/{n}.jpg`` (``depth/{n}.png`` beside it,
read with ``frames="depth"``) and ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (sheet ``label``; every cell is
text, frame numbers included). The v1 ``..._v1.xls`` (sheet ``Sheet1``, two extra unnamed
columns) is read the same way when that is what the user has. Another distribution cuts the
clips: ``Part_A_ME_clip/frame/{Subject}_{Filename}_{Onset}/{n}.jpg``; both are accepted.

Quirks handled: (Subject, Filename) is not unique (191 of 463 videos hold several MEs), so the
clip id is ``{Filename}_{Onset}`` (``a_112``) with the onset as annotated; ``Others`` and
``others`` are one class; the wrong v2 rows listed in DATASETS.md are fixed through
``corrections.csv``, where a CAS(ME)^3 row is named ``{Filename}#{data row}`` (0-based) because
the sources name rows, not clips. The frame rate (30 fps) is the release paper's: no file
states it, so it is a parameter and the load notes where it came from.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..errors import MicroexpError
from .base import (
    LoadResult,
    Table,
    add_clip,
    as_int,
    coding_file,
    find_dir,
    frame_rate,
    frame_rate_note,
    is_synthetic,
    known_label,
    read_table,
    require_root,
)
from .manifests import load_corrections

FPS = 30.0
CODING_FILES = (
    "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
    "*part_A_ME_label*v2*.xls*",
    "*part_A_ME_label*.xls*",
)
COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("Onset",),
    "apex": ("Apex",),
    "offset": ("Offset",),
    "aus": ("AU",),
    "objective": ("Objective class",),
    "emotion": ("emotion",),
}
LABELS = ("disgust", "surprise", "others", "fear", "anger", "sad", "happy")


def _is_subject_dir(d: Path) -> bool:
    return d.is_dir() and d.name.lower().startswith("spno.")


def _frame_layout(root: Path) -> tuple[str, Path]:
    """("video", folder of spNO.* subjects) or ("clips", folder of Subject_Filename_Onset)."""
    clips = find_dir(root, ("frame",), max_depth=3, accept=lambda d: d.parent.name.lower()
                     .startswith("part_a_me_clip"))  # fmt: skip
    if clips is not None:
        return "clips", clips
    for d in (root, *sorted(p for p in root.rglob("*") if p.is_dir() and p.name[:1] != ".")):
        if any(_is_subject_dir(c) for c in d.iterdir()):
            return "video", d
        if len(d.relative_to(root).parts) >= 3:
            break
    raise MicroexpError(
        f"{root}: no CAS(ME)^3 frame folder (expected spNO.1/a/color/1.jpg, or "
        "Part_A_ME_clip/frame/spNO.1_a_112/1.jpg)"
    )


def _child(folder: Path, name: str) -> Path | None:
    """``folder/name``, matched case-insensitively (one Filename is ``J``)."""
    exact = folder / name
    if exact.is_dir():
        return exact
    lower = name.lower()
    return next((c for c in folder.iterdir() if c.is_dir() and c.name.lower() == lower), None)


def _folder(
    layout: str, base: Path, subject: str, video: str, onset_text: str, frames: str = "color"
) -> Path | None:
    if layout == "clips":
        return _child(base, f"{subject}_{video}_{onset_text}")
    sdir = _child(base, subject)
    vdir = _child(sdir, video) if sdir is not None else None
    return _child(vdir, frames) if vdir is not None else None


def _text(value: object) -> str:
    """A cell as the file's text (``1.0`` read from a numeric cell -> ``1``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def load(
    root: str | os.PathLike,
    coding: str | os.PathLike | None = None,
    fps: float = FPS,
    frames: str = "color",
) -> LoadResult:
    """Read CAS(ME)^3 Part A's micro-expressions as the owners ship them.

    ``frames="depth"`` reads each clip's ``depth/{n}.png`` (16-bit, scaled to 0-255 per clip
    by :func:`~microexp.preprocess.read_frames`) instead of ``color/``; the clip id then ends
    in ``.depth`` (``a_112.depth``), so a flow cache never mixes the two. Only the release's
    video layout has depth. The papers' recipes find the face with dlib, which needs colour:
    on depth frames they exclude the clip ("no face found")."""
    fps = frame_rate("casme3", fps)
    root = require_root(root, "casme3")
    if frames not in ("color", "depth"):
        raise MicroexpError(f"casme3: frames must be 'color' or 'depth' (got {frames!r})")
    coding = coding_file(root, coding, CODING_FILES, "CAS(ME)^3 Part A ME annotation file")
    layout, base = _frame_layout(root)
    if frames == "depth" and layout == "clips":
        raise MicroexpError(
            f"{base}: the clip-cut distribution has no depth frames (expected "
            "spNO.1/a/depth/1.png, the release's layout)"
        )
    table = read_table(
        coding,
        COLUMNS,
        required=("subject", "clip", "onset", "apex", "offset", "emotion"),
        preferred_sheet="label",
    )
    result = LoadResult("casme3", str(root), synthetic=is_synthetic(root))
    result.notes.append(frame_rate_note("casme3", fps, "the release paper's"))
    corrections = load_corrections()
    for i, row in enumerate(table.rows):
        _add_row(result, table, i, row, layout, base, fps, corrections, frames)
    return result


def _add_row(
    result, table: Table, i: int, row: dict, layout: str, base: Path, fps, corr, frames: str
) -> None:
    subject, video = _text(row["subject"]), _text(row["clip"])
    onset_text = _text(row["onset"])
    if not subject or not video:
        raise MicroexpError(f"{table.where(i)}: expected a Subject and a Filename")
    label = known_label(_text(row["emotion"]), LABELS, table.where(i))
    clip = f"{video}_{onset_text}" + (".depth" if frames == "depth" else "")
    fixes = [
        dataclasses.replace(c, subject=subject, clip=clip)
        for c in corr
        if c.dataset == "casme3" and c.subject == subject and c.clip == f"{video}#{i}"
    ]
    add_clip(
        result,
        subject=subject,
        clip=clip,
        folder=_folder(layout, base, subject, video, onset_text, frames),
        onset=as_int(row["onset"]),
        apex=as_int(row["apex"]),
        offset=as_int(row["offset"]),
        label=label,
        fps=fps,
        action_units=_text(row.get("aus")),
        corrections=fixes,
        where=table.where(i),
    )
