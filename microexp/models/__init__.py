"""Keras models of both papers, the comparison networks, and exact parameter and MAC counts.

Models never open files: they are built from arguments and fed tensors. Names load on first
use, so that the registry (``MODELS``, ``get_spec``, ``model_names``) is readable without
importing Keras.
"""

from __future__ import annotations

import importlib

#: public name -> the submodule that defines it
_NAMES = {
    "SelectChannel": "..layers",
    "build_atscnn": ".atscnn",
    "build_lbptop_svm": ".baselines",
    "fit_predict_lbptop": ".baselines",
    "build_dual_inception": ".comparison",
    "build_offapexnet": ".comparison",
    "build_ststnet": ".comparison",
    "count_macs": ".flops",
    "total_macs": ".flops",
    "freeze_blocks": ".heads",
    "replace_head": ".heads",
    "MODELS": ".registry",
    "ModelSpec": ".registry",
    "build_model": ".registry",
    "get_spec": ".registry",
    "model_names": ".registry",
    "register_model": ".registry",
    "build_htnet": ".htnet",
    "build_s3d": ".s3d",
    "build_softnet": ".spotting",
    "model_summary": ".summary",
}


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_NAMES)


__all__ = sorted(_NAMES)
