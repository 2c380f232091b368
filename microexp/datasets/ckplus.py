"""CK+ (Lucey et al. 2010): posed macro-expressions, neutral first frame to apex last frame.

On disk: ``cohn-kanade-images/S005/001/S005_001_00000001.png`` and
``Emotion/S005/001/S005_001_00000011_emotion.txt`` holding one number such as
``   3.0000000e+00``. Only 327 of the 593 sequences have an emotion file; the others are
unlabelled and are not samples (they are listed as ignored).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import MicroexpError
from .base import Exclusion, LoadResult, add_clip, find_dir, is_synthetic, require_root

#: CK+ emotion codes (0 = neutral never labels a sequence).
EMOTIONS = {
    1: "anger",
    2: "contempt",
    3: "disgust",
    4: "fear",
    5: "happy",
    6: "sadness",
    7: "surprise",
}
#: CK+ was recorded at 30 frames per second (Kanade et al. 2000; nominal, some at 24).
FPS = 30.0
_SUBJECT = re.compile(r"^S\d+$", re.IGNORECASE)


def _has_subjects(d: Path) -> bool:
    return any(c.is_dir() and _SUBJECT.match(c.name) for c in d.iterdir())


def load(root: str | os.PathLike) -> LoadResult:
    """Read a CK+ folder as its owners ship it (``cohn-kanade-images/`` and ``Emotion/``).

    Each labelled sequence's onset is its first frame and its apex and offset the last frame.
    """
    root = require_root(root, "ckplus")
    images = find_dir(
        root,
        ("cohn-kanade-images", "extended-cohn-kanade-images"),
        max_depth=3,
        accept=_has_subjects,
    )
    if images is None:
        raise MicroexpError(f"{root}: no CK+ frame folder (expected cohn-kanade-images/S005/001/)")
    emotions = find_dir(root, ("Emotion", "Emotion_labels"), max_depth=3, accept=_has_subjects)
    if emotions is None:
        raise MicroexpError(
            f"{root}: no CK+ label folder (expected Emotion/S005/001/*_emotion.txt)"
        )
    result = LoadResult("ckplus", str(root), synthetic=is_synthetic(root))
    labelled: set[str] = set()
    for sdir in sorted(d for d in emotions.iterdir() if d.is_dir() and _SUBJECT.match(d.name)):
        subject = f"S{int(sdir.name[1:]):03d}"
        for qdir in sorted(d for d in sdir.iterdir() if d.is_dir()):
            files = sorted(qdir.glob("*_emotion.txt"))
            if not files:
                continue
            label_file = files[-1]
            text = label_file.read_text(encoding="utf-8", errors="replace").strip()
            try:
                code = int(float(text))
            except ValueError:
                raise MicroexpError(
                    f"{label_file}: expected one emotion code 1-7 such as 3.0000000e+00, got {text[:30]!r}"
                ) from None
            if code not in EMOTIONS:
                raise MicroexpError(
                    f"{label_file}: unknown CK+ emotion code {code}; expected 1-7 "
                    "(anger, contempt, disgust, fear, happy, sadness, surprise)"
                )
            labelled.add(f"{subject}/{qdir.name}")
            add_clip(
                result,
                subject=subject,
                clip=qdir.name,
                folder=images / sdir.name / qdir.name,
                onset=None,
                apex=None,
                offset=None,
                label=EMOTIONS[code],
                fps=FPS,
                where=str(label_file),
                range_required=False,
            )
    # apex = last frame (the emotion file names it); set after the frames were indexed
    result.samples = [s.replace(apex=s.offset) for s in result.samples]
    for sdir in sorted(d for d in images.iterdir() if d.is_dir() and _SUBJECT.match(d.name)):
        subject = f"S{int(sdir.name[1:]):03d}"
        for qdir in sorted(d for d in sdir.iterdir() if d.is_dir()):
            if f"{subject}/{qdir.name}" not in labelled:
                result.ignored.append(
                    Exclusion(
                        f"ckplus/{subject}/{qdir.name}", "unlabelled sequence (no emotion file)"
                    )
                )
    return result
