"""SAMM Long Videos (Yap et al. 2020) for spotting: 147 videos of 30 subjects, 200 fps.

On disk: ``SAMM_longvideos/006_1/006_1_00001.jpg`` (no subject level; 4- or 5-digit padding,
inferred per video) and ``SAMM_LongVideos_V3_Release.xlsx`` (V1, V2 accepted), sheet
``FACS_Movement_Only`` with title rows above the header (found by content). Quirks handled:
fractional frame numbers (566.4) are rounded, with a note; apex -1 means not annotated; an
onset of 0 or an offset past the last frame is clipped to the frames on disk, with a note.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MicroexpError
from .base import (
    Exclusion,
    coding_file,
    find_dir,
    index_frames,
    is_synthetic,
    read_table,
    require_root,
    subject_number,
)
from .longvideo import Interval, LongVideoResult, add_video, checked_interval, new_video

FPS = 200.0
CODING_FILES = ("SAMM_LongVideos_V3_Release.xls*", "SAMM_LongVideos*.xls*", "SAMM*Long*.xls*")
COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("Onset", "Onset Frame"),
    "apex": ("Apex", "Apex Frame"),
    "offset": ("Offset", "Offset Frame"),
    "type": ("Type",),
    "aus": ("Action Units",),
}


def _frame(value: object, name: str, sid: str, result: LongVideoResult) -> int | None:
    """A frame cell -> int; fractional numbers rounded (noted); None for blanks and text."""
    try:
        f = float(str(value).strip())
    except ValueError:
        return None
    if f != f:
        return None
    if f != int(f):
        result.notes.append(Exclusion(sid, f"{name} {f:g} is fractional; rounded to {round(f)}"))
    return int(round(f))


def _kind(value: object) -> str | None:
    text = str(value or "").strip().lower()
    return "macro" if text.startswith("macro") else "micro" if text.startswith("micro") else None


def _has_videos(d: Path) -> bool:
    return any(c.is_dir() and c.name[:3].isdigit() and "_" in c.name for c in d.iterdir())


def load(root: str | os.PathLike, coding: str | os.PathLike | None = None) -> LongVideoResult:
    """Read SAMM Long Videos as its owners ship it; subjects are 3-digit text (``006``)."""
    root = require_root(root, "samm_lv")
    path = coding_file(root, coding, CODING_FILES, "SAMM Long Videos coding file")
    frames_root = find_dir(
        root, ("SAMM_longvideos", "SAMM_LongVideos", "rawpic"), max_depth=2, accept=_has_videos
    )
    if frames_root is None and _has_videos(root):
        frames_root = root
    if frames_root is None:
        raise MicroexpError(
            f"{root}: no SAMM_longvideos folder (expected SAMM_longvideos/006_1/006_1_00001.jpg)"
        )
    table = read_table(
        path,
        COLUMNS,
        required=("subject", "clip", "onset", "offset", "type"),
        preferred_sheet="FACS_Movement_Only",
    )
    result = LongVideoResult("samm_lv", str(root), synthetic=is_synthetic(root))
    videos: dict[str, object] = {}
    per_video: dict[str, list[Interval]] = {}
    for i, row in enumerate(table.rows):
        where = table.where(i)
        clip = str(row["clip"] or "").strip()
        number = subject_number(row["subject"])
        kind = _kind(row["type"])
        if not clip or number is None or kind is None:
            raise MicroexpError(
                f"{where}: expected a Subject, a Filename (006_1_2) and a Type (Macro or "
                f"Micro - 1/2), got {row['subject']!r}, {row['clip']!r}, {row['type']!r}"
            )
        name = clip.rsplit("_", 1)[0] if clip.count("_") >= 2 else clip
        sid = f"samm_lv/{number:03d}/{clip}"
        if name not in videos:
            folder = frames_root / name
            frames = index_frames(folder) if folder.is_dir() else None
            videos[name] = frames and new_video("samm_lv", f"{number:03d}", name, frames, FPS)
        video = videos[name]
        if not video:
            result.excluded.append(
                Exclusion(sid, f"frames missing: no numbered images in {frames_root / name}")
            )
            continue
        onset = _frame(row["onset"], "onset", sid, result)
        offset = _frame(row["offset"], "offset", sid, result)
        apex = _frame(row.get("apex"), "apex", sid, result)
        if apex is not None and apex < 0:
            result.notes.append(Exclusion(sid, f"apex {apex}: not annotated"))
            apex = None
        if onset is None or offset is None:
            result.excluded.append(Exclusion(sid, f"onset or offset not a frame number ({where})"))
            continue
        interval = Interval(onset, apex, offset, kind, "", str(row.get("aus") or ""))
        checked = checked_interval(result, video, interval, where)
        if checked is not None:
            per_video.setdefault(name, []).append(checked)
    for name, video in sorted(videos.items()):
        if video:
            add_video(result, video, per_video.get(name, []))
    return result
