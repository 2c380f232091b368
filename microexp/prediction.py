"""``microexp predict``: class probabilities for a new video or folder of frames.

The model's run directory tells how to pre-process: ``RUN_DIR/config.json`` (written by
``microexp reproduce`` beside ``model.keras``) holds the recipe and the class names. Steps:
read the clip -> find the face (dlib) -> spot onset and apex unless given
(:mod:`microexp.preprocess.spot`) -> the recipe's pre-processing (the same functions the cache
uses) -> the model.

Paper B's recipe uses the onset and apex frames. Paper A's uses the frames from onset to offset
(default: the whole clip), TIM-interpolated, with EVM for fine-tuned (micro) models; the
unshifted centre crop is fed, as in LOSO testing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import MicroexpError
from .preprocess import (
    ATSCNNRecipe,
    LBPTOPRecipe,
    S3DRecipe,
    SampleExcluded,
    atscnn_tensors,
    read_clip,
    recipe_from_dict,
    s3d_tensors,
    spot_apex,
)

#: frame rate assumed for a folder of frames when none is given (CASME II's), used by EVM
DEFAULT_FPS = 200.0


@dataclass
class Prediction:
    """Class probabilities for one clip; frame indices are 0-based in the clip's order."""

    source: str
    model: str
    classes: list[str]
    probabilities: list[float]
    predicted: str
    onset: int
    apex: int
    offset: int
    spotted: bool  # apex found by :func:`spot_apex` (False: given)
    fps: float
    frames: int

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        how = "spotted: largest flow magnitude from the onset" if self.spotted else "given"
        out = [
            f"{self.source}: {self.frames} frames; onset {self.onset}, apex {self.apex} ({how}), offset {self.offset}"
        ]
        order = np.argsort(self.probabilities)[::-1]
        out += [f"  {self.classes[i]:<12} {self.probabilities[i]:.3f}" for i in order]
        out.append(f"predicted: {self.predicted}")
        return out


def _model_config(model_path: Path) -> dict:
    path = model_path.parent / "config.json"
    if not path.is_file():
        raise MicroexpError(
            f"{path}: missing; expected the config.json that `microexp reproduce` writes beside model.keras"
        )
    config = json.loads(path.read_text())
    if "recipe" not in config or "classes" not in config:
        raise MicroexpError(f"{path}: expected 'recipe' and 'classes' (a reproduce run's config)")
    return config


def _frame(value: int | None, n: int, what: str) -> int | None:
    if value is None:
        return None
    if not -n <= value < n:
        raise MicroexpError(f"--{what} {value}: the clip has {n} frames (0-{n - 1})")
    return value % n


def predict(
    model: str | os.PathLike,
    source: str | os.PathLike,
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    fps: float | None = None,
) -> Prediction:
    """Pre-process ``source`` (video file or frame folder) with the recipe of the run that
    trained ``model`` and return its class probabilities."""
    model_path = Path(model)
    if not model_path.is_file():
        raise MicroexpError(f"{model_path}: no such model file (expected RUN_DIR/model.keras)")
    config = _model_config(model_path)
    recipe = recipe_from_dict(config["recipe"])
    if isinstance(recipe, LBPTOPRecipe):
        raise MicroexpError(f"{model_path}: LBP-TOP runs keep no Keras model to predict with")
    frames, clip_fps, _ = read_clip(source, fps)
    n = len(frames)
    onset = _frame(onset, n, "onset") or 0
    offset = _frame(offset, n, "offset")
    offset = n - 1 if offset is None else offset
    apex = _frame(apex, n, "apex")
    if not onset < offset:
        raise MicroexpError(f"onset {onset} must come before offset {offset}")
    what = f"{source} frame {onset}"
    try:
        spotted = apex is None
        if spotted:
            apex = spot_apex(frames[: offset + 1], onset, recipe.face, what=what).apex
        if isinstance(recipe, ATSCNNRecipe):
            tensors = atscnn_tensors(frames[onset], frames[apex], recipe, what=what)
        else:
            assert isinstance(recipe, S3DRecipe)
            micro = config.get("stage") != "pretrain"
            x = s3d_tensors(
                frames[onset : offset + 1], recipe, micro, clip_fps or DEFAULT_FPS, what=what
            )
            tensors = {"x": x[0]}
    except SampleExcluded as e:
        raise MicroexpError(str(e)) from None
    probs = _probabilities(model_path, tensors)
    classes = list(config["classes"])
    if len(probs) != len(classes):
        raise MicroexpError(
            f"{model_path}: {len(probs)} outputs but {len(classes)} classes in its config.json"
        )
    return Prediction(
        str(source),
        str(model_path),
        classes,
        [round(float(p), 5) for p in probs],
        classes[int(np.argmax(probs))],
        onset,
        int(apex),
        offset,
        spotted,
        float(clip_fps or DEFAULT_FPS),
        n,
    )


def _probabilities(model_path: Path, tensors: dict[str, np.ndarray]) -> np.ndarray:
    import keras

    from . import layers  # noqa: F401  (registers the custom layers for loading)
    from .models import input_key

    try:
        model = keras.models.load_model(model_path, compile=False)
    except (ValueError, OSError) as e:
        raise MicroexpError(f"{model_path}: not a loadable Keras model ({e})") from None
    x = tensors[input_key(model)].astype(np.float32)[None]
    want = tuple(model.inputs[0].shape[1:])
    if tuple(x.shape[1:]) != want:
        raise MicroexpError(
            f"{model_path}: expects input {want}, the recipe in config.json gave {x.shape[1:]}"
        )
    return np.asarray(model.predict(x, verbose=0))[0]


__all__ = ["DEFAULT_FPS", "Prediction", "predict"]
