"""dlib's face detector and 68-landmark predictor, loaded once per process.

The model file comes from the ``face-recognition-models`` package; dlib from the ``dlib-bin``
wheel. Shared by the synthetic generator and the face-crop step.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _models():
    import dlib
    import face_recognition_models

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(face_recognition_models.pose_predictor_model_location()),
    )


def detect_landmarks(gray: np.ndarray, upsample: int = 1) -> np.ndarray | None:
    """68 landmarks, float32 (68, 2) as (x, y) pixels, of the largest face dlib finds in a uint8
    grayscale image; ``None`` when it finds none. ``upsample`` doubles the image that many times
    before detection (dlib's detector needs faces of about 80 px, 40 px with one upsampling)."""
    import dlib

    detector, predictor = _models()
    img = np.ascontiguousarray(
        gray if gray.dtype == np.uint8 else np.clip(gray, 0, 255).astype(np.uint8)
    )
    faces = detector(img, upsample)
    if len(faces) == 0:
        return None
    face = max(faces, key=lambda r: r.width() * r.height())
    shape = predictor(img, dlib.rectangle(face.left(), face.top(), face.right(), face.bottom()))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
