"""Every Keras backend gives the same network (issue 27, point 5): for every registered model,
TensorFlow and JAX predict the same from the same weights, a ``.keras`` file saved on either
loads and predicts on the other, and S3D and ATSCNN train ten steps with the same losses; torch
too where it is installed.

The work is ``benchmarks/backend_agreement.py`` (one process per backend, all models batched):
the same script runs on the GPU machine, which has JAX and torch but no TensorFlow::

    python benchmarks/backend_agreement.py --backends jax,torch --full-size --out DIR

Two models run by default (S3D and ATSCNN, which also train), the other twelve under
``-m slow`` (benchmarks/results/backend_agreement.json has all fourteen): on a 2-core CPU, JAX compiles one
program per weight shape when it builds or loads a model, a few seconds per model (kept in
the session's JAX compilation cache, tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from microexp.models import model_names

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "backend_agreement.py"
_SPEC = importlib.util.spec_from_file_location("backend_agreement", _PATH)
agreement = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(agreement)

#: in the default selection; every other registered model is ``slow``
FAST = ("s3d", "atscnn")
TF_JAX = [b for b in ("tensorflow", "jax") if agreement.installed(b)]
PAIRS = ("tensorflow-jax",)
LOADS = ("tensorflow->jax", "jax->tensorflow")
MODELS = [
    pytest.param(name, marks=() if name in FAST else pytest.mark.slow) for name in model_names()
]


def _run(factory, tag: str, backends, models, train) -> dict:
    return agreement.agreement(
        factory.mktemp(tag),
        backends,
        models,
        train,
        log=lambda _: None,
    )


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if len(TF_JAX) < 2:
        pytest.skip("needs both tensorflow and jax installed")
    return _run(tmp_path_factory, "fast", TF_JAX, list(FAST), list(agreement.TRAIN))


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if len(TF_JAX) < 2:
        pytest.skip("needs both tensorflow and jax installed")
    rest = [m for m in model_names() if m not in FAST]
    return _run(tmp_path_factory, "full", TF_JAX, rest, [])


def _row(request: pytest.FixtureRequest, name: str) -> dict:
    report = request.getfixturevalue("fast" if name in FAST else "full")
    errors = [e for e in report["errors"] if e["model"] == name]
    assert not errors, f"{name}: {errors}"
    return report["models"][name]


@pytest.mark.parametrize("name", MODELS)
def test_tensorflow_and_jax_predict_the_same(name: str, request: pytest.FixtureRequest) -> None:
    """On the same (TensorFlow-built, seeded) weights: probabilities within 1e-5 + 1e-4 |p|,
    logits within 1e-4 of their scale (measured: at most 6e-7 and 5e-6, every model)."""
    for pair in PAIRS:
        row = _row(request, name)["pairs"][pair]
        assert row["ok"], f"{name}, {pair}: {row}"


@pytest.mark.parametrize("name", MODELS)
def test_keras_files_load_across_backends(name: str, request: pytest.FixtureRequest) -> None:
    """A file saved on each backend (from its own seeded build) loads on the other and
    predicts what its own backend predicted."""
    cross = _row(request, name)["cross_load"]
    assert set(cross) == set(LOADS)
    for direction, row in cross.items():
        assert row["loaded"] and row["ok"], f"{name}, {direction}: {row}"


@pytest.mark.parametrize("name", list(agreement.TRAIN))
def test_ten_training_steps_give_the_same_losses(name: str, fast: dict) -> None:
    """Same initial weights, same batches in the same order, dropout 0, Adam: per-step
    losses within 1e-3 (measured: 7e-7 for both)."""
    assert not [e for e in fast["errors"] if e["model"] == name], fast["errors"]
    row = fast["training"][name]
    for backend in TF_JAX:
        losses = row["losses"][backend]
        assert len(losses) == agreement.TRAIN_STEPS and all(map(math.isfinite, losses))
    for pair, diff in row["pairs"].items():
        assert diff["ok"], f"{name}, {pair}: {diff} ({row['losses']})"


def test_torch_predicts_and_loads_as_the_others(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """torch against the first installed of TensorFlow and JAX (whose file it loads, and which
    loads torch's); the GPU machine's full run is the script in the module docstring."""
    if not agreement.installed("torch"):
        pytest.skip(
            "torch is not installed (on a machine with it: python "
            "benchmarks/backend_agreement.py --backends jax,torch --out DIR)"
        )
    backends = [b for b in agreement.BACKENDS if agreement.installed(b)]
    if len(backends) < 2:
        pytest.skip("needs tensorflow or jax besides torch")
    report = _run(tmp_path_factory, "torch", backends, list(FAST), [])
    assert not report["errors"], report["errors"]
    for name, row in report["models"].items():
        for key, r in (*row["pairs"].items(), *row["cross_load"].items()):
            if "torch" in key:
                assert r["ok"] and r.get("loaded", True), f"{name}, {key}: {r}"


def test_the_comparison_catches_a_difference() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 3)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    same = {"probs": probs.astype("float32"), "logits": logits}
    assert agreement.compare(same, same)["ok"]
    off = {"probs": same["probs"] + np.float32(1e-3), "logits": logits}
    assert not agreement.compare(off, same)["ok"]
    # a saturated softmax hides what its logits still show
    shifted = {"probs": same["probs"], "logits": logits + 0.01}
    assert not agreement.compare(shifted, same)["ok"]
    assert not agreement.compare({"probs": probs[:2]}, {"probs": probs})["ok"]


def test_s3d_spatial_pooling_is_max_pooling_3d() -> None:
    """S3D's (2, 2, 1) max-pool, computed as a 2D pool with T and C merged (whose gradient
    TensorFlow hands to one element per window, as JAX and torch do), equals MaxPooling3D."""
    import keras

    from microexp.models.s3d import _spatial_max_pool

    for shape in ((6, 8, 3, 5), (7, 5, 2, 4)):
        inp = keras.Input(shape)
        model = keras.Model(inp, _spatial_max_pool(inp, 1))
        x = np.random.default_rng(1).normal(size=(2, *shape)).astype("float32")
        want = keras.layers.MaxPooling3D((2, 2, 1))(x)
        got = model(x)
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
