"""Does every Keras backend give the same network? For every registered model: TensorFlow, JAX
and torch predict the same from the same weights, a ``.keras`` file saved on one backend loads
and predicts on each other one, and S3D and ATSCNN train ten steps with the same losses. Writes
``backend_agreement.json`` (max abs differences per model and backend pair) to ``--out``.

    .venv/bin/python benchmarks/backend_agreement.py --backends tensorflow,jax --out DIR
    python benchmarks/backend_agreement.py --backends jax,torch --full-size --out DIR  # GPU

Keras picks its backend once per process, so each backend runs this file with ``--worker`` in
its own process (``KERAS_BACKEND`` set), all at once, over every model:

1. build each model from a fixed seed, save it as ``<model>.<backend>.keras`` and predict
   fixed NumPy inputs (seeded by the model's name, shaped as ``model.inputs``); the reference
   backend (the first installed one listed) also saves the training models (dropout 0);
2. load every other backend's files (waiting for them) and predict the same inputs;
3. train ten Adam steps from the reference's training file, on the same batches in order.

``a->b`` compares backend ``b``'s predictions of ``a``'s file with ``a``'s own; ``a-b``
compares two backends on the reference's weights. Precision is full float32: JAX's default
matmul precision is ``highest`` and torch's TF32 is off (on a GPU both would otherwise round
matmul inputs to 10 mantissa bits).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")

#: the two largest networks are built at 32 px unless ``full_size`` (their layers are those of
#: the 128 px build; only the first dense layer shrinks): dual_inception-128 (134 M parameters
#: at 128 px, 8.4 M at 32) and macnn (86 M; 23 M)
SHRINK = {"dual_inception-128": {"input_size": 32}, "macnn": {"input_size": 32}}

#: the training check: builder overrides (dropout 0; inputs small enough for ten steps to take
#: seconds on a CPU); Adam at the papers' learning rate with sparse categorical cross-entropy,
#: as ``microexp.training.compile_model`` compiles it
TRAIN = {
    "s3d": {"input_shape": (32, 32, 4, 3), "dropout": 0.0},
    "atscnn": {"input_size": 64, "dropout": 0.0},
}
TRAIN_STEPS, TRAIN_BATCH, TRAIN_LR = 10, 4, 1e-4
#: examples per prediction batch
BATCH = 4

#: probabilities: |a - b| <= ATOL + RTOL * |b|; logits (the head's pre-softmax values, which
#: a saturated softmax would hide): |a - b| <= LOGIT_RTOL * max(LOGIT_FLOOR, max |b|); per-step
#: training losses: |a - b| <= LOSS_ATOL. Measured on a CPU, TensorFlow against JAX: at most
#: 6e-7, 1e-6 of the logits' scale, and 7e-7
ATOL, RTOL, LOGIT_RTOL, LOGIT_FLOOR, LOSS_ATOL = 1e-5, 1e-4, 1e-4, 1e-2, 1e-3
#: how long a worker waits for another backend's files
WAIT_S = 1800


def installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


def _seed(name: str) -> int:
    return zlib.crc32(name.encode()) % (2**31)


# ----------------------------------------------------------------------------- worker side


def _set_precision(backend: str) -> None:
    if backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
    elif backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def _inputs(model, name: str) -> list[np.ndarray]:
    """Fixed inputs for ``model``: one array per model input, seeded by the model's name."""
    rng = np.random.default_rng(_seed(name))
    return [rng.normal(size=(BATCH, *t.shape[1:])).astype("float32") for t in model.inputs]


def _predict(model, xs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Softmax outputs and, where the model ends in a Dense ``head``, its logits (from the
    head's input features and weights in float64 NumPy, so that two backends' logits differ
    only by their features). One forward pass: eager on TensorFlow, ``predict_on_batch``
    elsewhere (JAX's op-by-op mode compiles every operation on its own: several times
    slower)."""
    import keras

    x = xs[0] if len(xs) == 1 else xs
    try:
        head = model.get_layer("head")
    except ValueError:
        head = None
    net = model if head is None else keras.Model(model.inputs, [model.output, head.input])
    if keras.backend.backend() == "tensorflow":
        outs = net(x, training=False)
    else:
        outs = net.predict_on_batch(x)
    outs = [np.asarray(keras.ops.convert_to_numpy(o)) for o in keras.tree.flatten(outs)]
    pred = {"probs": outs[0]}
    if head is not None:
        kernel, bias = (np.asarray(w, dtype="float64") for w in head.get_weights())
        pred["logits"] = outs[1].astype("float64") @ kernel + bias
    return pred


def _save_prediction(pred: dict, folder: Path, stem: str) -> None:
    for key, value in pred.items():
        np.save(folder / f"{stem}.{key}.npy", value)


def _train(model, name: str) -> list[float]:
    """Ten Adam steps with sparse categorical cross-entropy from ``model``'s weights, on the
    same seeded batches in the same order, every Dropout at rate 0; the per-step losses."""
    import keras

    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0  # the builder was asked for 0 already; make sure
    rng = np.random.default_rng(_seed("train_" + name))
    n = TRAIN_STEPS * TRAIN_BATCH
    x = rng.normal(size=(n, *model.inputs[0].shape[1:])).astype("float32")
    y = rng.integers(0, model.outputs[0].shape[-1], n)
    backend = keras.backend.backend()
    model.compile(
        optimizer=keras.optimizers.Adam(TRAIN_LR),
        loss="sparse_categorical_crossentropy",
        # TensorFlow eager (its graph's numbers without 5-10 s of tracing), JAX its
        # XLA-compiled step (its op-by-op mode is slower), torch eager
        jit_compile=backend == "jax",
        run_eagerly=backend == "tensorflow",
    )
    losses = []
    for step in range(TRAIN_STEPS):
        part = slice(step * TRAIN_BATCH, (step + 1) * TRAIN_BATCH)
        loss = model.train_on_batch(x[part], y[part])
        losses.append(float(loss[0] if isinstance(loss, list | tuple) else loss))
    return losses


def _attempt(record: dict, fn) -> dict:
    """Run ``fn()`` (which may add to ``record``); a failure is recorded, not raised."""
    import keras

    t0 = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001  (reported per model, not fatal)
        record["error"] = f"{type(exc).__name__}: {exc}".strip()[:2000]
        record["traceback"] = traceback.format_exc()[-4000:]
    record["seconds"] = round(time.perf_counter() - t0, 2)
    keras.backend.clear_session()
    return record


def _wait_for(folder: Path, backend: str, timeout: float = WAIT_S) -> bool:
    """Wait until ``backend``'s worker has saved its files (True) or failed (False)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if (folder / f"{backend}.built").exists():
            return True
        if (folder / f"{backend}.failed").exists():
            return False
        time.sleep(0.2)
    return False


def worker(jobfile: str) -> None:
    """This process' backend's part of :func:`agreement` (module docstring: steps 1-3);
    writes ``<backend>.out.json``."""
    spec = json.loads(Path(jobfile).read_text())
    backend = os.environ["KERAS_BACKEND"]
    _set_precision(backend)
    import keras

    from microexp.fileio import load_keras_model
    from microexp.models import build_model, model_names

    if keras.backend.backend() != backend:
        raise RuntimeError(f"Keras runs {keras.backend.backend()}, not {backend}")
    folder, ref = Path(spec["folder"]), spec["reference"]
    names = spec["models"] if spec["models"] is not None else model_names()
    full_size = spec["full_size"]
    out: dict = {"backend": backend, "keras": keras.__version__, "device": _device(backend)}
    out["models"] = names
    built, loaded, trained = {}, [], {}

    for name in names:  # 1. build, save, predict
        overrides = {} if full_size else dict(SHRINK.get(name, {}))
        rec = {"overrides": overrides}

        def build(name=name, overrides=overrides, rec=rec):
            keras.utils.set_random_seed(_seed(name))
            model = build_model(name, **overrides)
            rec["params"] = int(model.count_params())
            rec["input_shapes"] = [list(t.shape[1:]) for t in model.inputs]
            model.save(folder / f"{name}.{backend}.keras")
            _save_prediction(_predict(model, _inputs(model, name)), folder, f"{name}.{backend}")

        built[name] = _attempt(rec, build)
    if backend == ref:
        for name, overrides in spec["train"].items():

            def build_train(name=name, overrides=overrides):
                keras.utils.set_random_seed(_seed("train_" + name))
                build_model(name, **overrides).save(folder / f"train_{name}.{ref}.keras")

            rec = _attempt({}, build_train)
            if "error" in rec:
                trained[name] = rec
    (folder / f"{backend}.built").write_text("")

    def load_from(source: str) -> None:  # 2. another backend's files
        ready = _wait_for(folder, source)
        for name in names:
            rec = {"model": name, "source": source}
            if not ready:
                rec["error"] = f"the {source} worker wrote no files"
                loaded.append(rec)
                continue

            def load(name=name):
                model = load_keras_model(folder / f"{name}.{source}.keras", compile=False)
                pred = _predict(model, _inputs(model, name))
                _save_prediction(pred, folder, f"{name}.{backend}.from_{source}")

            loaded.append(_attempt(rec, load))

    def train() -> None:  # 3. ten steps from the reference's training files
        ready = backend == ref or _wait_for(folder, ref)
        for name in spec["train"]:
            if name in trained:  # the reference could not build it
                continue
            rec: dict = {}
            if not ready:
                rec["error"] = f"the {ref} worker wrote no files"
                trained[name] = rec
                continue

            def fit(name=name, rec=rec):
                model = load_keras_model(folder / f"train_{name}.{ref}.keras", compile=False)
                rec["losses"] = _train(model, name)

            trained[name] = _attempt(rec, fit)

    # the reference trains first (while the others build); the others load it first
    if backend == ref:
        train()
    else:
        load_from(ref)
        train()
    for source in spec["backends"]:
        if source not in (backend, ref):
            load_from(source)
    out.update(built=built, loaded=loaded, trained=trained)
    (folder / f"{backend}.out.json").write_text(json.dumps(out, indent=1))


def _device(backend: str) -> str:
    try:
        if backend == "jax":
            import jax

            return str(jax.devices()[0])
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return str(gpus[0]) if gpus else "cpu"
    except Exception as exc:  # noqa: BLE001
        return f"unknown ({exc})"


# ----------------------------------------------------------------------------- driver side


def _run_workers(
    backends: list[str], folder: Path, spec: dict, log, jax_cache: str | None = None
) -> dict[str, dict]:
    """One worker process per backend, all at once; their ``out.json`` by backend. A worker
    that dies is marked ``<backend>.failed`` so that the others stop waiting for it.
    ``jax_cache``: a folder for JAX's persistent compilation cache (``JAX_COMPILATION_CACHE_DIR``)."""
    for b in BACKENDS:  # a previous run's files
        for pattern in (f"{b}.built", f"{b}.failed", f"{b}.out.json", f"*.{b}.keras"):
            for path in folder.glob(pattern):
                path.unlink()
    for pattern in ("*.probs.npy", "*.logits.npy"):
        for path in folder.glob(pattern):
            path.unlink()
    jobfile = folder / "job.json"
    jobfile.write_text(json.dumps(spec))
    root = str(Path(__file__).resolve().parents[1])
    procs = {}
    for b in backends:
        env = {**os.environ, "KERAS_BACKEND": b, "TF_CPP_MIN_LOG_LEVEL": "2"}
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX shares the GPU
        if jax_cache and b == "jax":  # every program, however quick to compile
            env["JAX_COMPILATION_CACHE_DIR"] = str(jax_cache)
            env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
            env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        with open(folder / f"{b}.log", "w") as stream:
            procs[b] = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker", str(jobfile)],
                env=env,
                stdout=stream,
                stderr=subprocess.STDOUT,
            )
    t0, codes = time.perf_counter(), {}
    while len(codes) < len(procs):
        for b, proc in procs.items():
            if b not in codes and proc.poll() is not None:
                codes[b] = proc.returncode
                log(f"{b} worker: exit {proc.returncode} after {time.perf_counter() - t0:.1f} s")
                if not (folder / f"{b}.built").exists():
                    (folder / f"{b}.failed").write_text("")
        time.sleep(0.2)
    results, failures = {}, []
    for b in backends:
        path = folder / f"{b}.out.json"
        if codes[b] == 0 and path.exists():
            results[b] = json.loads(path.read_text())
        else:
            tail = (folder / f"{b}.log").read_text()[-4000:]
            failures.append(f"{b} worker failed (exit {codes[b]}):\n{tail}")
    if failures:
        raise RuntimeError("\n".join(failures))
    return results


def _load_pred(folder: Path, stem: str) -> dict[str, np.ndarray] | None:
    pred = {}
    for key in ("probs", "logits"):
        path = folder / f"{stem}.{key}.npy"
        if path.exists():
            pred[key] = np.load(path)
    return pred or None


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict:
    """Max abs differences of ``a``'s probabilities and logits from ``b``'s, and whether they
    are within the tolerances."""
    pa, pb = a["probs"].astype("float64"), b["probs"].astype("float64")
    row: dict = {"shape_ok": pa.shape == pb.shape}
    if not row["shape_ok"]:
        return {**row, "ok": False}
    diff = np.abs(pa - pb)
    row["probs_max_abs"] = float(diff.max())
    row["probs_ok"] = bool(np.all(diff <= ATOL + RTOL * np.abs(pb)))
    if "logits" in a and "logits" in b:
        scale = max(LOGIT_FLOOR, float(np.abs(b["logits"]).max()))
        row["logits_max_abs"] = float(np.abs(a["logits"] - b["logits"]).max())
        row["logits_scale"] = scale
        row["logits_ok"] = row["logits_max_abs"] <= LOGIT_RTOL * scale
    row["ok"] = row["probs_ok"] and row.get("logits_ok", True)
    return row


def agreement(
    out: str | os.PathLike,
    backends: tuple[str, ...] | list[str] = BACKENDS,
    models: list[str] | None = None,
    train_models: list[str] | None = None,
    full_size: bool = False,
    log=print,
    jax_cache: str | os.PathLike | None = None,
) -> dict:
    """Run the checks on every installed backend of ``backends`` (the first installed is the
    reference) for ``models`` (default: every registered one) and ``train_models`` (default:
    S3D and ATSCNN); returns the report and writes it to ``out/backend_agreement.json``.
    Backends not installed are listed under ``skipped``. ``jax_cache``: a folder that keeps
    JAX's compiled programs between runs (on a CPU, compiling them is most of JAX's time:
    building a model compiles one random initialiser per weight shape)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    avail = [b for b in backends if installed(b)]
    skipped = [b for b in backends if b not in avail]
    if not avail:
        raise RuntimeError(f"none of {list(backends)} is installed")
    ref = avail[0]
    train_models = list(TRAIN if train_models is None else train_models)
    spec = {
        "folder": str(folder),
        "reference": ref,
        "backends": avail,
        "models": None if models is None else list(models),
        "train": {m: TRAIN[m] for m in train_models},
        "full_size": full_size,
    }
    t0 = time.perf_counter()
    workers = _run_workers(avail, folder, spec, log, jax_cache)
    names = workers[ref]["models"]

    errors = []
    for b, w in workers.items():
        for name, r in w["built"].items():
            if "error" in r:
                errors.append({"backend": b, "model": name, "task": "build", "error": r["error"]})
        for r in w["loaded"]:
            if "error" in r:
                errors.append(
                    {
                        "backend": b,
                        "model": r["model"],
                        "task": f"load {r['source']} file",
                        "error": r["error"],
                    }
                )
        for name, r in w["trained"].items():
            if "error" in r:
                errors.append({"backend": b, "model": name, "task": "train", "error": r["error"]})

    def own(b, name):
        return _load_pred(folder, f"{name}.{b}")

    def from_(b, src, name):
        return _load_pred(folder, f"{name}.{b}.from_{src}")

    report: dict = {
        "reference": ref,
        "backends": avail,
        "skipped": skipped,
        "full_size": full_size,
        "tolerances": {
            "probs": f"|a - b| <= {ATOL} + {RTOL} |b|",
            "logits": f"|a - b| <= {LOGIT_RTOL} max({LOGIT_FLOOR}, max |b|)",
            "losses": f"|a - b| <= {LOSS_ATOL}",
        },
        "models": {},
        "training": {},
        "errors": errors,
        "workers": {
            b: {
                "device": w["device"],
                "keras": w["keras"],
                "seconds": {
                    "build": round(sum(r["seconds"] for r in w["built"].values()), 1),
                    "load": round(sum(r["seconds"] for r in w["loaded"]), 1),
                    "train": round(sum(r["seconds"] for r in w["trained"].values()), 1),
                },
            }
            for b, w in workers.items()
        },
        "platform": platform.platform(),
    }
    for name in names:
        rec = workers[ref]["built"][name]
        row: dict = {k: rec[k] for k in ("overrides", "params", "input_shapes") if k in rec}
        # every backend's predictions on the reference's weights
        on_ref = {b: own(b, name) if b == ref else from_(b, ref, name) for b in avail}
        pairs, cross = {}, {}
        for i, a in enumerate(avail):
            for b in avail[i + 1 :]:
                if on_ref[a] is not None and on_ref[b] is not None:
                    pairs[f"{a}-{b}"] = compare(on_ref[b], on_ref[a])
                else:
                    pairs[f"{a}-{b}"] = {"ok": False, "missing": True}
        for src in avail:
            for dst in avail:
                if src == dst:
                    continue
                got, want = from_(dst, src, name), own(src, name)
                cross[f"{src}->{dst}"] = (
                    {"loaded": True, **compare(got, want)}
                    if got is not None and want is not None
                    else {"loaded": False, "ok": False}
                )
        row["pairs"], row["cross_load"] = pairs, cross
        report["models"][name] = row
    for name in train_models:
        losses = {
            b: w["trained"][name]["losses"]
            for b, w in workers.items()
            if "losses" in w["trained"].get(name, {})
        }
        diffs = {}
        for i, a in enumerate(avail):
            for b in avail[i + 1 :]:
                if a in losses and b in losses:
                    d = float(np.max(np.abs(np.subtract(losses[b], losses[a]))))
                    diffs[f"{a}-{b}"] = {"max_abs": d, "ok": d <= LOSS_ATOL}
                else:
                    diffs[f"{a}-{b}"] = {"ok": False, "missing": True}
        report["training"][name] = {"overrides": TRAIN[name], "losses": losses, "pairs": diffs}
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    (folder / "backend_agreement.json").write_text(json.dumps(report, indent=1))
    return report


def all_ok(report: dict) -> bool:
    rows = [
        r
        for row in report["models"].values()
        for r in (*row["pairs"].values(), *row["cross_load"].values())
    ]
    rows += [r for row in report["training"].values() for r in row["pairs"].values()]
    return not report["errors"] and all(r["ok"] for r in rows)


def summary_lines(report: dict) -> list[str]:
    lines = [
        f"reference {report['reference']}; backends {report['backends']}; "
        f"skipped {report['skipped']}; {report['wall_s']} s"
    ]
    for name, row in report["models"].items():
        parts = []
        for p, r in row["pairs"].items():
            if "probs_max_abs" in r:
                parts.append(
                    f"{p} probs {r['probs_max_abs']:.1e} logits "
                    f"{r.get('logits_max_abs', float('nan')):.1e}{'' if r['ok'] else ' FAIL'}"
                )
            else:
                parts.append(f"{p} missing")
        loads = [f"{k} {'ok' if r['ok'] else 'FAIL'}" for k, r in row["cross_load"].items()]
        lines.append(f"{name:20s} {'; '.join(parts)} | {', '.join(loads)}")
    for name, row in report["training"].items():
        lines.append(
            f"train {name}: "
            + ", ".join(
                f"{p} max |dloss| {r['max_abs']:.1e}{'' if r['ok'] else ' FAIL'}"
                if "max_abs" in r
                else f"{p} missing"
                for p, r in row["pairs"].items()
            )
        )
    lines += [f"ERROR {e}" for e in report["errors"]]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated; the first installed one is the reference (default: %(default)s)",
    )
    ap.add_argument(
        "--out",
        help="a folder of its own for the models, predictions and backend_agreement.json "
        "(default: a temporary folder; the summary is printed either way)",
    )
    ap.add_argument("--models", help="comma-separated (default: every registered model)")
    ap.add_argument(
        "--train", help="comma-separated training checks (default: s3d,atscnn; 'none' for none)"
    )
    ap.add_argument(
        "--full-size",
        action="store_true",
        help="build dual_inception-128 and macnn at their registered 128 px too",
    )
    ap.add_argument("--jax-cache", help="a folder for JAX's persistent compilation cache")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        ap.error(f"unknown backends {sorted(unknown)}; expected some of {BACKENDS}")
    models = args.models.split(",") if args.models else None
    train = None if args.train is None else [t for t in args.train.split(",") if t != "none"]
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    if args.out:
        report = agreement(args.out, backends, models, train, args.full_size, log, args.jax_cache)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report = agreement(tmp, backends, models, train, args.full_size, log, args.jax_cache)
    print("\n".join(summary_lines(report)))
    if len(report["backends"]) < 2:
        print(f"nothing compared: of {backends}, only {report['backends']} is installed")
        return 1
    return 0 if all_ok(report) else 1


if __name__ == "__main__":
    sys.exit(main())
