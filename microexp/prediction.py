"""``microexp predict``: class probabilities for a new video or folder of frames.

The model's run directory tells how to pre-process: ``RUN_DIR/config.json`` (written by
``microexp reproduce`` beside ``model.keras``) holds the recipe and the class names. Steps:
read the clip -> find the face (dlib; the onset is the first frame that shows one unless
given) -> spot the apex unless given
(:mod:`microexp.preprocess.spot`) -> the recipe's pre-processing (the same functions the cache
uses) -> the model.

Paper B's recipe uses the onset and apex frames. Paper A's uses the frames from onset to offset
(default: the whole clip), TIM-interpolated, with EVM for fine-tuned (micro) models; the
unshifted centre crop is fed, as in LOSO testing.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import MicroexpError
from .fileio import load_keras_model, read_json
from .preprocess import (
    LBPTOPRecipe,
    S3DRecipe,
    SampleExcluded,
    read_clip,
    recipe_from_dict,
    s3d_tensors,
    spot_apex,
)

SYNTHETIC_LINE = (
    "note: this model was trained on microexp's SYNTHETIC data; its classes say nothing "
    "about real faces"
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
    synthetic_model: bool = False  # the model was trained on microexp's synthetic data
    #: where dlib found the face: its frame and the 68 landmarks' box [x0, y0, x1, y1] in
    #: pixels of that frame (None, None: the run's recipe takes frames as pre-cropped faces)
    face_frame: int | None = None
    face_box: list[int] | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        how = "spotted: largest flow magnitude from the onset" if self.spotted else "given"
        out = [
            f"{self.source}: {self.frames} frames; onset {self.onset}, apex {self.apex} ({how}), offset {self.offset}"
        ]
        if self.face_box is None:
            out.append("face: not searched (the model's recipe takes frames as cropped faces)")
        else:
            x0, y0, x1, y1 = self.face_box
            before = "; none in the frames looked at before it" if self.face_frame else ""
            out.append(
                f"face: found by dlib in frame {self.face_frame}, box x {x0}-{x1}, y {y0}-{y1} "
                f"({x1 - x0}x{y1 - y0} px){before}"
            )
        if self.synthetic_model:
            out.append(SYNTHETIC_LINE)
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
    config = read_json(path)
    if "recipe" not in config or "classes" not in config:
        raise MicroexpError(f"{path}: expected 'recipe' and 'classes' (a reproduce run's config)")
    return config


def _frame(value: int | None, n: int, what: str) -> int | None:
    if value is None:
        return None
    if not -n <= value < n:
        raise MicroexpError(f"--{what} {value}: the clip has {n} frames (0-{n - 1})")
    return value % n


class _Classifier:
    """A trained model with its run's recipe and classes, loaded once for many intervals."""

    def __init__(self, model: str | os.PathLike) -> None:
        self.path = Path(model)
        if not self.path.is_file():
            raise MicroexpError(f"{self.path}: no such model file (expected RUN_DIR/model.keras)")
        self.config = _model_config(self.path)
        self.recipe = recipe_from_dict(self.config["recipe"])
        if isinstance(self.recipe, LBPTOPRecipe):
            raise MicroexpError(f"{self.path}: LBP-TOP runs keep no Keras model to predict with")
        self.classes = list(self.config["classes"])
        self._model = None

    @property
    def face(self) -> str:
        """How the recipe finds the face: "dlib", or "precropped" (frames are faces)."""
        return getattr(self.recipe, "face", "dlib")

    @property
    def synthetic(self) -> bool:
        """Whether the run that trained the model read synthetic data (its ``data.json``)."""
        path = self.path.parent.parent.parent / "data.json"
        if self.path.parent.parent.name not in ("runs", "pretrain") or not path.is_file():
            return False  # a model copied out of its run (OUT/runs/NAME/): nothing says
        return any(isinstance(v, dict) and v.get("synthetic") for v in read_json(path).values())

    def tensors(self, frames, onset: int, apex: int, offset: int, fps: float, what: str) -> dict:
        """The recipe's tensors: from the onset and apex frames for a recipe with
        ``pair_tensors`` (ATSCNN, HTNet, a registered one that declares it), from onset to
        offset for S3D."""
        try:
            if hasattr(self.recipe, "pair_tensors"):
                return self.recipe.pair_tensors(frames[onset], frames[apex], what)
            if not isinstance(self.recipe, S3DRecipe):
                raise MicroexpError(
                    f"{self.path}: recipe {self.recipe.name!r} has no pair_tensors(onset, apex, "
                    "what), so predict cannot pre-process a clip for it"
                )
            micro = self.config.get("stage") != "pretrain"
            x = s3d_tensors(frames[onset : offset + 1], self.recipe, micro, fps, what=what)
            return {"x": x[0]}
        except SampleExcluded as e:
            raise MicroexpError(str(e)) from None

    def probabilities(self, tensors: dict) -> np.ndarray:
        if self._model is None:
            self._model = load_keras_model(self.path, compile=False)
        probs = _probabilities(self._model, self.path, tensors)
        if len(probs) != len(self.classes):
            raise MicroexpError(
                f"{self.path}: {len(probs)} outputs but {len(self.classes)} classes in its config.json"
            )
        return probs


def predict(
    model: str | os.PathLike,
    source: str | os.PathLike,
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    fps: float | None = None,
) -> Prediction:
    """Pre-process ``source`` (video file or frame folder) with the recipe of the run that
    trained ``model`` and return its class probabilities (the whole clip as one expression)."""
    return predict_any(model, source, onset, apex, offset, fps, timeline=False)


VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


def no_face_line(source, frames: np.ndarray, looked: int, start: int) -> str:
    """The one-line failure of :func:`locate_face`: what was searched, the likely causes for
    this clip, the next steps."""
    h, w = frames.shape[1:3]
    causes = []
    if min(h, w) < 160:
        causes.append(f"frames of {w}x{h} px are small for dlib (it needs a face of about 80 px)")
    if Path(str(source)).suffix.lower() in VIDEO_SUFFIXES:
        causes.append("video compression blurs the edges dlib looks for (a folder of the "
                      "original frames is read as is)")  # fmt: skip
    causes.append("a clip cropped tightly to the face (dlib needs the whole face with a margin)")
    return (
        f"no face found by dlib in {source}: looked at {looked} of its {len(frames)} frames "
        f"from frame {start}. Likely: {'; '.join(causes)}. Next: give a folder of frames "
        "instead of a compressed video, a larger or less tightly cropped clip, or --onset N at "
        "a frame where the face is plain"
    )


def locate_face(
    source, frames: np.ndarray, onset: int | None, rate: float, offset: int
) -> tuple[int, np.ndarray]:
    """The frame and dlib landmarks of the face predict uses: at ``onset`` when given (else a
    one-line error naming the first later frame that shows one), otherwise the first frame
    that shows one, looking at the first 5 frames one by one, then every 0.1 s (then back over
    the frames skipped before the hit)."""
    from .preprocess.face import face_search, find_face

    start = 0 if onset is None else onset
    order = face_search(len(frames), start, max(int(rate / 10), 1), stop=offset + 1)
    found = find_face(frames, order)
    if found is None:
        raise MicroexpError(no_face_line(source, frames, len(order), start))
    if onset is not None and found[0] != onset:
        raise MicroexpError(
            f"--onset {onset}: dlib finds no face in that frame of {source}; it finds one "
            f"first in frame {found[0]} (try --onset {found[0]})"
        )
    return found


def _single(clf, source, frames, rate: float, onset, apex, offset) -> Prediction:
    n = len(frames)
    onset = _frame(onset, n, "onset")
    offset = _frame(offset, n, "offset")
    offset = n - 1 if offset is None else offset
    if onset is not None and not onset < offset:
        raise MicroexpError(f"onset {onset} must come before offset {offset}")
    face_frame, box = None, None
    if clf.face != "precropped":
        from .preprocess.face import landmark_box

        face_frame, landmarks = locate_face(source, frames, onset, rate, offset)
        b = landmark_box(landmarks)
        onset, box = face_frame, [b.x0, b.y0, b.x1, b.y1]
    onset = 0 if onset is None else onset
    apex = _frame(apex, n, "apex")
    if not onset < offset:
        raise MicroexpError(f"onset {onset} must come before offset {offset}")
    what = f"{source} frame {onset}"
    spotted = apex is None
    if spotted:
        try:
            apex = spot_apex(frames[: offset + 1], onset, clf.face, what=what).apex
        except SampleExcluded as e:
            raise MicroexpError(str(e)) from None
    probs = clf.probabilities(clf.tensors(frames, onset, int(apex), offset, rate, what))
    return Prediction(
        str(source),
        str(clf.path),
        clf.classes,
        [round(float(p), 5) for p in probs],
        clf.classes[int(np.argmax(probs))],
        onset,
        int(apex),
        offset,
        spotted,
        rate,
        n,
        clf.synthetic,
        face_frame,
        box,
    )


@dataclass
class TimelineEntry:
    """One spotted interval: 0-based frames, seconds, its kind and the model's class."""

    onset: int
    peak: int
    offset: int
    start_s: float
    end_s: float
    kind: str
    predicted: str
    probability: float
    probabilities: list[float]


@dataclass
class Timeline:
    """The intervals spotted in a long video, each classified."""

    source: str
    model: str
    classes: list[str]
    fps: float
    frames: int
    first_face: int
    face_segments: int
    intervals: list[TimelineEntry]
    synthetic_model: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [
            f"{self.source}: {self.frames} frames at {self.fps:g} fps; face from frame "
            f"{self.first_face} ({self.face_segments} face position(s)); "
            f"{len(self.intervals)} interval(s) spotted"
        ]
        if self.synthetic_model:
            out.append(SYNTHETIC_LINE)
        for e in self.intervals:
            out.append(
                f"  {e.start_s:7.2f}-{e.end_s:7.2f} s  frames {e.onset}-{e.offset} "
                f"(peak {e.peak})  {e.kind:<5}  {e.predicted} {e.probability:.3f}"
            )
        return out


#: a clip longer than this (seconds) is read as a long video: spotted, then each interval
LONG_CLIP_S = 2.0
#: the spotter's half-lengths in seconds where the user gives none: CAS(ME)^2's MEGC k
#: (micro 6, macro 18 frames at 30 fps)
TIMELINE_K_S = {"micro": 0.2, "macro": 0.6}


def predict_timeline(
    model: str | os.PathLike,
    source: str | os.PathLike,
    fps: float | None = None,
    p: float = 0.5,
    k_s: dict[str, float] | None = None,
) -> Timeline:
    """Spot intervals in a long ``source`` (:mod:`microexp.preprocess.spotting`: face found in
    the first frame that has one, looked for again each second) and classify each with
    ``model`` (onset, peak as apex, offset). ``p``: the spotter's threshold fraction; ``k_s``:
    half-lengths in seconds per kind (default :data:`TIMELINE_K_S`)."""
    clf = _Classifier(model)
    frames, clip_fps, _ = read_clip(source, fps)
    return _timeline(clf, source, frames, float(clip_fps or DEFAULT_FPS), p, k_s)


def _timeline(clf, source, frames, rate: float, p: float, k_s) -> Timeline:
    from .preprocess.spotting import SpotParams, spot_intervals, video_scores

    if not 0 <= p <= 1:
        raise MicroexpError(f"--p {p}: expected a fraction in [0, 1]")
    ks = {kind: max(int(round(s * rate)), 1) for kind, s in (k_s or TIMELINE_K_S).items()}
    try:
        scores, track = video_scores(lambda i: frames[i], len(frames), rate, ks, what=str(source))
    except SampleExcluded as e:
        raise MicroexpError(str(e)) from None
    entries = []
    for a, peak, b, kind in spot_intervals(scores, SpotParams(k=ks, p=dict.fromkeys(ks, p))):
        a = max(a, track.first_face)
        what = f"{source} frame {a}"
        probs = clf.probabilities(clf.tensors(frames, a, max(peak, a + 1), b, rate, what))
        best = int(np.argmax(probs))
        entries.append(
            TimelineEntry(
                a,
                peak,
                b,
                round(a / rate, 3),
                round((b + 1) / rate, 3),
                kind,
                clf.classes[best],
                round(float(probs[best]), 5),
                [round(float(v), 5) for v in probs],
            )
        )
    return Timeline(
        str(source),
        str(clf.path),
        clf.classes,
        rate,
        len(frames),
        track.first_face,
        len(track.boxes),
        entries,
        clf.synthetic,
    )


def predict_any(
    model: str | os.PathLike,
    source: str | os.PathLike,
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    fps: float | None = None,
    timeline: bool | None = None,
    p: float = 0.5,
) -> Prediction | Timeline:
    """``microexp predict``: a :class:`Timeline` for a clip longer than :data:`LONG_CLIP_S`
    (or with ``timeline=True``), else one :class:`Prediction`; the clip is read once."""
    given = (onset, apex, offset) != (None, None, None)
    if timeline and given:
        raise MicroexpError("--timeline spots its own intervals: drop --onset/--apex/--offset")
    clf = _Classifier(model)
    frames, clip_fps, _ = read_clip(source, fps)
    rate = float(clip_fps or DEFAULT_FPS)
    if timeline is None:
        timeline = not given and len(frames) / rate > LONG_CLIP_S
    if timeline:
        return _timeline(clf, source, frames, rate, p, None)
    return _single(clf, source, frames, rate, onset, apex, offset)


def _input_key(config: dict) -> str:
    """The cached tensor the run's model reads, as its registry entry declares it (``x`` for a
    model this process has not registered)."""
    from .models import MODELS

    spec = MODELS.get(str(config.get("model")))
    return spec.input_key(config.get("model_args")) if spec is not None else "x"


def _probabilities(model, model_path: Path, tensors: dict[str, np.ndarray]) -> np.ndarray:
    import keras

    x = tensors[_input_key(_model_config(model_path))].astype(np.float32)[None]
    want = tuple(model.inputs[0].shape[1:])
    if tuple(x.shape[1:]) != want:
        raise MicroexpError(
            f"{model_path}: expects input {want}, the recipe in config.json gave {x.shape[1:]}"
        )
    batch = [x] if isinstance(model.input, list) else x  # the structure it was built with
    return keras.ops.convert_to_numpy(model(batch, training=False))[0]


__all__ = [
    "DEFAULT_FPS",
    "LONG_CLIP_S",
    "Prediction",
    "Timeline",
    "TimelineEntry",
    "predict_any",
    "predict",
    "predict_timeline",
]
