"""One shared test for custom layers, in the spirit of keras-hub's ``run_layer_test``: every
layer microexp registers (and any a user registers) must pass it."""

from __future__ import annotations

import os
import tempfile
import warnings

import keras
import numpy as np


def registered_layers(package: str = "microexp") -> dict[str, type]:
    """Every class registered as serialisable under ``package``: {registered name: class}."""
    prefix = f"{package}>"
    return {k: v for k, v in keras.saving.get_custom_objects().items() if k.startswith(prefix)}


def run_layer_test(
    cls: type, init_kwargs: dict, input_shape: tuple[int, ...], atol: float = 1e-6
) -> None:
    """Check one layer class: the config round trip, symbolic and eager output shapes agree,
    one fit step changes its trainable weights (if any), and a model holding it survives the
    ``.keras`` round trip with the same outputs. Raises AssertionError on the first failure.

    ``input_shape`` includes the batch axis (at least 2)."""
    x = np.random.default_rng(0).normal(size=input_shape).astype("float32")
    layer = cls(**init_kwargs)
    eager = layer(x)
    config = layer.get_config()
    again = cls.from_config(config)
    again(x)
    try:
        again.set_weights(layer.get_weights())
    except ValueError as exc:
        raise AssertionError(
            f"{cls.__name__}: config round trip changed its weights ({exc})"
        ) from None
    assert again.get_config() == config, f"{cls.__name__}: config round trip changed it"
    assert np.allclose(np.asarray(again(x)), np.asarray(eager), atol=atol), (
        f"{cls.__name__}: config round trip changed its outputs"
    )
    name = keras.saving.serialize_keras_object(layer)["registered_name"]
    assert keras.saving.get_registered_object(name) is cls, f"{cls.__name__}: not registered"

    inputs = keras.Input(input_shape[1:])
    symbolic = cls(**init_kwargs)(inputs)
    assert tuple(symbolic.shape[1:]) == tuple(eager.shape[1:]), (
        f"{cls.__name__}: symbolic shape {symbolic.shape} != eager shape {eager.shape}"
    )
    model = keras.Model(inputs, symbolic)
    _one_fit_step(model, x, cls.__name__)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    assert np.allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=atol), (
        f"{cls.__name__}: outputs changed through the .keras round trip"
    )


def _one_fit_step(model: keras.Model, x: np.ndarray, name: str) -> None:
    before = [np.array(w) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    y = np.random.default_rng(1).normal(size=model.output.shape[1:]).astype("float32")
    with warnings.catch_warnings():  # a layer without weights still takes its step
        warnings.filterwarnings("ignore", message="The model does not have any trainable")
        model.fit(x, np.broadcast_to(y, (len(x), *y.shape)), epochs=1, verbose=0)
    after = [np.array(w) for w in model.trainable_weights]
    if before:
        assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True)), (
            f"{name}: one fit step left every trainable weight unchanged"
        )
