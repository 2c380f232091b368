"""The synthetic datasets: CK+-, CASME-, CASME II-, SAMM- and SMIC-like trees in the owners'
layouts, read by the unchanged loaders. The embedded default of the demo, tests and notebooks.

What is modelled: distinct identities from one real face (see :mod:`.face`); AU-shaped motion
fields anchored on the 68 landmarks, combined per emotion (see :mod:`.motion`); micro timing
(onset -> apex -> offset within 0.2-0.5 s at the dataset's frame rate) and macro timing
(neutral -> apex in a short CK+-like sequence); random intensity and timing per sample;
nuisance motion (slow head drift, blinks in any class) and sensor noise; the real datasets'
class proportions, subject ids and (where a published list names them) clip ids.

What is not: real facial appearance change (wrinkles, shading of moving skin), 3D head motion,
the real datasets' resolutions (frames are small, the face spans ``face_px`` pixels),
and the real annotation quirks (the tests cover those). Illumination changes are modelled as a
slow global flicker only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets.base import SYNTHETIC_MARKER as MARKER
from ..errors import unknown_name, workers_died
from . import layout
from .face import Identity, make_identity, sample_field
from .motion import action_units_for, envelope, expression_field
from .world import DIFFICULTY as DIFFICULTY
from .world import GENERATOR_VERSION as GENERATOR_VERSION
from .world import MotionParams, SubjectStyle, make_style, marker_info


@dataclass(frozen=True)
class Preset:
    """Size of a synthetic dataset. ``face_px`` is the jaw width of the neutral face."""

    subjects: int
    samples_per_subject: int
    face_px: int
    macro_frames: tuple[int, int] = (8, 20)


PRESETS = {
    "tiny": Preset(subjects=3, samples_per_subject=3, face_px=96, macro_frames=(6, 9)),
    "demo": Preset(subjects=6, samples_per_subject=8, face_px=128),
}


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset's clips are made. ``labels`` are the real class counts (proportions)."""

    name: str
    kind: str  # "micro" or "macro"
    fps: float
    labels: dict[str, int]
    gray: bool


#: real class counts: DATASETS.md (CK+, CASME II, SAMM, SMIC); CASME's from Yan et al. 2013
#: as reported in follow-up work (approximate: tense 69, disgust 44, repression 38, ...)
SPECS = {
    "ckplus": DatasetSpec(
        "ckplus",
        "macro",
        30.0,
        {
            "anger": 45,
            "contempt": 18,
            "disgust": 59,
            "fear": 25,
            "happy": 69,
            "sadness": 28,
            "surprise": 83,
        },
        gray=True,
    ),
    "casme": DatasetSpec(
        "casme",
        "micro",
        60.0,
        {
            "tense": 69,
            "disgust": 44,
            "repression": 38,
            "surprise": 20,
            "happiness": 9,
            "sadness": 6,
            "contempt": 3,
            "fear": 2,
        },
        gray=False,
    ),
    "casme2": DatasetSpec(
        "casme2",
        "micro",
        200.0,
        {
            "others": 99,
            "disgust": 63,
            "happiness": 32,
            "repression": 27,
            "surprise": 25,
            "sadness": 7,
            "fear": 2,
        },
        gray=False,
    ),
    "samm": DatasetSpec(
        "samm",
        "micro",
        200.0,
        {
            "anger": 57,
            "other": 26,
            "happiness": 26,
            "surprise": 15,
            "contempt": 12,
            "disgust": 9,
            "fear": 8,
            "sadness": 6,
        },
        gray=True,
    ),
    "smic": DatasetSpec(
        "smic", "micro", 100.0, {"negative": 70, "positive": 51, "surprise": 43}, gray=False
    ),
    # CAS(ME)^3 Part A v2 counts (DATASETS.md); 30 fps as its paper states
    "casme3": DatasetSpec(
        "casme3",
        "micro",
        30.0,
        {
            "disgust": 250,
            "surprise": 187,
            "others": 161,
            "fear": 86,
            "anger": 64,
            "sad": 57,
            "happy": 55,
        },  # fmt: skip
        gray=False,
    ),
    # 4DME: grey frames; its fps and counts are stated nowhere: our choice, written in the
    # marker (the loader reads a synthetic tree's frame rate from there); a few multi-label rows
    "4dme": DatasetSpec(
        "4dme",
        "micro",
        60.0,
        {
            "negative": 80,
            "surprise": 50,
            "others": 50,
            "positive": 40,
            "repression": 30,
            "surprise+negative": 10,
            "positive+repression": 7,
        },  # fmt: skip
        gray=True,
    ),
    # MMEW: 90 fps (unverified); class counts unverified (one recollection), proportions only
    "mmew": DatasetSpec(
        "mmew",
        "micro",
        90.0,
        {
            "happiness": 36,
            "anger": 8,
            "surprise": 89,
            "disgust": 72,
            "fear": 16,
            "sadness": 13,
            "others": 66,
        },  # fmt: skip
        gray=False,
    ),
}
CKPLUS_CODES = {
    "anger": 1,
    "contempt": 2,
    "disgust": 3,
    "fear": 4,
    "happy": 5,
    "sadness": 6,
    "surprise": 7,
}
#: own label -> MEGC2019 class, to reuse the published clip ids of CASME II, SAMM and SMIC
_MEGC_CLASS = {
    "disgust": "negative",
    "repression": "negative",
    "anger": "negative",
    "contempt": "negative",
    "fear": "negative",
    "sadness": "negative",
    "negative": "negative",
    "happiness": "positive",
    "positive": "positive",
    "surprise": "surprise",
}
_MEGC_MAPS = {"casme2": {"fear", "sadness"}, "samm": set(), "smic": set()}  # own labels MEGC drops


@dataclass
class RenderedClip:
    """Frames and the ground truth behind them."""

    frames: np.ndarray  # (T, H, W, 3) or (T, H, W) uint8
    onset: int  # 0-based indices into frames
    apex: int
    offset: int
    aus: tuple[str, ...]
    peak_px: float
    face_width: float
    blink: bool
    landmarks: np.ndarray  # (T, 68, 2): every motion included
    expression_landmarks: np.ndarray  # (T, 68, 2): the expression alone
    weak: bool = False  # intensity scaled down by MotionParams.weak_scale
    ambiguous: bool = False  # another emotion's prototype shows too
    coded_apex: int | None = None  # the apex the coding sheet gives (None: the true apex)


def render_clip(
    identity: Identity,
    label: str,
    kind: str,
    fps: float,
    rng: np.random.Generator,
    params: MotionParams = MotionParams(),
    macro_frames: tuple[int, int] = (8, 20),
    gray: bool = False,
    style: SubjectStyle | None = None,
) -> RenderedClip:
    """One expression clip of ``identity`` showing ``label`` (in the subject's ``style``)."""
    h, w = identity.image.shape[:2]
    lm = identity.landmarks
    fw = identity.face_width
    aus, ambiguous = _clip_aus(label, kind, rng, params, style)
    weak = kind == "micro" and rng.random() < params.weak_share
    if kind == "macro":
        n = int(rng.integers(macro_frames[0], macro_frames[1] + 1))
        onset, apex, offset = 0, n - 1, n - 1
        peak = rng.uniform(*params.macro_peak) * fw
    else:
        length = max(int(round(rng.uniform(*params.micro_duration_s) * fps)), 3)
        pre = int(round(rng.uniform(*params.pad_s) * fps))
        post = int(round(rng.uniform(*params.pad_s) * fps))
        onset = pre
        apex = onset + max(1, int(round(rng.uniform(*params.apex_fraction) * (length - 1))))
        offset = onset + length - 1
        n = offset + 1 + post
        peak = rng.uniform(*params.micro_peak) * fw
        peak *= rng.uniform(*params.weak_scale) if weak else 1.0
        error = int(round(rng.uniform(-1, 1) * params.apex_error_s * fps))
        coded_apex = int(np.clip(apex + error, onset + 1, offset))
    peak *= 1.0 if style is None else style.intensity
    amp = envelope(n, onset, apex, offset)
    field = expression_field(lm, aus, (h, w), peak, rng, None if style is None else style.gains)
    gain = _flicker(n, fps, rng, params) if kind == "micro" else np.ones(n)
    drift_dir = rng.normal(size=2)
    drift = (drift_dir / np.linalg.norm(drift_dir)) * rng.uniform(0, params.drift) * fw
    blink = kind == "micro" and rng.random() < params.blink_probability
    blink_amp = np.zeros(n, np.float32)
    blink_field = None
    if blink:
        eye_open = float(
            np.mean(np.linalg.norm(lm[[41, 40, 47, 46]] - lm[[37, 38, 43, 44]], axis=1))
        )
        blink_field = expression_field(lm, ("AU43",), (h, w), 0.8 * eye_open)
        blen = max(int(round(rng.uniform(*params.blink_s) * fps)), 2)
        start = int(rng.integers(0, max(n - blen, 1)))
        blink_amp = envelope(n, start, start + blen // 2, start + blen - 1)
    import cv2

    lm_expr = sample_field(field, lm)
    lm_blink = sample_field(blink_field, lm) if blink_field is not None else np.zeros_like(lm)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    frames, landmarks, expr_landmarks = [], [], []
    for t in range(n):
        shift = (drift * (t / max(n - 1, 1))).astype(np.float32)
        map_x = xs - shift[0] - amp[t] * field[..., 0]
        map_y = ys - shift[1] - amp[t] * field[..., 1]
        if blink_field is not None and blink_amp[t] > 0:
            map_x -= blink_amp[t] * blink_field[..., 0]
            map_y -= blink_amp[t] * blink_field[..., 1]
        img = cv2.remap(
            identity.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        if gray:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        img *= np.float32(gain[t])
        img += rng.standard_normal(img.shape, dtype=np.float32) * params.noise_sigma
        frames.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
        landmarks.append(lm + lm_expr * amp[t] + lm_blink * blink_amp[t] + shift)
        expr_landmarks.append(lm + lm_expr * amp[t])
    return RenderedClip(
        np.stack(frames),
        onset,
        apex,
        offset,
        aus,
        float(peak),
        fw,
        bool(blink),
        np.stack(landmarks),
        np.stack(expr_landmarks),
        weak,
        ambiguous,
        coded_apex if kind == "micro" else None,
    )


def _flicker(n: int, fps: float, rng: np.random.Generator, params: MotionParams) -> np.ndarray:
    """Per-frame brightness gain: 1 + flicker * sin(2 pi f t + phase)."""
    hz, phase = rng.uniform(*params.flicker_hz), rng.uniform(0, 2 * np.pi)
    return 1 + params.flicker * np.sin(2 * np.pi * hz * np.arange(n) / fps + phase)


def _clip_aus(
    label: str, kind: str, rng: np.random.Generator, params: MotionParams, style
) -> tuple[tuple[str, ...], bool]:
    """The AUs a clip shows: the label's (minus the one the subject leaves out), sometimes
    one shared AU, and in an ambiguous micro clip another emotion's prototype too.

    Macro clips are posed (CK+): their emotion labels were kept only where the coded AUs met
    the emotion's prototype (Lucey et al. 2010), so they show the full prototype, nothing else.
    """
    from .motion import PROTOTYPES

    if kind == "macro" and label in PROTOTYPES:
        return tuple(sorted(PROTOTYPES[label])), False
    aus = action_units_for(label, rng)
    omit = None if style is None else style.omits.get(label)
    if omit in aus and len(aus) > 1:
        aus = tuple(a for a in aus if a != omit)
    if rng.random() < params.shared_au_probability:
        extra = [a for a in params.shared_aus if a not in aus]
        aus = (*aus, str(rng.choice(extra))) if extra else aus
    ambiguous = kind == "micro" and rng.random() < params.ambiguous_share
    if ambiguous:
        other = str(rng.choice([k for k in PROTOTYPES if k != label]))
        aus = tuple(dict.fromkeys((*aus, *PROTOTYPES[other])))
    return tuple(sorted(aus)), ambiguous


# --------------------------------------------------------------------------------- naming


def _megc_ids(dataset: str) -> dict[str, list[tuple[str, str]]]:
    """subject -> [(clip, class)] from the shipped MEGC2019 list."""
    from ..datasets.protocols import read_ids

    out: dict[str, list[tuple[str, str]]] = {}
    for sid, label in read_ids("megc2019_ids.csv").items():
        ds, subj, clip = sid.split("/")
        if ds == dataset:
            out.setdefault(subj, []).append((clip, label))
    return out


def _allocate(labels: dict[str, int], total: int, rng: np.random.Generator) -> list[str]:
    """``total`` labels in the real proportions (largest remainder), shuffled."""
    counts = np.array(list(labels.values()), float)
    share = counts / counts.sum() * total
    n = np.floor(share).astype(int)
    for i in np.argsort(-(share - n), kind="stable")[: total - n.sum()]:
        n[i] += 1
    out = [lab for lab, k in zip(labels, n, strict=True) for _ in range(k)]
    rng.shuffle(out)
    return out


def _subjects(dataset: str, count: int) -> list[int]:
    """Real-looking subject numbers: those of the published list first, then the rest."""
    if dataset in ("casme2", "samm", "smic"):
        listed = sorted(int("".join(c for c in s if c.isdigit())) for s in _megc_ids(dataset))
        extra = [i for i in range(1, 200) if i not in listed]
        return (listed + extra)[:count]
    if dataset == "ckplus":
        return [5 + 5 * i for i in range(count)]
    return list(range(1, count + 1))


def _subject_key(dataset: str, number: int) -> str:
    return {"casme2": f"sub{number:02d}", "samm": f"{number:03d}", "smic": f"s{number:02d}"}.get(
        dataset, ""
    )


_SMIC_ABBR = {"negative": "ne", "positive": "po", "surprise": "sur"}


def _clip_name(
    dataset: str, subject: int, label: str, k: int, pool: list[tuple[str, str]], used: set[str]
) -> str:
    """A published clip id of the right class when one is left, else a new id in the same style."""
    if dataset == "casme3":  # two MEs per video folder (a, a, b, b, ...)
        return "abcdefghijklm"[(k // 2) % 13]
    if dataset == "4dme":
        return f"S{subject:02d}_{k + 1:02d}"
    if dataset == "mmew":  # PersonIndex-EmotionIndex-SampleIndex
        return f"{subject}-{layout.MMEW_EMOTIONS.index(label) + 1}-{k + 1:03d}"
    cls = _MEGC_CLASS.get(label)
    if cls is not None and label not in _MEGC_MAPS.get(dataset, {"x"}):
        for clip, c in pool:
            if c == cls and clip not in used:
                used.add(clip)
                return clip
    while True:
        if dataset == "casme2":
            name = f"EP{20 + k:02d}_{k % 7 + 1:02d}"
        elif dataset == "samm":
            name = f"{subject:03d}_{7 + k // 5}_{k % 5 + 1}"
        elif dataset == "smic":
            name = f"s{subject:02d}_{_SMIC_ABBR[label]}_{30 + k:02d}"
        elif dataset == "casme":
            name = f"EP{k + 1:02d}_{k % 3 + 1}"
        else:
            name = f"{k + 1:03d}"
        if name not in used and all(name != c for c, _ in pool):
            used.add(name)
            return name
        k += 100


# --------------------------------------------------------------------------------- datasets


def draws_digest(root: str | os.PathLike) -> str:
    """A short sha256 of a generated tree's ``synthetic_truth.csv`` and file names: what was
    drawn (classes, AUs, peaks, frame counts), independent of the image codecs' bytes."""
    root = Path(root)
    h = hashlib.sha256((root / "synthetic_truth.csv").read_bytes())
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MARKER:
            h.update(str(p.relative_to(root)).encode())
    return h.hexdigest()[:16]


def generate(
    dataset: str,
    out: str | os.PathLike,
    preset: str = "demo",
    seed: int = 0,
    subjects: int | None = None,
    samples_per_subject: int | None = None,
    params: MotionParams = MotionParams(),
    workers: int | None = None,
) -> Path:
    """Write a synthetic ``dataset`` tree under ``out`` in the owners' layout; return ``out``.

    Deterministic: the same arguments give the same bytes, whatever ``workers`` (processes that
    render subjects in parallel; default all cores). The tree is built in a temporary
    sibling folder and renamed into place, so an interrupted run leaves nothing half-written. An
    existing tree generated with the same arguments is reused; any other non-empty ``out`` is an
    error. A ``MICROEXP_SYNTHETIC.json`` marker and a ``synthetic_truth.csv`` of what each clip
    shows (AUs, peak displacement, blink) sit at the root.
    """
    from .longvideo import LONG_SPECS, generate_long

    if dataset in LONG_SPECS:  # long videos for spotting: samples_per_subject = videos
        return generate_long(dataset, out, preset, seed, subjects, samples_per_subject, params)
    if dataset not in SPECS:
        raise unknown_name("dataset", dataset, (*SPECS, *LONG_SPECS))
    if preset not in PRESETS:
        raise unknown_name("preset", preset, tuple(PRESETS))
    p = PRESETS[preset]
    n_subj = subjects if subjects is not None else p.subjects
    n_per = samples_per_subject if samples_per_subject is not None else p.samples_per_subject
    layout.check_request(seed, n_subj, n_per, "--samples-per-subject")
    spec = SPECS[dataset]
    out = Path(os.path.abspath(out))  # "." has no name to build a sibling folder from
    info = marker_info(
        dataset, spec.fps, preset, seed, {"subjects": n_subj, "samples_per_subject": n_per},
        p.face_px, params, "SYNTHETIC data written by microexp, not the licensed dataset",
    )  # fmt: skip
    tmp = layout.begin_tree(out, info, dataset)
    if tmp is None:
        return out

    rng_labels = np.random.default_rng([seed, 1000 + list(SPECS).index(dataset)])
    labels = _allocate(spec.labels, n_subj * n_per, rng_labels)
    h = int(round(p.face_px * 1.75))
    w = int(round(p.face_px * 2.1))
    pools = _megc_ids(dataset) if dataset in ("casme2", "samm", "smic") else {}
    jobs = [
        (
            dataset,
            subject,
            seed,
            labels[si * n_per : (si + 1) * n_per],
            p.face_px,
            (h, w),
            p.macro_frames,
            params,
            pools.get(_subject_key(dataset, subject), []),
            str(tmp),
        )
        for si, subject in enumerate(_subjects(dataset, n_subj))
    ]
    clips: list[layout.Clip] = []
    truth: list[dict] = []
    for subject_clips, subject_truth in _map(_render_subject, jobs, workers):
        clips += subject_clips
        truth += subject_truth
    _write(dataset, tmp, clips)  # the annotation files
    layout.end_tree(tmp, out, info, truth)
    return out


def _render_subject(job: tuple) -> tuple[list[layout.Clip], list[dict]]:
    """Render and write one subject's clips (frames only); return their annotation records.

    Everything random comes from the subject's own generator, so the bytes do not depend on
    which process renders which subject."""
    dataset, subject, seed, labels, face_px, canvas, macro_frames, params, pool, tmp = job
    spec = SPECS[dataset]
    tmp = Path(tmp)
    rng = np.random.default_rng([seed, list(SPECS).index(dataset), subject])
    ident = make_identity(rng, face_px, canvas)
    style = make_style(rng, params)
    used: set[str] = set()
    clips, truth = [], []
    for k, label in enumerate(labels):
        clip = render_clip(
            ident, label, spec.kind, spec.fps, rng, params, macro_frames, spec.gray, style
        )
        name = _clip_name(dataset, subject, label, k, pool, used)
        first = _first_frame(dataset, rng, k)
        write_name = name
        if dataset == "smic":  # on disk the subject is unpadded: s1_ne_01
            write_name = f"s{subject}_" + name.split("_", 1)[1]
        written = layout.Clip(
            subject,
            write_name,
            str(CKPLUS_CODES[label]) if dataset == "ckplus" else label,
            clip.frames,
            first=first,
            onset=first + clip.onset,
            apex=first + (clip.apex if clip.coded_apex is None else clip.coded_apex),
            offset=first + clip.offset,
            action_units="+".join(a[2:] for a in clip.aus),
            annotated=False,
        )
        _write(dataset, tmp, [written])  # frames now: memory holds one clip at a time
        written.frames, written.count, written.annotated = None, len(clip.frames), True
        clips.append(written)
        truth.append(
            {
                "subject": subject,
                "clip": name,
                "label": label,
                "aus": "+".join(clip.aus),
                "peak_px": round(clip.peak_px, 4),
                "face_width_px": round(clip.face_width, 2),
                "blink": int(clip.blink),
                "weak": int(clip.weak),
                "ambiguous": int(clip.ambiguous),
                "frames": len(clip.frames),
                "true_apex": first + clip.apex,
                "coded_apex": first + (clip.apex if clip.coded_apex is None else clip.coded_apex),
            }
        )
    if dataset == "ckplus":  # CK+ ships unlabelled sequences too
        extra = render_clip(
            ident, "others", "macro", spec.fps, rng, params, macro_frames, spec.gray
        )
        _write(
            dataset,
            tmp,
            [layout.Clip(subject, f"{len(labels) + 1:03d}", "0", extra.frames, annotated=False)],
        )
    return clips, truth


#: fewer jobs than this run in this process when no worker count is given: starting a process
#: pool costs about 1.7 s on 2 cores, more than rendering a tiny set's subjects
MIN_POOLED_JOBS = 4


def _map(fn, jobs: list, workers: int | None):
    """``map(fn, jobs)`` in order, over ``workers`` processes when more than one (by default
    one per core, when there are at least :data:`MIN_POOLED_JOBS` jobs)."""
    if workers is None and len(jobs) < MIN_POOLED_JOBS:
        workers = 1
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        yield from map(fn, jobs)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["microexp.synthetic"])
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            yield from pool.map(fn, jobs)
    except BrokenProcessPool:
        raise workers_died("synthetic data") from None


def _first_frame(dataset: str, rng: np.random.Generator, k: int = 0) -> int:
    """The clip's first frame number (``k``: its index in the subject)."""
    if dataset == "casme3":  # the two MEs of one video folder lie 300 frames apart
        return 1 + 300 * (k % 2) + 600 * (k // 26)
    if dataset == "samm":
        return int(rng.integers(1000, 6000))
    if dataset == "casme2":
        return int(rng.integers(1, 150))
    return 1


def _write(dataset: str, root: Path, clips: Sequence[layout.Clip]) -> None:
    writer = {
        "ckplus": layout.write_ckplus,
        "casme": layout.write_casme,
        "casme2": layout.write_casme2,
        "samm": layout.write_samm,
        "smic": layout.write_smic,
        "casme3": layout.write_casme3,
        "4dme": layout.write_4dme,
        "mmew": layout.write_mmew,
    }[dataset]
    writer(root, clips)


def generate_all(
    out: str | os.PathLike,
    preset: str = "demo",
    seed: int = 0,
    datasets: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Every synthetic dataset under ``out/NAME``; returns {name: root}."""
    return {d: generate(d, Path(out) / d, preset, seed) for d in (datasets or list(SPECS))}
