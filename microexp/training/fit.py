"""Training: step-decay schedules, optimizer, callbacks, determinism, GPU options.

Paper A: learning rate divided by 10 every k epochs (pre-train 1e-4, 80 epochs, k = 20,
batch 20; fine-tune 1e-5, 40 epochs, k = 10, batch 10; scratch 1e-4, 40 epochs, k = 10). It
names no optimizer (Keras 2.3.1 era); we use Adam, as paper B does (1e-4, batch 64, 200 epochs,
no decay stated: k = 0 keeps the rate constant).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TrainConfig:
    """One training schedule. ``decay_every`` 0 means a constant learning rate; the rate is
    multiplied by ``decay_factor`` every ``decay_every`` epochs. ``sgd`` has momentum 0.9.
    ``weight_decay`` is Keras' (applied to the weights at each step, not added to the loss)."""

    epochs: int
    batch_size: int
    lr: float
    decay_every: int = 0
    decay_factor: float = 0.1
    optimizer: str = "adam"
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        from ..errors import MicroexpError, check_int

        check_int(self.epochs, "TrainConfig epochs", 1)
        check_int(self.batch_size, "TrainConfig batch_size", 1)
        if not self.lr > 0 or self.weight_decay < 0:
            raise MicroexpError(
                f"TrainConfig lr {self.lr!r} and weight_decay {self.weight_decay!r}: "
                "expected lr > 0 and weight_decay >= 0"
            )

    def as_dict(self) -> dict:
        """The fields, ``weight_decay`` left out at 0 so that runs made before it existed keep
        their hash."""
        d = asdict(self)
        if not d["weight_decay"]:
            del d["weight_decay"]
        return d


def step_decay(lr: float, every: int, factor: float = 0.1):
    """Epoch -> learning rate: ``lr * factor ** (epoch // every)`` (constant if every == 0)."""

    def schedule(epoch: int, _current: float | None = None) -> float:
        return float(lr * factor ** (epoch // every)) if every else float(lr)

    return schedule


def set_determinism(seed: int) -> None:
    """Same seed on the CPU -> same weights and predictions (op determinism on)."""
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # retracing notices between folds are expected
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):  # pragma: no cover - older TF
        pass


def configure_precision(mixed_precision: bool) -> None:
    """``mixed_float16`` for T4-class GPUs (heads stay float32); float32 otherwise."""
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")


def strategy():
    """``MirroredStrategy`` over every GPU when more than one is visible, else the default."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def step_input_mode(turns: bool, gpu: bool | None = None) -> str:
    """Where the input work runs (``make_dataset``'s ``turn_in``): with a GPU the training step
    gathers from the store held on the GPU and turns there (``"gather"``); on a CPU tf.data
    gathers on its own threads, overlapping the model's step, and the step only turns paper
    A's crops (``"turn"``, else ``"pipeline"``): measured on 2 cores, a gather inside the step
    cost ATSCNN 0.96 of in-memory speed against 1.07 for tf.data (benchmarks/README.md).
    ``gpu`` None: whether TensorFlow sees one."""
    if gpu is None:
        import tensorflow as tf

        gpu = bool(tf.config.list_physical_devices("GPU"))
    if gpu:
        return "gather"
    return "turn" if turns else "pipeline"


def make_optimizer(cfg: TrainConfig):
    import keras

    decay = {"weight_decay": cfg.weight_decay} if cfg.weight_decay else {}
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(cfg.lr, **decay)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(cfg.lr, momentum=0.9, **decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd'. Received: optimizer={cfg.optimizer!r}")


def compile_model(
    model, cfg: TrainConfig, jit_compile: bool = False, run_eagerly: bool = False
) -> None:
    """Adam/SGD per ``cfg``, sparse cross-entropy, accuracy. ``run_eagerly`` skips tracing the
    training step: slower per step, but on a CPU tracing costs 5-15 s per model, more than a
    run of a few steps (the ``tiny`` preset)."""
    model.compile(
        optimizer=make_optimizer(cfg),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
        run_eagerly=run_eagerly,
    )


def train(
    model,
    dataset,
    cfg: TrainConfig,
    log_dir: str | os.PathLike | None = None,
    tensorboard: bool = True,
    verbose: int = 0,
    log=None,
) -> dict[str, list[float]]:
    """Fit ``model`` on ``dataset`` for ``cfg.epochs`` with the step-decay schedule.

    Writes ``log_dir/training.csv`` (Keras CSVLogger) and TensorBoard events under
    ``log_dir/tensorboard`` when ``log_dir`` is given. Returns the per-epoch history. No
    validation data: epochs are fixed by the paper, never chosen on a held-out subject.
    ``log``: a function given one line per epoch (loss, accuracy, seconds) when not None.
    """
    import keras

    callbacks = [
        keras.callbacks.LearningRateScheduler(step_decay(cfg.lr, cfg.decay_every, cfg.decay_factor))
    ]
    if log is not None:
        callbacks.append(epoch_logger(cfg.epochs, log))
    if log_dir is not None:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(str(log_dir / "training.csv")))
        if tensorboard:
            callbacks.append(
                keras.callbacks.TensorBoard(
                    str(log_dir / "tensorboard"), write_graph=False, profile_batch=0
                )
            )
    hist = model.fit(
        dataset, epochs=cfg.epochs, callbacks=callbacks, verbose=verbose, shuffle=False
    )
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def epoch_logger(epochs: int, log):
    """A Keras callback that logs "  epoch 3/12: loss 0.812, accuracy 0.640 (4.1 s)"."""
    import time

    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            shown = ", ".join(
                f"{k} {v:.3f}" for k, v in (logs or {}).items() if k != "learning_rate"
            )
            log(f"  epoch {epoch + 1}/{epochs}: {shown} ({time.perf_counter() - self.t0:.1f} s)")

    return EpochLog()


def convergence_epoch(accuracy: list[float], fraction: float = 0.95) -> int:
    """Paper A's Table 3 "convergence epoch", which it does not define. Ours: the first epoch
    (1-based) whose training accuracy reaches ``fraction`` of the run's final training
    accuracy."""
    if not accuracy:
        raise ValueError("empty history")
    target = fraction * accuracy[-1]
    return next(i + 1 for i, a in enumerate(accuracy) if a >= target)


def step_input_model(
    net,
    store=None,
    crops: bool = False,
    turns: bool = True,
    flow_channels: tuple[int, int] = (0, 1),
):
    """``net`` behind the input work the training step does itself: a Keras model (sharing
    ``net``'s weights) fed by :func:`~microexp.data.make_dataset` with ``turn_in="turn"``
    (inputs ``(x, turns)``) or, given ``store`` (a (N[, crops], ...) tensor or variable, on
    the device), with ``turn_in="gather"`` (inputs ``(sample, crop, turns)``). It gathers the
    examples, casts them to ``net``'s compute dtype, turns each one unless ``turns`` is False
    (paper A's quarter turns; static shapes under XLA) and calls ``net``. Compile and fit the wrapper; predict with and
    save ``net``."""
    import keras

    from ..data.pipeline import turn_batch

    class StepInputModel(keras.Model):
        def __init__(self, inner) -> None:
            super().__init__(name=f"{inner.name}_step_input")
            self.inner = inner

        def call(self, inputs, training=None):
            import tensorflow as tf

            if store is None:
                x, k = inputs
            else:
                sample, crop, k = inputs
                index = tf.stack([sample, crop], axis=1) if crops else None
                x = tf.gather_nd(store, index) if crops else tf.gather(store, sample)
            x = tf.cast(x, self.inner.compute_dtype)
            if turns:
                static = bool(getattr(self, "jit_compile", False))
                x = turn_batch(x, k, flow_channels, static)
            return self.inner(x, training=training)

    return StepInputModel(net)


class FreshModel:
    """One compiled model reused across LOSO folds.

    Each :meth:`get` returns the model with the state of a newly built one (``make()``: weights,
    batch-norm statistics, dropout seeds) and a zeroed optimizer, without tracing the training
    step again: on a CPU that tracing costs several seconds per fold, more than a demo fold's
    training. Results equal those of a newly built and compiled model (tested).

    ``wrap``: the compiled model is ``wrap(network)`` (e.g. :func:`step_input_model`, fed
    by ``make_dataset(..., turn_in="turn"|"gather")``); :meth:`get` still returns the
    network, and :attr:`fit_model` is what to fit.
    """

    def __init__(
        self,
        make,
        cfg: TrainConfig,
        jit_compile: bool = False,
        run_eagerly: bool = False,
        wrap=None,
    ) -> None:
        self.make = make
        self.cfg = cfg
        self.jit_compile = jit_compile
        self.run_eagerly = run_eagerly
        self.wrap = wrap
        self.model = None
        self.fit_model = None

    def get(self):
        if self.model is None:
            with strategy().scope():
                self.model = self.make()
                self.fit_model = self.wrap(self.model) if self.wrap else self.model
                compile_model(self.fit_model, self.cfg, self.jit_compile, self.run_eagerly)
            return self.model
        new = self.make()
        if len(new.variables) != len(self.model.variables):
            raise RuntimeError("make() built a different architecture")
        for dst, src in zip(self.model.variables, new.variables, strict=True):
            dst.assign(src)
        for v in self.fit_model.optimizer.variables:
            if not v.path.endswith("learning_rate"):
                v.assign(np.zeros(v.shape, v.dtype))
        return self.model
