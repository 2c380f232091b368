"""Training on the Keras backend in use: every test here also runs under KERAS_BACKEND=jax
(``make test``'s second pass), except the TensorFlow-only ones (marked by a skip)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from microexp import backend, models
from microexp.data import FitInput
from microexp.errors import MicroexpError
from microexp.training import (
    TrainConfig,
    compile_model,
    configure_precision,
    convergence_epoch,
    set_determinism,
    step_decay,
)

pytestmark = pytest.mark.jax

#: a test that runs each backend itself (subprocesses) or checks no backend's behaviour: once,
#: in the TensorFlow pass
once = pytest.mark.skipif(backend.requested() != "tensorflow", reason="run in the TF pass")


def batches(inputs, y, batch_size: int, epochs: int = 1) -> FitInput:
    """``(inputs, y)`` in order, ``epochs`` times, as a :class:`FitInput` (any backend)."""
    n = len(y)

    def gen():
        for _ in range(epochs):
            for i in range(0, n, batch_size):
                part = slice(i, i + batch_size)
                xs = tuple(v[part] for v in inputs) if isinstance(inputs, tuple) else inputs[part]
                yield xs, y[part]

    return FitInput(gen(), -(-n // batch_size), "gather")


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


@once  # the JAX pass trains in bfloat16 below
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


def test_bfloat16_trains_and_unknown_policies_are_refused(monkeypatch) -> None:
    assert backend.check_precision("bfloat16") == "mixed_bfloat16"
    assert backend.precision_key("float16") is True and backend.precision_key(False) is False
    configure_precision("bfloat16")
    try:
        model = models.build_atscnn(input_size=32, dense_units=(8,))
        assert model.get_layer("head").dtype_policy.name == "float32"
        compile_model(model, TrainConfig(1, 2, 1e-3))
        x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
        model.fit(x, np.array([0, 1]), epochs=1, verbose=0)
        assert model(x).dtype == "float32"
    finally:
        configure_precision(False)
    with pytest.raises(MicroexpError, match="mixed precision 'int8': expected one of"):
        configure_precision("int8")
    monkeypatch.setattr(backend.impl(), "lacks_precision", lambda policy: "no such kernels")
    with pytest.raises(MicroexpError, match=r"^mixed precision float16 on \w+: no such kernels$"):
        configure_precision("float16")
    assert keras.mixed_precision.global_policy().name == "float32"


def test_xla_on_cpu() -> None:
    set_determinism(0)
    with backend.distribution_scope():
        model = _tiny_s3d()
        compile_model(model, TrainConfig(1, 2, 1e-3), jit_compile=True)
    x = np.random.default_rng(0).normal(size=(4, 16, 16, 4, 3)).astype("float32")
    model.fit(x, np.array([0, 1, 2, 3]), epochs=1, batch_size=2, verbose=0)
    assert backend.replicas() == 1


DATA_PARALLEL = """
import numpy as np
from microexp import backend, models
from microexp.training import ReusedModel, TrainConfig, train
from microexp.data import index_batches, FitInput
{setup}
cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-3)
make = lambda: models.build_atscnn(input_size=16, dense_units=(8,), num_classes=2)
factory = ReusedModel(make, cfg)
net = factory.get()
x = np.random.default_rng(0).normal(size=(8, 16, 16, 3)).astype("float32")
y = np.arange(8) % 2
gen = ((x[i:i + 4], y[i:i + 4]) for _ in range(2) for i in (0, 4))
hist = train(factory.fit_model, FitInput(gen, 2, "gather"), cfg)
print(backend.name(), backend.replicas(), {check}, len(hist["loss"]))
"""


@once
@pytest.mark.parametrize("name", ["tensorflow", "jax"])
def test_data_parallel_over_two_cpu_devices(name: str) -> None:
    """MirroredStrategy (TF, two logical CPU devices) and keras.distribution.DataParallel
    (JAX, two host devices) build, compile and train through ReusedModel and train."""
    if name == "tensorflow":
        setup = textwrap.dedent("""
            import tensorflow as tf
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        """)
        check = "factory.fit_model.distribute_strategy.num_replicas_in_sync"
    else:
        pytest.importorskip("jax")
        setup = ""
        check = "len(net.trainable_variables[0].value.sharding.device_set)"
    env = {
        **os.environ,
        "KERAS_BACKEND": name,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    code = DATA_PARALLEL.format(setup=setup, check=check)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-4:] == [name, "2", "2", "2"]


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
    from microexp.training import ReusedModel, train

    x = np.random.default_rng(2).normal(size=(6, 16, 16, 4, 3)).astype("float32")
    y = np.array([0, 1, 2, 3, 4, 0])
    cfg = TrainConfig(2, 3, 1e-3, 1)

    def make():
        return _tiny_s3d()

    def fold(model_source) -> np.ndarray:
        set_determinism(11)
        model = model_source()
        train(model, batches(x, y, 3, cfg.epochs), cfg)
        return model.predict(x, verbose=0)

    def newly_built():
        m = make()
        compile_model(m, cfg, run_eagerly=True)
        return m

    reused = ReusedModel(make, cfg, run_eagerly=True)  # eager: the same state, no tracing
    first = fold(reused.get)  # fold 1 on the reused model
    fold(reused.get)  # a fold that changes its weights and optimizer state
    again = fold(reused.get)  # fresh state again
    reference = fold(newly_built)
    assert np.allclose(first, reference, atol=1e-6) and np.allclose(again, reference, atol=1e-6)


def test_step_input_mode_follows_the_backend_and_device() -> None:
    from microexp.training import step_input_mode

    def mode(turns: bool, gpu: bool, name: str = "tensorflow") -> str:
        return step_input_mode(turns, gpu=gpu, backend_name=name)

    assert mode(True, True) == mode(False, True) == "gather"
    assert mode(True, False) == "turn"
    assert mode(False, False) == "pipeline"
    for name in ("jax", "torch"):  # no tf.data there: the step always gathers
        assert mode(True, False, name) == mode(False, True, name) == "gather"


def test_gathering_and_turning_in_the_step_train_as_the_pipeline_does() -> None:
    """The training step's own input work (step_input_model: gather from a store, turn paper
    A's quarter turns, in keras.ops), fed indices or unturned examples, trains the network
    exactly as examples turned beforehand do."""
    from microexp.preprocess.augment import rotate_sample
    from microexp.training import ReusedModel, TrainConfig, step_input_model, train

    rng = np.random.default_rng(0)
    store = rng.normal(size=(6, 2, 16, 16, 4, 3)).astype(np.float16)  # 6 samples x 2 crops
    s, c = rng.integers(0, 6, 12).astype(np.int32), rng.integers(0, 2, 12).astype(np.int32)
    x = store[s, c].astype(np.float32)
    y = rng.integers(0, 5, 12)
    k = rng.integers(0, 4, 12).astype(np.int32)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-3)
    flat = keras.Variable(store.reshape(12, 16, 16, 4, 3), trainable=False, autocast=False)

    def fit(mode: str):
        wrap = {
            "pipeline": None,
            "turn": step_input_model,
            "gather": lambda net: step_input_model(net, flat, crops=2),
        }[mode]
        factory = ReusedModel(_tiny_s3d, cfg, run_eagerly=True, wrap=wrap)  # no tracing
        set_determinism(0)
        net = factory.get()
        inputs = {
            "pipeline": np.stack([rotate_sample(v, int(t)) for v, t in zip(x, k, strict=True)]),
            "turn": (x, k),
            "gather": (s, c, k),
        }[mode]
        hist = train(factory.fit_model, batches(inputs, y, 4, cfg.epochs), cfg)
        return hist["loss"], net.predict(x, verbose=0)

    ref_loss, ref_pred = fit("pipeline")
    for mode in ("turn", "gather"):
        loss, pred = fit(mode)
        assert np.allclose(loss, ref_loss, atol=1e-5) and np.allclose(pred, ref_pred, atol=1e-5)
    assert not np.allclose(ref_pred, _tiny_s3d().predict(x, verbose=0), atol=1e-3)  # it trained


@once
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
    lines: list[str] = []
    seen: list[tuple[int, float]] = []  # a caller's own callback runs after microexp's

    class Seen(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            lr = self.model.optimizer.learning_rate
            seen.append((epoch, float(keras.ops.convert_to_numpy(lr))))

    data = batches(x, np.arange(8) % 2, 4, cfg.epochs)
    train(model, data, cfg, log=lines.append, callbacks=[Seen()])
    assert len(lines) == 3
    assert lines[0].startswith("  epoch 1/3: ") and "loss " in lines[0] and "accuracy " in lines[0]
    assert [e for e, _ in seen] == [0, 1, 2] and all(lr == pytest.approx(1e-2) for _, lr in seen)


def test_tensorboard_events_on_every_backend(tmp_path) -> None:
    """TensorBoard events are written on any backend (Keras' callback on TensorFlow, the
    tensorboard package's writer elsewhere) and read back with the epoch losses."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from microexp.training.fit import train

    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(inp))
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-2)
    compile_model(model, cfg)
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    hist = train(model, batches(x, np.arange(8) % 2, 4, 2), cfg, log_dir=tmp_path)
    runs = list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))
    assert runs and (tmp_path / "training.csv").is_file()
    acc = EventAccumulator(str(runs[0].parent), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    if "epoch_loss" in tags.get("scalars", []):
        losses = [e.value for e in acc.Scalars("epoch_loss")]
    else:  # Keras on TensorFlow writes scalars as tensor summaries
        from tensorboard.util.tensor_util import make_ndarray

        losses = [float(make_ndarray(e.tensor_proto)) for e in acc.Tensors("epoch_loss")]
    assert np.allclose(losses, hist["loss"], rtol=1e-5)


def test_each_epoch_reads_its_own_batches_of_the_input() -> None:
    """A FitInput holds every epoch; fit must read epoch 2's batches in epoch 2 (not restart
    the input each epoch, which would silently replay epoch 1's order). Epoch 1 holds class 0
    only, epoch 2 class 1 only; with a negligible learning rate the two epochs' losses are
    -log p(0) and -log p(1) of the untrained model."""
    from microexp.training.fit import train

    keras.utils.set_random_seed(0)
    inp = keras.Input((3,))
    model = keras.Model(
        inp, keras.layers.Dense(2, activation="softmax", bias_initializer="ones")(inp)
    )
    model.layers[-1].bias.assign(np.array([2.0, 0.0], "float32"))
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-12)
    compile_model(model, cfg)
    x = np.zeros((16, 3), "float32")
    y = np.repeat([0, 1], 8)
    if backend.name() == "tensorflow":
        import tensorflow as tf

        data = FitInput(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), 2, "pipeline")
    else:
        data = FitInput(((x[i : i + 4], y[i : i + 4]) for i in range(0, 16, 4)), 2, "gather")
    loss = train(model, data, cfg)["loss"]
    p0 = np.exp(2.0) / (np.exp(2.0) + 1)
    assert np.allclose(loss, [-np.log(p0), -np.log(1 - p0)], rtol=1e-4)


def test_a_saturated_softmax_still_trains() -> None:
    """The fit model trains from the head's logits where Keras would clip probabilities (JAX,
    torch): from a head saturated on the wrong class, the loss still falls. With clipped
    probabilities the gradient is zero and the loss would stay at -log(1e-7)."""
    from microexp.training import ReusedModel, step_input_model, train

    def make():
        inp = keras.Input((4,))
        return keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="head")(inp))

    logits = backend.needs_logits()
    cfg = TrainConfig(epochs=3, batch_size=8, lr=0.5)
    factory = ReusedModel(
        make,
        cfg,
        wrap=lambda n: step_input_model(n, turns=False, logits=logits),
        from_logits=logits,
    )
    net = factory.get()
    net.get_layer("head").kernel.assign(np.array([[5.0, -5.0]] * 4, "float32"))  # logits 20, -20
    x = np.ones((8, 4), "float32")
    y = np.ones(8, "int64")  # every example is class 1; the head says class 0
    k = np.zeros(8, "int32")
    hist = train(factory.fit_model, batches((x, k), y, 8, cfg.epochs), cfg)
    if logits:  # the loss is computed from the logits: 40, beyond clipping's -log(1e-7) = 16.1
        assert hist["loss"][0] == pytest.approx(40.0, rel=1e-3)
    assert hist["loss"][-1] < hist["loss"][0] - 1  # a gradient flowed


def test_fixed_shape_predictions_equal_plain_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """predict_fixed pads to whole batches where shapes compile (JAX); the rows it returns are
    the plain predictions, for test sets of every size; elsewhere it batches as ``predict``
    does, to the bit."""
    from microexp.training.fit import predict_fixed

    set_determinism(3)
    model = _tiny_s3d()
    x = np.random.default_rng(4).normal(size=(40, 16, 16, 4, 3)).astype("float32")
    plain = model.predict(x, verbose=0)
    if not backend.compiles_per_shape():  # predict's own batches (32 + 8): the same numbers
        np.testing.assert_array_equal(predict_fixed(model, x, 4), plain)
    monkeypatch.setattr(backend.impl(), "compiles_per_shape", lambda: True)
    for n in (1, 3, 4, 7):
        got = predict_fixed(model, x[:n], 4)
        assert got.shape == (n, plain.shape[1])
        np.testing.assert_allclose(got, plain[:n], rtol=0, atol=1e-6)


def _fold_trainer(tmp_path, seed: int = 5):
    """A KerasTrainer (traced, as runs train) on 12 random samples of 4 subjects, and the
    LOSO folds."""
    from microexp.data import TensorStore
    from microexp.datasets import Sample
    from microexp.datasets.loso import split_folds
    from microexp.experiments.data import Prepared
    from microexp.experiments.spec import Sampling
    from microexp.experiments.trainer import FitSetting, KerasTrainer

    def net() -> keras.Model:
        x = keras.Input((8, 8, 3), name="x")
        h = keras.layers.Conv2D(4, 3, padding="same")(x)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.Dropout(0.3)(keras.layers.ReLU()(h))
        h = keras.layers.GlobalAveragePooling2D()(h)
        return keras.Model(x, keras.layers.Dense(3, activation="softmax", name="head")(h))

    rng = np.random.default_rng(4)
    samples = [
        Sample("casme2", f"s{i % 4}", f"c{i:02d}", "/none", "{:d}.jpg", 1, 2, 3, "x", 200.0)
        for i in range(12)
    ]
    arrays = [{"x": rng.normal(size=(8, 8, 3)).astype(np.float16)} for _ in samples]
    data = Prepared(
        samples,
        [i % 3 for i in range(12)],
        ["a", "b", "c"],
        TensorStore.from_arrays(samples, arrays),
    )
    setting = FitSetting(
        make=net,
        schedule=TrainConfig(2, 4, 1e-2),
        sampling=Sampling(),
        per_class=None,
        seed=seed,
        mixed_precision=False,
        xla=False,
        run_eagerly=False,
        tensorboard=False,
        log_dir=tmp_path,
        log=lambda m: None,
    )
    return KerasTrainer(setting, data), split_folds(samples, "loso")


def _run_fold(trainer, fold):
    s = trainer.data.samples
    return trainer.fit_predict([s[i] for i in fold.train], [s[i] for i in fold.test], fold)


def test_a_folds_record_does_not_depend_on_the_folds_before_it(tmp_path) -> None:
    """set_determinism seeds each fold without TensorFlow's ``tf.random.set_seed`` (which
    clears its kernel caches, ~2 s a fold): fold 1 after fold 0 equals fold 1 alone."""
    first, folds = _fold_trainer(tmp_path / "a")
    _run_fold(first, folds[0])
    after = _run_fold(first, folds[1])
    alone = _run_fold(_fold_trainer(tmp_path / "b")[0], folds[1])
    assert after.y_prob == alone.y_prob and after.history == alone.history
    assert len(set(map(tuple, after.y_prob))) > 1  # trained: not one constant row


def test_padded_batches_train_as_unpadded_ones() -> None:
    """One batch shape for every batch (pad) trains as the plain batches do: the filling
    weighs nothing in the loss and the accuracy, and batch norm's statistics (in the step and
    the moving ones) skip it. The short batches' arithmetic differs (a masked mean over the
    real rows, Keras' masked moments), so equal up to float32 rounding."""
    from microexp.data import index_batches
    from microexp.data.examples import Item
    from microexp.training import ReusedModel, mask_batch_norm, step_input_model, train
    from microexp.training import fit as fit_module

    rng = np.random.default_rng(6)
    store = keras.Variable(
        rng.normal(size=(11, 8, 8, 3)).astype(np.float16), trainable=False, autocast=False
    )
    items = [Item(i, None, 0, i % 3) for i in range(11)]  # batches of 4, 4 and 3 (+1 copy)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-2)
    logits = backend.needs_logits()

    def net() -> keras.Model:
        x = keras.Input((8, 8, 3), name="x")
        h = keras.layers.Conv2D(4, 3, padding="same")(x)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(h))
        return keras.Model(x, keras.layers.Dense(3, activation="softmax", name="head")(h))

    outs = []
    for pad in (False, True):
        set_determinism(2)
        factory = ReusedModel(
            net,
            cfg,
            wrap=lambda n, pad=pad: step_input_model(
                n, store, turns=False, logits=logits, padded=pad
            ),
            from_logits=logits,
            weighted=pad,
        )
        model = factory.get()
        batches = index_batches(items, 4, shuffle=True, seed=1, epochs=2, pad=pad)
        hist = train(factory.fit_model, FitInput(batches, 3, "gather", pad), cfg)
        bn = next(v for v in model.variables if v.path.endswith("moving_variance"))
        x = np.asarray(store.value).astype(np.float32)
        outs.append((model.predict(x, verbose=0), hist, np.asarray(bn.value)))
    (p0, h0, v0), (p1, h1, v1) = outs
    np.testing.assert_allclose(p1, p0, rtol=0, atol=1e-4)  # measured: 2e-5 (Adam, 6 steps)
    np.testing.assert_allclose(v1, v0, rtol=1e-5)
    assert h1.keys() == h0.keys() == {"loss", "accuracy", "learning_rate"}
    np.testing.assert_allclose(h1["loss"], h0["loss"], rtol=1e-6)
    assert h1["accuracy"] == h0["accuracy"]
    # the filling (a copy of row 0) would move batch statistics without the mask
    x4 = rng.normal(size=(4, 2, 2, 3)).astype(np.float32)
    x4[3] = x4[0]
    plain, masked = keras.layers.BatchNormalization(), keras.layers.BatchNormalization()
    m = keras.Sequential([masked])
    mask_batch_norm(m)
    mask_batch_norm(m)  # idempotent
    ref = np.asarray(plain(x4[:3], training=True))
    token = fit_module._REAL_ROWS.set(np.array([1, 1, 1, 0], np.float32))
    try:
        got = np.asarray(masked(x4, training=True))
        unmasked = np.asarray(plain(x4, training=True))
    finally:
        fit_module._REAL_ROWS.reset(token)
    np.testing.assert_allclose(got[:3], ref, atol=1e-5)
    assert np.abs(unmasked[:3] - ref).max() > 1e-3
