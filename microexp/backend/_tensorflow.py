"""TensorFlow's own code (imported only when it is the Keras backend)."""

from __future__ import annotations

import contextlib
import functools


def _tf():
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # retracing notices between folds are expected
    return tf


def gpu_count() -> int:
    return len(_tf().config.list_logical_devices("GPU"))


_SEEDED: list[int] = []


def seed_framework(seed: int) -> None:
    """TensorFlow's global seed, set on the first call only. ``tf.random.set_seed`` clears
    TensorFlow's kernel cache, so every traced function is instantiated again on its next
    call: 1.7-2 s at the start of every LOSO fold on 2 cores (benchmarks/fold_overhead.py).
    Nothing microexp trains draws from that seed: Keras' random ops are stateless, seeded by
    its own seed generators (Python's ``random`` seeds them), and the input's order comes from
    NumPy. A fold's record does not depend on the folds run before it (tested)."""
    if not _SEEDED:
        _tf().random.set_seed(seed)
        _SEEDED.append(seed)


def deterministic_ops() -> None:
    try:
        _tf().config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):  # pragma: no cover - older TF
        pass


def lacks_precision(policy: str) -> str | None:
    return None  # float16 and bfloat16 run on CPU (slowly) and GPU


@functools.cache
def _strategy():
    """``MirroredStrategy`` over the GPUs, or over the logical CPU devices where there is no
    GPU and several were configured (tests); None with one device. One object per process:
    a model is fitted under the strategy it was built under."""
    tf = _tf()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        return None
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def distribution_scope():
    strategy = _strategy()
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def replicas() -> int:
    strategy = _strategy()
    return 1 if strategy is None else strategy.num_replicas_in_sync


def jit_compile(requested_xla: bool) -> bool:
    return bool(requested_xla)


def min_batch() -> int:
    return 1


def compiles_per_shape() -> bool:
    return False


def needs_logits() -> bool:
    return False


def run_eagerly(requested_eager: bool) -> bool:
    return bool(requested_eager)


def compile_function(fn, jit: bool):
    return _tf().function(fn, jit_compile=jit, autograph=False, reduce_retracing=True)


def for_any_batch(compiled, *item_shapes):
    """``compiled`` (from :func:`compile_function`, taking float32 tensors of shapes
    (N, *item_shape)) traced now for every N at once: one graph whatever the batch size, so
    Grappler rewrites it once and a batch gives each item what it gives alone (a graph traced
    for a fixed N is rewritten by shape, and can differ in float32 rounding)."""
    tf = _tf()
    compiled.get_concrete_function(*(tf.TensorSpec([None, *s], tf.float32) for s in item_shapes))
    return compiled


def peak_memory() -> int | None:
    return int(_tf().config.experimental.get_memory_info("GPU:0")["peak"])


def describe() -> str:
    tf = _tf()
    gpus = tf.config.list_logical_devices("GPU")
    return (
        f"tensorflow {tf.__version__}, {len(gpus)} GPU"
        if gpus
        else f"tensorflow {tf.__version__}, CPU"
    )
