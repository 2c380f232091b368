"""Pre-processing: face crop, EVM, TIM, TV-L1 flow and optical strain, augmentation.

NumPy and OpenCV only: nothing here imports a deep-learning framework unless a Keras flow backend
(``tf``, ``jax``, ``torch``: :mod:`.tvl1_keras`) is chosen. ``sample_tensors(sample, recipe)``
returns one sample's tensors exactly as the cache stores them.
"""

from .augment import cut_shifts, minmax, rotate_sample, shifts, standardise
from .face import Box, align_eyes, crop, landmark_box
from .flow import FLOW_BACKENDS, optical_strain, rotate_flow, tvl1_flow, tvl1_flows
from .frames import SampleExcluded, read_clip, read_frames
from .interpolate import interpolate, tim_weights
from .lbptop import lbp_top
from .magnify import EVMParams, magnify
from .recipes import (
    RECIPES,
    ATSCNNRecipe,
    LBPTOPRecipe,
    Pending,
    S3DRecipe,
    atscnn_tensors,
    finish_sample,
    flow_sequence,
    get_recipe,
    prepare_sample,
    recipe_config,
    recipe_dict,
    recipe_from_dict,
    recipe_key,
    register_recipe_class,
    resolve_flow_backend,
    s3d_tensors,
    sample_tensors,
    window_flows,
)
from .regions import HTNetRecipe
from .spot import Spot, spot_apex
from .tvl1_params import TVL1Params

__all__ = [
    "FLOW_BACKENDS",
    "HTNetRecipe",
    "RECIPES",
    "ATSCNNRecipe",
    "Box",
    "EVMParams",
    "LBPTOPRecipe",
    "S3DRecipe",
    "SampleExcluded",
    "Spot",
    "TVL1Params",
    "align_eyes",
    "atscnn_tensors",
    "crop",
    "cut_shifts",
    "get_recipe",
    "register_recipe_class",
    "interpolate",
    "landmark_box",
    "lbp_top",
    "magnify",
    "minmax",
    "optical_strain",
    "read_clip",
    "read_frames",
    "recipe_from_dict",
    "recipe_config",
    "recipe_dict",
    "recipe_key",
    "resolve_flow_backend",
    "rotate_flow",
    "rotate_sample",
    "s3d_tensors",
    "sample_tensors",
    "Pending",
    "finish_sample",
    "flow_sequence",
    "prepare_sample",
    "window_flows",
    "shifts",
    "spot_apex",
    "standardise",
    "tim_weights",
    "tvl1_flow",
    "tvl1_flows",
]

register_recipe_class(HTNetRecipe)  # HTNet's input (issue 32), through the recipe registry
