"""The fold trainers: one for every deep model (re-sampling, rotation, input key and seeds are
decided here and nowhere else) and one for the handcrafted LBP-TOP + SVM baseline.

Seeds: a stage trained on every subject (pre-training) uses the run's seed; LOSO fold ``k``
uses ``seed + k`` for Keras and the shuffle and ``[seed, k]`` for re-sampling; the model
trained on every subject after LOSO is fold :data:`FINAL_SEED`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..evaluation.loso import FoldOutput
from .data import Prepared
from .spec import Sampling

#: seeds the model trained on every subject (fold indices seed the LOSO folds)
FINAL_SEED = 100_000


@dataclass(frozen=True)
class Seeds:
    keras: int
    shuffle: int
    rng: np.random.Generator


def seeds_for(seed: int, k: int | None) -> Seeds:
    """The seeds of a stage on every subject (``k`` None) or of fold ``k``."""
    if k is None:
        return Seeds(seed, seed, np.random.default_rng(seed))
    return Seeds(seed + k, seed + k, np.random.default_rng([seed, k]))


@dataclass(frozen=True)
class FitSetting:
    """Everything a fold trainer needs besides the data: the stage's schedule and sampling
    (``per_class`` resolved for the preset), how to make the starting model, the seed, and
    the switches (mixed precision and XLA change numbers; the rest do not)."""

    make: Callable | None  # () -> keras.Model, the fold's starting point
    schedule: object  # TrainConfig (None for the SVM baseline)
    sampling: Sampling
    per_class: int | None
    seed: int
    mixed_precision: bool
    xla: bool
    run_eagerly: bool
    tensorboard: bool
    log_dir: Path
    log: Callable[[str], None]
    verbose: bool = False  # one line per epoch (loss, accuracy) besides one per fold
    input_key: str = "x"  # the cached tensor the model reads (its ModelSpec's)
    epoch_predictions: bool = False  # record each epoch's test predictions (test-oracle runs)

    @classmethod
    def for_stage(cls, stage, preset: str, **options) -> FitSetting:
        """The setting of a declared ``stage`` (its schedule and ``per_class`` resolved for
        ``preset``); ``options``: the remaining fields, by keyword (switches default off)."""
        sampling = stage.sampling
        switches = dict(mixed_precision=False, xla=False, run_eagerly=False, tensorboard=False)
        return cls(
            schedule=None if stage.schedules is None else stage.schedules[preset],
            sampling=sampling,
            per_class=None if sampling.per_class is None else sampling.per_class[preset],
            **{**switches, **options},
        )


def draw_items(setting: FitSetting, data: Prepared, indices: list[int], rng, context: str):
    """The stage's training examples: every sample once, or paper A's class re-sampling; with
    the empty-class warnings it raised."""
    from ..data import plain_items, resampled_items

    if setting.per_class is None:
        return plain_items(indices, data.labels), []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = resampled_items(
            indices,
            data.labels,
            setting.per_class,
            list(setting.sampling.crops),
            setting.sampling.rotate,
            rng,
            len(data.classes),
            context,
        )
    return items, [str(w.message) for w in caught]


class KerasTrainer:
    """Every deep model's fold trainer: a fresh model per fold (one traced model reused,
    :class:`~microexp.training.fit.ReusedModel`), trained on the stage's examples, predicting
    the held-out samples from ``sampling.test_crop``."""

    def __init__(self, setting: FitSetting, data: Prepared) -> None:
        from .. import backend
        from ..training.fit import ReusedModel, step_input_mode, step_input_model

        self.s = setting
        self.data = data
        crops = setting.per_class is not None  # paper A's re-sampling draws crops
        turns = crops and setting.sampling.rotate
        self.turn_in = step_input_mode(turns)
        logits = backend.needs_logits()  # never in TF's "pipeline" mode (no wrapper there)
        # one batch shape for every batch of every fold where a new shape compiles again
        self.pad = self.turn_in == "gather" and backend.compiles_per_shape()

        def wrap(net):  # the step turns (and gathers from the store held on the device)
            if self.turn_in != "gather":
                return step_input_model(net, turns=True, logits=logits)
            key = setting.input_key
            store = data.store.variable(key, flat_crops=crops)
            n_crops = data.store.stacked(key).shape[1] if crops else 0
            return step_input_model(net, store, n_crops, turns, logits=logits, padded=self.pad)

        self.factory = ReusedModel(
            setting.make,
            setting.schedule,
            setting.xla,
            setting.run_eagerly,
            wrap=wrap if self.turn_in != "pipeline" else None,
            from_logits=logits,
            weighted=self.pad,
        )

    def fit(self, train_samples: Sequence, k: int | None, tag: str, callbacks: Sequence = ()):
        """Train on ``train_samples`` (``k``: fold index, None for a stage on every subject);
        returns (model, history, extra). ``callbacks``: more Keras callbacks (benchmarks)."""
        from ..data import make_input
        from ..training.fit import configure_precision, set_determinism, train

        s = self.s
        seeds = seeds_for(s.seed, k)
        configure_precision(s.mixed_precision)
        set_determinism(seeds.keras)
        context = f" for {tag}" if k is not None else f" in {tag}"
        indices = self.data.indices(train_samples)
        items, caught = draw_items(s, self.data, indices, seeds.rng, context)
        for m in caught:
            s.log(f"  warning: {m}")
        model = self.factory.get()
        key = s.input_key
        batch = s.schedule.batch_size
        dataset = make_input(
            self.data.store,
            items,
            batch,
            key,
            shuffle=True,
            seed=seeds.shuffle,
            epochs=s.schedule.epochs,
            turn_in=self.turn_in,
            pad=self.pad,
        )
        log_dir = s.log_dir / tag.replace(" ", "_")
        hist = train(
            self.factory.fit_model,
            dataset,
            s.schedule,
            log_dir,
            tensorboard=s.tensorboard,
            log=s.log if s.verbose else None,
            callbacks=callbacks,
        )
        return model, hist, {"warnings": caught, "train_examples": len(items)}

    def fit_predict(self, train_s: Sequence, test_s: Sequence, fold) -> FoldOutput:
        from ..data import plain_items, to_arrays
        from ..training.fit import predict_fixed

        items = plain_items(self.data.indices(test_s), self.data.labels, self.s.sampling.test_crop)
        x_test, _ = to_arrays(self.data.store, items, self.s.input_key)
        batch = self.s.schedule.batch_size
        watch = []
        if self.s.epoch_predictions:  # a test-oracle run: what each epoch would have scored
            watch = [epoch_predictions(lambda: self.factory.model, x_test, batch)]
        model, hist, extra = self.fit(train_s, fold.index, f"fold {fold.index:03d}", watch)
        prob = predict_fixed(model, x_test, batch)
        if watch:
            extra["epoch_pred"] = watch[0].predictions
        return FoldOutput(
            [int(v) for v in prob.argmax(axis=1)], prob.round(5).tolist(), hist, extra
        )

    def fit_all(self):
        """The run's schedule on every subject (seed :data:`FINAL_SEED`): the saved model."""
        return self.fit(self.data.samples, FINAL_SEED, "final")[0]


def epoch_predictions(net, x_test, batch_size: int):
    """A Keras callback recording, after every epoch, the class ``net()`` predicts for each
    held-out example (``.predictions``: one list per epoch). Only a test-oracle run uses it;
    predicting changes no weight and draws no random number, so the run's own (last-epoch)
    predictions are those of an ordinary run (tested)."""
    import keras

    from ..training.fit import predict_fixed

    class EpochPredictions(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.predictions: list[list[int]] = []

        def on_epoch_end(self, epoch, logs=None) -> None:
            prob = predict_fixed(net(), x_test, batch_size)
            self.predictions.append([int(v) for v in prob.argmax(axis=1)])

    return EpochPredictions()


class SVMTrainer:
    """The handcrafted baseline: LBP-TOP features, a linear SVM fitted per fold."""

    def __init__(self, setting: FitSetting, data: Prepared) -> None:
        self.s = setting
        self.data = data

    def fit_predict(self, train_s: Sequence, test_s: Sequence, fold) -> FoldOutput:
        from ..data import plain_items, to_arrays
        from ..models import fit_predict_lbptop

        store, labels = self.data.store, self.data.labels
        x_tr, y_tr = to_arrays(store, plain_items(self.data.indices(train_s), labels))
        x_te, _ = to_arrays(store, plain_items(self.data.indices(test_s), labels))
        return FoldOutput([int(v) for v in fit_predict_lbptop(x_tr, y_tr, x_te, seed=self.s.seed)])

    fit_all = None  # no saved model: predict needs a Keras model


def baseline_fit_predict(name: str, data: Prepared, crop: int | None):
    """A LOSO ``fit_predict`` of baseline ``name`` (``majority`` or ``linear_probe``) on the
    same cached tensors as the model (crop ``crop`` for training and testing)."""
    from ..data import plain_items
    from ..evaluation.baselines import (
        linear_probe_fit_predict,
        majority_fit_predict,
        pooled_features,
    )

    def features(items) -> np.ndarray:
        return np.stack([pooled_features(data.store.example(it)) for it in items])

    def fit_predict(train_s: Sequence, test_s: Sequence, fold) -> FoldOutput:
        tr = plain_items(data.indices(train_s), data.labels, crop)
        te = plain_items(data.indices(test_s), data.labels, crop)
        y_tr = [it.label for it in tr]
        if name == "majority":
            return FoldOutput(majority_fit_predict(y_tr, len(te)))
        return FoldOutput(linear_probe_fit_predict(features(tr), y_tr, features(te)))

    return fit_predict


#: Experiment.trainer -> its fold trainer
TRAINERS = {"keras": KerasTrainer, "lbptop-svm": SVMTrainer}


class atomic_keras:
    """Save a .keras file under a temporary name (Keras needs the suffix), then rename."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type, *_: object) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def save_model(model, path: Path) -> None:
    with atomic_keras(path) as tmp:
        model.save(tmp)
