"""The model registry: every network by name, with its paper's reported figures beside it.

Variants are argument dicts over one builder (as timm's registry does), never copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import keras

from ..errors import MicroexpError, unknown_name
from .atscnn import build_atscnn
from .comparison import build_dual_inception, build_offapexnet, build_ststnet
from .s3d import build_s3d


@dataclass(frozen=True)
class ModelSpec:
    """A registered network: builder, its arguments, the recipe whose cache it reads, the
    number of classes it is built with by default, and the figures its paper reports."""

    builder: Callable[..., keras.Model]
    kwargs: dict = field(default_factory=dict)
    recipe: str = "atscnn"
    num_classes: int = 3
    paper: dict = field(default_factory=dict)
    note: str = ""


_TABLE3 = "paper B, Table 3 (UAR, UF1; params; FLOPs as reported; memory R+W)"
MODELS: dict[str, ModelSpec] = {
    "s3d": ModelSpec(
        build_s3d,
        {"conv": "separable"},
        "s3d",
        7,
        {
            "params": 3.37e6,
            "flops": 3.56e9,
            "loso_accuracy": 0.6758,
            "source": "paper A, Table 4 (transfer)",
        },
    ),
    "cnn2d": ModelSpec(
        build_s3d,
        {"conv": "2d"},
        "s3d",
        7,
        {"params": 3.24e6, "flops": 2.43e9, "loso_accuracy": 0.5827, "source": "paper A, Table 4"},
    ),
    "cnn3d": ModelSpec(
        build_s3d,
        {"conv": "3d"},
        "s3d",
        7,
        {"params": 3.83e6, "flops": 7.26e9, "loso_accuracy": 0.6468, "source": "paper A, Table 4"},
    ),
    "atscnn": ModelSpec(
        build_atscnn,
        {},
        "atscnn",
        3,
        {
            "params": 4.21e6,
            "macs": 19.01e6,
            "memory_mb": 20.5,
            "uar": 0.7351,
            "uf1": 0.7205,
            "source": _TABLE3,
        },
        note="paper B reports 19.01 M 'FLOPs'; they match this build's multiply-accumulates",
    ),
    "ststnet": ModelSpec(
        build_ststnet,
        {"input_size": 28},
        "atscnn",
        3,
        note="as its own paper: 28x28, no hidden dense",
    ),
    "ststnet-128": ModelSpec(
        build_ststnet,
        {"input_size": 128, "hidden_dense": True, "final_pool": "max"},
        "atscnn",
        3,
        {
            "params": 4.98e7,
            "flops": 57.45e6,
            "memory_mb": 192.98,
            "uar": 0.6603,
            "uf1": 0.6434,
            "source": _TABLE3,
        },
        note="paper B's setting: 128x128 and the public re-implementation's hidden dense layer",
    ),
    "offapexnet": ModelSpec(
        build_offapexnet,
        {"input_size": 28},
        "atscnn",
        3,
        note="as its own paper: 28x28; not in paper B's Table 3",
    ),
    "offapexnet-128": ModelSpec(
        build_offapexnet, {"input_size": 128}, "atscnn", 3, note="at paper B's 128x128"
    ),
    "dual_inception": ModelSpec(
        build_dual_inception, {"input_size": 28}, "atscnn", 3, note="as its own paper: 28x28"
    ),
    "dual_inception-128": ModelSpec(
        build_dual_inception,
        {"input_size": 128},
        "atscnn",
        3,
        {
            "params": 1.34e8,
            "flops": 264.15e6,
            "memory_mb": 546.62,
            "uar": 0.6744,
            "uf1": 0.6522,
            "source": _TABLE3,
        },
        note="paper B's setting: 128x128; its 'FLOPs' match our MACs",
    ),
}


def model_names() -> list[str]:
    return list(MODELS)


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise unknown_name("model", name, tuple(MODELS))
    return MODELS[name]


def build_model(name: str, num_classes: int | None = None, **overrides) -> keras.Model:
    """Build registered model ``name`` (``overrides`` replace its builder's arguments)."""
    spec = get_spec(name)
    return spec.builder(num_classes=num_classes or spec.num_classes, **{**spec.kwargs, **overrides})


def input_key(model: keras.Model) -> str:
    """Which cached tensor feeds ``model``: ``"apex"`` (the grey-apex ablation) or ``"x"``."""
    return "apex" if model.inputs[0].name == "apex" else "x"


def register_model(
    name: str,
    builder: Callable[..., keras.Model],
    recipe: str = "atscnn",
    num_classes: int = 3,
    paper: dict | None = None,
    **kwargs: object,
) -> ModelSpec:
    """Register a new network under ``name`` so that ``build_model``, ``reproduce --model``
    and ``models summary`` know it. ``builder(num_classes=..., **kwargs)`` must return a Keras
    model that reads ``recipe``'s tensors: ``input_size`` is passed for ``atscnn`` (input
    (size, size, 3): u, v, strain), ``input_shape`` (size, size, frames - 1, 3) for ``s3d``."""
    if name in MODELS:
        raise MicroexpError(f"model {name!r} is already registered")
    if recipe not in ("s3d", "atscnn"):
        raise unknown_name("recipe", recipe, ("s3d", "atscnn"))
    MODELS[name] = ModelSpec(builder, dict(kwargs), recipe, num_classes, dict(paper or {}))
    return MODELS[name]
