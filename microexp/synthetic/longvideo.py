"""Synthetic long videos for spotting, written in CAS(ME)^2's, SAMM Long Videos' and CAS(ME)^3
Part A's layouts.

Each video shows one subject over several seconds with macro- and micro-expressions at known
intervals (no two overlap), blinks at random times, slow head sway and one quick head shift
(rigid translations), illumination flicker and sensor noise. What it does not model: head
rotation, talking, expressions that overlap, or the real datasets' length (minutes): the
videos are seconds long so that the tests and the demo stay fast, and the durations are scaled
down with them (``LongSpec``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import unknown_name
from . import layout
from .face import make_identity
from .motion import PROTOTYPES, action_units_for, envelope, expression_field
from .world import MotionParams, make_style, marker_info


@dataclass(frozen=True)
class LongSpec:
    """How one dataset's videos are made (durations in seconds)."""

    fps: float
    gray: bool
    labels: tuple[str, ...]  # the classes a coded row may carry
    macro_s: tuple[float, float]
    micro_s: tuple[float, float]
    gap_s: tuple[float, float]  # neutral time between expressions (and at both ends)


LONG_SPECS = {
    "casme_sq": LongSpec(
        30.0,
        False,
        ("negative", "positive", "surprise", "others"),
        macro_s=(0.9, 1.8),
        micro_s=(0.3, 0.5),
        gap_s=(0.8, 1.6),
    ),
    "samm_lv": LongSpec(
        200.0,
        True,
        ("anger", "happiness", "surprise", "contempt", "disgust", "other"),
        macro_s=(0.6, 1.0),
        micro_s=(0.2, 0.4),
        gap_s=(0.3, 0.6),
    ),
    "casme3_lv": LongSpec(
        30.0,
        False,
        ("disgust", "surprise", "others", "fear", "anger", "sad", "happy"),
        macro_s=(0.9, 1.8),
        micro_s=(0.3, 0.5),
        gap_s=(0.8, 1.6),
    ),
}


@dataclass(frozen=True)
class LongPreset:
    subjects: int
    videos_per_subject: int
    macro: tuple[int, int]  # macro-expressions per video (min, max)
    micro: tuple[int, int]
    face_px: int


LONG_PRESETS = {
    "tiny": LongPreset(2, 1, (1, 1), (1, 1), 96),
    "demo": LongPreset(4, 2, (1, 2), (1, 2), 128),
}

#: CAS(ME)^2's class of an emotion prototype the generator draws
_CASME_SQ_CLASS = {"negative": "disgust", "positive": "happiness", "surprise": "surprise"}


@dataclass
class Event:
    """One expression in a video: 0-based frame indices, inclusive."""

    kind: str
    label: str
    aus: tuple[str, ...]
    onset: int
    apex: int
    offset: int


def plan_events(spec: LongSpec, preset: LongPreset, rng: np.random.Generator) -> tuple[list, int]:
    """The video's expressions in time order and its length in frames."""
    kinds = ["macro"] * int(rng.integers(preset.macro[0], preset.macro[1] + 1))
    kinds += ["micro"] * int(rng.integers(preset.micro[0], preset.micro[1] + 1))
    rng.shuffle(kinds)
    fps, t = spec.fps, 0
    events = []
    for kind in kinds:
        t += int(round(rng.uniform(*spec.gap_s) * fps))
        length = max(
            int(round(rng.uniform(*(spec.macro_s if kind == "macro" else spec.micro_s)) * fps)), 4
        )
        apex = t + int(round(rng.uniform(0.3, 0.6) * (length - 1)))
        label = str(rng.choice(spec.labels))
        proto = _CASME_SQ_CLASS.get(label, label)
        aus = action_units_for(proto if proto in PROTOTYPES or proto == "others" else "others", rng)
        events.append(Event(kind, label, aus, t, apex, t + length - 1))
        t += length
    t += int(round(rng.uniform(*spec.gap_s) * fps))
    return events, t


def _head_path(n: int, fps: float, fw: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) rigid head translation in px: a slow sway plus one quick shift (0.15 s)."""
    t = np.arange(n) / fps
    path = np.zeros((n, 2), np.float32)
    for axis in range(2):
        hz = rng.uniform(0.1, 0.4)
        path[:, axis] = 0.01 * fw * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
    start = int(rng.integers(0, max(n - 1, 1)))
    steps = max(int(0.15 * fps), 1)
    ramp = np.clip((np.arange(n) - start) / steps, 0, 1)
    direction = rng.normal(size=2)
    path += (ramp[:, None] * direction / np.linalg.norm(direction) * 0.02 * fw).astype(np.float32)
    return path


def render_video(
    spec: LongSpec,
    preset: LongPreset,
    rng: np.random.Generator,
    params: MotionParams = MotionParams(),
    identity=None,
    style=None,
) -> tuple[np.ndarray, list[Event], list[tuple[int, int]]]:
    """Frames (T, H, W[, 3]) uint8, the expressions, and the blinks (start, end) shown."""
    import cv2

    if identity is None:
        h, w = int(round(preset.face_px * 1.75)), int(round(preset.face_px * 2.1))
        identity = make_identity(rng, preset.face_px, (h, w))
    h, w = identity.image.shape[:2]
    lm, fw = identity.landmarks, identity.face_width
    events, n = plan_events(spec, preset, rng)
    gains = None if style is None else style.gains
    fields, amps = [], []
    for e in events:
        peak = rng.uniform(*(params.macro_peak if e.kind == "macro" else params.micro_peak)) * fw
        fields.append(expression_field(lm, e.aus, (h, w), peak, rng, gains))
        amps.append(envelope(n, e.onset, e.apex, e.offset))
    blinks = []
    eye_open = float(np.mean(np.linalg.norm(lm[[41, 40, 47, 46]] - lm[[37, 38, 43, 44]], axis=1)))
    blink_field = expression_field(lm, ("AU43",), (h, w), 0.8 * eye_open)
    blink_amp = np.zeros(n, np.float32)
    for _ in range(max(1, int(n / spec.fps / 3))):  # about one blink every 3 s
        blen = max(int(round(rng.uniform(*params.blink_s) * spec.fps)), 2)
        start = int(rng.integers(0, max(n - blen, 1)))
        blink_amp = np.maximum(blink_amp, envelope(n, start, start + blen // 2, start + blen - 1))
        blinks.append((start, start + blen - 1))
    head = _head_path(n, spec.fps, fw, rng)
    hz, phase = rng.uniform(*params.flicker_hz), rng.uniform(0, 2 * np.pi)
    gain = 1 + params.flicker * np.sin(2 * np.pi * hz * np.arange(n) / spec.fps + phase)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for t in range(n):
        map_x, map_y = xs - head[t, 0], ys - head[t, 1]
        for field, amp in zip(fields, amps, strict=True):
            if amp[t] > 0:
                map_x = map_x - amp[t] * field[..., 0]
                map_y = map_y - amp[t] * field[..., 1]
        if blink_amp[t] > 0:
            map_x = map_x - blink_amp[t] * blink_field[..., 0]
            map_y = map_y - blink_amp[t] * blink_field[..., 1]
        img = cv2.remap(
            identity.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        if spec.gray:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        img = (
            img * np.float32(gain[t])
            + rng.standard_normal(img.shape, dtype=np.float32) * params.noise_sigma
        )
        frames.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    return np.stack(frames), events, blinks


def generate_long(
    dataset: str,
    out: str | os.PathLike,
    preset: str = "demo",
    seed: int = 0,
    subjects: int | None = None,
    videos_per_subject: int | None = None,
    params: MotionParams = MotionParams(),
) -> Path:
    """Write synthetic long videos of ``dataset`` (``casme_sq``, ``samm_lv``, ``casme3_lv``) under ``out``
    in the owners' layout, with a ``synthetic_truth.csv`` of every expression and blink.
    Deterministic, atomic (built beside ``out`` and renamed), reused when already there."""
    if dataset not in LONG_SPECS:
        raise unknown_name("long-video dataset", dataset, tuple(LONG_SPECS))
    if preset not in LONG_PRESETS:
        raise unknown_name("preset", preset, tuple(LONG_PRESETS))
    spec, p = LONG_SPECS[dataset], LONG_PRESETS[preset]
    n_subj = subjects if subjects is not None else p.subjects
    n_vid = videos_per_subject if videos_per_subject is not None else p.videos_per_subject
    layout.check_request(seed, n_subj, n_vid, "--samples-per-subject (videos per subject)")
    counts = {"subjects": n_subj, "videos_per_subject": n_vid}
    if dataset == "samm_lv":  # the tree carries SAMM's emotion sheet (older ones did not)
        counts["emotion_sheet"] = True
    info = marker_info(
        dataset, spec.fps, preset, seed, counts,
        p.face_px, params, "SYNTHETIC long videos written by microexp, not the licensed dataset",
    )  # fmt: skip
    out = Path(os.path.abspath(out))  # "." has no name to build a sibling folder from
    tmp = layout.begin_tree(out, info, dataset)
    if tmp is None:
        return out
    videos, truth = [], []
    for si in range(n_subj):
        rng = np.random.default_rng([seed, 7000 + list(LONG_SPECS).index(dataset), si])
        h, w = int(round(p.face_px * 1.75)), int(round(p.face_px * 2.1))
        ident = make_identity(rng, p.face_px, (h, w))
        style = make_style(rng, params)
        for vi in range(n_vid):
            frames, events, blinks = render_video(spec, p, rng, params, ident, style)
            layout.write_long(dataset, tmp, [layout.LongVideo(si + 1, vi + 1, frames, [])])
            events_ = [asdict(e) for e in events]
            video = layout.LongVideo(si + 1, vi + 1, None, events_, count=len(frames))
            videos.append(video)
            name = layout.long_video_name(dataset, video)
            truth += [{"video": name, **_truth_row(e)} for e in events]
            truth += [
                {
                    "video": name,
                    "kind": "blink",
                    "label": "",
                    "aus": "AU43",
                    "onset": a + 1,
                    "apex": "",
                    "offset": b + 1,
                }  # fmt: skip
                for a, b in blinks
            ]
    layout.write_long(dataset, tmp, videos)  # the annotation file
    layout.end_tree(tmp, out, info, truth)
    return out


def _truth_row(e: Event) -> dict:
    """1-based frame numbers, as the files are numbered."""
    return {
        "kind": e.kind,
        "label": e.label,
        "aus": "+".join(e.aus),
        "onset": e.onset + 1,
        "apex": e.apex + 1,
        "offset": e.offset + 1,
    }


__all__ = ["LONG_PRESETS", "LONG_SPECS", "Event", "generate_long", "render_video"]
