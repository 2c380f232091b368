"""SMIC-HS (Li et al. 2013): 16 subjects, 100 fps, labels from folder names, no apex annotation.

On disk: ``HS/s1/micro/negative/s1_ne_01/image000123.bmp`` (cropped sets: ``reg_image...``).
Subjects are normalised to ``s01`` and clips to ``s01_ne_01``, as the MEGC2019 ground truth
writes them; ``frames_dir`` keeps the folder's real name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import MicroexpError
from .base import LoadResult, add_clip, find_dir, is_synthetic, require_root

FPS = 100.0
LABELS = ("negative", "positive", "surprise")
_SUBJECT = re.compile(r"^s(\d+)$", re.IGNORECASE)
_CLIP = re.compile(r"^s(\d+)_([a-z]+)_?(\d+)$", re.IGNORECASE)


def _has_subjects(d: Path) -> bool:
    return any(c.is_dir() and _SUBJECT.match(c.name) for c in d.iterdir())


def normalise_clip(name: str) -> str:
    """``s1_ne_1`` -> ``s01_ne_01``; names of another form are kept."""
    m = _CLIP.match(name)
    return f"s{int(m.group(1)):02d}_{m.group(2).lower()}_{int(m.group(3)):02d}" if m else name


def load(root: str | os.PathLike, apex: str = "middle") -> LoadResult:
    """Read SMIC-HS as its owners ship it.

    Args:
        root: the folder holding ``HS/`` (or ``HS/`` itself).
        apex: SMIC has no apex annotation. ``middle`` (default, common practice in MEGC2019
            entries) takes the middle frame of the clip; ``none`` leaves it missing.
    """
    root = require_root(root, "smic")
    if apex not in ("middle", "none"):
        raise MicroexpError(f"unknown SMIC apex rule {apex!r}; expected middle or none")
    hs = root if root.name.upper() == "HS" and _has_subjects(root) else None
    hs = hs or find_dir(root, ("HS", "SMIC-HS", "HS_long"), max_depth=3, accept=_has_subjects)
    if hs is None:
        raise MicroexpError(f"{root}: no SMIC-HS frame folder (expected HS/s1/micro/negative/...)")
    result = LoadResult("smic", str(root), synthetic=is_synthetic(root))
    for sdir in sorted(d for d in hs.iterdir() if d.is_dir() and _SUBJECT.match(d.name)):
        subject = f"s{int(_SUBJECT.match(sdir.name).group(1)):02d}"
        micro = sdir / "micro"
        if not micro.is_dir():
            continue
        for ldir in sorted(d for d in micro.iterdir() if d.is_dir()):
            label = ldir.name.lower()
            if label not in LABELS:
                raise MicroexpError(
                    f"{ldir}: unknown SMIC emotion folder {ldir.name!r}; expected negative, positive or surprise"
                )
            for cdir in sorted(d for d in ldir.iterdir() if d.is_dir()):
                add_clip(
                    result,
                    subject=subject,
                    clip=normalise_clip(cdir.name),
                    folder=cdir,
                    onset=None,
                    apex=None,
                    offset=None,
                    label=label,
                    fps=FPS,
                    where=str(cdir),
                    range_required=False,
                )
    if apex == "middle":
        result.samples = [s.replace(apex=(s.onset + s.offset) // 2) for s in result.samples]
    return result
