"""Facial action units as motion fields on the 68 landmarks, and emotions as AU combinations.

Each AU moves a few landmarks in a direction (image coordinates, y down; ``R`` is the image's
left half, the subject's right). Vectors are in units of the face width and are combined,
spread over the face by :func:`microexp.synthetic.face.gaussian_field`, then rescaled so that the
largest landmark displacement equals the sample's intensity. Emotions follow the EMFACS
prototypes (Friesen & Ekman 1983); "others" are random AU mixtures.
"""

from __future__ import annotations

import numpy as np

from .face import gaussian_field, sample_field

# (landmark indices, direction (dx, dy)); "out" directions are mirrored per side
_AU: dict[str, list[tuple[tuple[int, ...], tuple[float, float]]]] = {
    "AU1": [((20, 21), (0.0, -1.0)), ((22, 23), (0.0, -1.0))],  # inner brow raiser
    "AU2": [((17, 18), (0.0, -1.0)), ((25, 26), (0.0, -1.0))],  # outer brow raiser
    "AU4": [((19, 20, 21), (0.4, 0.8)), ((22, 23, 24), (-0.4, 0.8))],  # brow lowerer
    "AU5": [((37, 38), (0.0, -0.6)), ((43, 44), (0.0, -0.6))],  # upper lid raiser
    "AU6": [((40, 41, 1, 2), (0.0, -0.6)), ((46, 47, 14, 15), (0.0, -0.6))],  # cheek raiser
    "AU7": [((40, 41), (0.0, -0.7)), ((46, 47), (0.0, -0.7)), ((37, 38, 43, 44), (0.0, 0.3))],
    "AU9": [((31, 32, 33, 34, 35), (0.0, -0.8)), ((21, 22), (0.0, 0.5))],  # nose wrinkler
    "AU10": [((50, 51, 52, 61, 62, 63), (0.0, -0.8))],  # upper lip raiser
    "AU12": [((48, 60), (-0.6, -0.8)), ((54, 64), (0.6, -0.8))],  # lip corner puller
    "AU12R": [((48, 60), (-0.6, -0.8))],  # unilateral (contempt)
    "AU14": [((48, 60), (-0.8, 0.0)), ((54, 64), (0.8, 0.0))],  # dimpler
    "AU15": [((48, 60), (-0.2, 1.0)), ((54, 64), (0.2, 1.0))],  # lip corner depressor
    "AU17": [((56, 57, 58, 65, 66, 67), (0.0, -0.7)), ((7, 8, 9), (0.0, -0.6))],  # chin raiser
    "AU20": [((48, 60), (-1.0, 0.1)), ((54, 64), (1.0, 0.1))],  # lip stretcher
    "AU23": [
        ((50, 51, 52), (0.0, 0.4)),
        ((56, 57, 58), (0.0, -0.4)),
        ((48,), (0.4, 0)),
        ((54,), (-0.4, 0)),
    ],
    "AU24": [((50, 51, 52, 61, 62, 63), (0.0, 0.5)), ((56, 57, 58, 65, 66, 67), (0.0, -0.5))],
    "AU25": [((56, 57, 58, 65, 66, 67), (0.0, 0.6))],  # lips part
    "AU26": [
        ((56, 57, 58, 65, 66, 67), (0.0, 1.0)),
        ((5, 6, 7, 8, 9, 10, 11), (0.0, 0.9)),
    ],  # jaw drop
    "AU43": [
        ((37, 38), (0.0, 1.0)),
        ((43, 44), (0.0, 1.0)),
        ((36, 39, 42, 45), (0.0, 0.3)),
    ],  # blink
}
ACTION_UNITS = tuple(k for k in _AU if k not in ("AU43", "AU12R"))

#: EMFACS-style prototypes, keyed by every label the five datasets use (lower-case)
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "happiness": ("AU6", "AU12"),
    "happy": ("AU6", "AU12", "AU25"),
    "sadness": ("AU1", "AU4", "AU15"),
    "surprise": ("AU1", "AU2", "AU5", "AU26"),
    "fear": ("AU1", "AU2", "AU4", "AU5", "AU20", "AU26"),
    "anger": ("AU4", "AU5", "AU7", "AU23"),
    "disgust": ("AU9", "AU15", "AU17"),
    "contempt": ("AU12R", "AU14"),
    "repression": ("AU17", "AU24"),  # CASME: suppressed, lips pressed
    "tense": ("AU4", "AU7", "AU24"),
    "sad": ("AU1", "AU4", "AU15"),  # CAS(ME)^3's spelling of sadness
}
#: SMIC's three classes draw a prototype from these
SMIC_CLASSES = {
    "negative": ("sadness", "anger", "disgust", "fear"),
    "positive": ("happiness",),
    "surprise": ("surprise",),
}


def _other_mixture(rng: np.random.Generator) -> tuple[str, ...]:
    """``others``: a random 1-3 AU mixture that holds no emotion's full prototype (coders
    label a clip "others" when its AUs meet no emotion's criteria)."""
    while True:
        k = int(rng.integers(1, 4))
        aus = set(rng.choice(ACTION_UNITS, size=k, replace=False).tolist())
        if not any(set(p) <= aus for p in PROTOTYPES.values()):
            return tuple(sorted(aus))


def action_units_for(label: str, rng: np.random.Generator) -> tuple[str, ...]:
    """The AUs of one sample of ``label``: its prototype with one AU sometimes missing (people
    rarely show the full prototype), or, for ``others``/``other``, a mixture that is no
    emotion's (:func:`_other_mixture`)."""
    if "+" in label:  # 4DME's multi-label clips show each emotion's AUs
        parts = [action_units_for(part, rng) for part in label.split("+")]
        return tuple(dict.fromkeys(a for p in parts for a in p))
    if label in SMIC_CLASSES:
        label = str(rng.choice(SMIC_CLASSES[label]))
    if label not in PROTOTYPES:
        return _other_mixture(rng)
    aus = PROTOTYPES[label]
    if len(aus) > 2 and rng.random() < 0.3:
        drop = int(rng.integers(len(aus)))
        aus = aus[:drop] + aus[drop + 1 :]
    return aus


def au_vectors(
    aus: tuple[str, ...],
    n_points: int = 68,
    rng: np.random.Generator | None = None,
    gains: dict[str, float] | None = None,
) -> np.ndarray:
    """(68, 2) landmark displacement directions (face-width units, before rescaling);
    ``gains``: a subject's own strength per AU (its expression style)."""
    vec = np.zeros((n_points, 2), np.float32)
    for au in aus:
        weight = 1.0 if rng is None else rng.uniform(0.6, 1.0)
        weight *= 1.0 if gains is None else gains.get(au, 1.0)
        for idx, (dx, dy) in _AU[au]:
            vec[list(idx)] += weight * np.array([dx, dy], np.float32)
    return vec


def expression_field(
    landmarks: np.ndarray,
    aus: tuple[str, ...],
    shape: tuple[int, int],
    peak_px: float,
    rng: np.random.Generator | None = None,
    gains: dict[str, float] | None = None,
) -> np.ndarray:
    """(H, W, 2) forward displacement of ``aus`` at full intensity: the largest landmark moves by
    exactly ``peak_px`` pixels."""
    face_width = float(np.linalg.norm(landmarks[16] - landmarks[0]))
    vec = au_vectors(aus, len(landmarks), rng, gains) * face_width
    field = gaussian_field(landmarks, vec, shape, sigma=0.09 * face_width, ridge=0.3)
    moved = np.linalg.norm(sample_field(field, landmarks), axis=1).max()
    return field * (peak_px / moved) if moved > 0 else field


def envelope(n: int, onset: int, apex: int, offset: int) -> np.ndarray:
    """Intensity over ``n`` frames: 0 before onset, a raised-cosine rise to 1 at apex, a
    raised-cosine fall to 0 at offset, 0 after (indices are 0-based)."""
    t = np.arange(n, dtype=np.float32)
    a = np.zeros(n, np.float32)
    rise = (t >= onset) & (t <= apex)
    a[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - onset) / max(apex - onset, 1))
    fall = (t > apex) & (t <= offset)
    a[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - apex) / max(offset - apex, 1))
    return a
