from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from microexp import models
from microexp.training import (
    TrainConfig,
    compile_model,
    configure_precision,
    convergence_epoch,
    set_determinism,
    step_decay,
    strategy,
)


def test_step_decay_divides_by_ten_every_k_epochs() -> None:
    sched = step_decay(1e-4, 20)
    assert [sched(e) for e in (0, 19, 20, 39, 40, 79)] == pytest.approx(
        [1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-7]
    )
    assert step_decay(1e-4, 0)(150) == pytest.approx(1e-4)


def test_convergence_epoch_definition() -> None:
    assert convergence_epoch([0.2, 0.5, 0.86, 0.9, 0.9]) == 3  # first >= 0.95 * 0.9 = 0.855
    with pytest.raises(ValueError):
        convergence_epoch([])


def _tiny_s3d() -> keras.Model:
    return models.build_s3d(
        num_classes=5, input_shape=(16, 16, 4, 3), filters=(4, 4, 4, 4), dense_units=8
    )


def test_mixed_precision_builds_on_cpu_with_float32_heads() -> None:
    configure_precision(True)
    try:
        for model in (_tiny_s3d(), models.build_atscnn(input_size=32, dense_units=(8,))):
            assert model.get_layer("head").dtype_policy.name == "float32"
            assert any(layer.dtype_policy.name == "mixed_float16" for layer in model.layers)
            compile_model(model, TrainConfig(1, 2, 1e-3))
        # 2D ops have float16 CPU kernels, so ATSCNN also trains here (Conv3D/MaxPool3D in
        # float16 exist only on GPUs: S3D under mixed precision is built, not run, on a CPU)
        x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
        out = model(x)
        assert out.dtype == "float32"
        model.fit(x, np.array([0, 1]), epochs=1, verbose=0)
    finally:
        configure_precision(False)
    assert keras.mixed_precision.global_policy().name == "float32"


def test_xla_and_strategy_on_cpu() -> None:
    set_determinism(0)
    with strategy().scope():
        model = _tiny_s3d()
        compile_model(model, TrainConfig(1, 2, 1e-3), jit_compile=True)
    x = np.random.default_rng(0).normal(size=(4, 16, 16, 4, 3)).astype("float32")
    model.fit(x, np.array([0, 1, 2, 3]), epochs=1, batch_size=2, verbose=0)
    assert isinstance(strategy(), tf.distribute.Strategy)


def test_same_seed_same_predictions() -> None:
    x = np.random.default_rng(1).normal(size=(6, 16, 16, 4, 3)).astype("float32")
    y = np.array([0, 1, 2, 3, 4, 0])
    outs = []
    for _ in range(2):
        set_determinism(7)
        model = _tiny_s3d()
        compile_model(model, TrainConfig(2, 3, 1e-3), run_eagerly=True)  # no tracing: faster
        model.fit(x, y, epochs=2, batch_size=3, verbose=0, shuffle=False)
        outs.append(model.predict(x, verbose=0))
    assert np.array_equal(outs[0], outs[1])


def test_fresh_model_equals_a_newly_built_one() -> None:
    from microexp.training import FreshModel, train

    x = np.random.default_rng(2).normal(size=(6, 16, 16, 4, 3)).astype("float32")
    y = np.array([0, 1, 2, 3, 4, 0])
    ds_ = tf.data.Dataset.from_tensor_slices((x, y)).batch(3)
    cfg = TrainConfig(2, 3, 1e-3, 1)

    def make():
        return _tiny_s3d()

    def fold(model_source) -> np.ndarray:
        set_determinism(11)
        model = model_source()
        train(model, ds_, cfg)
        return model.predict(x, verbose=0)

    def newly_built():
        m = make()
        compile_model(m, cfg, run_eagerly=True)
        return m

    reused = FreshModel(make, cfg, run_eagerly=True)  # eager: the same state, no tracing
    first = fold(reused.get)  # fold 1 on the reused model
    fold(reused.get)  # a fold that changes its weights and optimizer state
    again = fold(reused.get)  # fresh state again
    reference = fold(newly_built)
    assert np.allclose(first, reference, atol=1e-6) and np.allclose(again, reference, atol=1e-6)


def test_step_input_mode_follows_the_device() -> None:
    from microexp.training import step_input_mode

    assert step_input_mode(True, gpu=True) == step_input_mode(False, gpu=True) == "gather"
    assert step_input_mode(True, gpu=False) == "turn"
    assert step_input_mode(False, gpu=False) == "pipeline"


def test_gathering_and_turning_in_the_step_train_as_the_pipeline_does() -> None:
    """The training step's own input work (step_input_model: gather from a store, turn paper
    A's quarter turns), fed indices or unturned examples, trains the network exactly as
    examples turned beforehand do."""
    import tensorflow as tf

    from microexp.preprocess.augment import rotate_sample
    from microexp.training import FreshModel, TrainConfig, step_input_model, train

    rng = np.random.default_rng(0)
    store = rng.normal(size=(6, 2, 16, 16, 4, 3)).astype(np.float16)  # 6 samples x 2 crops
    s, c = rng.integers(0, 6, 12).astype(np.int32), rng.integers(0, 2, 12).astype(np.int32)
    x = store[s, c].astype(np.float32)
    y = rng.integers(0, 5, 12)
    k = rng.integers(0, 4, 12).astype(np.int32)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-3)

    def fit(mode: str):
        wrap = {
            "pipeline": None,
            "turn": step_input_model,
            "gather": lambda net: step_input_model(net, tf.constant(store), crops=True),
        }[mode]
        factory = FreshModel(_tiny_s3d, cfg, run_eagerly=True, wrap=wrap)  # no tracing
        set_determinism(0)
        net = factory.get()
        inputs = {
            "pipeline": np.stack([rotate_sample(v, int(t)) for v, t in zip(x, k, strict=True)]),
            "turn": (x, k),
            "gather": (s, c, k),
        }[mode]
        hist = train(
            factory.fit_model, tf.data.Dataset.from_tensor_slices((inputs, y)).batch(4), cfg
        )
        return hist["loss"], net.predict(x, verbose=0)

    ref_loss, ref_pred = fit("pipeline")
    for mode in ("turn", "gather"):
        loss, pred = fit(mode)
        assert np.allclose(loss, ref_loss, atol=1e-5) and np.allclose(pred, ref_pred, atol=1e-5)
    assert not np.allclose(ref_pred, _tiny_s3d().predict(x, verbose=0), atol=1e-3)  # it trained


def test_s3d_training_leaves_chance_on_tiny_data() -> None:
    """He-initialised S3D (the default, every preset) learns a small task: expanding, rotating
    or still flow under noise and random quarter turns of the grid (all three survive a turn).
    With Keras' default Glorot initialisation the same network stays at chance."""
    from microexp.models import build_s3d
    from microexp.preprocess.augment import rotate_sample
    from microexp.training.fit import TrainConfig, compile_model, set_determinism

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 16)
    yy, xx = np.mgrid[-1:1:16j, -1:1:16j].astype(np.float32)
    patterns = np.stack([np.stack([xx, yy], -1), np.stack([-yy, xx], -1), np.zeros((16, 16, 2))])
    x = rng.normal(0, 0.5, (48, 16, 16, 4, 3)).astype(np.float32)
    x[..., :2] += patterns[y][:, :, :, None, :]
    x = np.stack([rotate_sample(v, int(k)) for v, k in zip(x, rng.integers(0, 4, 48), strict=True)])
    final = {}
    for init in ("he_normal", "glorot_uniform"):
        set_determinism(0)
        model = build_s3d(3, (16, 16, 4, 3), filters=(8, 8, 16, 16), kernel_initializer=init)
        compile_model(model, TrainConfig(epochs=8, batch_size=8, lr=1e-3))
        final[init] = model.fit(x, y, epochs=8, batch_size=8, verbose=0).history["accuracy"][-1]
    assert final["he_normal"] >= 0.9 and final["glorot_uniform"] <= 0.5
    assert build_s3d().get_layer("fc").kernel_initializer.__class__.__name__ == "HeNormal"


def test_verbose_training_logs_one_line_per_epoch() -> None:
    from microexp.training.fit import TrainConfig, compile_model, train

    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(inp))
    cfg = TrainConfig(epochs=3, batch_size=4, lr=1e-2)
    compile_model(model, cfg, run_eagerly=True)
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(8) % 2)).batch(4)
    lines: list[str] = []
    train(model, ds, cfg, log=lines.append)
    assert len(lines) == 3
    assert lines[0].startswith("  epoch 1/3: ") and "loss " in lines[0] and "accuracy " in lines[0]
