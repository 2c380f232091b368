"""The one generic runner: declared experiments -> data -> samples -> cache -> LOSO with one
fold trainer -> run directories -> report.

``reproduce(NAME, OUT)`` runs a paper's declared experiments; ``run(PROTOCOL, MODEL, OUT)``
runs any registered model on any protocol in the recipe's default setting. Both resume:
finished folds, pre-trained models and final models are reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from ..backend import precision_key
from ..datasets import get_split
from ..errors import MicroexpError, check_int, is_int, unknown_name
from ..evaluation.baselines import BASELINES
from ..evaluation.loso import ensure_run_dir, parse_shard, run_loso, sample_subjects
from ..evaluation.megc import write_megc_log
from ..preprocess.recipes import recipe_dict
from ..reporting.tables import TABLES
from .data import (
    Prepared,
    data_record,
    datasets_of,
    prepare,
    protocol_samples,
    record_data,
    resolve_data,
)
from .defaults import RECIPE_PRESETS, TRAINING, model_inputs, model_training
from .megc import PROTOCOL_TABLES
from .spec import Experiment, Preset, Stage, get_preset
from .trainer import TRAINERS, FitSetting, KerasTrainer, baseline_fit_predict, save_model

#: what one call of a run does (RunOptions.step)
STEPS = ("all", "prepare", "folds")


@dataclass(frozen=True)
class RunOptions:
    """How to run (what ``microexp reproduce`` and ``microexp run`` take besides names).

    ``data``: ``synthetic`` or ``name=DIR,name=DIR``. ``seed`` seeds the synthetic data and,
    unless ``seeds`` is given, training; ``seeds``: train every experiment once per seed (run
    folders ``NAME`` for seed 0, ``NAME-seedK`` otherwise; tables give the mean and s.d. over
    seeds). ``folds``/``shard``: a part of the folds
    (then no final model); ``shard="auto"`` reads it from a Slurm job array or a Kubernetes
    Indexed Job, whose shard count ``shards`` gives (or ``MICROEXP_SHARDS``). ``cache``: flow
    cache (default OUT/cache). ``data_dir``: where synthetic data is generated (default OUT/data). ``pretrained``: a pre-trained model
    (.keras) to fine-tune instead of pre-training one. ``tensorboard`` None: the preset's.
    ``split``: ``loso`` (leave one subject out) or ``lodo`` (leave one dataset out, for a
    composite protocol; the run folder gets a ``-lodo`` suffix). ``flow_backend``: TV-L1 by
    ``cv2`` (default), ``tf`` or ``auto`` (``tf`` with a GPU); part of the cache key and the
    run's hash (``cv2`` leaves both as they were). ``mixed_precision``: False (float32),
    True or ``"float16"`` (T4-class GPUs), ``"bfloat16"`` (Ampere and later); checked against
    the Keras backend and device before any data is read. ``verbose``: a line per
    epoch (loss, accuracy) besides the line per fold, which gives the time left.
    ``parallel_folds``: train that many folds at once, in worker processes on this machine
    (:mod:`.parallel`; the same records as one by one). ``step``: ``all``; ``prepare`` (the
    work every shard shares: data, flows, pre-training; no fold, no report); ``folds`` (the
    folds only: no final model, no report), as a cluster's jobs split a run
    (:mod:`.submit`). ``selection``: ``final`` (the default and the only honest one: every
    fold is scored at its fixed last epoch) or ``test-oracle``, a labelled measurement of the
    field's practice: every epoch's predictions on the held-out subject are recorded so that
    the report can also give what picking each fold's best epoch on its test subject would
    report; its run folders (``NAME-test-oracle``) and hashes are its own, so it never merges
    with an honest run, and its honest number (the last epoch) is shown beside.
    """

    data: str = "synthetic"
    preset: str = "demo"
    seed: int = 0
    seeds: tuple[int, ...] | None = None
    folds: tuple[int, ...] | None = None
    shard: str | None = None
    shards: int | None = None
    cache: str | os.PathLike | None = None
    data_dir: str | os.PathLike | None = None
    mixed_precision: bool | str = False
    xla: bool = False
    pretrained: str | os.PathLike | None = None
    tensorboard: bool | None = None
    final_model: bool = True
    split: str = "loso"
    flow_backend: str = "cv2"
    verbose: bool = False
    parallel_folds: int = 1
    step: str = "all"
    selection: str = "final"
    log: Callable[[str], None] = print


#: how a fold's scored epoch is chosen: the fixed last epoch (honest, default), or the
#: labelled measurement of choosing it on the held-out subject
SELECTIONS = ("final", "test-oracle")


@dataclass
class Loaded:
    """What one command reads once and every experiment of it shares: each protocol's samples
    (a LoadResult), their hashed data record, and the tensors in memory per protocol and
    recipe (a :class:`~.data.Prepared`)."""

    samples: dict[str, object] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)
    prepared: dict[tuple[str, str], Prepared] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """One call's resolved settings, passed to every step instead of long argument lists."""

    out: Path
    opts: RunOptions
    preset: Preset
    roots: dict[str, Path]
    cache_root: Path
    shard: tuple[int, int] | None
    paper: str | None
    memo: Loaded = field(default_factory=lambda: Loaded())  # what this command read once
    seed: int = 0  # this pass's training seed

    def run_name(self, name: str) -> str:
        """The run folder of experiment ``name`` at this pass's seed (and split)."""
        name = name if self.opts.split == "loso" else f"{name}-{self.opts.split}"
        name = name if self.opts.selection == "final" else f"{name}-{self.opts.selection}"
        return name if self.seed == 0 else f"{name}-seed{self.seed}"

    def log(self, message: str) -> None:
        self.opts.log(message)

    @property
    def complete(self) -> bool:
        """A run over every fold (not --folds/--shard): it then also saves a final model."""
        return self.opts.folds is None and self.shard is None

    def runtime(self) -> dict:
        """Settings that never change a number (outside the run's hash)."""
        tb = self.preset.tensorboard if self.opts.tensorboard is None else self.opts.tensorboard
        return {
            "tensorboard": tb,
            "run_eagerly": self.preset.run_eagerly,
            "final_model": self.opts.final_model,
            "parallel_folds": self.opts.parallel_folds,
            "out": str(self.out),
        }


# ------------------------------------------------------------------------------ resolving


def recipe_of(exp: Experiment, preset: str, flow_backend: str = "cv2"):
    """The experiment's recipe (default: the model's) with the preset's parameters and, for
    recipes that compute TV-L1, the flow backend (``cv2``, ``tf`` or ``auto``)."""
    from ..preprocess import RECIPES, TVL1Params, get_recipe

    name = exp.recipe or _model_recipe(exp.model)
    over = dict(RECIPE_PRESETS[name][preset]) if name in RECIPE_PRESETS else {}
    if "tvl1" in over:
        over["tvl1"] = TVL1Params(**over["tvl1"])
    if "flow_backend" in {f.name for f in fields(RECIPES[name])}:
        over["flow_backend"] = flow_backend
    return get_recipe(name, **over)


def _model_recipe(model: str) -> str:
    from ..models import get_spec

    return get_spec(model).recipe


def check_experiment(exp: Experiment) -> None:
    """Refuse, in one line, a model whose input the recipe cannot provide, an unknown
    trainer or headline metric, before any data is read."""
    from ..evaluation.intervals import INTERVAL_METRICS

    if exp.trainer not in TRAINERS:
        raise unknown_name("trainer", exp.trainer, tuple(TRAINERS))
    if exp.headline not in INTERVAL_METRICS:
        raise unknown_name("headline metric", exp.headline, INTERVAL_METRICS)
    if exp.trainer != "keras":
        return
    from ..models import get_spec

    for stage in (exp.train, exp.pretrain):
        if stage is not None and stage.freeze and get_spec(exp.model).blocks is None:
            raise MicroexpError(
                f"model {exp.model!r} declares no blocks (ModelSpec.blocks): freeze "
                f"{list(stage.freeze)} would be ignored"
            )
    reads = _model_recipe(exp.model)
    if exp.recipe is not None and exp.recipe != reads:
        raise MicroexpError(
            f"model {exp.model!r} reads {reads} tensors; recipe {exp.recipe!r} cannot provide "
            f"them (use --recipe {reads})"
        )


def _prepared(ctx: Context, protocol: str, recipe) -> Prepared:
    key = (protocol, json.dumps(asdict(recipe), sort_keys=True, default=str))
    if key not in ctx.memo.prepared:
        merged = _samples(ctx, protocol)
        data = prepare(protocol, ctx.roots, recipe, ctx.cache_root, ctx.log, merged)
        size = data.store.nbytes()
        ctx.log(
            f"[data] {protocol}: {len(data.samples)} samples' tensors in memory, {_bytes(size)} "
            f"(with the pipeline's copy, {_bytes(2 * size)})"
        )
        ctx.memo.prepared[key] = data
    return ctx.memo.prepared[key]


def _bytes(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _setting(
    ctx: Context, stage: Stage, make: Callable | None, log_dir: Path, exp: Experiment
) -> FitSetting:
    return FitSetting.for_stage(
        stage,
        ctx.preset.name,
        make=make,
        seed=ctx.seed,
        mixed_precision=ctx.opts.mixed_precision,
        xla=ctx.opts.xla,
        run_eagerly=ctx.preset.run_eagerly,
        tensorboard=ctx.runtime()["tensorboard"],
        log_dir=log_dir,
        log=ctx.log,
        verbose=ctx.opts.verbose,
        input_key=_input_key(exp),
        epoch_predictions=ctx.opts.selection == "test-oracle" and stage is exp.train,
    )


def _input_key(exp: Experiment) -> str:
    """The cached tensor the experiment's model reads, as its registry entry declares it."""
    from ..models import get_spec

    return get_spec(exp.model).input_key(dict(exp.model_args)) if exp.trainer == "keras" else "x"


def _stage_config(ctx: Context, stage: Stage) -> dict:
    sched = None if stage.schedules is None else stage.schedules[ctx.preset.name].as_dict()
    return {
        "protocol": stage.protocol,
        "train": sched,
        "sampling": stage.sampling.resolved(ctx.preset.name),
        "freeze": list(stage.freeze),
    }


def _data_config(ctx: Context, protocol: str) -> dict:
    """The hashed record of the data a run on ``protocol`` reads (:func:`~.data.data_record`;
    once per protocol and command)."""
    if protocol not in ctx.memo.records:
        ctx.memo.records[protocol] = data_record(_samples(ctx, protocol).samples)
    return ctx.memo.records[protocol]


def _samples(ctx: Context, protocol: str):
    """The protocol's samples, its annotations read once per command (a LoadResult)."""
    if protocol not in ctx.memo.samples:
        ctx.memo.samples[protocol] = protocol_samples(protocol, ctx.roots)
    return ctx.memo.samples[protocol]


def _reads(ctx: Context, exp: Experiment, recipe, classes: list[str]) -> dict:
    """The part of every hashed config of ``exp`` (its run's, its baselines') that says what
    it reads and how it is split: protocol, recipe, classes, data record, split."""
    return {
        "protocol": exp.protocol,
        "recipe": recipe_dict(recipe),
        "classes": classes,
        "data": _data_config(ctx, exp.protocol),
        **_split(ctx),
    }


def _config(ctx: Context, exp: Experiment, recipe, classes: list[str], stage: str) -> dict:
    """A run directory's config.json: the hashed settings, then ``runtime`` and ``meta``."""
    return {
        "stage": stage,
        **_reads(ctx, exp, recipe, classes),
        "model": exp.model,
        "model_args": dict(exp.model_args),
        "trainer": exp.trainer,
        "seed": ctx.seed,
        "data_preset": ctx.preset.data_preset,
        "mixed_precision": precision_key(ctx.opts.mixed_precision),
        "xla": ctx.opts.xla,
        **_backend_config(),
        "runtime": ctx.runtime(),
        "meta": {**_meta(ctx, exp), "preset": ctx.preset.name},
        **_selection(ctx, stage),
    }


def _selection(ctx: Context, stage: str) -> dict:
    """``{"selection": "test-oracle"}`` for a LOSO run that records every epoch's test
    predictions (a measurement of test-subject epoch picking); nothing for an honest run, so
    that its hash is the one it always had."""
    oracle = stage == "loso" and ctx.opts.selection != "final"
    return {"selection": ctx.opts.selection} if oracle else {}


def _baseline_config(ctx: Context, exp: Experiment, recipe, classes: list[str], name: str) -> dict:
    """A baseline's config.json (``run_dir/baselines/NAME/``): what the experiment reads
    (:func:`_reads`), the baseline and its settings."""
    from ..evaluation.baselines import PROBE_C, PROBE_GRID

    return {
        "baseline": name,
        **_reads(ctx, exp, recipe, classes),
        "crop": exp.train.sampling.test_crop,
        "probe": {"grid": PROBE_GRID, "C": PROBE_C} if name == "linear_probe" else None,
        "meta": {"name": f"{_meta(ctx, exp)['name']}:{name}"},
    }


def _backend_config() -> dict:
    """The Keras backend a run trains on, part of its hash (floats differ between backends):
    left out on TensorFlow, so that runs made before other backends keep their hash."""
    from .. import backend

    name = backend.name()
    return {} if name == "tensorflow" else {"backend": name}


def _meta(ctx: Context, exp: Experiment) -> dict:
    """The experiment's metadata; under LODO its name (and the run it is compared to) carry
    the split, so that a report never mixes a LODO run with the LOSO one."""
    meta = exp.meta(ctx.paper)
    if _shows_cost(exp):
        from ..models.summary import model_costs

        meta["cost"] = model_costs(exp.model, **exp.model_args)
    if ctx.opts.split != "loso":
        for key in ("name", "compare_to"):
            if meta[key] is not None:
                meta[key] = f"{meta[key]}-{ctx.opts.split}"
    if ctx.opts.selection != "final":  # labelled, compared with nothing, in no paper table
        meta["name"] = f"{meta['name']}-{ctx.opts.selection}"
        meta["compare_to"] = None
        meta["tables"] = []
        meta["selection"] = ctx.opts.selection
    return meta


def _shows_cost(exp: Experiment) -> bool:
    """Whether a table the run feeds has a column of the model's size or cost (then the run's
    metadata records them, at the model's registered input size: the paper's setting)."""
    from ..models.summary import COST_KEYS

    return exp.trainer == "keras" and any(
        c.metric in COST_KEYS for key in exp.tables if key in TABLES for c in TABLES[key].columns
    )


def _split(ctx: Context) -> dict:
    """``{"split": "lodo"}`` under LODO; nothing under LOSO, so that LOSO runs keep the hash
    (and resume) they had before splits existed."""
    return {} if ctx.opts.split == "loso" else {"split": ctx.opts.split}


# -------------------------------------------------------------------------------- stages


def _builder(exp: Experiment, data: Prepared, recipe, num_classes: int) -> Callable:
    from ..models import build_model

    inputs = model_inputs(recipe, _example_shape(exp, data))
    return lambda: build_model(exp.model, num_classes=num_classes, **inputs, **dict(exp.model_args))


def _example_shape(exp: Experiment, data: Prepared) -> tuple[int, ...]:
    """The shape of one training example (one crop of the cached tensors)."""
    from ..data import Item

    crops = exp.train.sampling.crops
    return data.store.example(
        Item(0, crops[0] if crops else exp.train.sampling.test_crop, 0, 0)
    ).shape


def pretrain(ctx: Context, exp: Experiment, recipe) -> Path:
    """Pre-train on the stage's macro-expression protocol (every subject: it is not the
    evaluation set) and save ``OUT/pretrain/MODEL/model.keras``; reused when present."""
    import keras

    stage = exp.pretrain
    pre = replace(exp, protocol=stage.protocol, train=stage, pretrain=None)
    pre_dir = ctx.out / "pretrain" / ctx.run_name(exp.model)
    path = pre_dir / "model.keras"
    classes = _classes(stage.protocol)
    config = _config(ctx, pre, recipe, classes, "pretrain")
    config["pretrain"] = _stage_config(ctx, stage)
    config["meta"].update(name=f"{exp.model}-pretrain", tables=[])
    ensure_run_dir(pre_dir, config)
    if path.is_file():
        ctx.log(f"[pretrain] {exp.model}: reusing {path}")
        return path
    data = _prepared(ctx, stage.protocol, recipe)
    make = _builder(pre, data, recipe, len(classes))
    trainer = KerasTrainer(_setting(ctx, stage, make, pre_dir / "logs", pre), data)
    t = time.time()
    model, hist, extra = trainer.fit(data.samples, None, stage.protocol)
    ctx.log(
        f"[pretrain] {exp.model}: {extra['train_examples']} examples, final train accuracy "
        f"{hist['accuracy'][-1]:.3f} ({time.time() - t:.0f} s)"
    )
    (pre_dir / "history.json").write_text(json.dumps(hist) + "\n")
    save_model(model, path)
    keras.backend.clear_session()
    return path


def _classes(protocol: str) -> list[str]:
    from ..datasets import get_protocol

    return list(get_protocol(protocol).classes)


def _fine_tune_builder(exp: Experiment, pretrained: Path, data: Prepared) -> Callable:
    """The fold's starting point: the pre-trained model, its ``freeze`` blocks frozen, a new
    head with the protocol's classes (the head and the blocks as the model's registry entry
    declares them)."""
    import keras

    from ..models import freeze_blocks, get_spec, replace_head

    spec = get_spec(exp.model)
    base = load_pretrained(pretrained, exp)
    want, takes = _example_shape(exp, data), tuple(base.inputs[0].shape[1:])
    if takes != tuple(want):
        raise MicroexpError(
            f"{pretrained}: takes inputs of shape {takes}; this run's tensors are {tuple(want)} "
            "(pre-trained with other recipe parameters or another preset?)"
        )
    num_classes = len(data.classes)

    def make():
        clone = keras.models.clone_model(base)
        clone.set_weights(base.get_weights())
        if exp.train.freeze:
            freeze_blocks(clone, exp.train.freeze, spec.blocks)
        return replace_head(clone, num_classes, spec.head)

    return make


def load_pretrained(path: Path, exp: Experiment):
    """A pre-trained model to fine-tune as ``exp`` declares, checked: loadable, with the
    classifier layer that a new head replaces (:func:`~microexp.models.replace_head`) and the
    blocks the stage freezes (its model's ``ModelSpec.head`` and ``blocks``)."""
    from ..fileio import load_keras_model
    from ..models import get_spec

    spec = get_spec(exp.model)
    model = load_keras_model(path)
    names = [layer.name for layer in model.layers]
    wanted = [(spec.head, "classifier layer")]
    wanted += [(spec.blocks.format(b), f"block {b} to freeze") for b in exp.train.freeze]
    for prefix, what in wanted:
        if not any(n == prefix or n.startswith(prefix) and prefix.endswith("_") for n in names):
            raise MicroexpError(
                f"{path}: {model.name} has no {what} ({prefix!r}) for {exp.model} (expected a "
                "model written by its pre-training stage, OUT/pretrain/MODEL/model.keras)"
            )
    return model


def _pretrained_origin(ctx: Context) -> str:
    """What the hash records of the model to fine-tune: a given file's digest."""
    if ctx.opts.pretrained is not None:
        return hashlib.sha256(Path(ctx.opts.pretrained).read_bytes()).hexdigest()[:16]
    return "pre-trained in this run"


def run_experiment(ctx: Context, exp: Experiment) -> str:
    """One declared experiment under LOSO, resumable; returns its name. Four stages: the run
    folder is checked against the configuration before anything is computed; the data and
    the fold's starting point (pre-training included) are prepared; the folds are trained;
    what follows the folds (samples, MEGC log, baselines, the final model) is written."""
    recipe = recipe_of(exp, ctx.preset.name, ctx.opts.flow_backend)
    run_dir = ctx.out / "runs" / ctx.run_name(exp.name)
    config = _loso_config(ctx, exp, recipe)
    ensure_run_dir(run_dir, config)
    data = _prepared(ctx, exp.protocol, recipe)
    make = _starting_point(ctx, exp, recipe, data)
    if ctx.opts.step == "prepare":
        ctx.log(f"[prepare] {exp.name}: data, flows and pre-training ready")
        return run_dir.name
    trainer = TRAINERS[exp.trainer](_setting(ctx, exp.train, make, run_dir / "logs", exp), data)
    records = _train_folds(ctx, exp, data, trainer, run_dir, config)
    _after_folds(ctx, exp, data, recipe, run_dir, records, trainer)
    return run_dir.name


def _loso_config(ctx: Context, exp: Experiment, recipe) -> dict:
    """The run's config.json: :func:`_config` with its training stage and, when it
    fine-tunes, the pre-training it starts from."""
    config = _config(ctx, exp, recipe, _classes(exp.protocol), "loso")
    config["train"] = _stage_config(ctx, exp.train)
    if exp.pretrain is not None:
        config["pretrain"] = {**_stage_config(ctx, exp.pretrain), "model": _pretrained_origin(ctx)}
        if ctx.opts.pretrained is None:  # pre-trained in this run: pin the data it read
            config["pretrain"]["data"] = _data_config(ctx, exp.pretrain.protocol)
    return config


def _starting_point(ctx: Context, exp: Experiment, recipe, data: Prepared) -> Callable | None:
    """How each fold's model starts: fine-tuned from a pre-trained model (given, or trained
    here first), built from scratch, or None for a trainer without a Keras model."""
    if exp.pretrain is not None:
        given = ctx.opts.pretrained
        path = Path(given) if given is not None else pretrain(ctx, exp, recipe)
        return _fine_tune_builder(exp, path, data)
    if exp.trainer == "keras":
        return _builder(exp, data, recipe, len(data.classes))
    return None


def _train_folds(ctx: Context, exp: Experiment, data, trainer, run_dir: Path, config: dict):
    """The folds of this call (all, ``--folds`` or a shard), in worker processes with
    ``--parallel-folds``; every finished fold's record."""
    opts = ctx.opts
    split = get_split(opts.split)
    groups = len({split.group(s) for s in data.samples})
    ctx.log(f"[run] {exp.name}: {opts.split.upper()} over {groups} {split.what}s")
    if opts.parallel_folds > 1 and exp.trainer == "keras":
        _folds_in_workers(ctx, exp, data, run_dir)
    return run_loso(
        data.samples,
        data.labels,
        trainer.fit_predict,
        run_dir,
        config,
        opts.folds,
        ctx.shard,
        ctx.log,
        opts.split,
    )


def _after_folds(ctx: Context, exp: Experiment, data, recipe, run_dir: Path, records, trainer):
    """What a run writes beside its folds: the samples, the MEGC log of a composite, the
    baselines, and (a complete run) the model trained on every subject."""
    _write_samples(run_dir, data)
    if len({s.dataset for s in data.samples}) > 1:
        write_megc_log(run_dir / "megc_log.txt", records)
    run_baselines(ctx, exp, data, recipe, run_dir)
    opts = ctx.opts
    if ctx.complete and opts.step == "all" and opts.final_model and trainer.fit_all is not None:
        _final_model(ctx, run_dir, trainer.fit_all)


def _folds_in_workers(ctx: Context, exp: Experiment, data: Prepared, run_dir: Path) -> None:
    """The folds of this call that are not finished, trained by ``--parallel-folds`` worker
    processes (:mod:`.parallel`); the LOSO that follows reuses their records."""
    from ..evaluation.loso import fold_path, select_folds, split_folds
    from .parallel import run_in_workers

    opts = ctx.opts
    todo = select_folds(split_folds(data.samples, opts.split), opts.folds, ctx.shard)
    left = [f.index for f in todo if not fold_path(run_dir, f).is_file()]
    run_in_workers(
        train_folds, ctx.out, exp, opts, ctx.paper, ctx.seed, left, opts.parallel_folds, ctx.log
    )


def train_folds(out: Path, exp: Experiment, opts: RunOptions, paper: str | None, seed: int):
    """A ``--parallel-folds`` worker's job: the folds ``opts.folds`` of ``exp`` at training
    seed ``seed``, their records written into the run folder."""
    ctx = start(out, [exp], opts, paper)
    run_experiment(replace(ctx, seed=seed), exp)


def run_baselines(ctx: Context, exp: Experiment, data: Prepared, recipe, run_dir: Path) -> None:
    """The majority class and the linear probe on the same folds and cached tensors
    (``run_dir/baselines/NAME/``, resumable like the run)."""
    from ..evaluation.metrics import all_metrics

    line = []
    for name in BASELINES:
        config = _baseline_config(ctx, exp, recipe, data.classes, name)
        fp = baseline_fit_predict(name, data, config["crop"])
        recs = run_loso(
            data.samples, data.labels, fp, run_dir / "baselines" / name, config,
            ctx.opts.folds, ctx.shard, lambda _: None, ctx.opts.split,
        )  # fmt: skip
        t = [v for r in recs for v in r["y_true"]]
        p = [v for r in recs for v in r["y_pred"]]
        subjects = sample_subjects(recs)
        m = all_metrics(t, p, subjects, len(data.classes))
        line.append(f"{name} {exp.headline} {m[exp.headline]:.3f}")
    ctx.log(f"[baselines] {exp.name}: {', '.join(line)}")


def _write_samples(run_dir: Path, data: Prepared) -> None:
    from ..datasets import write_samples_csv

    write_samples_csv(data.samples, run_dir / "samples.csv")


def _final_model(ctx: Context, run_dir: Path, fit_all: Callable) -> None:
    """``run_dir/model.keras``: the run's schedule on every subject, for ``microexp predict``;
    used in no reported number (reused when present)."""
    path = run_dir / "model.keras"
    if path.is_file():
        return
    t = time.time()
    save_model(fit_all(), path)
    ctx.log(f"[final] {run_dir.name}: trained on every subject -> {path} ({time.time() - t:.0f} s)")


# ----------------------------------------------------------------------------- entry points


def _check_composite(experiments: Sequence[Experiment], split: str) -> None:
    """A composite split (leave one dataset out) needs protocols over several datasets
    (refused before any data)."""
    from ..datasets import get_protocol

    for exp in experiments:
        if len(get_protocol(exp.protocol).datasets) < 2:
            raise MicroexpError(
                f"--split {split}: protocol {exp.protocol!r} reads one dataset; leaving a dataset "
                "out needs a composite (megc2019, atscnn-composite)"
            )


def start(out: Path, experiments: Sequence[Experiment], opts: RunOptions, paper: str | None):
    """Validate everything that can be validated before data is read, then resolve the data."""
    from .. import backend

    preset = get_preset(opts.preset)
    shard = parse_shard(opts.shard, opts.shards)
    check_int(opts.parallel_folds, "parallel_folds", 1)
    if opts.step not in STEPS:
        raise unknown_name("step", opts.step, STEPS)
    if opts.selection not in SELECTIONS:
        raise unknown_name("selection", opts.selection, SELECTIONS)
    backend.check_precision(opts.mixed_precision)
    get_split(opts.split)
    for exp in experiments:
        check_experiment(exp)
    if opts.pretrained is not None:
        if not Path(opts.pretrained).is_file():
            raise MicroexpError(
                f"{opts.pretrained}: pre-trained model not found (expected a .keras file written "
                "by a run with a pre-training stage, OUT/pretrain/MODEL/model.keras)"
            )
        for exp in experiments:
            if exp.pretrain is not None:
                load_pretrained(Path(opts.pretrained), exp)  # refused now, not after the flows
    pretraining = opts.pretrained is None  # else the pre-training protocol's data is not read
    protocols = [
        p
        for e in experiments
        for p in (pretraining and e.pretrain and e.pretrain.protocol, e.protocol)
    ]
    if get_split(opts.split).composite:
        _check_composite(experiments, opts.split)
    needed = datasets_of([p for p in protocols if p])
    data_root = Path(opts.data_dir) if opts.data_dir else out / "data"
    roots = resolve_data(opts.data, data_root, preset.data_preset, opts.seed, needed, opts.log)
    record_data(out, roots)
    cache_root = Path(opts.cache) if opts.cache else out / "cache"
    return Context(out, opts, preset, roots, cache_root, shard, paper, seed=opts.seed)


def run_all(
    out: str | os.PathLike,
    experiments: Sequence[Experiment],
    opts: RunOptions,
    paper: str | None = None,
    tables: Sequence = (),
) -> Path:
    """Run ``experiments`` into ``out`` and write the report (registered tables and
    ``tables``); returns the report folder."""
    from ..reporting.report import headline_lines, write_report

    out = Path(out)
    t0 = time.time()
    ctx = start(out, experiments, opts, paper)
    names = []
    for seed in opts.seeds or (opts.seed,):
        names += [run_experiment(replace(ctx, seed=seed), exp) for exp in experiments]
    if opts.step != "all":  # a cluster job's share: the last job reports
        opts.log(f"{opts.step} step finished in {time.time() - t0:.0f} s: {', '.join(names)}")
        return out / "report"
    report = write_report(out, tables=tables)
    what = paper or ", ".join(e.protocol for e in experiments[:1])
    opts.log(f"{what} ({opts.preset}) finished in {time.time() - t0:.0f} s: {', '.join(names)}")
    for line in headline_lines(report):  # each run's headline, its interval, its baselines
        opts.log(line)
    opts.log(f"report: {report / 'report.md'}")
    return report


def experiment_for(protocol: str, model: str, recipe: str | None = None) -> Experiment:
    """Any registered model on any protocol, with its own default schedule where it has one
    (:data:`~microexp.experiments.defaults.MODEL_TRAINING`), else its recipe's
    (:data:`~microexp.experiments.defaults.TRAINING`); the class count is the protocol's. It
    feeds the protocol's tables (:data:`~microexp.experiments.megc.PROTOCOL_TABLES`)."""
    reads = recipe or _model_recipe(model)
    if reads not in TRAINING:
        raise unknown_name("recipe for a deep model", reads, tuple(TRAINING))
    return Experiment(
        name=model,
        protocol=protocol,
        model=model,
        recipe=recipe,
        train=model_training(model, reads),
        tables=PROTOCOL_TABLES.get(protocol, ()),
    )


def run(
    protocol: str,
    model: str,
    out: str | os.PathLike,
    recipe: str | None = None,
    **options: object,
) -> Path:
    """Train and evaluate registered ``model`` on ``protocol`` under LOSO (``options``: the
    fields of :class:`RunOptions`); returns the report folder."""
    from ..datasets import get_protocol

    get_protocol(protocol)
    return run_all(out, [experiment_for(protocol, model, recipe)], _options(options))


def _options(options: dict) -> RunOptions:
    names = set(RunOptions.__dataclass_fields__)
    bad = sorted(set(options) - names)
    if bad:
        raise TypeError(f"unknown option {bad[0]!r}; expected one of {', '.join(sorted(names))}")
    for key in ("folds", "seeds"):
        if options.get(key) is not None:
            options = {**options, key: _indices(key, options[key])}
    check_int(options.get("seed", 0), "seed")
    check_int(options.get("parallel_folds", 1), "parallel_folds", 1)
    if options.get("shards") is not None:
        check_int(options["shards"], "shards", 1)
    shard = options.get("shard")
    if (
        isinstance(shard, tuple | list)
        and len(shard) == 2
        and all(is_int(v) and v >= 0 for v in shard)
    ):
        options = {**options, "shard": f"{shard[0]}/{shard[1]}"}  # (i, n) as "i/n"
    elif shard is not None and not isinstance(shard, str):
        raise MicroexpError(f"shard {shard!r}: expected 'i/n' such as '1/4'")
    if options.get("data") is not None and not isinstance(options["data"], str):
        raise MicroexpError(f"data {options['data']!r}: expected 'synthetic' or 'name=DIR,...'")
    return RunOptions(**options)


def _indices(key: str, values: object) -> tuple[int, ...]:
    """``folds`` or ``seeds``: a list of distinct integers >= 0 (a string such as "12" is
    refused rather than read as 1, 2)."""
    items = list(values) if isinstance(values, list | tuple | range) else None
    if not items or not all(is_int(v) and v >= 0 for v in items) or len(set(items)) < len(items):
        raise MicroexpError(
            f"{key} {values!r}: expected a list of distinct integers >= 0, such as [0, 3, 5]"
        )
    return tuple(items)
