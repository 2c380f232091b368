"""The model registry: every network by name, with its paper's reported figures beside it.

Variants are argument dicts over one builder (as timm's registry does), never copies. The
declarations are readable without Keras (``microexp models`` lists them in a blink): a
built-in builder is named ``"module:function"`` and imported when a model is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import MicroexpError, unknown_name

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class ModelSpec:
    """A registered network: builder, its arguments, the recipe whose cache it reads, the
    number of classes it is built with by default, and the figures its paper reports; and,
    declared here rather than read from layer names: ``reads``, the cached tensor it takes
    (a key such as ``"x"``, or a function of its arguments), ``head``, its classifier layer
    (:func:`~microexp.models.replace_head` puts a new one on that layer's input), and
    ``blocks``, the name pattern of its blocks' layers (``"block{}_"``) for freezing, None
    where it has none."""

    builder: Callable[..., keras.Model] | str
    kwargs: dict = field(default_factory=dict)
    recipe: str = "atscnn"
    num_classes: int = 3
    paper: dict = field(default_factory=dict)
    note: str = ""
    reads: str | Callable[[dict], str] = "x"
    head: str = "head"
    blocks: str | None = None

    def input_key(self, args: dict | None = None) -> str:
        """The cached tensor the model built with ``args`` (over its own) reads."""
        if callable(self.reads):
            return self.reads({**self.kwargs, **dict(args or {})})
        return self.reads

    def build_fn(self) -> Callable[..., keras.Model]:
        """The builder; a ``"module:function"`` name (relative to ``microexp.models``) is
        imported now."""
        if callable(self.builder):
            return self.builder
        module, _, func = self.builder.partition(":")
        return getattr(importlib.import_module(module, __package__), func)

    @property
    def cite(self) -> str:
        """Where its reported figures come from, short ('' when it reports none)."""
        source = str(self.paper.get("source", ""))
        return str(self.paper.get("cite", source.split(" (")[0].split(";")[0]))


def _atscnn_reads(args: dict) -> str:
    """ATSCNN built with ``args`` reads ``apex`` (the grey apex frame) for ``streams="gray"``,
    else ``x`` (u, v, strain)."""
    return "apex" if args.get("streams") == "gray" else "x"


_TABLE3 = "paper B, Table 3 (UAR, UF1; params; torchstat FLOPs; torchstat memory R+W)"


def _table3(params: float, flops: float, memory_mb: float, uar: float, uf1: float) -> dict:
    return {
        "params": params,
        "flops": flops,
        "memory_mb": memory_mb,
        "uar": uar,
        "uf1": uf1,
        "flops_convention": "torchstat",
        "source": _TABLE3,
    }


MODELS: dict[str, ModelSpec] = {
    "s3d": ModelSpec(
        ".s3d:build_s3d",
        {"conv": "separable"},
        "s3d",
        7,
        {
            "params": 3.37e6,
            "flops": 3.56e9,
            "loso_accuracy": 0.6758,
            "flops_convention": "2xMACs",
            "source": "paper A, Table 4 (transfer)",
        },
        blocks="block{}_",
    ),
    "cnn2d": ModelSpec(
        ".s3d:build_s3d",
        {"conv": "2d"},
        "s3d",
        7,
        {
            "params": 3.24e6,
            "flops": 2.43e9,
            "loso_accuracy": 0.5827,
            "flops_convention": "2xMACs",
            "source": "paper A, Table 4",
        },
        blocks="block{}_",
    ),
    "cnn3d": ModelSpec(
        ".s3d:build_s3d",
        {"conv": "3d"},
        "s3d",
        7,
        {
            "params": 3.83e6,
            "flops": 7.26e9,
            "loso_accuracy": 0.6468,
            "flops_convention": "2xMACs",
            "source": "paper A, Table 4",
        },
        blocks="block{}_",
    ),
    "atscnn": ModelSpec(
        ".atscnn:build_atscnn",
        {},
        "atscnn",
        3,
        _table3(4.21e6, 19.01e6, 20.5, 0.7351, 0.7205),
        note="paper B's 19.01 M is the torchstat count (and, by coincidence, our MACs)",
        reads=_atscnn_reads,
    ),
    "ststnet": ModelSpec(
        ".comparison:build_ststnet",
        {"input_size": 28},
        "atscnn",
        3,
        note="as its own paper: 28x28, no hidden dense",
    ),
    "ststnet-128": ModelSpec(
        ".comparison:build_ststnet",
        {"input_size": 128, "hidden_dense": True, "final_pool": "max", "stream_activation": None},
        "atscnn",
        3,
        _table3(4.98e7, 57.45e6, 192.98, 0.6603, 0.6434),
        note="paper B's setting: 128x128, the re-implementation's hidden dense, no stream ReLU",
    ),
    "offapexnet": ModelSpec(
        ".comparison:build_offapexnet",
        {"input_size": 28},
        "atscnn",
        3,
        note="as its own paper: 28x28; not in paper B's Table 3",
    ),
    "offapexnet-128": ModelSpec(
        ".comparison:build_offapexnet",
        {"input_size": 128},
        "atscnn",
        3,
        note="at paper B's 128x128",
    ),
    "dual_inception": ModelSpec(
        ".comparison:build_dual_inception",
        {"input_size": 28},
        "atscnn",
        3,
        note="as its own paper: 28x28",
    ),
    "dual_inception-128": ModelSpec(
        ".comparison:build_dual_inception",
        {"input_size": 128},
        "atscnn",
        3,
        _table3(1.34e8, 264.15e6, 546.62, 0.6744, 0.6522),
        note="paper B's setting: 128x128",
    ),
    "offtanet": ModelSpec(
        ".table3:build_offtanet",
        {"input_size": 128},
        "atscnn",
        3,
        _table3(67_083, 39.29e6, 7.33, 0.6504, 0.6239),
        note="the re-implementation paper B measured (PRICAI2021-Off-TANet)",
    ),
    "mini_aorcnn": ModelSpec(
        ".table3:build_mini_aorcnn",
        {"input_size": 128},
        "atscnn",
        3,
        _table3(46_251, 16.39e6, 4.84, 0.6601, 0.6355),
        note="widths 8/16/32 inferred from paper B's figures (the public code has 8/18/28)",
    ),
    "macnn": ModelSpec(
        ".table3:build_macnn",
        {"input_size": 128},
        "atscnn",
        3,
        _table3(8.63e7, 1040e6, 366.72, 0.5920, 0.5309),
        note="paper B prints torchstat's rounded 1.04 G",
    ),
    "htnet": ModelSpec(
        ".htnet:build_htnet",
        {},
        "htnet",
        3,
        {
            "uf1": 0.8603,
            "uar": 0.8475,
            "params": 139_582_982,
            "cite": "HTNet (Wang et al. 2024), picking epochs on the test subject",
            "source": "HTNet (Wang et al. 2024), MEGC2019 composite, pooled; as reported "
            "(its code picks each fold's best epoch on the test subject); params counted from "
            "its public code's defaults",
        },
        note="the public code's defaults: 28 px, patches of 7, dim 256, heads 3, (2, 2, 10)",
    ),
    "micro_attention": ModelSpec(
        ".table3:build_micro_attention",
        {"input_size": 128},
        "atscnn",
        3,
        _table3(1.88e7, 327.35e6, 82.89, 0.6237, 0.5913),
        note="the shallow optical-flow re-implementation, not the original ResNet on apex frames",
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
    return spec.build_fn()(
        num_classes=num_classes or spec.num_classes, **{**spec.kwargs, **overrides}
    )


def register_model(
    name: str,
    builder: Callable[..., keras.Model],
    recipe: str = "atscnn",
    num_classes: int = 3,
    paper: dict | None = None,
    reads: str | Callable[[dict], str] = "x",
    head: str = "head",
    blocks: str | None = None,
    **kwargs: object,
) -> ModelSpec:
    """Register a new network under ``name`` so that ``build_model``, ``run --model`` and
    ``models summary`` know it. ``builder(num_classes=..., **kwargs)`` must return a Keras
    model that reads ``recipe``'s tensor ``reads``; it also gets the input argument the recipe
    declares (``input_size`` for ``atscnn``: input (size, size, 3), u, v, strain;
    ``input_shape`` (size, size, frames - 1, 3) for ``s3d``; a registered recipe's own).
    ``head``: the name of its softmax classifier layer; ``blocks``: its blocks' layer-name
    pattern, for freezing (None: none)."""
    if name in MODELS:
        raise MicroexpError(f"model {name!r} is already registered")
    from ..preprocess import RECIPES

    if recipe not in RECIPES:
        raise unknown_name("recipe (register it first: microexp.experiments.register_recipe)",
                           recipe, tuple(RECIPES))  # fmt: skip
    MODELS[name] = ModelSpec(
        builder, dict(kwargs), recipe, num_classes, dict(paper or {}), "", reads, head, blocks
    )
    return MODELS[name]


def _reported(paper: dict) -> str:
    """The paper's recognition figures, as reported ('-' for none)."""
    keys = (("uf1", "UF1"), ("uar", "UAR"), ("loso_accuracy", "acc"))
    return " ".join(f"{label} {paper[k]:.4f}" for k, label in keys if k in paper) or "-"


def format_model_list(names: list[str] | None = None) -> str:
    """One line a registered network: name, recipe, classes, the figures its paper reports and
    where from (or its note). Reads declarations only: nothing is built, Keras is not imported."""
    specs = {n: get_spec(n) for n in (names or MODELS)}
    head = f"{'model':<20} {'recipe':<8} {'classes':>7}  {'reported':<24} paper / note"
    lines = [head, "-" * len(head)]
    for name, spec in specs.items():
        about = "; ".join(x for x in (spec.cite, spec.note) if x)
        lines.append(
            f"{name:<20} {spec.recipe:<8} {spec.num_classes:>7}  "
            f"{_reported(spec.paper):<24} {about}"
        )
    return "\n".join(lines)
