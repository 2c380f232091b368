"""Every layer a Keras model calls, with the shapes it saw: one eager call on a batch of one,
each ``Layer.__call__`` recorded (as ``torchstat`` hooks PyTorch modules). Both cost counters
(:mod:`.flops`, :mod:`.torchstat`) read it, so nested blocks are counted from their real
sublayer shapes."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import keras
import numpy as np


@dataclass(frozen=True)
class Call:
    """One layer's last call: its path in the model ("block/conv"), input and output shapes
    (batch axis first) and whether it holds no sublayers."""

    layer: keras.layers.Layer
    path: str
    in_shape: tuple
    out_shape: tuple
    leaf: bool


def _children(layer) -> list:
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _paths(layer, prefix: str, out: dict[int, str]) -> None:
    for child in _children(layer):
        path = f"{prefix}{child.name}"
        out.setdefault(id(child), path)
        _paths(child, f"{path}/", out)


@contextmanager
def _recording(records: dict[int, tuple]):
    original = keras.layers.Layer.__call__

    def recording(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if args and hasattr(out, "shape"):
            first = args[0][0] if isinstance(args[0], (list, tuple)) else args[0]
            records[id(self)] = (self, tuple(first.shape), tuple(out.shape))
        return out

    keras.layers.Layer.__call__ = recording
    try:
        yield
    finally:
        keras.layers.Layer.__call__ = original


def called_layers(model: keras.Model) -> list[Call]:
    """The layers ``model`` calls, in first-call order; a layer called twice keeps its last
    call (torchstat's rule). Nested models are walked through, not listed."""
    paths: dict[int, str] = {}
    _paths(model, "", paths)
    inputs = [np.zeros((1, *(int(d) for d in t.shape[1:])), "float32") for t in model.inputs]
    records: dict[int, tuple] = {}
    with _recording(records):
        model(inputs[0] if len(inputs) == 1 else inputs, training=False)
    return [
        Call(layer, paths.get(key, layer.name), i, o, not _children(layer))
        for key, (layer, i, o) in records.items()
        if not isinstance(layer, keras.Model)
    ]
