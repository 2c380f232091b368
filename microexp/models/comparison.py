"""Paper B's comparison networks (its Table 3), built from their original papers.

Each is built at its own paper's input size (28 x 28 optical flow) and can be built at paper
B's 128 x 128 with ``input_size``. Where an original paper leaves a detail open, the docstring
says what was assumed.
"""

from __future__ import annotations

import keras
from keras import layers

from ..layers import SelectChannel


def build_ststnet(
    num_classes: int = 3,
    input_size: int = 28,
    hidden_dense: bool = False,
    final_pool: str = "avg",
    stream_activation: str | None = "relu",
    name: str = "ststnet",
) -> keras.Model:
    """STSTNet (Liong et al. 2019): three parallel 3x3 conv streams (3, 5, 8 filters, ReLU) on
    the (u, v, strain) input, each max-pooled 3x3 with stride 3, concatenated, pooled 2x2,
    flattened, and a dense softmax layer. Assumed: "same" padding throughout (28 -> 10 -> 5).

    ``hidden_dense=True, final_pool="max"`` is the re-implementation found in public MER code
    (a ReLU dense layer as wide as the flattened features before the softmax). At 128 x 128 it
    has 49.8 M parameters and 57 M MACs: paper B's Table 3 figures (4.98 x 10^7, 57.45 M), so
    that is the network paper B compared against. That re-implementation (Off-TANet's authors')
    also has no ReLU after the stream convolutions: ``stream_activation=None``. With it, the
    torchstat count gives paper B's 57.45 M and 192.98 MB exactly; with the ReLUs, 57.71 M and
    194.98 MB.
    """
    if final_pool not in ("avg", "max"):
        raise ValueError(f"final_pool must be 'avg' or 'max'. Received: final_pool={final_pool!r}")
    inputs = keras.Input((input_size, input_size, 3), name="flow")
    streams = []
    for i, f in enumerate((3, 5, 8), start=1):
        x = layers.Conv2D(
            f, 3, padding="same", activation=stream_activation, name=f"stream{i}_conv"
        )(inputs)
        x = layers.MaxPooling2D(3, strides=3, padding="same", name=f"stream{i}_pool")(x)
        streams.append(x)
    x = layers.Concatenate(name="concat")(streams)
    pool = layers.AveragePooling2D if final_pool == "avg" else layers.MaxPooling2D
    x = pool(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    if hidden_dense:
        x = layers.Dense(int(x.shape[-1]), activation="relu", name="fc1")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


def _two_flow_streams(inputs, stream):
    """Apply ``stream(x, prefix)`` to the u and v channels of a (H, W, >=2) flow input."""
    return [
        stream(SelectChannel(i, name=f"{p}_select")(inputs), p) for i, p in enumerate(("u", "v"))
    ]


def build_offapexnet(
    num_classes: int = 3, input_size: int = 28, dropout: float = 0.5, name: str = "offapexnet"
) -> keras.Model:
    """Off-ApexNet (Gan et al. 2019): onset-apex u and v in two streams, each Conv 5x5 (6) ->
    MaxPool 2 -> Conv 5x5 (16) -> MaxPool 2, concatenated, Dense 1024 -> Dense 1024 -> softmax
    with dropout 0.5. Assumed: ReLU after the convs and "same" padding."""
    inputs = keras.Input((input_size, input_size, 3), name="flow")

    def stream(x, p):
        x = layers.Conv2D(6, 5, padding="same", activation="relu", name=f"{p}_conv1")(x)
        x = layers.MaxPooling2D(2, name=f"{p}_pool1")(x)
        x = layers.Conv2D(16, 5, padding="same", activation="relu", name=f"{p}_conv2")(x)
        x = layers.MaxPooling2D(2, name=f"{p}_pool2")(x)
        return layers.Flatten(name=f"{p}_flatten")(x)

    x = layers.Concatenate(name="concat")(_two_flow_streams(inputs, stream))
    for i in (1, 2):
        x = layers.Dense(1024, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


def _inception(x, filters: int, prefix: str):
    """GoogLeNet-style module: 1x1->5x5, 1x1->3x3, maxpool 3x3->1x1, 1x1; concat; MaxPool 2."""

    def conv(y, k, name, act="relu"):
        return layers.Conv2D(filters, k, padding="same", activation=act, name=f"{prefix}_{name}")(y)

    a = conv(conv(x, 1, "a_reduce"), 5, "a_5x5")
    b = conv(conv(x, 1, "b_reduce"), 3, "b_3x3")
    c = conv(
        layers.MaxPooling2D(3, strides=1, padding="same", name=f"{prefix}_c_pool")(x), 1, "c_1x1"
    )
    d = conv(x, 1, "d_1x1", act=None)
    y = layers.Concatenate(name=f"{prefix}_concat")([a, b, c, d])
    return layers.MaxPooling2D(2, name=f"{prefix}_pool")(y)


def build_dual_inception(
    num_classes: int = 3, input_size: int = 28, name: str = "dual_inception"
) -> keras.Model:
    """Dual-Inception (Zhou et al. 2019): u and v each through two inception modules (6 then
    16 filters per path, 4 paths), flattened, concatenated, Dense 1024 -> softmax. Assumed:
    ReLU on every path but the plain 1x1 one, "same" padding, 2x2 max-pool after each module."""
    inputs = keras.Input((input_size, input_size, 3), name="flow")

    def stream(x, p):
        x = _inception(x, 6, f"{p}_inc1")
        x = _inception(x, 16, f"{p}_inc2")
        return layers.Flatten(name=f"{p}_flatten")(x)

    x = layers.Concatenate(name="concat")(_two_flow_streams(inputs, stream))
    x = layers.Dense(1024, activation="relu", name="fc1")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs, name=name)
