"""Access to the shipped protocol data (``data_manifests/``): facts, never images."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path

from ..errors import MicroexpError
from .base import Correction


def manifest_dir() -> Path:
    """The folder of shipped manifests: ``microexp/manifests`` (a link to the repository's
    ``data_manifests/`` that wheels copy)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "manifests", here.parent / "data_manifests"):
        if (candidate / "corrections.csv").is_file():
            return candidate
    raise MicroexpError(f"{here / 'manifests'}: microexp's data manifests are missing (reinstall)")


def manifest_path(name: str) -> Path:
    return manifest_dir() / name


@cache
def load_corrections() -> tuple[Correction, ...]:
    """Known annotation corrections, each with its source (``corrections.csv``)."""
    path = manifest_path("corrections.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        return tuple(
            Correction(
                dataset=r["dataset"],
                subject=r["subject"],
                clip=r["clip"],
                field=r["field"],
                annotated=int(r["annotated"]),
                corrected=int(r["corrected"]),
                source=r["source"],
            )
            for r in csv.DictReader(fh)
        )


def load_json(name: str) -> dict:
    path = manifest_path(name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MicroexpError(f"{path}: unreadable manifest ({exc})") from None
