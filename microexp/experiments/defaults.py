"""Defaults per recipe: how each preset scales the recipe, and the training a model reading
that recipe gets when no experiment declares another (``microexp run``).

The ``paper`` rows are the papers' settings; ``demo`` is scaled for ``make demo`` on a 2-core
CPU (smaller tensors: 24 px and 5 flows for S3D, 64 px for ATSCNN; faster TV-L1: eps 0.05,
3 scales, 3 warps; few epochs, larger learning rates); ``tiny`` is the smallest run that
exercises every step. Demo and tiny numbers say the chain works, not what the papers' numbers
are.

The demo's S3D tensors cost 17 ms per example and step on 2 cores (32 px and 9 flows: about
100 ms), so the demo keeps optimiser steps and cuts tensor size; docs/synthetic.md ("The demo's
paper A") gives what that buys on the calibrated world.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from ..errors import MicroexpError, unknown_name
from ..preprocess import TVL1Params
from ..training.fit import TrainConfig
from .spec import ByPreset, Sampling, Stage

FAST_TVL1 = asdict(TVL1Params(epsilon=0.05, nscales=3, warps=3))

#: recipe -> its parameter overrides per preset
RECIPE_PRESETS: dict[str, ByPreset[dict]] = {
    "s3d": ByPreset(
        tiny={"size": 16, "frames": 5, "tvl1": FAST_TVL1},
        demo={"size": 24, "frames": 6, "tvl1": FAST_TVL1},
        paper={},
    ),
    "atscnn": ByPreset(
        tiny={"size": 32, "tvl1": FAST_TVL1},
        demo={"size": 64, "tvl1": FAST_TVL1},
        paper={},
    ),
    # LBP-TOP needs at least 32 px for its 5 x 5 blocks with radius 4 in time
    "lbptop": ByPreset(tiny={"size": 32}, demo={"size": 32}, paper={"size": 96}),
}

#: paper A's class re-sampling of micro-expressions: per class, crops 1-8, crop 0 for testing.
#: demo: 36 per class x 5 classes, 12 epochs of 10 = 216 steps per fold (was 12 per class, 72
#: steps: the S3D ended at 0.69 final train accuracy; docs/synthetic.md, "The demo's paper A")
MICRO_RESAMPLING = Sampling(
    per_class=ByPreset(tiny=4, demo=36, paper=50), crops=tuple(range(1, 9)), test_crop=0
)

#: recipe -> the stage a model reading it is trained with by default (from scratch)
TRAINING: dict[str, Stage] = {
    # paper A's from-scratch schedule: 40 epochs, batch 10, 1e-4 divided by 10 every 10 epochs;
    # demo: 3e-4 (Adam at 1e-3 ended at 0.49 train accuracy, mean of 3 seeds; 3e-4 at 0.64)
    "s3d": Stage(
        schedules=ByPreset(
            tiny=TrainConfig(epochs=2, batch_size=8, lr=3e-4, decay_every=1),
            demo=TrainConfig(epochs=12, batch_size=10, lr=3e-4),
            paper=TrainConfig(epochs=40, batch_size=10, lr=1e-4, decay_every=10),
        ),
        sampling=MICRO_RESAMPLING,
    ),
    # paper B: Adam 1e-4, batch 64, 200 epochs, every training sample once
    "atscnn": Stage(
        schedules=ByPreset(
            tiny=TrainConfig(epochs=2, batch_size=8, lr=1e-3),
            demo=TrainConfig(epochs=5, batch_size=16, lr=1e-3),
            paper=TrainConfig(epochs=200, batch_size=64, lr=1e-4),
        ),
    ),
}


def _authors(paper: TrainConfig) -> Stage:
    """A network's own authors' schedule at the paper preset; at tiny and demo, paper B's
    scaled schedules (a few epochs of Adam), so that all of Table 3 trains alike there."""
    atscnn = TRAINING["atscnn"].schedules
    return Stage(schedules=ByPreset(tiny=atscnn.tiny, demo=atscnn.demo, paper=paper))


#: model -> its authors' training in paper B's setting (SPEC.md, "Paper B's Table 3
#: networks"); MACNN's batch size is not given, paper B's 64 is assumed
MODEL_TRAINING: dict[str, Stage] = {
    "offtanet": _authors(TrainConfig(201, 64, 1e-3, decay_every=60, decay_factor=0.3)),
    "mini_aorcnn": _authors(TrainConfig(201, 64, 1e-3, decay_every=60, decay_factor=0.3)),
    "macnn": _authors(TrainConfig(501, 64, 1e-3, decay_every=50, decay_factor=0.9)),
    "micro_attention": _authors(
        TrainConfig(
            51, 10, 1e-3, decay_every=10, decay_factor=0.1, optimizer="sgd", weight_decay=5e-4
        )
    ),
}


def model_training(model: str, recipe: str) -> Stage:
    """The stage ``model`` trains with by default: its own (:data:`MODEL_TRAINING`), else its
    recipe's (:data:`TRAINING`)."""
    return MODEL_TRAINING.get(model, TRAINING[recipe])


#: recipe -> the input argument a model's builder takes for its tensors, from the recipe and
#: one example's shape: ``input_shape`` (size, size, frames - 1, 3) for S3D-family tensors,
#: ``input_size`` for paper B's flow images
MODEL_INPUTS: dict[str, Callable[[object, tuple[int, ...]], dict[str, object]]] = {
    "s3d": lambda recipe, shape: {"input_shape": shape},
    "atscnn": lambda recipe, shape: {"input_size": recipe.size},
}


def model_inputs(recipe, shape: tuple[int, ...]) -> dict[str, object]:
    """The input argument a registered builder takes for ``recipe``'s tensors
    (:data:`MODEL_INPUTS`)."""
    if recipe.name not in MODEL_INPUTS:
        raise unknown_name("recipe a deep model reads", recipe.name, tuple(MODEL_INPUTS))
    return MODEL_INPUTS[recipe.name](recipe, shape)


def register_recipe(
    cls: type,
    presets: ByPreset[dict],
    training: Stage | None = None,
    model_input: Callable[[object, tuple[int, ...]], dict[str, object]] | None = None,
) -> type:
    """Register a new recipe everywhere microexp looks for one, in one call: its class
    (:func:`microexp.preprocess.register_recipe_class`: parameters, ``validate``,
    ``tensors``), its parameters per preset (``presets``: overrides at tiny, demo, paper), and,
    for a recipe a deep model reads, the training such a model gets by default (``training``)
    and the builder argument its tensors give (``model_input(recipe, example_shape)``, e.g.
    ``{"input_shape": shape}``). Then ``register_model(..., recipe=NAME)`` takes it."""
    from ..preprocess import register_recipe_class

    if (training is None) != (model_input is None):
        raise MicroexpError(
            f"recipe {cls.name!r}: give training and model_input together (a recipe a deep "
            "model reads) or neither (a recipe for the baselines only)"
        )
    from ..preprocess import RECIPES

    if RECIPES.get(cls.name) is not cls:  # a class the preprocessing layer registered already
        register_recipe_class(cls)
    RECIPE_PRESETS[cls.name] = presets
    if training is not None:
        TRAINING[cls.name] = training
        MODEL_INPUTS[cls.name] = model_input
    return cls


# HTNet's input (microexp.preprocess.regions): the public code's 28 px face and 14 px regions at
# every preset (already small), TV-L1 made faster below the paper preset; HTNet trains with its
# authors' schedule at the paper preset (Adam 5e-5, batch 256, 800 epochs; main_HTNet.py) and
# paper B's scaled ones below it, as the other networks of the comparisons do
def _register_htnet() -> None:
    from ..preprocess import HTNetRecipe

    stage = _authors(TrainConfig(epochs=800, batch_size=256, lr=5e-5))
    register_recipe(
        HTNetRecipe,
        presets=ByPreset(tiny={"tvl1": FAST_TVL1}, demo={"tvl1": FAST_TVL1}, paper={}),
        training=stage,
        model_input=lambda recipe, shape: {"input_size": 2 * recipe.region},
    )


_register_htnet()
