"""SAMM Long Videos (Yap et al. 2020) for spotting: 147 videos of 30 subjects, 200 fps.

On disk: ``SAMM_longvideos/006_1/006_1_00001.jpg`` (no subject level; 4- or 5-digit padding,
inferred per video) and ``SAMM_LongVideos_V3_Release.xlsx`` (V1, V2 accepted), sheet
``FACS_Movement_Only`` with title rows above the header (found by content). Quirks handled:
fractional frame numbers (566.4) are rounded, with a note; apex -1 means not annotated; an
onset of 0 or an offset past the last frame is clipped to the frames on disk, with a note.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..errors import MicroexpError
from .base import (
    Exclusion,
    coding_file,
    find_dir,
    find_files,
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


def load(
    root: str | os.PathLike,
    coding: str | os.PathLike | None = None,
    emotions: str | os.PathLike | None = None,
) -> LongVideoResult:
    """Read SAMM Long Videos as its owners ship it; subjects are 3-digit text (``006``).

    The long-video sheet codes no emotion. ``emotions``: SAMM's micro-expression coding file
    (``SAMM_Micro_FACS_Codes_v2.xlsx``) or a folder holding it (default: one found under
    ``root``, else none): each micro interval takes the ``Estimated Emotion`` of the SAMM row that
    :func:`emotion_labels` joins to it, as spot-then-recognise needs."""
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
    sheet = _emotion_sheet(root, emotions)
    if sheet is not None:
        emotion_labels(result, per_video, sheet)
    for name, video in sorted(videos.items()):
        if video:
            add_video(result, video, per_video.get(name, []))
    return result


def _emotion_sheet(root: Path, emotions: str | os.PathLike | None) -> Path | None:
    """SAMM's micro coding file: ``emotions`` (a file, or a folder searched), else one under
    ``root``; None when there is none."""
    from . import samm

    if emotions is None:
        found = find_files(root, samm.CODING_FILES, max_depth=3)
        return found[0] if found else None
    path = Path(emotions).expanduser()
    if path.is_dir():
        return coding_file(path, None, samm.CODING_FILES, "SAMM coding file (emotions)")
    return coding_file(root, path, samm.CODING_FILES, "SAMM coding file (emotions)")


def emotion_labels(result: LongVideoResult, per_video: dict[str, list[Interval]], sheet: Path):
    """Give each micro interval the ``Estimated Emotion`` of the SAMM micro row of the same
    video (``Filename`` 006_1_2 -> video 006_1) whose onset-offset overlaps it most, at IoU >=
    0.5 (unverified on the real files: the rule assumes both sheets number frames alike). A
    SAMM row that matches no interval, and a micro interval left without an emotion, are
    noted."""
    from ..evaluation.spotting import interval_iou
    from . import samm

    table = read_table(sheet, samm.COLUMNS, ("clip", "onset", "offset", "emotion"), "MICRO_ONLY")
    labelled: dict[tuple[str, int], tuple[float, str]] = {}
    for i, row in enumerate(table.rows):
        clip = str(row["clip"] or "").strip()
        video = clip.rsplit("_", 1)[0] if clip.count("_") >= 2 else clip
        onset = _frame(row["onset"], "onset", clip, result)
        offset = _frame(row["offset"], "offset", clip, result)
        emotion = str(row["emotion"] or "").strip().lower()
        best = None
        for j, iv in enumerate(per_video.get(video, [])):
            if iv.kind == "micro" and onset is not None and offset is not None:
                iou = interval_iou((onset, offset), (iv.onset, iv.offset))
                if iou >= 0.5 and (best is None or iou > best[0]):
                    best = (iou, j)
        if best is None:
            result.notes.append(
                Exclusion(f"samm/{clip}", f"{table.where(i)}: no micro interval of SAMM-LV video "
                          f"{video} overlaps it at IoU >= 0.5; its emotion is not used")
            )  # fmt: skip
            continue
        key = (video, best[1])
        if key not in labelled or best[0] > labelled[key][0]:
            labelled[key] = (best[0], emotion)
    for video, intervals in per_video.items():
        for j, iv in enumerate(intervals):
            if (video, j) in labelled:
                intervals[j] = replace(iv, label=labelled[(video, j)][1])
            elif iv.kind == "micro":
                result.notes.append(
                    Exclusion(f"samm_lv/{video}/{iv.onset}", f"no SAMM row in {sheet.name} "
                              "matches this micro interval: no emotion")
                )  # fmt: skip
