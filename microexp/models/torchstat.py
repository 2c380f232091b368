"""Paper B's counting convention: ``torchstat``'s "Flops" and "MemR+W", on a Keras model.

Paper B's Table 3 gives the figures the ``torchstat`` tool printed for PyTorch models on one
3 x 128 x 128 input (SPEC.md, "Paper B's Table 3 networks"). torchstat hooks every leaf module,
keeps what its *last* call saw (a module called twice counts once), and counts, per module:

- convolution: multiply-accumulates plus one add per output element when it has a bias;
- batch norm: 2 per input element (affine);
- ReLU: 1 per element; max and average pooling: 1 per *input* element (its code counts the
  input; SPEC.md's "per output element" would give 4x less for a 2x2 pool);
- dense: inputs x outputs (no bias);
- everything else 0: softmax, sigmoid, SELU, dropout, and tensor operations outside modules
  (matrix products, sums, concatenations, means).

Memory read + write, in elements (4 bytes each; MB = bytes / 2^20): a conv or dense layer reads
its input and its trainable parameters and writes its output; batch norm reads its input and
2 per channel and writes its input's size; ReLU reads and writes its input; pooling reads its
input and writes its output.

Here each Keras leaf layer plays a PyTorch leaf module, and a conv or dense layer with a fused
``relu`` activation counts as the layer plus a ReLU module. The shapes come from one eager call
on a batch of one (:func:`.walk.called_layers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from .walk import called_layers

BYTES_PER_ELEMENT = 4


@dataclass(frozen=True)
class LayerCount:
    """One leaf layer's torchstat figures (elements for memory)."""

    name: str
    kind: str
    flops: int
    mem_read: int
    mem_write: int


def _size(shape) -> int:
    return int(np.prod([int(d) for d in shape[1:]]))


def trainable_count(layer) -> int:
    """Trainable parameters of a layer or model (a BatchNorm counts 2 per channel)."""
    return int(sum(np.prod(w.shape) for w in layer.trainable_weights))


def _relu(name: str, elements: int) -> LayerCount:
    return LayerCount(name, "relu", elements, elements, elements)


def count_layer(
    layer, in_shape: tuple, out_shape: tuple, name: str | None = None
) -> list[LayerCount]:
    """torchstat's counts for one leaf layer seen with these shapes (batch axis first)."""
    name = name or layer.name
    L = keras.layers
    n_in, n_out = _size(in_shape), _size(out_shape)
    rows: list[LayerCount] = []
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)) and not isinstance(
        layer, (L.DepthwiseConv2D, L.SeparableConv2D)
    ):
        positions = _size(out_shape[:-1])
        bias = int(out_shape[-1]) if layer.use_bias else 0
        flops = positions * (int(np.prod(layer.kernel.shape)) + bias)
        rows.append(LayerCount(name, "conv", flops, n_in + trainable_count(layer), n_out))
    elif isinstance(layer, L.Dense):
        flops = int(np.prod(layer.kernel.shape)) * (n_out // int(out_shape[-1]))
        rows.append(LayerCount(name, "dense", flops, n_in + trainable_count(layer), n_out))
    elif isinstance(layer, L.BatchNormalization):
        affine = 2 if (layer.scale or layer.center) else 1
        channels = int(in_shape[-1])
        rows.append(LayerCount(name, "batchnorm", affine * n_in, n_in + 2 * channels, n_in))
    elif isinstance(layer, L.ReLU) or (
        isinstance(layer, L.Activation) and _activation_name(layer) == "relu"
    ):
        rows.append(_relu(name, n_in))
    elif isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        rows.append(LayerCount(name, "pool", n_in, n_in, n_out))
    if rows and rows[0].kind in ("conv", "dense") and _activation_name(layer) == "relu":
        rows.append(_relu(f"{name}/relu", n_out))
    return rows


def _activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act)) if act is not None else ""


def torchstat_layers(model: keras.Model) -> list[LayerCount]:
    """Every counted leaf layer of ``model`` (its last call, as torchstat keeps)."""
    rows: list[LayerCount] = []
    for call in called_layers(model):
        if call.leaf:
            rows.extend(count_layer(call.layer, call.in_shape, call.out_shape, call.path))
    return rows


def torchstat_totals(model: keras.Model) -> dict[str, float]:
    """{"torchstat_flops": int, "torchstat_memory_mb": MemR+W in MB (2^20 bytes)}."""
    rows = torchstat_layers(model)
    elements = sum(r.mem_read + r.mem_write for r in rows)
    return {
        "torchstat_flops": int(sum(r.flops for r in rows)),
        "torchstat_memory_mb": elements * BYTES_PER_ELEMENT / 2**20,
    }
