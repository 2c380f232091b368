"""microexp: micro-expression recognition research in Keras/TensorFlow.

Importing the package is light (no TensorFlow); sub-packages and the main entry points load on
first use::

    import microexp
    report = microexp.reproduce("s3d", "runs/a", preset="demo")
    microexp.evaluation.uf1(y_true, y_pred)
    microexp.predict("runs/a/runs/s3d-transfer/model.keras", "clip.mp4").probabilities
    run = microexp.load_run("runs/a/runs/s3d-transfer")  # records, class names, metrics
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "data",
    "datasets",
    "evaluation",
    "experiments",
    "features",
    "layers",
    "models",
    "notebook",
    "preprocess",
    "reporting",
    "synthetic",
    "training",
)
_FUNCTIONS = {
    "reproduce": "experiments",
    "run": "experiments",
    "predict": "prediction",
    "run_demo": "demo",
    "spot": "experiments.spotting",
    "spot_then_recognise": "experiments.str_run",
    "load_run": "reporting.runs",
}


def __dir__() -> list[str]:
    """The public API, though it loads on first use."""
    return sorted({"__version__", *_SUBMODULES, *_FUNCTIONS})


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(f".{_FUNCTIONS[name]}", __name__), name)
    raise AttributeError(f"module 'microexp' has no attribute {name!r}")


__all__ = ["__version__", *_SUBMODULES, *_FUNCTIONS]
