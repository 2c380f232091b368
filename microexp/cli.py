"""The ``microexp`` command: argv and paths only; every action is a library call.

A user's mistake prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .errors import MicroexpError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _roots(values: Sequence[str], dataset: str | None) -> dict[str, str]:
    """``--root DIR`` (for --dataset) or repeated ``--root name=DIR`` -> {name: DIR}."""
    roots: dict[str, str] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if sep and name and "/" not in name and "\\" not in name:
            if name in roots:
                raise MicroexpError(f"--root {name}=...: dataset {name!r} named twice")
            roots[name] = path
        elif dataset is None:
            raise MicroexpError(f"--root {v!r}: expected NAME=DIR when --dataset is not given")
        else:
            roots[dataset] = v
    return roots


def _selection(args: argparse.Namespace):
    """The samples that ``--dataset``/``--root``/``--protocol`` select, as one LoadResult. A
    protocol over one dataset names it, so ``--dataset`` may be left out then."""
    from . import datasets as ds

    if args.dataset is None and args.protocol is not None:
        proto_datasets = list(ds.get_protocol(args.protocol).datasets)
        if len(proto_datasets) == 1:
            args.dataset = proto_datasets[0]
    if args.protocol is None and args.dataset is None:
        raise MicroexpError(
            f"data summary needs --dataset NAME (one of {', '.join(ds.DATASETS)}) or --protocol P"
        )
    if args.protocol is None and args.dataset not in ds.DATASETS:
        raise ds.unknown_name("dataset", str(args.dataset), ds.DATASETS)
    roots = _roots(args.root, args.dataset if args.dataset in ds.DATASETS else None)
    options = _loader_options(args.option)
    if args.protocol is None:
        if args.dataset not in roots:
            raise MicroexpError(f"no --root for dataset {args.dataset!r}")
        ds.check_options(options, [args.dataset])
        return ds.load(args.dataset, roots[args.dataset], **options.get(args.dataset, {}))
    proto = ds.get_protocol(args.protocol)
    if args.dataset in (None, proto.name):
        parts, name = None, proto.name
    elif args.dataset in ds.DATASETS:
        parts, name = [args.dataset], args.dataset
    else:
        raise ds.unknown_name("dataset", str(args.dataset), (*ds.DATASETS, proto.name))
    return ds.merge(ds.load_protocol(proto, roots, parts, options), name)


def cmd_data_summary(args: argparse.Namespace) -> int:
    from . import datasets as ds

    expected = ds.get_protocol(args.protocol).expected if args.protocol else None
    summary = ds.summarize(_selection(args), args.protocol, expected)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(ds.format_summary(summary))
    return 0


def cmd_data_protocols(args: argparse.Namespace) -> int:
    from . import datasets as ds

    rows = [ds.describe_protocol(ds.get_protocol(name)) for name in ds.protocol_names()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']}: {', '.join(r['classes'])} <- {', '.join(r['datasets'])}")
    return 0


def _params(values: Sequence[str], flag: str = "--param") -> dict[str, object]:
    """``--param KEY=VALUE`` (VALUE parsed as JSON when it is JSON, else kept as text)."""
    out: dict[str, object] = {}
    for v in values:
        key, sep, raw = v.partition("=")
        if not sep or not key:
            raise MicroexpError(f"{flag} {v!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _loader_options(values: Sequence[str]) -> dict[str, dict[str, object]]:
    """``--option DATASET.KEY=VALUE`` (repeatable) -> {dataset: {key: value}}."""
    out: dict[str, dict[str, object]] = {}
    for key, value in _params(values, "--option").items():
        name, dot, option = key.partition(".")
        if not dot or not name or not option:
            raise MicroexpError(
                f"--option {key!r}: expected DATASET.KEY=VALUE (e.g. casme3.frames=depth)"
            )
        out.setdefault(name, {})[option] = value
    return out


def cmd_flows(args: argparse.Namespace) -> int:
    from .features import build_cache
    from .preprocess import get_recipe

    params = _params(args.param)
    if args.flow_backend is not None:
        params["flow_backend"] = args.flow_backend
    recipe = get_recipe(args.recipe, **params)
    selection = _selection(args)
    if not selection.samples:
        raise MicroexpError(f"{selection.root}: no samples selected; nothing to build")
    summary = build_cache(
        selection.samples, recipe, args.cache, args.workers, progress=not args.quiet
    )
    for sid, reason in summary.excluded:
        print(f"excluded {sid}: {reason}", file=sys.stderr)
    print(f"flows {recipe.name}: {summary.line()}")
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    from . import synthetic

    names = list(synthetic.SPECS) if args.dataset == "all" else [args.dataset]
    for name in names:
        out = args.out if args.dataset != "all" else f"{args.out}/{name}"
        root = synthetic.generate(
            name, out, args.preset, args.seed, args.subjects, args.samples_per_subject
        )
        print(f"synthetic {name} ({args.preset}, seed {args.seed}): {root}")
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from .models.registry import format_model_list

    print(format_model_list(args.model or None))
    print("parameters and MACs (builds every model): microexp models summary")
    return 0


def cmd_models_summary(args: argparse.Namespace) -> int:
    from .models import get_spec
    from .models.summary import format_model_summary, model_summary

    for name in args.model:
        get_spec(name)  # unknown names fail before any model is built
    rows = model_summary(args.model or None)
    print(json.dumps(rows, indent=2) if args.json else format_model_summary(rows))
    return 0


def _run_options(args: argparse.Namespace) -> dict[str, object]:
    """The options ``reproduce`` and ``run`` share, from argv."""
    try:
        folds = tuple(int(v) for v in args.folds.split(",")) if args.folds else None
    except ValueError:
        raise MicroexpError(
            f"--folds {args.folds!r}: expected fold indices such as 0,3,5"
        ) from None
    try:
        seeds = tuple(int(v) for v in args.seeds.split(",")) if args.seeds else None
    except ValueError:
        raise MicroexpError(f"--seeds {args.seeds!r}: expected seeds such as 0,1,2") from None
    return {
        "data": args.data,
        "preset": args.preset,
        "seed": args.seed,
        "seeds": seeds,
        "folds": folds,
        "shard": args.shard,
        "shards": args.shards,
        "cache": args.cache,
        "mixed_precision": args.mixed_precision,
        "xla": args.xla,
        "tensorboard": True if args.tensorboard else None,
        "split": args.split,
        "verbose": args.verbose,
        "flow_backend": args.flow_backend,
        "parallel_folds": args.parallel_folds,
        "step": args.step,
        "selection": args.selection,
    }


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .experiments import reproduce

    reproduce(
        args.paper,
        args.out,
        model=args.model,
        ablation=args.ablation,
        modes=[m.strip() for m in args.modes.split(",")],
        pretrained=args.pretrained,
        **_run_options(args),
    )
    return 0


def _command_options(args: argparse.Namespace) -> dict[str, object]:
    """The keyword arguments of run() or reproduce() that ``args`` holds."""
    if args.what == "run":
        own = {"protocol": args.protocol, "model": args.model, "recipe": args.recipe}
    else:
        own = {
            "paper": args.paper,
            "model": args.model,
            "ablation": args.ablation,
            "modes": [m.strip() for m in args.modes.split(",")],
            "pretrained": args.pretrained,
        }
    return {**own, "out": args.out, **_run_options(args)}


def cmd_submit(args: argparse.Namespace) -> int:
    from .experiments.submit import Resources, parse_slurm_settings, submit

    resources = Resources(
        partition=args.partition,
        gpus_per_task=args.gpus_per_task,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem,
        time_min=args.time,
        array_parallelism=args.array_parallelism,
        max_requeues=args.max_requeues,
        extra=parse_slurm_settings(args.slurm),
    )
    if args.shards is None:
        raise MicroexpError("microexp submit: expected --shards N (array tasks; local: processes)")
    submit(args.what, _command_options(args), args.shards, args.executor, resources, args.logs)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .experiments import run

    run(args.protocol, args.model, args.out, recipe=args.recipe, **_run_options(args))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .prediction import predict_any

    result = predict_any(
        args.model,
        args.source,
        args.onset,
        args.apex,
        args.offset,
        args.fps,
        args.timeline,
        args.p,
    )
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return 0


def cmd_spot(args: argparse.Namespace) -> int:
    from .experiments.spotting import read_metrics, spot

    if args.method == "softnet":
        from .tflog import import_keras_quietly

        import_keras_quietly()
    options = _spot_options(args)
    out = args.out or f"runs/spot/{args.dataset}"
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print  # stdout: JSON only
    report = spot(args.dataset, out, args.root, args.preset, args.seed, log, **options)
    if args.json:
        print(json.dumps(read_metrics(out), indent=2))
    else:
        print(f"report: {report}")
    return 0


def cmd_str(args: argparse.Namespace) -> int:
    from .evaluation.loso import parse_shard
    from .experiments.str_run import spot_then_recognise

    options = _spot_options(args)
    out = args.out or f"runs/str/{args.dataset}"
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    report = spot_then_recognise(
        args.dataset, out, args.root, args.model, args.preset, args.seed, log,
        parse_shard(args.shard), args.emotions, **options,
    )  # fmt: skip
    if report.name != "report.md":
        return 0
    metrics = json.loads((report.parent / "metrics.json").read_text())
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    h, ci = metrics["headline"], metrics["ci95"]
    print(
        f"STRS {h['strs']:.4f} [{ci['strs'][0]:.2f}, {ci['strs'][1]:.2f}], spotting F1 "
        f"{h['spotting_f1']:.4f}, analysis F1 {h['analysis_f1']:.4f} (95 % over subjects)"
    )
    for name, b in metrics["baselines"].items():
        print(f"  {name}: STRS {b['strs']:.4f}")
    print(f"report: {report}")
    return 0


def cmd_strs(args: argparse.Namespace) -> int:
    from .evaluation.strs import strs_files

    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    result = strs_files(args.pred, args.truth, classes, evaluator_quirks=args.evaluator_quirks)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    s, a = result["spotting"], result["analysis"]
    if not result["predictions"]:
        print("no prediction: every score is 0")
    print(f"spotting: TP {s['tp']} FP {s['fp']} FN {s['fn']}, F1 {s['f1']:.4f}")
    print(f"analysis: precision {a['precision']:.4f}, recall {a['recall']:.4f}, F1 {a['f1']:.4f}")
    print(f"STRS {result['strs']:.4f}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .experiments import write_report
    from .reporting.report import headline_lines, missing_shards

    dest = write_report(args.run_dir[0], args.run_dir[1:], args.dest)
    metrics = json.loads((dest / "metrics.json").read_text())
    for name, m in metrics.items():
        if isinstance(m, dict) and m.get("partial"):
            shards = missing_shards(args.run_dir[0], m["missing_folds"])
            print(
                f"partial: {name} misses fold(s) {', '.join(map(str, m['missing_folds']))}"
                + (f": {shards}" if shards else "")
            )
    print("\n".join(headline_lines(dest)))
    print(f"report: {dest / 'report.md'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out, preset=args.preset, seed=args.seed)
    return 0


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        help="a dataset (ckplus, casme, casme2, samm, smic, casme3, mmew, 4dme, casme_sq, "
        "samm_lv, casme3_lv) or a composite protocol's name; a one-dataset --protocol names it",
    )
    p.add_argument(
        "--root",
        action="append",
        default=[],
        required=True,
        metavar="DIR|NAME=DIR",
        help="the unpacked dataset folder; for a composite repeat --root name=DIR",
    )
    p.add_argument("--protocol", help="apply a protocol's label map and exclusions")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="DATASET.KEY=VALUE",
        help="a loader option, e.g. casme3.frames=depth (repeatable)",
    )


def _add_reproduce_arguments(rep: argparse.ArgumentParser) -> None:
    rep.add_argument("paper", help="s3d (paper A) or atscnn (paper B)")
    rep.add_argument("--model", help="a registered model (default: the paper's), or lbptop for s3d")
    rep.add_argument("--ablation", help="atscnn: one of paper B's Table 4 rows, or all")
    rep.add_argument(
        "--pretrained", help="s3d: a CK+ model (.keras) to fine-tune instead of pre-training"
    )
    rep.add_argument(
        "--modes",
        default="transfer,scratch",
        help="s3d: transfer and/or scratch runs (default both)",
    )
    _add_run_options(rep)


def _add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--protocol", required=True, help="a protocol (microexp data protocols)")
    run.add_argument("--model", required=True, help="a registered model (microexp models summary)")
    run.add_argument("--recipe", help="the tensors to feed (default: the model's)")
    _add_run_options(run)


def _add_submit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="slurm", choices=("slurm", "local"))
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--gpus-per-task", type=int, help="GPUs for each job")
    p.add_argument("--cpus-per-task", type=int, help="CPUs for each job")
    p.add_argument("--mem", type=float, metavar="GB", help="memory for each job, in GB")
    p.add_argument(
        "--time", type=int, default=60, metavar="MIN", help="each job's limit (default 60)"
    )
    p.add_argument("--array-parallelism", type=int, help="array tasks running at once")
    p.add_argument(
        "--max-requeues", type=int, default=3, help="requeues of a task that ran out of time"
    )
    p.add_argument(
        "--slurm",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another #SBATCH setting, e.g. account=mylab (repeatable)",
    )
    p.add_argument("--logs", help="submitit's job folders (default OUT/slurm_logs)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="synthetic", help="synthetic (default) or name=DIR,name=DIR")
    p.add_argument("--preset", default="demo", help="tiny, demo (default) or paper")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="data (and training) seed")
    p.add_argument(
        "--seeds", help="train once per seed, e.g. 0,1,2 (tables: mean and sd over seeds)"
    )
    p.add_argument("--folds", help="only these fold indices, e.g. 0,3,5")
    p.add_argument(
        "--shard",
        help="i/n: this machine's share of the folds; auto: from a Slurm job array "
        "(SLURM_ARRAY_TASK_*) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)",
    )
    p.add_argument(
        "--shards",
        type=int,
        metavar="N",
        help="the number of shards: microexp submit's array tasks; with --shard auto on "
        "Kubernetes, the Indexed Job's completions (or MICROEXP_SHARDS)",
    )
    p.add_argument(
        "--step",
        default="all",
        choices=("all", "prepare", "folds"),
        help="prepare: data, flows and pre-training only; folds: the folds only (no final "
        "model, no report), as a cluster's jobs split a run (docs/cluster.md)",
    )
    p.add_argument(
        "--parallel-folds",
        type=int,
        default=1,
        metavar="K",
        help="train K folds at once in K processes sharing this machine (default 1)",
    )
    p.add_argument(
        "--split",
        default="loso",
        help="loso (leave one subject out, default) or lodo (leave one dataset out: composites)",
    )
    p.add_argument(
        "--selection",
        default="final",
        help="final (default, honest: each fold's last epoch) or test-oracle (a labelled "
        "measurement: also reports each fold's best epoch on its own test subject, as much "
        "public code does; never merged with an honest run)",
    )
    p.add_argument("--cache", help="flow cache folder (default OUT/cache)")
    p.add_argument(
        "--mixed-precision",
        nargs="?",
        const="float16",
        default=False,
        choices=("float16", "bfloat16"),
        help="mixed precision on a GPU: float16 (T4-class; the default when given alone) or "
        "bfloat16 (Ampere and later); heads stay float32",
    )
    p.add_argument(
        "--xla", action="store_true", help="XLA-compile training steps (always on with JAX)"
    )
    p.add_argument(
        "--tensorboard", action="store_true", help="TensorBoard events (default: paper preset)"
    )
    p.add_argument(
        "--flow-backend",
        default="cv2",
        choices=("cv2", "tf", "jax", "torch", "auto"),
        help="TV-L1 by OpenCV (default); microexp's keras.ops version on the Keras backend "
        "tf, jax or torch (the one KERAS_BACKEND runs); auto: that one on a GPU, else cv2",
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="a line per epoch (loss, accuracy) besides each fold's",
    )


def _add_spotter_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """The long-video commands' shared arguments: data, output, preset and the spotter's."""
    p.add_argument("--root", help="the dataset's folder (default: synthetic long videos)")
    p.add_argument("--out", help=f"output folder (default runs/{command}/DATASET)")
    p.add_argument(
        "--preset", default="demo", help="tiny, demo (default) or paper (SOFTNet's 20 epochs)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--p", type=float, help="threshold fraction (default: chosen per fold)")
    p.add_argument(
        "--method",
        default="flow",
        help="flow (training-free, default) or softnet (SOFTNet's network, trained per fold)",
    )
    p.add_argument(
        "--epochs", type=int, help="softnet: epochs (default by preset: tiny 2, demo 10, paper 20)"
    )
    p.add_argument("--flow", default="farneback", help="farneback (default) or tvl1")
    p.add_argument("--size", type=int, default=96, help="face window in px (default 96)")
    p.add_argument("--json", action="store_true", help="print metrics.json")


def _spot_options(args: argparse.Namespace) -> dict[str, object]:
    options: dict[str, object] = {"flow": args.flow, "size": args.size, "method": args.method}
    if args.epochs is not None:
        options["epochs"] = args.epochs
    if args.p is not None:
        options["p"] = args.p
    return options


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="microexp",
        description="Micro-expression recognition: datasets, optical flow, S3D-CNN and ATSCNN.",
    )
    parser.add_argument("--version", action="version", version=f"microexp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data = sub.add_parser("data", help="inspect datasets and protocols")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    summary = data_sub.add_parser(
        "summary",
        help="count samples, subjects and classes; list exclusions",
        description="Read a dataset folder as its owners ship it (or a protocol's composite) "
        "and print its samples per class, subjects and every exclusion with its reason.",
    )
    _add_selection(summary)
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    summary.set_defaults(func=cmd_data_summary)

    protocols = data_sub.add_parser(
        "protocols",
        help="list the shipped protocols",
        description="Load every protocol shipped with microexp and print its classes and the "
        "datasets it reads.",
    )
    protocols.add_argument("--json", action="store_true", help="print a JSON list")
    protocols.set_defaults(func=cmd_data_protocols)

    synth = data_sub.add_parser(
        "synth",
        help="write a synthetic dataset in a real dataset's on-disk layout",
        description="Write a synthetic CK+, CASME, CASME II, SAMM or SMIC tree (frames and "
        "annotation files in the owners' layout) that the dataset loaders read unchanged.",
    )
    synth.add_argument(
        "--dataset",
        required=True,
        help="ckplus, casme, casme2, samm, smic, casme3, mmew, 4dme, casme_sq, samm_lv, "
        "casme3_lv or all",
    )
    synth.add_argument("--out", required=True, help="folder to write (all: one subfolder each)")
    synth.add_argument("--preset", default="demo", help="tiny (tests) or demo (default)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--subjects", type=int, help="number of subjects (overrides the preset)")
    synth.add_argument(
        "--samples-per-subject", type=int, help="clips per subject (overrides the preset)"
    )
    synth.set_defaults(func=cmd_data_synth)

    flows = sub.add_parser(
        "flows",
        help="pre-process samples into the on-disk flow cache",
        description="Build every selected sample's tensors (face, EVM, TIM, TV-L1 flow and "
        "strain, crops) in parallel into a cache keyed by the recipe's parameters. Re-running "
        "reuses what is there, so an interrupted run resumes.",
    )
    _add_selection(flows)
    flows.add_argument("--recipe", required=True, help="s3d (paper A) or atscnn (paper B)")
    flows.add_argument("--cache", required=True, help="cache folder")
    flows.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    flows.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe parameter, e.g. --param route=separate --param size=64",
    )
    flows.add_argument("--quiet", action="store_true", help="no progress bar")
    flows.add_argument(
        "--flow-backend",
        choices=("cv2", "tf", "jax", "torch", "auto"),
        help="TV-L1 by OpenCV (default); microexp's keras.ops version on the Keras backend "
        "tf, jax or torch (the one KERAS_BACKEND runs); auto: that one on a GPU, else cv2",
    )
    flows.set_defaults(func=cmd_flows)

    mdl = sub.add_parser(
        "models",
        help="the registered networks (alone: names, recipe, paper; builds nothing)",
        description="Without a sub-command: every registered network's name, recipe, classes "
        "and the figures its paper reports, read from the registry without building a model.",
    )
    mdl.add_argument("--model", action="append", default=[], help="only these models (repeat)")
    mdl.set_defaults(func=cmd_models_list)
    mdl_sub = mdl.add_subparsers(dest="models_command", parser_class=_Parser)
    msum = mdl_sub.add_parser(
        "summary",
        help="parameters, MACs and FLOPs of every registered model beside the papers' figures",
        description="Build every registered model and count its parameters and "
        "multiply-accumulates layer by layer; FLOPs are 2 x MACs.",
    )
    msum.add_argument("--model", action="append", default=[], help="only these models (repeat)")
    msum.add_argument("--json", action="store_true", help="print a JSON list")
    msum.set_defaults(func=cmd_models_summary)

    rep = sub.add_parser(
        "reproduce",
        help="a paper's declared experiments: data -> flows -> pre-training -> LOSO -> report",
        description="Run a paper's declared experiments. s3d (paper A): CK+ pre-training, "
        "then LOSO on CASME II (transfer and from scratch). atscnn (paper B): LOSO on CASME + "
        "CASME II + SAMM. Re-running the same command resumes after the last finished fold.",
    )
    _add_reproduce_arguments(rep)
    rep.set_defaults(func=cmd_reproduce)

    run = sub.add_parser(
        "run",
        help="any registered model on any protocol under LOSO",
        description="Train and evaluate a registered model on a protocol's samples under "
        "leave-one-subject-out, with its recipe's default schedule; the class count is the "
        "protocol's. Resumes like reproduce.",
    )
    _add_run_arguments(run)
    run.set_defaults(func=cmd_run)

    sbm = sub.add_parser(
        "submit",
        help="a run or reproduce as a Slurm job array (submitit), or as local processes",
        description="Split `microexp run` or `microexp reproduce` into a job that prepares "
        "the shared work (data, flows, pre-training), an array of --shards tasks (the folds), "
        "and a job that trains the final model and writes the merged report. A task that is "
        "preempted or runs out of time is requeued and resumes. --executor local runs the "
        "command here with --parallel-folds SHARDS. See docs/cluster.md.",
    )
    what = sbm.add_subparsers(dest="what", metavar="{run,reproduce}", required=True)
    for name, add in (("run", _add_run_arguments), ("reproduce", _add_reproduce_arguments)):
        p = what.add_parser(name, help=f"microexp {name}'s arguments, then the job's")
        add(p)
        _add_submit_options(p)
        p.set_defaults(func=cmd_submit)

    rpt = sub.add_parser(
        "report",
        help="tables and figures from one or more run or reproduce folders (shards are merged)",
        description="Write Markdown and CSV tables beside the papers' numbers, confusion "
        "matrices and training curves.",
    )
    rpt.add_argument("run_dir", nargs="+", help="reproduce output folder(s) of one configuration")
    rpt.add_argument("--dest", help="report folder (default RUN_DIR/report)")
    rpt.set_defaults(func=cmd_report)

    pred = sub.add_parser(
        "predict",
        help="class probabilities for a new video or folder of frames",
        description="Read the clip, find the face, spot onset and apex (largest TV-L1 "
        "magnitude from the first frame) unless given, pre-process with the recipe stored in "
        "the model's run directory, and print the class probabilities. Frame numbers are "
        "0-based positions in the clip (folders: natural order of the file names).",
    )
    pred.add_argument("source", help="video file or folder of frame images")
    pred.add_argument(
        "--model", required=True, help="OUT/runs/NAME/model.keras, saved by run or reproduce"
    )
    pred.add_argument("--onset", type=int, help="onset frame (default: the first)")
    pred.add_argument("--apex", type=int, help="apex frame (default: spotted)")
    pred.add_argument("--offset", type=int, help="offset frame (default: the last)")
    pred.add_argument(
        "--fps", type=float, help="frame rate (default: the video's; 200 for a folder)"
    )
    how = pred.add_mutually_exclusive_group()
    how.add_argument(
        "--timeline",
        dest="timeline",
        action="store_const",
        const=True,
        help="spot intervals, classify each (default for clips longer than 2 s)",
    )
    how.add_argument(
        "--single",
        dest="timeline",
        action="store_const",
        const=False,
        help="the whole clip as one expression (default for clips up to 2 s)",
    )
    pred.add_argument(
        "--p", type=float, default=0.5, help="timeline: the spotter's threshold fraction (0.5)"
    )
    pred.add_argument("--json", action="store_true", help="print JSON")
    pred.set_defaults(func=cmd_predict)

    spot = sub.add_parser(
        "spot",
        help="spot macro- and micro-expressions in long videos (CAS(ME)^2, SAMM-LV)",
        description="Run the training-free spotter on every video of a long-video dataset "
        "under LOSO (k and p chosen on the other subjects) and score it as MEGC does; writes "
        "intervals.csv/.json, metrics.json and report.md (with the published F1).",
    )
    spot.add_argument("--dataset", required=True, help="casme_sq, samm_lv or casme3_lv")
    _add_spotter_arguments(spot, "spot")
    spot.set_defaults(func=cmd_spot)

    stp = sub.add_parser(
        "str",
        help="spot-then-recognise on long videos (SAMM-LV, CAS(ME)^3, CAS(ME)^2), MEGC's STRS",
        description="Under LOSO, spot each held-out subject's intervals, classify each spotted "
        "micro-expression with a model trained on the other subjects' coded ones, and score "
        "STRS, spotting F1 and analysis F1 (with 95 % intervals over subjects) beside a "
        "majority-class and a chance baseline and the reported MEGC numbers.",
    )
    stp.add_argument("--dataset", required=True, help="samm_lv, casme3_lv or casme_sq")
    stp.add_argument(
        "--emotions", help="samm_lv: SAMM's folder or coding sheet (the emotions SAMM-LV lacks)"
    )
    stp.add_argument("--model", default="atscnn", help="the recognition network (atscnn)")
    stp.add_argument("--shard", help="run part i/n of the folds (or auto on a job array)")
    _add_spotter_arguments(stp, "str")
    stp.set_defaults(func=cmd_str)

    sts = sub.add_parser(
        "strs",
        help="score a spot-then-recognise prediction file against a ground-truth file",
        description="STRS, spotting F1 and analysis F1 as MEGC's STR evaluator computes them; "
        "both files have the columns subject, video, onset, offset, emotion.",
    )
    sts.add_argument("pred", help="predictions CSV")
    sts.add_argument("truth", help="ground-truth CSV")
    sts.add_argument("--classes", help="analysis classes, comma-separated (default: truth's)")
    sts.add_argument(
        "--evaluator-quirks", action="store_true",
        help="drop truths of subjects with no prediction, as the public evaluator does",
    )  # fmt: skip
    sts.add_argument("--json", action="store_true", help="print every score as JSON")
    sts.set_defaults(func=cmd_strs)

    demo = sub.add_parser(
        "demo",
        help="the main job on the embedded synthetic default",
        description="Generate the synthetic datasets and run the reproduction chain on them.",
    )
    demo.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    demo.add_argument("--preset", default="demo", help="tiny or demo (default)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=cmd_demo)
    return parser


#: the commands that build or load models, so load Keras (and TensorFlow when it is the
#: backend) first; every other command starts without them
_KERAS_COMMANDS = (
    cmd_reproduce, cmd_run, cmd_demo, cmd_predict, cmd_models_summary, cmd_submit, cmd_str
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    # TensorFlow's C++ log lines (start-up notices, a harmless tf.data NodeDef message per
    # fold) would bury the progress lines; set TF_CPP_MIN_LOG_LEVEL yourself to see them
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return int(exc.code or 0)
    try:
        if args.func in _KERAS_COMMANDS or getattr(args, "method", None) == "softnet":
            from .tflog import import_keras_quietly

            import_keras_quietly()
        return args.func(args)
    except MicroexpError as exc:
        print(f"microexp: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (``| head``): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit's flush does not fail again
        return 0
    except OSError as exc:  # a folder that cannot be created, a full disk, no permission
        from .fileio import os_error_line

        print(f"microexp: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("microexp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
