"""Training: step-decay schedules, optimizer, callbacks, determinism, GPU options.

Paper A: learning rate divided by 10 every k epochs (pre-train 1e-4, 80 epochs, k = 20,
batch 20; fine-tune 1e-5, 40 epochs, k = 10, batch 10; scratch 1e-4, 40 epochs, k = 10). It
names no optimizer (Keras 2.3.1 era); we use Adam, as paper B does (1e-4, batch 64, 200 epochs,
no decay stated: k = 0 keeps the rate constant).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Sequence
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
    """Same seed on the same device -> same weights and predictions (Keras' seeds and the
    backend's deterministic-ops switches: :func:`microexp.backend.set_determinism`)."""
    from .. import backend

    backend.set_determinism(seed)


def configure_precision(mixed_precision: bool | str | None) -> str:
    """Keras' global policy: False/None float32; True or ``"float16"`` ``mixed_float16``
    (T4-class GPUs); ``"bfloat16"`` ``mixed_bfloat16`` (Ampere and later). Heads stay
    float32. A backend or device without it is a one-line error
    (:func:`microexp.backend.configure_precision`)."""
    from .. import backend

    return backend.configure_precision(mixed_precision)


def step_input_mode(turns: bool, gpu: bool | None = None, backend_name: str | None = None) -> str:
    """Where the input work runs (:func:`~microexp.data.make_input`'s ``turn_in``). On JAX
    and PyTorch, and on TensorFlow with a GPU, the training step gathers from the store held
    on the device and turns there (``"gather"``). On TensorFlow on a CPU, tf.data gathers on
    its own threads, overlapping the model's step, and the step only turns paper A's crops
    (``"turn"``, else ``"pipeline"``): measured on 2 cores, a gather inside the step cost
    ATSCNN 0.96 of in-memory speed against 1.07 for tf.data (benchmarks/README.md). ``gpu``
    and ``backend_name`` None: the backend's."""
    from .. import backend

    if (backend_name or backend.name()) != "tensorflow":
        return "gather"
    if gpu is None:
        gpu = backend.gpu_count() > 0
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
    model,
    cfg: TrainConfig,
    jit_compile: bool = False,
    run_eagerly: bool = False,
    from_logits: bool = False,
    weighted: bool = False,
) -> None:
    """Adam/SGD per ``cfg``, sparse cross-entropy, accuracy. ``run_eagerly`` skips tracing the
    training step: slower per step, but on a CPU tracing costs 5-15 s per model, more than a
    run of a few steps (the ``tiny`` preset). ``jit_compile``: XLA on TensorFlow, always on
    JAX (its trainer compiles with XLA), ``torch.compile`` on torch. ``from_logits``: the model
    outputs logits (a fit model made by :func:`step_input_model` with ``logits=True``).
    ``weighted``: batches carry row weights (padded batches, :func:`~microexp.data.
    index_batches`): the loss is the weighted mean (sum of weight x loss over the sum of
    weights; with weights of 1 the plain mean, to the bit) and so is the accuracy."""
    import keras

    from .. import backend

    run_eagerly = backend.run_eagerly(run_eagerly)
    if weighted:
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=from_logits, reduction="mean_with_sample_weight"
        )
    elif from_logits:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        loss = "sparse_categorical_crossentropy"
    model.compile(
        optimizer=make_optimizer(cfg),
        loss=loss,
        **{"weighted_metrics" if weighted else "metrics": ["accuracy"]},
        jit_compile=backend.jit_compile(jit_compile) and not run_eagerly,
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
    steps_per_epoch: int | None = None,
    callbacks: Sequence = (),
) -> dict[str, list[float]]:
    """Fit ``model`` on ``dataset`` for ``cfg.epochs`` with the step-decay schedule.

    ``dataset``: a :class:`~microexp.data.FitInput` (every epoch in one input, with its
    ``steps_per_epoch``) or anything ``Model.fit`` takes for one epoch. Writes
    ``log_dir/training.csv`` (Keras CSVLogger) and TensorBoard events under
    ``log_dir/tensorboard`` when ``log_dir`` is given (:func:`tensorboard_callback`). Returns
    the per-epoch history. No validation data: epochs are fixed by the paper, never chosen on
    a held-out subject. ``log``: a function given one line per epoch (loss, accuracy,
    seconds) when not None. ``callbacks``: more Keras callbacks, after microexp's own.
    """
    import keras

    from .. import backend
    from ..data import FitInput

    if isinstance(dataset, FitInput):
        dataset, steps_per_epoch = dataset.data, dataset.steps_per_epoch
    extra, callbacks = (
        list(callbacks),
        [
            keras.callbacks.LearningRateScheduler(
                step_decay(cfg.lr, cfg.decay_every, cfg.decay_factor)
            )
        ],
    )
    if log is not None:
        callbacks.append(epoch_logger(cfg.epochs, log))
    if log_dir is not None:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(str(log_dir / "training.csv")))
        if tensorboard:
            board = tensorboard_callback(log_dir / "tensorboard", log)
            if board is not None:
                callbacks.append(board)
    callbacks += extra
    with backend.distribution_scope():
        hist = model.fit(
            dataset,
            epochs=cfg.epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def tensorboard_callback(path: Path, log=None):
    """TensorBoard events under ``path``: Keras' callback on TensorFlow; on JAX and PyTorch,
    the epoch scalars written by the ``tensorboard`` package without TensorFlow
    (:class:`~.events.EpochEvents`). Without that package: None, and one line to ``log``."""
    from .. import backend

    if backend.name() == "tensorflow":
        import keras

        return keras.callbacks.TensorBoard(str(path), write_graph=False, profile_batch=0)
    from .events import EpochEvents, available

    if available():
        return EpochEvents(path)
    _note_once(
        "TensorBoard events skipped: the tensorboard package is not installed "
        "(pip install tensorboard); training.csv has the same numbers",
        log,
    )
    return None


_NOTED: set[str] = set()


def _note_once(message: str, log=None) -> None:
    if message not in _NOTED:
        _NOTED.add(message)
        (log or print)(message)


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


def predict_fixed(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``model.predict(x)``'s outputs, batch by batch through ``predict_on_batch``: the same
    traced predict function and the same batches as ``predict`` (32 rows), without the dataset
    and iterator that ``predict`` builds on every call (0.3-0.6 s a LOSO fold on TensorFlow,
    benchmarks/fold_overhead.py). Where each new batch shape would compile again
    (:func:`microexp.backend.compiles_per_shape`: JAX), batches are exactly ``batch_size``
    rows: ``x`` is padded with copies of its last row and the padding's outputs dropped. In
    inference each row's output depends on that row alone (batch norm uses its moving
    statistics), so a LOSO run compiles its predict step once instead of once per distinct
    test-set size."""
    from .. import backend

    n = len(x)
    if backend.compiles_per_shape():
        pad = -n % batch_size
        if pad:
            x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
    else:
        batch_size = 32  # predict's default
    parts = [
        np.asarray(model.predict_on_batch(x[i : i + batch_size]))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(parts)[:n]


def convergence_epoch(accuracy: list[float], fraction: float = 0.95) -> int:
    """Paper A's Table 3 "convergence epoch", which it does not define. Ours: the first epoch
    (1-based) whose training accuracy reaches ``fraction`` of the run's final training
    accuracy."""
    if not accuracy:
        raise ValueError("empty history")
    target = fraction * accuracy[-1]
    return next(i + 1 for i, a in enumerate(accuracy) if a >= target)


_REAL_ROWS = contextvars.ContextVar("microexp_real_rows", default=None)


def mask_batch_norm(net) -> None:
    """Let ``net``'s batch-normalisation layers (nested ones too) compute their training
    statistics over a padded batch's real rows only: while :func:`step_input_model` calls
    ``net`` on a padded batch, each such layer passes Keras' ``mask`` (the real rows, broadcast
    over the spatial axes) to its own ``call``, so the padding touches neither the batch's
    normalisation nor the moving mean and variance. Outside a padded step, and in inference,
    nothing changes. Idempotent; the layers' weights and saved form are untouched."""
    import keras
    from keras import ops

    for layer in net._flatten_layers(include_self=False):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        if getattr(layer, "_microexp_masked", False):
            continue

        def call(inputs, training=None, mask=None, _plain=layer.call):
            real = _REAL_ROWS.get()
            if real is not None and training and mask is None:
                rows = ops.reshape(ops.cast(real, "bool"), (-1,) + (1,) * (len(inputs.shape) - 2))
                mask = ops.broadcast_to(rows, ops.shape(inputs)[:-1])
            return _plain(inputs, training=training, mask=mask)

        layer.call = call
        layer._microexp_masked = True


def step_input_model(
    net,
    store=None,
    crops: int = 0,
    turns: bool = True,
    flow_channels: tuple[int, int] = (0, 1),
    logits: bool = False,
    padded: bool = False,
):
    """``net`` behind the input work the training step does itself, in ``keras.ops`` on every
    backend: a Keras model (sharing ``net``'s weights) fed by :func:`~microexp.data.make_input`
    with ``turn_in="turn"`` (inputs ``(x, turns)``) or, given ``store`` (the stacked tensors
    as a ``keras.Variable`` on the device, :meth:`~microexp.data.TensorStore.variable`), with
    ``turn_in="gather"`` (inputs ``(sample, crop, turns)``). ``crops``: the number of crops
    per sample when ``store`` holds them flattened (row ``sample * crops + crop``), 0 when
    the store has no crop axis. It gathers the examples, casts them to ``net``'s compute
    dtype, turns each one unless ``turns`` is False (paper A's quarter turns, static shapes)
    and calls ``net``. ``logits``: output the logits of ``net``'s softmax layer ``head``
    instead of its probabilities (compile with ``from_logits=True``; see
    :func:`microexp.backend.needs_logits`). ``padded``: the batches are padded to one shape
    and carry a fourth input, the real-row column (:func:`~microexp.data.index_batches` with
    ``pad``; compile with ``weighted=True``); ``net``'s batch statistics skip the padding
    (:func:`mask_batch_norm`). Compile and fit the wrapper; predict with and save ``net``."""
    import keras
    from keras import ops

    from ..data.examples import turn_batch

    class StepInputModel(keras.Model):
        def __init__(self, inner) -> None:
            super().__init__(name=f"{inner.name}_step_input")
            self.inner = inner
            self.store = store  # tracked: a state of the step on JAX, never trained
            if padded:
                mask_batch_norm(inner)
                self.real_loss = keras.metrics.Mean(name="real_loss")
            if logits:  # the network up to its head, sharing its layers
                self.head = inner.get_layer("head")
                self.features = keras.Model(inner.inputs, self.head.input, name="features")

        def call(self, inputs, training=None):
            real = None
            if padded:
                *inputs, real = inputs
            token = _REAL_ROWS.set(real)
            try:
                return self._call(inputs, training)
            finally:
                _REAL_ROWS.reset(token)

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            if padded:  # each batch's loss weighted by its real rows, as plain batches are
                loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
                self.real_loss.update_state(loss, sample_weight=ops.sum(sample_weight))
            return super().compute_metrics(x, y, y_pred, sample_weight)

        def get_metrics_result(self):
            logs = super().get_metrics_result()
            if padded:  # Keras weighs each batch's loss by its shape: the padded size
                logs["loss"] = logs.pop("real_loss")
            return logs

        def _call(self, inputs, training):
            if self.store is None:
                x, k = inputs
            else:
                sample, crop, k = inputs
                row = ops.cast(sample, "int32")
                if crops:
                    row = row * crops + ops.cast(crop, "int32")
                x = ops.take(self.store, row, axis=0)
            x = ops.cast(x, self.inner.compute_dtype)
            if turns:
                x = turn_batch(x, k, flow_channels)
            if not logits:
                return self.inner(x, training=training)
            z = ops.cast(self.features(x, training=training), self.head.compute_dtype)
            return ops.matmul(z, self.head.kernel) + self.head.bias

    return StepInputModel(net)


class ReusedModel:
    """One compiled model reused across LOSO folds, reset to a new one's state at each.

    Each :meth:`get` returns the model with the state of a newly built one (``make()``: weights,
    batch-norm statistics, dropout seeds) and its optimizer as it was when built (every
    variable restored from a copy taken then: moments, iteration count, loss scale), without
    tracing the training step again: on a CPU that tracing costs several seconds per fold, more
    than a demo fold's training. Results equal those of a newly built and compiled model
    (tested).

    ``wrap``: the compiled model is ``wrap(network)`` (e.g. :func:`step_input_model`, fed
    by ``make_input(..., turn_in="turn"|"gather")``; ``from_logits`` when it outputs logits;
    ``weighted`` when its batches are padded);
    :meth:`get` still returns the
    network, and :attr:`fit_model` is what to fit.
    """

    def __init__(
        self,
        make,
        cfg: TrainConfig,
        jit_compile: bool = False,
        run_eagerly: bool = False,
        wrap=None,
        from_logits: bool = False,
        weighted: bool = False,
    ) -> None:
        self.make = make
        self.from_logits = from_logits
        self.weighted = weighted
        self.cfg = cfg
        self.jit_compile = jit_compile
        self.run_eagerly = run_eagerly
        self.wrap = wrap
        self.model = None
        self.fit_model = None
        self._optimizer_start: list[np.ndarray] = []

    def get(self):
        if self.model is None:
            from .. import backend

            with backend.distribution_scope():
                self.model = self.make()
                self.fit_model = self.wrap(self.model) if self.wrap else self.model
                compile_model(
                    self.fit_model,
                    self.cfg,
                    self.jit_compile,
                    self.run_eagerly,
                    self.from_logits,
                    self.weighted,
                )
                optimizer = self.fit_model.optimizer
                optimizer.build(self.fit_model.trainable_variables)  # as fit would, first
                self._optimizer_start = [np.array(v.numpy()) for v in optimizer.variables]
            return self.model
        new = self.make()
        if len(new.variables) != len(self.model.variables):
            raise RuntimeError("make() built a different architecture")
        for dst, src in zip(self.model.variables, new.variables, strict=True):
            dst.assign(src)
        for v, start in zip(self.fit_model.optimizer.variables, self._optimizer_start, strict=True):
            v.assign(start)
        return self.model
