"""Keras models of both papers, the comparison networks, and exact parameter and MAC counts.

Models never open files: they are built from arguments and fed tensors.
"""

from ..layers import SelectChannel
from .atscnn import build_atscnn
from .baselines import build_lbptop_svm, fit_predict_lbptop
from .comparison import build_dual_inception, build_offapexnet, build_ststnet
from .flops import count_macs, total_macs
from .heads import freeze_blocks, replace_head
from .registry import (
    MODELS,
    ModelSpec,
    build_model,
    get_spec,
    model_names,
    register_model,
)
from .s3d import build_s3d
from .spotting import build_softnet
from .summary import model_summary

__all__ = [
    "MODELS",
    "ModelSpec",
    "SelectChannel",
    "build_atscnn",
    "build_dual_inception",
    "build_lbptop_svm",
    "fit_predict_lbptop",
    "build_model",
    "build_offapexnet",
    "build_s3d",
    "build_softnet",
    "build_ststnet",
    "count_macs",
    "freeze_blocks",
    "get_spec",
    "model_names",
    "model_summary",
    "register_model",
    "replace_head",
    "total_macs",
]
