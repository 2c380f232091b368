"""``microexp reproduce``: data -> flows (cached) -> pre-training -> LOSO -> report.

Presets:
- ``paper``: the papers' epochs, batch sizes, learning rates and re-sampling (meant for a GPU).
- ``demo``: scaled for ``make demo`` on a 2-core CPU and the synthetic ``demo`` data: smaller
  tensors (32 px for paper A, 64 px for paper B), faster TV-L1 (eps 0.05, 3 scales, 3 warps),
  a few epochs with larger learning rates, fewer re-sampled examples. Its numbers say the chain
  works, not what the papers' numbers are.
- ``tiny``: the smallest run that exercises every step (tests and notebooks' CI runs).

Every run directory stores its resolved configuration (``config.json``) beside its results.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import datasets as ds
from .errors import MicroexpError, unknown_name
from .evaluation.loso import FoldOutput, ensure_run_dir, parse_shard, run_loso
from .features import FlowCache, build_cache
from .fileio import write_text
from .preprocess import TVL1Params, get_recipe
from .training.fit import TrainConfig

PAPERS = ("s3d", "atscnn")
PRESETS = ("tiny", "demo", "paper")
S3D_MODES = ("transfer", "scratch")
FAST_TVL1 = TVL1Params(epsilon=0.05, nscales=3, warps=3)


@dataclass
class Plan:
    """The resolved configuration of one ``reproduce`` call (stored as JSON)."""

    paper: str
    preset: str
    model: str
    seed: int = 0
    data_preset: str = "demo"
    recipe: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)  # TrainConfig fields (fine-tune / paper B)
    pretrain: dict | None = None
    scratch: dict | None = None
    macro_per_class: int = 1500
    micro_per_class: int = 50
    model_args: dict = field(default_factory=dict)
    mixed_precision: bool = False
    xla: bool = False
    tensorboard: bool = True  # TensorBoard events beside the CSV logs (~2 s per fold on a CPU)
    final_model: bool = True  # after a complete LOSO, train on every subject -> model.keras
    run_eagerly: bool = False  # no graph tracing (faster for runs of a few steps: tiny)


#: (paper, preset) -> Plan fields; TrainConfig fields are (epochs, batch, lr, decay_every)
_FAST = {"tvl1": asdict(FAST_TVL1)}
# fmt: off
PLAN_TABLE: dict[tuple[str, str], dict] = {
    ("s3d", "paper"): {
        "data_preset": "demo", "recipe": {},
        "train": (40, 10, 1e-5, 10), "pretrain": (80, 20, 1e-4, 20), "scratch": (40, 10, 1e-4, 10),
        "macro_per_class": 1500, "micro_per_class": 50,
    },
    ("s3d", "demo"): {
        "data_preset": "demo", "recipe": {"size": 32, **_FAST}, "tensorboard": False,
        "train": (5, 10, 1e-4, 3), "pretrain": (10, 10, 3e-4, 6), "scratch": (4, 10, 3e-4, 3),
        "macro_per_class": 30, "micro_per_class": 12,
    },
    ("s3d", "tiny"): {
        "data_preset": "tiny", "recipe": {"size": 16, "frames": 5, **_FAST}, "tensorboard": False,
        "run_eagerly": True,
        "train": (2, 8, 1e-4, 1), "pretrain": (2, 8, 3e-4, 1), "scratch": (2, 8, 3e-4, 1),
        "macro_per_class": 4, "micro_per_class": 4,
    },
    ("atscnn", "paper"): {"data_preset": "demo", "recipe": {}, "train": (200, 64, 1e-4, 0)},
    ("atscnn", "demo"): {
        "data_preset": "demo", "recipe": {"size": 64, **_FAST}, "tensorboard": False,
        "train": (5, 16, 1e-3, 0),
    },
    ("atscnn", "tiny"): {
        "data_preset": "tiny", "recipe": {"size": 32, **_FAST}, "tensorboard": False,
        "run_eagerly": True,
        "train": (2, 8, 1e-3, 0),
    },
}
# fmt: on


def make_plan(paper: str, preset: str, model: str | None = None, seed: int = 0) -> Plan:
    """The configuration of ``paper`` at ``preset`` (see :data:`PLAN_TABLE`)."""
    if paper not in PAPERS:
        raise unknown_name("paper recipe", paper, PAPERS)
    if preset not in PRESETS:
        raise unknown_name("preset", preset, PRESETS)
    row = dict(PLAN_TABLE[(paper, preset)])
    for key in ("train", "pretrain", "scratch"):
        if key in row:
            row[key] = asdict(TrainConfig(*row[key]))
    return Plan(paper, preset, model or paper, seed, **row)


def _recipe(plan: Plan):
    name = "lbptop" if plan.model == "lbptop" else plan.paper
    over = dict(plan.recipe)
    if "tvl1" in over:
        over["tvl1"] = TVL1Params(**over["tvl1"])
    if name == "lbptop":
        over = {k: v for k, v in over.items() if k in ("size",)}
        over["size"] = max(over.get("size", 96), 32)
    return get_recipe(name, **over)


# ----------------------------------------------------------------------------------- data


def resolve_data(
    data: str, data_root: Path, data_preset: str, seed: int, needed: Sequence[str], log
) -> dict[str, Path]:
    """``synthetic`` -> generate the needed synthetic datasets under ``data_root``; else
    ``name=DIR,name=DIR`` roots of the user's real datasets."""
    if data == "synthetic":
        from . import synthetic

        roots = {}
        for name in needed:
            t = time.time()
            roots[name] = synthetic.generate(name, data_root / name, data_preset, seed)
            log(f"[data] synthetic {name} ({data_preset}): {roots[name]} ({time.time() - t:.0f} s)")
        return roots
    roots = ds.parse_roots(data, "--data (synthetic or name=DIR,...)")
    missing = [n for n in needed if n not in roots]
    if missing:
        raise MicroexpError(f"--data needs {', '.join(f'{n}=DIR' for n in missing)}")
    return roots


def _protocol_samples(
    protocol: str, roots: dict[str, Path], log
) -> tuple[list[ds.Sample], list[int], list[str]]:
    proto = ds.get_protocol(protocol)
    merged = ds.merge(ds.load_protocol(proto, roots), protocol)
    index = {c: i for i, c in enumerate(proto.classes)}
    log(
        f"[protocol] {protocol}: {len(merged.samples)} samples, {len({s.subject_key for s in merged.samples})} subjects"
    )
    return merged.samples, [index[s.label] for s in merged.samples], list(proto.classes)


def _cached(samples, labels, recipe, cache_root: Path, log) -> tuple[list, list, FlowCache]:
    summary = build_cache(samples, recipe, cache_root, progress=False)
    log(f"[flows] {recipe.name}: {summary.line()}")
    cache = FlowCache(cache_root, recipe)
    keep = [i for i, s in enumerate(samples) if cache.status(s) == "ok"]
    return [samples[i] for i in keep], [labels[i] for i in keep], cache


# ------------------------------------------------------------------------------- running


def reproduce(
    paper: str,
    out: str | os.PathLike,
    data: str = "synthetic",
    preset: str = "demo",
    model: str | None = None,
    ablation: str | None = None,
    seed: int = 0,
    folds: Sequence[int] | None = None,
    shard: str | None = None,
    cache: str | os.PathLike | None = None,
    mixed_precision: bool = False,
    xla: bool = False,
    pretrained: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    modes: Sequence[str] = ("transfer", "scratch"),
    log: Callable[[str], None] = print,
) -> Path:
    """Run the whole chain; returns the report folder.

    ``pretrained``: a CK+ model (.keras) to fine-tune instead of pre-training one (s3d).
    ``data_dir``: where synthetic datasets are generated (default ``out/data``).
    ``modes``: paper A's runs, ``transfer`` (CK+ weights, blocks 1-3 frozen) and/or
    ``scratch`` (random weights, same schedule family); paper B ignores it.

    After a complete LOSO (no ``folds``/``shard``), each run also trains one model on every
    subject with the same schedule and saves it as ``RUN_DIR/model.keras`` for
    ``microexp predict``; it is used in no reported number.
    """
    from .models import ABLATIONS, get_spec

    out = Path(out)
    plan = make_plan(paper, preset, model, seed)
    plan.mixed_precision, plan.xla = mixed_precision, xla
    if plan.model != "lbptop":
        spec = get_spec(plan.model)
        if spec.recipe != paper:
            raise MicroexpError(
                f"model {plan.model!r} reads {spec.recipe} tensors; use `reproduce {spec.recipe}`"
            )
    shard_t = parse_shard(shard)
    bad = [m for m in modes if m not in S3D_MODES]
    if bad or not modes:
        raise unknown_name("paper A mode", bad[0] if bad else "", S3D_MODES)
    if pretrained is not None and not Path(pretrained).is_file():
        raise MicroexpError(
            f"{pretrained}: CK+ pre-trained model not found "
            "(expected a .keras file written by `microexp reproduce s3d`)"
        )
    t0 = time.time()
    data_root = Path(data_dir) if data_dir else out / "data"
    if paper == "s3d":
        roots = resolve_data(data, data_root, plan.data_preset, seed, ["ckplus", "casme2"], log)
    else:
        roots = resolve_data(
            data, data_root, plan.data_preset, seed, ["casme", "casme2", "samm"], log
        )
    _record_data(out, roots)
    cache_root = Path(cache) if cache else out / "cache"
    recipe = _recipe(plan)
    if paper == "s3d":
        runs = _reproduce_s3d(
            plan, recipe, roots, cache_root, out, folds, shard_t, log, pretrained, modes
        )
    else:
        if ablation is not None and plan.model != "atscnn":
            raise MicroexpError("--ablation applies to the atscnn model")
        names = list(ABLATIONS) if ablation == "all" else [ablation or "full"]
        for n in names:
            if n not in ABLATIONS:
                raise unknown_name("ablation", n, tuple(ABLATIONS))
        runs = _reproduce_atscnn(plan, recipe, roots, cache_root, out, names, folds, shard_t, log)
    from .reporting.report import write_report

    report = write_report(out)
    log(f"reproduce {paper} ({preset}) finished in {time.time() - t0:.0f} s: {', '.join(runs)}")
    log(f"report: {report / 'report.md'}")
    return report


def _compiled(make: Callable, cfg, plan: Plan):
    """Build and compile a model inside the distribution strategy's scope (MirroredStrategy
    over every GPU when more than one is visible; the default strategy otherwise)."""
    from .training.fit import compile_model, strategy

    with strategy().scope():
        model = make()
        compile_model(model, cfg, plan.xla, plan.run_eagerly)
    return model


def _record_data(out: Path, roots: dict[str, Path]) -> None:
    """``out/data.json``: which folders the run read, and whether they are synthetic. Kept out
    of the hashed configuration, so shards on machines with other paths still merge."""
    from .datasets.base import is_synthetic

    info = {name: {"root": str(r), "synthetic": is_synthetic(Path(r))} for name, r in roots.items()}
    write_text(out / "data.json", json.dumps(info, indent=2) + "\n")


def _keras_setup(plan: Plan, fold_seed: int) -> None:
    from .training.fit import configure_precision, set_determinism

    configure_precision(plan.mixed_precision)
    set_determinism(fold_seed)


def _pretrain(plan: Plan, recipe, roots, cache_root: Path, out: Path, log) -> Path:
    """Pre-train on CK+ (every subject: CK+ is not the evaluation set) and save the model."""
    import keras

    from .data import TensorStore, make_dataset
    from .models import build_model
    from .training.fit import TrainConfig, train

    pre_dir = out / "pretrain" / plan.model
    classes = list(ds.get_protocol("ckplus-7class").classes)
    config = {
        "stage": "pretrain",
        "plan": asdict(plan),
        "recipe": asdict(recipe),
        "classes": classes,
    }
    ensure_run_dir(pre_dir, config)
    path = pre_dir / "model.keras"
    if path.is_file():
        log(f"[pretrain] {plan.model}: reusing {path}")
        return path
    samples, labels, _ = _protocol_samples("ckplus-7class", {"ckplus": roots["ckplus"]}, log)
    samples, labels, cache = _cached(samples, labels, recipe, cache_root, log)
    if not samples:
        raise MicroexpError("no CK+ sample could be pre-processed; cannot pre-train")
    store = TensorStore(cache, samples)
    rng = np.random.default_rng(plan.seed)
    items, _ = _resample(
        log,
        range(len(samples)),
        labels,
        plan.macro_per_class,
        list(range(9)),
        True,
        rng,
        7,
        " in CK+",
    )
    cfg = TrainConfig(**plan.pretrain)
    _keras_setup(plan, plan.seed)
    shape = store.example(items[0]).shape
    model = _compiled(lambda: build_model(plan.model, num_classes=7, input_shape=shape), cfg, plan)
    t = time.time()
    hist = train(
        model,
        make_dataset(store, items, cfg.batch_size, shuffle=True, seed=plan.seed),
        cfg,
        pre_dir / "logs",
        tensorboard=plan.tensorboard,
    )
    log(
        f"[pretrain] {plan.model}: {len(items)} examples x {cfg.epochs} epochs, final train accuracy {hist['accuracy'][-1]:.3f} ({time.time() - t:.0f} s)"
    )
    write_text(pre_dir / "history.json", json.dumps(hist) + "\n")
    with _atomic_keras(path) as tmp:
        model.save(tmp)
    keras.backend.clear_session()
    return path


class _atomic_keras:
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


def _reproduce_s3d(
    plan: Plan,
    recipe,
    roots,
    cache_root: Path,
    out: Path,
    folds,
    shard,
    log,
    pretrained=None,
    modes=S3D_MODES,
) -> list[str]:
    samples, labels, classes = _protocol_samples("casme2-5class", {"casme2": roots["casme2"]}, log)
    samples, labels, cache = _cached(samples, labels, recipe, cache_root, log)
    if plan.model == "lbptop":
        return [_run_lbptop(plan, recipe, samples, labels, classes, cache, out, folds, shard, log)]
    if pretrained is None and "transfer" in modes:
        pretrained = _pretrain(plan, recipe, roots, cache_root, out, log)
    runs = []
    for mode in modes:
        runs.append(
            _run_s3d(
                plan,
                recipe,
                mode,
                pretrained,
                samples,
                labels,
                classes,
                cache,
                out,
                folds,
                shard,
                log,
            )
        )
    return runs


def _resample(log, *args, **kwargs) -> tuple[list, list[str]]:
    """:func:`resampled_items`, with its empty-class warnings logged and returned."""
    from .data import resampled_items

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = resampled_items(*args, **kwargs)
    messages = [str(w.message) for w in caught]
    for m in messages:
        log(f"  warning: {m}")
    return items, messages


def _run_config(
    plan: Plan, recipe, run: str, classes: list[str], extra: dict | None = None
) -> dict:
    return {
        "run": run,
        "plan": asdict(plan),
        "recipe": asdict(recipe),
        "classes": classes,
        **(extra or {}),
    }


def _run_s3d(
    plan, recipe, mode, pretrained, samples, labels, classes, cache, out, folds, shard, log
) -> str:
    import keras

    from .data import TensorStore, make_dataset, plain_items, to_arrays
    from .models import build_model, freeze_blocks, replace_head
    from .training.fit import FreshModel, TrainConfig, train

    name = f"{plan.model}-{mode}"
    run_dir = out / "runs" / name
    store = TensorStore(cache, samples)
    index = {s.id: i for i, s in enumerate(samples)}
    cfg = TrainConfig(**(plan.train if mode == "transfer" else plan.scratch))
    log(f"[run] {name}: LOSO over {len({s.subject_key for s in samples})} subjects")
    base = keras.models.load_model(pretrained) if mode == "transfer" else None
    shape = store.example(plain_items([0], labels, crop=0)[0]).shape

    def make():
        """The fold's starting point: the CK+ model with blocks 1-3 frozen and a new head
        (transfer), or random weights (scratch)."""
        if base is None:
            return build_model(plan.model, num_classes=len(classes), input_shape=shape)
        clone = keras.models.clone_model(base)
        clone.set_weights(base.get_weights())
        freeze_blocks(clone, (1, 2, 3))
        return replace_head(clone, len(classes))

    factory = FreshModel(make, cfg, plan.xla, plan.run_eagerly)

    def fit(train_s, k: int, tag: str):
        """Re-sample the training subjects' crops and train; ``k`` seeds it (fold index)."""
        _keras_setup(plan, plan.seed + k)
        rng = np.random.default_rng([plan.seed, k])
        items, caught = _resample(
            log,
            [index[s.id] for s in train_s],
            labels,
            plan.micro_per_class,
            list(range(1, 9)),
            False,
            rng,
            len(classes),
            f" for {tag}",
        )
        model = factory.get()
        hist = train(
            model,
            make_dataset(store, items, cfg.batch_size, shuffle=True, seed=plan.seed + k),
            cfg,
            run_dir / "logs" / tag.replace(" ", "_"),
            tensorboard=plan.tensorboard,
        )
        return model, hist, {"warnings": caught, "train_examples": len(items)}

    def fit_predict(train_s, test_s, fold) -> FoldOutput:
        model, hist, extra = fit(train_s, fold.index, f"fold {fold.index:03d}")
        x_test, _ = to_arrays(store, plain_items([index[s.id] for s in test_s], labels, crop=0))
        return _fold_output(model.predict(x_test, verbose=0), hist, extra)

    config = _run_config(plan, recipe, name, classes, {"mode": mode})
    run_loso(samples, labels, fit_predict, run_dir, config, folds, shard, log)
    _write_samples(run_dir, samples, labels)
    if folds is None and shard is None:
        _final_model(plan, run_dir, lambda: fit(samples, FINAL_SEED, "final")[0], log)
    return name


def _run_lbptop(plan, recipe, samples, labels, classes, cache, out, folds, shard, log) -> str:
    from .data import TensorStore, plain_items, to_arrays
    from .models import fit_predict_lbptop

    name = "lbptop-svm"
    run_dir = out / "runs" / name
    store = TensorStore(cache, samples)
    index = {s.id: i for i, s in enumerate(samples)}

    def fit_predict(train_s, test_s, fold) -> FoldOutput:
        x_tr, y_tr = to_arrays(store, plain_items([index[s.id] for s in train_s], labels))
        x_te, _ = to_arrays(store, plain_items([index[s.id] for s in test_s], labels))
        return FoldOutput([int(v) for v in fit_predict_lbptop(x_tr, y_tr, x_te, seed=plan.seed)])

    run_loso(
        samples,
        labels,
        fit_predict,
        run_dir,
        _run_config(plan, recipe, name, classes),
        folds,
        shard,
        log,
    )
    _write_samples(run_dir, samples, labels)
    return name


def _reproduce_atscnn(
    plan, recipe, roots, cache_root, out, ablations, folds, shard, log
) -> list[str]:
    from .data import TensorStore, make_dataset, plain_items, to_arrays
    from .models import ABLATIONS, build_model, input_key
    from .training.fit import FreshModel, TrainConfig, train

    samples, labels, classes = _protocol_samples("atscnn-composite", roots, log)
    samples, labels, cache = _cached(samples, labels, recipe, cache_root, log)
    store = TensorStore(cache, samples)
    index = {s.id: i for i, s in enumerate(samples)}
    cfg = TrainConfig(**plan.train)
    runs = []
    for ab in ablations:
        args = dict(ABLATIONS[ab][0]) if plan.model == "atscnn" else {}
        name = plan.model if ab == "full" else f"{plan.model}-{ab}"
        run_dir = out / "runs" / name
        log(f"[run] {name}: LOSO over {len({s.subject_key for s in samples})} subjects")

        factory = FreshModel(
            lambda args=args: build_model(
                plan.model, num_classes=len(classes), input_size=recipe.size, **args
            ),
            cfg,
            plan.xla,
            plan.run_eagerly,
        )

        def fit(train_s, k: int, tag: str, factory=factory, run_dir=run_dir):
            """Train on ``train_s``; ``k`` seeds it (fold index). Returns (model, history, key)."""
            _keras_setup(plan, plan.seed + k)
            model = factory.get()
            key = input_key(model)
            tr = plain_items([index[s.id] for s in train_s], labels)
            hist = train(
                model,
                make_dataset(store, tr, cfg.batch_size, key, shuffle=True, seed=plan.seed + k),
                cfg,
                run_dir / "logs" / tag.replace(" ", "_"),
                tensorboard=plan.tensorboard,
            )
            return model, hist, key

        def fit_predict(train_s, test_s, fold, fit=fit) -> FoldOutput:
            model, hist, key = fit(train_s, fold.index, f"fold {fold.index:03d}")
            x_te, _ = to_arrays(store, plain_items([index[s.id] for s in test_s], labels), key)
            return _fold_output(model.predict(x_te, verbose=0), hist)

        config = _run_config(plan, recipe, name, classes, {"ablation": ab, "model_args": args})
        run_loso(samples, labels, fit_predict, run_dir, config, folds, shard, log)
        _write_samples(run_dir, samples, labels)
        if folds is None and shard is None:
            _final_model(plan, run_dir, lambda fit=fit: fit(samples, FINAL_SEED, "final")[0], log)
        runs.append(name)
    return runs


def _write_samples(run_dir: Path, samples, labels) -> None:
    ds.write_samples_csv(samples, run_dir / "samples.csv")


#: seeds the model trained on every subject (fold indices seed the LOSO folds)
FINAL_SEED = 100_000


def _fold_output(prob: np.ndarray, hist: dict, extra: dict | None = None) -> FoldOutput:
    return FoldOutput(
        [int(v) for v in prob.argmax(axis=1)], prob.round(5).tolist(), hist, extra or {}
    )


def _final_model(plan: Plan, run_dir: Path, fit_all: Callable, log) -> None:
    """``run_dir/model.keras``: the run's schedule on every subject, for ``microexp predict``
    (callers skip it for partial runs; reused when present)."""
    path = run_dir / "model.keras"
    if not plan.final_model or path.is_file():
        return
    t = time.time()
    model = fit_all()
    with _atomic_keras(path) as tmp:
        model.save(tmp)
    log(f"[final] {run_dir.name}: trained on every subject -> {path} ({time.time() - t:.0f} s)")


__all__ = ["Plan", "make_plan", "reproduce"]
