"""The Keras backend in use, and what only a backend can do.

Keras chooses its backend once per process from ``KERAS_BACKEND`` (``tensorflow``, the default,
``jax`` or ``torch``). Everything else in microexp (layers, models, the training step's input
work, TV-L1) is written with ``keras.ops``; what cannot be (determinism switches, device counts,
data parallelism, compiling a plain function) lives in one small module per backend, chosen here
once: :mod:`._tensorflow`, :mod:`._jax`, :mod:`._torch`. Importing this package imports Keras,
never TensorFlow unless it is the backend.
"""

from __future__ import annotations

import functools
import importlib
import os

from ..errors import MicroexpError

#: the Keras backends microexp trains on
BACKENDS = ("tensorflow", "jax", "torch")
#: mixed-precision policies by their short name (``--mixed-precision float16|bfloat16``)
POLICIES = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def requested() -> str:
    """The backend ``KERAS_BACKEND`` asks for (Keras' default, TensorFlow, when unset), read
    without importing Keras."""
    return os.environ.get("KERAS_BACKEND", "").strip() or "tensorflow"


def check_requested() -> str:
    """:func:`requested`, or the one-line error for a backend microexp does not train on, or
    one that is not installed (named before Keras fails with a traceback)."""
    import importlib.util

    name = requested()
    if name not in BACKENDS:
        raise MicroexpError(f"KERAS_BACKEND={name!r}: expected one of: {', '.join(BACKENDS)}")
    try:
        missing = importlib.util.find_spec(name) is None
    except ImportError:  # a finder that refuses it
        missing = True
    if missing:
        hint = {"tensorflow": "tensorflow", "jax": "jax[cpu] (or jax[cuda12])"}.get(name, name)
        raise MicroexpError(
            f"KERAS_BACKEND={name}: the {name} package is not installed "
            f"(pip install {hint}; see docs/backends.md)"
        )
    return name


def name() -> str:
    """The backend Keras runs on: ``tensorflow``, ``jax`` or ``torch``."""
    import keras

    return keras.backend.backend()


@functools.cache
def impl():
    """The module holding this backend's own code (imported once)."""
    backend = name()
    if backend not in BACKENDS:
        raise MicroexpError(f"Keras backend {backend!r}: expected one of: {', '.join(BACKENDS)}")
    return importlib.import_module(f"._{backend}", __name__)


def gpu_count() -> int:
    """GPUs the backend sees."""
    return impl().gpu_count()


def set_determinism(seed: int) -> None:
    """Same seed, same device -> same weights and predictions: the seeds that
    ``keras.utils.set_random_seed`` sets (Keras' global seed and seed generator, Python's,
    NumPy's, the framework's: :func:`_tensorflow.seed_framework` sets TensorFlow's once per
    process) and the backend's deterministic-ops switches. Called before every LOSO fold."""
    import random

    import numpy as np
    from keras.src.backend.common import global_state
    from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR
    from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED

    global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, None)  # remade from the seed
    random.seed(seed)
    np.random.seed(seed)
    impl().seed_framework(seed)
    impl().deterministic_ops()


def check_precision(policy: str | bool | None) -> str:
    """The Keras policy that ``policy`` names (see :func:`configure_precision`), or the
    one-line error for an unknown name or one this backend or device cannot compute in."""
    if policy is True:
        policy = "float16"
    if not policy or policy == "float32":
        return "float32"
    if policy not in POLICIES:
        raise MicroexpError(
            f"mixed precision {policy!r}: expected one of: float32, {', '.join(POLICIES)}"
        )
    why = impl().lacks_precision(policy)
    if why:
        raise MicroexpError(f"mixed precision {policy} on {name()}: {why}")
    return POLICIES[policy]


def precision_key(policy: str | bool | None) -> bool | str:
    """How a run's config records its precision: False (float32), True (float16: the value
    runs made before bfloat16 existed hold) or ``"bfloat16"``."""
    if policy is True or policy == "float16":
        return True
    return False if not policy or policy == "float32" else str(policy)


def configure_precision(policy: str | bool | None) -> str:
    """Set Keras' global dtype policy; returns it. ``policy``: ``float16`` (T4-class GPUs),
    ``bfloat16`` (Ampere and later), None/False/``float32`` for float32; True means
    ``float16`` (the older switch). Models keep their heads in float32. A backend or device
    that cannot compute in it is a one-line error."""
    import keras

    resolved = check_precision(policy)
    keras.mixed_precision.set_global_policy(resolved)
    return resolved


def distribution_scope():
    """A context in which to build and compile a model so that it trains on every GPU of this
    machine: ``MirroredStrategy`` on TensorFlow, ``keras.distribution.DataParallel`` on JAX,
    over the GPUs (or over several CPU devices when configured, as the tests do); a no-op with
    one device, and on torch (Keras does not distribute it: use torch's own tools)."""
    return impl().distribution_scope()


def replicas() -> int:
    """Devices a batch is split across (1 without data parallelism)."""
    return impl().replicas()


def jit_compile(requested_xla: bool) -> bool | str:
    """``Model.compile``'s ``jit_compile`` for ``--xla``: XLA on TensorFlow when asked; JAX
    always compiles with XLA; torch compiles with ``torch.compile`` only when asked."""
    return impl().jit_compile(requested_xla)


def min_batch() -> int:
    """The fewest examples a training batch may hold here: 2 on torch without a GPU, whose CPU
    convolution backward fails on a batch of one ("slow_conv2d: grad_weight must be
    contiguous", torch 2.14); 1 elsewhere. A smaller batch is sent as copies of itself, which
    changes nothing: the loss is a mean, and batch statistics of copies are those of one."""
    return impl().min_batch()


def compiles_per_shape() -> bool:
    """Whether each new batch shape compiles the step again: JAX (XLA, measured 4.8 s of a
    demo ATSCNN fold's first epoch and 0.9 s of its predict on 2 CPU cores,
    benchmarks/README.md); not TensorFlow, whose traced functions relax their shapes, nor
    eager torch. Predictions there go in one fixed batch shape
    (:func:`microexp.training.fit.predict_fixed`)."""
    return impl().compiles_per_shape()


def needs_logits() -> bool:
    """Whether training must compute the cross-entropy from logits itself. Keras on TensorFlow
    recovers the logits behind a softmax output and computes the loss from them; on JAX and
    torch it clips the probabilities to [1e-7, 1 - 1e-7], so a saturated softmax gives a zero
    gradient and training stops (measured: ATSCNN's demo folds stuck at the majority class on
    JAX at lr 1e-3). There the fit model outputs the head's logits (step_input_model)."""
    return impl().needs_logits()


def run_eagerly(requested_eager: bool) -> bool:
    """``Model.compile``'s ``run_eagerly`` for a preset that asks for it (runs of a few steps,
    where tracing costs more than it saves): honoured on TensorFlow and torch; never on JAX,
    whose eager mode compiles every op for every new shape (slower than one XLA step)."""
    return impl().run_eagerly(requested_eager)


def compile_function(fn, jit: bool = True):
    """``fn`` (of tensors, no Python state) traced and compiled once per input shape:
    ``tf.function`` (XLA when ``jit``) on TensorFlow, ``jax.jit`` on JAX, eager on torch."""
    return impl().compile_function(fn, jit)


def peak_memory() -> int | None:
    """Peak bytes allocated on the first GPU since the process started (None without a GPU
    or where the backend does not say)."""
    return impl().peak_memory() if gpu_count() else None


def describe() -> str:
    """One line for logs: the backend, its version and its devices."""
    return impl().describe()
