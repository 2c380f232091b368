"""Synthetic identities: one real photograph, morphed into distinct subjects.

The template is scikit-image's ``astronaut`` (a public-domain NASA portrait shipped with the
package), whose 68 landmarks dlib finds once. A subject is that face with its landmarks moved
(face width, eye spacing, nose length, mouth width, brow height, jaw), its skin tone, lighting,
head pose and scale changed; sensor noise is added per frame by the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..landmarks import detect_landmarks

#: landmark groups of the 68-point (iBUG 300-W) scheme
JAW = range(0, 17)
BROW_R, BROW_L = range(17, 22), range(22, 27)
NOSE_BRIDGE, NOSE_BASE = range(27, 31), range(31, 36)
EYE_R, EYE_L = range(36, 42), range(42, 48)
MOUTH = range(48, 68)


@dataclass(frozen=True)
class Template:
    image: np.ndarray  # float32 (H, W, 3) RGB in [0, 255]
    landmarks: np.ndarray  # float32 (68, 2) x, y


@lru_cache(maxsize=1)
def template() -> Template:
    """The astronaut portrait, cropped around her face, with dlib's landmarks."""
    import cv2
    from skimage import data

    rgb = data.astronaut()
    pts = detect_landmarks(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    if pts is None:  # pragma: no cover - the shipped photograph always has its face
        raise RuntimeError("dlib found no face in skimage.data.astronaut()")
    return Template(rgb.astype(np.float32), pts)


def gaussian_field(
    points: np.ndarray,
    vectors: np.ndarray,
    shape: tuple[int, int],
    sigma: float,
    ridge: float = 1.0,
) -> np.ndarray:
    """Smooth dense displacement (H, W, 2), in pixels, that moves each landmark by its vector.

    Gaussian radial basis regression: weights ``w`` solve ``(K + ridge I) w = v`` with
    ``K_ij = exp(-|p_i - p_j|^2 / (2 sigma^2))``. Landmarks move close to their vectors (a
    landmark with a zero vector stays nearly put), the ridge keeps the field smooth between
    neighbouring landmarks with different vectors, and it fades to zero away from the face.
    Callers that need an exact amplitude rescale by :func:`sample_field` at the landmarks.
    """
    pts = np.asarray(points, np.float64)
    d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    k = np.exp(-d2 / (2 * sigma**2)) + ridge * np.eye(len(pts))
    weights = np.linalg.lstsq(k, np.asarray(vectors, np.float64), rcond=None)[0].astype(np.float32)
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.zeros((h, w, 2), np.float32)
    for (px, py), wt in zip(pts.astype(np.float32), weights, strict=True):
        if abs(wt[0]) + abs(wt[1]) < 1e-9:
            continue
        g = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2))
        field[..., 0] += wt[0] * g
        field[..., 1] += wt[1] * g
    return field


def sample_field(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear sample of a (H, W, 2) field at (N, 2) points."""
    import cv2

    pts = points.astype(np.float32).reshape(1, -1, 2)
    out = [
        cv2.remap(
            field[..., c],
            pts[..., 0],
            pts[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        for c in range(2)
    ]
    return np.stack([o.reshape(-1) for o in out], axis=1)


def warp(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Move image content by the forward field: out(x) = image(x - field(x)) (small motions)."""
    import cv2

    h, w = field.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(
        image,
        (xs - field[..., 0]).astype(np.float32),
        (ys - field[..., 1]).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )


@dataclass(frozen=True)
class Identity:
    """One synthetic subject in its neutral pose."""

    image: np.ndarray  # float32 (H, W, 3) in [0, 255]
    landmarks: np.ndarray  # float32 (68, 2)

    @property
    def face_width(self) -> float:
        """Jaw width in pixels (landmarks 0 to 16)."""
        return float(np.linalg.norm(self.landmarks[16] - self.landmarks[0]))


def make_identity(rng: np.random.Generator, face_px: int, canvas: tuple[int, int]) -> Identity:
    """A distinct subject: shape morph, skin tone, illumination, small pose and scale change.

    Args:
        rng: the subject's random generator.
        face_px: the jaw width (landmark 0 to 16) of the neutral face, in pixels.
        canvas: (height, width) of the frames.
    """
    import cv2

    tpl = template()
    pts = tpl.landmarks
    width0 = float(np.linalg.norm(pts[16] - pts[0]))
    centre = pts.mean(axis=0)

    # 1. shape: move landmark groups on the template, spread by a smooth Gaussian field
    vec = np.zeros_like(pts)
    s = width0
    vec[list(JAW)] += (pts[list(JAW)] - centre) * rng.uniform(-0.12, 0.12)  # face width/length
    eye_dx = rng.uniform(-0.05, 0.05) * s
    vec[list(EYE_R) + list(BROW_R), 0] -= eye_dx
    vec[list(EYE_L) + list(BROW_L), 0] += eye_dx
    vec[list(BROW_R) + list(BROW_L), 1] += rng.uniform(-0.05, 0.05) * s
    vec[list(NOSE_BASE), 1] += rng.uniform(-0.05, 0.05) * s
    mouth_c = pts[list(MOUTH)].mean(axis=0)
    vec[list(MOUTH)] += (pts[list(MOUTH)] - mouth_c) * rng.uniform(-0.15, 0.15)
    vec[list(MOUTH), 1] += rng.uniform(-0.02, 0.02) * s
    vec[list(JAW)[5:12], 1] += rng.uniform(-0.06, 0.06) * s  # chin
    field = gaussian_field(pts, vec, tpl.image.shape[:2], sigma=0.15 * s)
    image = warp(tpl.image, field)
    pts = pts + sample_field(field, pts)

    # 2. pose: rotation, scale, placement on the canvas
    h, w = canvas
    angle = rng.uniform(-4.0, 4.0)
    scale = face_px / width0 * rng.uniform(0.95, 1.05)
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    target = np.array([w / 2, h * 0.52]) + rng.uniform(-0.03, 0.03, 2) * np.array([w, h])
    m[:, 2] += target - centre
    image = cv2.warpAffine(
        image,
        m,
        (w, h),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    pts = (np.c_[pts, np.ones(len(pts))] @ m.T).astype(np.float32)

    # 3. skin tone, illumination gradient, gamma
    tone = np.clip(rng.normal(1.0, 0.08) + rng.normal(0, 0.04, 3), 0.7, 1.25).astype(np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    grad = ((xs - w / 2) * np.cos(theta) + (ys - h / 2) * np.sin(theta)) / max(h, w)
    light = 1.0 + rng.uniform(0.0, 0.5) * grad
    gamma = rng.uniform(0.85, 1.15)
    image = 255.0 * np.clip(image * tone * light[..., None] / 255.0, 0, 1) ** gamma
    return Identity(image.astype(np.float32), pts)
