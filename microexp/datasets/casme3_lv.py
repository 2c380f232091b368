"""CAS(ME)^3 Part A as long videos (the MEGC 2023-2025 spot-then-recognise data): every
``{Subject}/{Filename}/color/`` folder is one video, with its micro- and macro-expressions.

On disk (the release): ``part_A/data/spNO.1/a/color/{n}.jpg``, the micro-expressions in
``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (sheet ``label``, columns ``Subject, Filename,
Onset, Apex, Offset, AU, Objective class, emotion``, every cell text) and the macro-expressions
in ``cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx`` (sheet ``Sheet1``, columns ``sub,
seq, onset, apex, offset, emotion``; an ``AU`` column is read when present). Frame numbers are
the image file names in both files. The clip-cut distribution (``Part_A_ME_clip/``) holds no
long video and is refused in one line.

Quirks handled: the ME file's known wrong rows are corrected from ``corrections.csv`` (as
:mod:`.casme3` does); the one upper-case Filename (``J``) finds its folder case-insensitively;
``Others`` is ``others``; an onset of 0 (no frame 0) or an offset past the last frame is
clipped, with a note; a row outside the frames is excluded with its reason. No macro file:
a note, and the videos carry micro-expressions only (spotting then scores no macro kind).
The frame rate (30 fps) is the release paper's, stated in no file: a parameter.
"""

from __future__ import annotations

import os

from ..errors import MicroexpError
from . import casme3
from .base import (
    Exclusion,
    as_int,
    coding_file,
    find_files,
    frame_rate,
    frame_rate_note,
    index_frames,
    is_synthetic,
    read_table,
    require_root,
)
from .longvideo import Interval, LongVideoResult, add_video, checked_interval, new_video
from .manifests import load_corrections

FPS = casme3.FPS
MACRO_FILES = (
    "cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx",
    "*part_A_MaE_label*.xls*",
)
MACRO_COLUMNS = {
    "subject": ("sub", "Subject"),
    "clip": ("seq", "Filename"),
    "onset": ("onset",),
    "apex": ("apex",),
    "offset": ("offset",),
    "aus": ("AU", "au"),
    "emotion": ("emotion",),
}


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _corrected(row: dict, subject: str, video: str, i: int, result: LongVideoResult) -> dict:
    """The ME row with ``corrections.csv``'s fixes (named ``{Filename}#{data row}``) applied
    where the file still holds the wrong value; each fix noted."""
    out = dict(row)
    for c in load_corrections():
        if c.dataset == "casme3" and c.subject == subject and c.clip == f"{video}#{i}":
            if as_int(out.get(c.field)) == c.annotated:
                out[c.field] = c.corrected
                result.notes.append(
                    Exclusion(f"casme3_lv/{subject}/{video}#{i}", f"{c.field} {c.annotated} -> "
                              f"{c.corrected} ({c.source})")
                )  # fmt: skip
    return out


def load(
    root: str | os.PathLike,
    coding: str | os.PathLike | None = None,
    macro_coding: str | os.PathLike | None = None,
    fps: float = FPS,
) -> LongVideoResult:
    """Read CAS(ME)^3 Part A's long videos as the owners ship them (``coding``: the ME file,
    ``macro_coding``: the MaE file, both found under ``root`` when not given)."""
    fps = frame_rate("casme3_lv", fps)
    root = require_root(root, "casme3_lv")
    me_path = coding_file(root, coding, casme3.CODING_FILES, "CAS(ME)^3 Part A ME annotation file")
    layout, base = casme3._frame_layout(root)
    if layout != "video":
        raise MicroexpError(
            f"{base}: clips cut around each micro-expression hold no long video (expected the "
            "release's spNO.1/a/color/1.jpg)"
        )
    result = LongVideoResult("casme3_lv", str(root), synthetic=is_synthetic(root))
    result.notes.append(frame_rate_note("casme3_lv", fps, "the release paper's"))
    videos: dict[tuple[str, str], object] = {}
    per_video: dict[tuple[str, str], list[Interval]] = {}

    def add(row: dict, kind: str, where: str, i: int | None) -> None:
        subject, video = _text(row["subject"]), _text(row["clip"])
        if not subject or not video:
            raise MicroexpError(f"{where}: expected a subject and a video (Filename/seq)")
        if i is not None:
            row = _corrected(row, subject, video, i, result)
        key = (subject, video.lower())
        if key not in videos:
            folder = casme3._folder("video", base, subject, video, "", "color")
            frames = index_frames(folder) if folder is not None else None
            videos[key] = frames and new_video(
                "casme3_lv", subject, folder.parent.name, frames, fps
            )
        sid = f"casme3_lv/{subject}/{video}/{_text(row['onset'])}"
        if not videos[key]:
            result.excluded.append(Exclusion(sid, f"frames missing: no {subject}/{video}/color/"
                                                  f" images under {base}"))  # fmt: skip
            return
        onset, offset, apex = as_int(row["onset"]), as_int(row["offset"]), as_int(row.get("apex"))
        if onset is None or offset is None:
            result.excluded.append(Exclusion(sid, f"onset or offset not a frame number ({where})"))
            return
        label = _text(row.get("emotion")).lower()
        interval = Interval(onset, apex or None, offset, kind, label, _text(row.get("aus")))
        checked = checked_interval(result, videos[key], interval, where)
        if checked is not None:
            per_video.setdefault(key, []).append(checked)

    me = read_table(
        me_path,
        casme3.COLUMNS,
        required=("subject", "clip", "onset", "offset", "emotion"),
        preferred_sheet="label",
    )
    for i, row in enumerate(me.rows):
        add(row, "micro", me.where(i), i)
    found = find_files(root, MACRO_FILES, max_depth=3) if macro_coding is None else [macro_coding]
    if found:
        path = coding_file(root, found[0], MACRO_FILES, "CAS(ME)^3 Part A MaE annotation file")
        mae = read_table(
            path, MACRO_COLUMNS, ("subject", "clip", "onset", "offset"), preferred_sheet="Sheet1"
        )
        for i, row in enumerate(mae.rows):
            add(row, "macro", mae.where(i), None)
    else:
        result.notes.append(
            Exclusion("casme3_lv", f"no macro-expression file under {root} (expected "
                                   f"{MACRO_FILES[0]}): micro-expressions only")
        )  # fmt: skip
    for key, video in sorted(videos.items()):
        if video:
            add_video(result, video, per_video.get(key, []))
    return result


__all__ = ["FPS", "MACRO_FILES", "load"]
