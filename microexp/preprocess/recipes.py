"""The two papers' pre-processing chains as typed, hashable recipes.

``sample_tensors(sample, recipe)`` returns one sample's tensors exactly as the cache stores them;
training, notebooks and prediction on a new video all go through it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import get_args, get_origin, get_type_hints

import numpy as np

from ..datasets import Sample
from ..errors import MicroexpError, is_int, unknown_name
from .augment import cut_shifts, minmax, shifts, standardise
from .face import Box, align_eyes, crop, landmark_box, landmarks_or_exclude
from .flow import FLOW_BACKENDS, KERAS_FLOW_BACKENDS, TVL1Params, optical_strain, tvl1_flows
from .frames import SampleExcluded, read_frames, to_float_gray
from .interpolate import interpolate
from .lbptop import lbp_top
from .magnify import EVMParams, magnify

#: bump when a change to the code (not to a parameter) changes what a recipe produces
PIPELINE_VERSION = 1
#: the largest face size in px a recipe accepts
MAX_SIZE = 1024
#: the dtypes a cache may store tensors in
DTYPES = ("float16", "float32")


def resolve_flow_backend(name: str) -> str:
    """A flow backend as given; ``auto``: the active Keras backend's (``tf``, ``jax`` or
    ``torch``) when it sees a GPU, else ``cv2`` (Keras, and with it only its backend's
    framework, is imported only to answer that)."""
    if name != "auto":
        return name
    from .. import backend

    return KERAS_FLOW_BACKENDS[backend.name()] if backend.gpu_count() > 0 else "cv2"


@dataclass(frozen=True)
class S3DRecipe:
    """Paper A: face box on the first frame, EVM on micro samples, TIM to 11 frames, TV-L1
    between adjacent frames (10 flows), u/v/strain, 9 shifted crops, 96x96, standardised.

    Output ``x``: float (9, size, size, frames - 1, 3), crops in :func:`shifts` order (index 0
    unshifted), channels u, v, strain. Paper A is silent on the order of crop, EVM and TIM; we
    crop first (EVM and TIM then work on the face window only), then magnify, then interpolate.
    Flow vectors are rescaled with the resize, so u and v are in pixels of the 96x96 grid.
    """

    name: str = field(default="s3d", init=False)
    frames: int = 11
    size: int = 96
    shift: int = 10
    magnify_micro: bool = True
    evm: EVMParams = EVMParams()
    tvl1: TVL1Params = TVL1Params()
    route: str = "once"  # "once": flow on one window, 9 crops cut out; "separate": 9 flows
    face: str = "dlib"  # or "precropped": the frames are already the face
    normalise: str = "standardise"  # or "minmax" or "none"
    dtype: str = "float16"
    macro_datasets: tuple[str, ...] = ("ckplus",)
    flow_backend: str = "cv2"  # or "tf", "jax", "torch" (tvl1_keras); part of the cache key

    def validate(self) -> None:
        _check(self.flow_backend, FLOW_BACKENDS, "flow backend")
        _check(self.route, ("once", "separate"), "flow route")
        _check(self.face, ("dlib", "precropped"), "face source")
        _check(self.normalise, ("standardise", "minmax", "none"), "normalisation")
        _check(self.dtype, DTYPES, "tensor dtype")
        if not (2 <= self.frames <= 1000 and 8 <= self.size <= MAX_SIZE and self.shift >= 0):
            raise MicroexpError(
                f"s3d recipe: frames 2-1000, size 8-{MAX_SIZE}, shift >= 0 (got {self})"
            )


@dataclass(frozen=True)
class ATSCNNRecipe:
    """Paper B: onset and apex only, eyes levelled, 128x128 grey, TV-L1 onset -> apex.

    Output ``x``: float (size, size, 3) = u, v, strain (the three streams' inputs), and
    ``apex``: float (size, size, 1) grey apex in [0, 1] (the "grayscale apex only" ablation).
    Paper B names no normalisation; per-sample standardisation is our default.
    """

    name: str = field(default="atscnn", init=False)
    size: int = 128
    margin: float = 1.1
    tvl1: TVL1Params = TVL1Params()
    face: str = "dlib"
    normalise: str = "standardise"
    dtype: str = "float16"
    flow_backend: str = "cv2"  # or "tf", "jax", "torch"; part of the cache key

    def validate(self) -> None:
        _check(self.flow_backend, FLOW_BACKENDS, "flow backend")
        _check(self.face, ("dlib", "precropped"), "face source")
        _check(self.normalise, ("standardise", "minmax", "none"), "normalisation")
        _check(self.dtype, DTYPES, "tensor dtype")
        if not 8 <= self.size <= MAX_SIZE or not self.margin > 0:
            raise MicroexpError(
                f"atscnn recipe: size 8-{MAX_SIZE} and margin > 0 "
                f"(got size {self.size}, margin {self.margin})"
            )

    def pair_tensors(self, onset: np.ndarray, apex: np.ndarray, what: str) -> dict:
        """The tensors of one onset and apex frame, as ``microexp predict`` needs them."""
        return atscnn_tensors(onset, apex, self, what)


@dataclass(frozen=True)
class LBPTOPRecipe:
    """The handcrafted baseline beside paper A's Table 2: paper A's face box on the first frame,
    resized to ``size`` px, TIM to ``frames`` frames, then LBP-TOP (CASME II baseline: 5 x 5
    blocks, radii (1, 1, 4), 4 neighbours). Output ``x``: float32 (1200,) by default. The
    resize and TIM lengths are our choices (the baseline paper's exact ones are not in SPEC)."""

    name: str = field(default="lbptop", init=False)
    size: int = 96
    frames: int = 11
    blocks: tuple[int, int] = (5, 5)
    radii: tuple[float, float, float] = (1, 1, 4)
    points: int = 4
    face: str = "dlib"

    def validate(self) -> None:
        _check(self.face, ("dlib", "precropped"), "face source")
        if self.frames <= 2 * self.radii[2]:
            raise MicroexpError(f"lbptop recipe: frames must exceed 2 x Rt = {2 * self.radii[2]}")
        if not 8 <= self.size <= MAX_SIZE or min(self.blocks) < 1 or self.points < 1:
            raise MicroexpError(
                f"lbptop recipe: size 8-{MAX_SIZE}, blocks >= 1, points >= 1 (got {self})"
            )
        if min(self.radii) <= 0:
            raise MicroexpError(f"lbptop recipe: radii > 0 (got {self.radii})")


Recipe = S3DRecipe | ATSCNNRecipe | LBPTOPRecipe
#: recipe name -> its class; :func:`register_recipe_class` adds one
RECIPES: dict[str, type] = {"s3d": S3DRecipe, "atscnn": ATSCNNRecipe, "lbptop": LBPTOPRecipe}


def register_recipe_class(cls: type) -> type:
    """Register a new pre-processing recipe (usable as a class decorator). ``cls``: a frozen
    dataclass with ``name: str = field(default=NAME, init=False)``, a default for every
    parameter, ``validate()`` (a one-line :class:`MicroexpError` for a bad value) and
    ``tensors(sample) -> {key: array}``: one sample's tensors as the cache stores them
    (raise :class:`~microexp.preprocess.SampleExcluded` with the reason for an unusable
    sample); optionally ``pair_tensors(onset, apex, what)``, the same from two frames, which
    ``microexp predict`` uses. The class must live in an importable module: the cache's worker processes
    compute with it. Its parameters hash into its cache folder like the papers' recipes."""
    if not is_dataclass(cls) or not isinstance(getattr(cls, "name", None), str):
        raise MicroexpError(f"{cls!r}: a recipe is a dataclass with a name field")
    for method in ("validate", "tensors"):
        if not callable(getattr(cls, method, None)):
            raise MicroexpError(f"recipe {cls.name!r} has no {method}() method")
    if cls.name in RECIPES:
        raise MicroexpError(f"recipe {cls.name!r} is already registered")
    RECIPES[cls.name] = cls
    return cls


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise unknown_name(what, value, allowed)


def get_recipe(name: str, **overrides: object) -> Recipe:
    """Recipe ``name`` with its papers' defaults; ``overrides`` set top-level fields."""
    if name not in RECIPES:
        raise unknown_name("recipe", name, tuple(RECIPES))
    cls = RECIPES[name]
    allowed = {f.name for f in fields(cls) if f.init}
    bad = sorted(set(overrides) - allowed)
    if bad:
        raise MicroexpError(
            f"recipe {name!r} has no parameter {bad[0]!r}; it has {', '.join(sorted(allowed))}"
        )
    hints = get_type_hints(cls)
    overrides = {k: _typed(name, k, v, hints[k]) for k, v in overrides.items()}
    if "flow_backend" in overrides:  # "auto" is resolved here, so the message names it too
        _check(str(overrides["flow_backend"]), (*FLOW_BACKENDS, "auto"), "flow backend")
    if overrides.get("flow_backend") == "auto":
        overrides = {**overrides, "flow_backend": resolve_flow_backend("auto")}
    recipe = replace(cls(), **overrides)
    recipe.validate()
    return recipe


def _typed(recipe: str, key: str, value: object, hint: object) -> object:
    """``value`` checked against the parameter's annotation ``hint`` (a list where a tuple is
    expected becomes one; a JSON object of fields becomes the parameter set; an integral
    number where an integer is expected becomes one; an int stays an int where a float is
    expected, so stored recipes keep their hash), else a one-line error naming it."""
    args = get_args(hint)
    if get_origin(hint) is tuple and isinstance(value, list | tuple):
        items = args[:1] * len(value) if args[1:] == (Ellipsis,) else args
        if len(items) == len(value):
            return tuple(_typed(recipe, key, v, h) for v, h in zip(value, items, strict=True))
    elif is_dataclass(hint):
        if isinstance(value, hint):
            return value
        inner = get_type_hints(hint)
        if isinstance(value, dict) and set(value) <= set(inner):
            return hint(**{k: _typed(recipe, f"{key}.{k}", v, inner[k]) for k, v in value.items()})
    elif isinstance(value, bool) or hint is bool:
        if isinstance(value, bool) and hint is bool:
            return value
    elif hint is float and isinstance(value, int | float):
        return value
    elif hint is int and (is_int(value) or isinstance(value, float) and value.is_integer()):
        return int(value)
    elif isinstance(hint, type) and isinstance(value, hint):
        return value
    raise MicroexpError(f"recipe {recipe!r} parameter {key}={value!r}: expected {_kind(hint)}")


def _kind(hint: object) -> str:
    if is_dataclass(hint):
        return f"a JSON object of some of {', '.join(f.name for f in fields(hint))}"
    args = get_args(hint)
    if get_origin(hint) is tuple:
        return "a list" if args[1:] == (Ellipsis,) else f"a list of {len(args)}"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "text"}
    return names.get(hint, str(hint))


def recipe_from_dict(d: dict) -> Recipe:
    """The recipe stored as ``asdict(recipe)`` in a run's or cache's config (JSON turns tuples
    into lists and nested parameter sets into dicts)."""
    d = dict(d)
    name = d.pop("name", None)
    if name not in RECIPES:
        raise unknown_name("recipe", str(name), tuple(RECIPES))
    return get_recipe(name, **d)  # lists and objects are typed there


def recipe_dict(recipe: Recipe) -> dict:
    """``asdict(recipe)``, without ``flow_backend`` when it is the default ``cv2``: caches and
    runs made before the Keras backends existed keep their keys, and a ``tf``, ``jax`` or
    ``torch`` cache gets its own."""
    d = asdict(recipe)
    if d.get("flow_backend") == "cv2":
        del d["flow_backend"]
    return d


def recipe_config(recipe: Recipe) -> dict:
    """Every parameter, nested, plus the pipeline version: what the cache key hashes."""
    return {"recipe": recipe_dict(recipe), "pipeline_version": PIPELINE_VERSION}


def recipe_key(recipe: Recipe) -> str:
    """sha256 of :func:`recipe_config`: a changed parameter gives another cache folder."""
    blob = json.dumps(recipe_config(recipe), sort_keys=True, default=list).encode()
    return hashlib.sha256(blob).hexdigest()


# ------------------------------------------------------------------------------------ paper A


def _normalise(x: np.ndarray, how: str, axes: tuple[int, ...] | None = None) -> np.ndarray:
    if how == "standardise":
        return standardise(x, axes)
    if how == "minmax":
        return minmax(x)
    return x.astype(np.float32)


def _resize_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 2) flow -> (size, size, 2), vectors rescaled to the new grid's pixels."""
    import cv2

    h, w = flow.shape[:2]
    out = cv2.resize(
        flow, (size, size), interpolation=cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
    )
    return out * np.array([size / w, size / h], np.float32)


def flow_sequence(frames: np.ndarray, tvl1: TVL1Params, backend: str = "cv2") -> np.ndarray:
    """(T, H, W) frames -> (T - 1, H, W, 3): TV-L1 between adjacent frames, u, v and strain."""
    return window_flows([frames], tvl1, backend)[0]


def window_flows(
    windows: Sequence[np.ndarray], tvl1: TVL1Params, backend: str = "cv2"
) -> list[np.ndarray]:
    """Every window's adjacent-frame flows with strain: (T, H, W) -> (T - 1, H, W, 3) each.

    A Keras backend (``tf``, ``jax``, ``torch``) computes the pairs of all windows of one size
    in one batched call (a sample's 9 crops, or the onset->apex pairs of many samples); a
    pair's flow does not depend on the others in its batch. ``cv2`` computes pair by pair."""
    pairs = [len(w) - 1 for w in windows]
    flows: list[np.ndarray | None] = [None] * len(windows)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, w in enumerate(windows):
        groups.setdefault(tuple(np.shape(w)[1:]), []).append(i)
    for members in groups.values():
        prev = np.concatenate([windows[i][:-1] for i in members])
        nxt = np.concatenate([windows[i][1:] for i in members])
        out = tvl1_flows(prev, nxt, tvl1, backend)
        cuts = np.cumsum([pairs[i] for i in members])[:-1]
        for i, part in zip(members, np.split(out, cuts), strict=True):
            flows[i] = np.stack(
                [np.concatenate([f, optical_strain(f)[..., None]], -1) for f in part]
            )
    return flows


def _resize_channels(seq: np.ndarray, size: int) -> np.ndarray:
    """(T, h, w, 3) u/v/strain -> (size, size, T, 3)."""
    import cv2

    out = []
    for f in seq:
        uv = _resize_flow(f[..., :2], size)
        strain = cv2.resize(f[..., 2], (size, size), interpolation=cv2.INTER_AREA)
        out.append(np.concatenate([uv, strain[..., None]], axis=-1))
    return np.stack(out, axis=2)


def _s3d_window(
    frames: np.ndarray, box: Box, recipe: S3DRecipe, micro: bool, fps: float
) -> np.ndarray:
    win = to_float_gray(crop(frames, box))
    if micro and recipe.magnify_micro:
        if not fps > 0:  # nan: a dataset whose frame rate no file states (4DME)
            raise SampleExcluded("frame rate unknown (pass fps= to the loader): EVM needs it")
        win = magnify(win, recipe.evm.alpha, fps=fps, params=recipe.evm)
    return interpolate(win, recipe.frames)


@dataclass(frozen=True)
class Pending:
    """A sample's frames made ready for optical flow: the (T, H, W) windows whose adjacent
    pairs need a flow, and what the finishing step needs besides them."""

    windows: tuple[np.ndarray, ...]
    extra: dict = field(default_factory=dict)


def s3d_prepare(
    frames: np.ndarray, recipe: S3DRecipe, micro: bool, fps: float, what: str = "frame 0"
) -> Pending:
    """Paper A up to the flows: face box, the window(s) cropped, magnified and interpolated;
    one grown window (route ``once``) or the 9 shifted ones (``separate``)."""
    box = _face_box(frames, recipe.face, what)
    if recipe.route == "once":
        windows = (_s3d_window(frames, box.grow(recipe.shift), recipe, micro, fps),)
    else:
        windows = tuple(
            _s3d_window(frames, box.shift(dx, dy), recipe, micro, fps)
            for dx, dy in shifts(recipe.shift)
        )
    return Pending(windows, {"height": box.height, "width": box.width})


def s3d_finish(pending: Pending, flows: Sequence[np.ndarray], recipe: S3DRecipe) -> dict:
    """Paper A after the flows: the 9 crops, resized and normalised, (9, size, size, T-1, 3)."""
    if recipe.route == "once":
        crops = cut_shifts(flows[0], pending.extra["height"], pending.extra["width"], recipe.shift)
    else:
        crops = np.stack(flows)
    x = np.stack([_resize_channels(c, recipe.size) for c in crops])
    x = np.stack([_normalise(c, recipe.normalise) for c in x])
    return {"x": x.astype(recipe.dtype)}


def s3d_tensors(
    frames: np.ndarray, recipe: S3DRecipe, micro: bool, fps: float, what: str = "frame 0"
) -> np.ndarray:
    """Paper A's tensor from a clip's frames (T, H, W[, C]): (9, size, size, frames-1, 3)."""
    pending = s3d_prepare(frames, recipe, micro, fps, what)
    return s3d_finish(
        pending, window_flows(pending.windows, recipe.tvl1, recipe.flow_backend), recipe
    )["x"]


# ------------------------------------------------------------------------------------ paper B


def atscnn_prepare(
    onset: np.ndarray, apex: np.ndarray, recipe: ATSCNNRecipe, what: str = "onset"
) -> Pending:
    """Paper B up to the flow: the onset and apex frames aligned (one window of 2 frames)."""
    import cv2

    pair = to_float_gray(np.stack([onset, apex]))
    if recipe.face == "precropped":
        aligned = np.stack(
            [cv2.resize(f, (recipe.size, recipe.size), interpolation=cv2.INTER_AREA) for f in pair]
        )
    else:
        lm = landmarks_or_exclude(pair[0], what)
        aligned = align_eyes(pair, lm, recipe.size, recipe.margin)
    return Pending((aligned,))


def atscnn_finish(pending: Pending, flows: Sequence[np.ndarray], recipe: ATSCNNRecipe) -> dict:
    """Paper B after the flow: u, v, strain normalised, and the apex image."""
    return {
        "x": _normalise(flows[0][0], recipe.normalise).astype(recipe.dtype),
        "apex": (pending.windows[0][1][..., None] / 255.0).astype(recipe.dtype),
    }


def atscnn_tensors(
    onset: np.ndarray, apex: np.ndarray, recipe: ATSCNNRecipe, what: str = "onset"
) -> dict[str, np.ndarray]:
    """Paper B's tensors from the onset and apex frames ((H, W) or (H, W, C))."""
    pending = atscnn_prepare(onset, apex, recipe, what)
    return atscnn_finish(
        pending, window_flows(pending.windows, recipe.tvl1, recipe.flow_backend), recipe
    )


def _face_box(frames: np.ndarray, face: str, what: str) -> Box:
    if face == "precropped":
        return Box(0, 0, frames.shape[2], frames.shape[1])
    return landmark_box(landmarks_or_exclude(frames[0], what))


def lbptop_features(frames: np.ndarray, recipe: LBPTOPRecipe, what: str = "frame 0") -> np.ndarray:
    """LBP-TOP feature vector of a clip's frames (T, H, W[, C])."""
    import cv2

    box = _face_box(frames, recipe.face, what)
    win = to_float_gray(crop(frames, box))
    win = np.stack(
        [cv2.resize(f, (recipe.size, recipe.size), interpolation=cv2.INTER_AREA) for f in win]
    )
    return lbp_top(interpolate(win, recipe.frames), recipe.blocks, recipe.radii, recipe.points)


# ------------------------------------------------------------------------------------ samples


def sample_tensors(sample: Sample, recipe: Recipe) -> dict[str, np.ndarray]:
    """One sample's tensors exactly as the cache stores them.

    Raises:
        SampleExcluded: the sample cannot be used (no face, missing apex, unreadable frame); the
            message is the reason.
    """
    if isinstance(recipe, LBPTOPRecipe):
        return {
            "x": lbptop_features(read_frames(sample), recipe, str(sample.frame_path(sample.onset)))
        }
    if not isinstance(recipe, S3DRecipe | ATSCNNRecipe):  # a registered recipe computes its own
        return recipe.tensors(sample)
    pending = prepare_sample(sample, recipe)
    return finish_sample(
        pending, window_flows(pending.windows, recipe.tvl1, recipe.flow_backend), recipe
    )


def prepare_sample(sample: Sample, recipe: S3DRecipe | ATSCNNRecipe) -> Pending:
    """A sample's frames read and made ready for optical flow (:func:`sample_tensors` is
    prepare, :func:`window_flows`, :func:`finish_sample`; the cache builder batches the middle
    step across samples for the Keras flow backends). Raises :class:`SampleExcluded`."""
    what = str(sample.frame_path(sample.onset))
    if isinstance(recipe, S3DRecipe):
        micro = sample.dataset not in recipe.macro_datasets
        return s3d_prepare(read_frames(sample), recipe, micro, sample.fps, what)
    if sample.apex is None:
        raise SampleExcluded("no apex frame annotated (paper B needs onset and apex)")
    onset, apex = read_frames(sample, [sample.onset, sample.apex])
    return atscnn_prepare(onset, apex, recipe, what)


def finish_sample(
    pending: Pending, flows: Sequence[np.ndarray], recipe: S3DRecipe | ATSCNNRecipe
) -> dict[str, np.ndarray]:
    """A prepared sample's tensors from its windows' flows (:func:`window_flows`)."""
    if isinstance(recipe, S3DRecipe):
        return s3d_finish(pending, flows, recipe)
    return atscnn_finish(pending, flows, recipe)
