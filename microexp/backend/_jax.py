"""JAX's own code (imported only when it is the Keras backend)."""

from __future__ import annotations

import contextlib
import functools


def gpu_count() -> int:
    import jax

    return sum(d.platform == "gpu" for d in jax.devices())


def seed_framework(seed: int) -> None:
    """Nothing: JAX has no global seed (Keras' seed generators hold JAX keys)."""


def deterministic_ops() -> None:
    """XLA on a CPU is deterministic; on a GPU, deterministic reductions need
    ``XLA_FLAGS=--xla_gpu_deterministic_ops=true`` set before JAX starts (docs/backends.md)."""


def lacks_precision(policy: str) -> str | None:
    return None  # XLA computes float16 and bfloat16 on CPU (emulated) and GPU


def devices():
    import jax

    return jax.devices()


@functools.cache
def _distribution():
    """``keras.distribution.DataParallel`` over every local device when there are several
    (GPUs, or CPU devices made by ``XLA_FLAGS=--xla_force_host_platform_device_count=N``);
    None with one. One object per process."""
    import keras

    devs = devices()
    if len(devs) < 2:
        return None
    return keras.distribution.DataParallel(devices=[f"{d.platform}:{d.id}" for d in devs])


def distribution_scope():
    dist = _distribution()
    return contextlib.nullcontext() if dist is None else dist.scope()


def replicas() -> int:
    return 1 if _distribution() is None else len(devices())


def jit_compile(requested_xla: bool) -> bool:
    return True  # the JAX trainer always compiles its step with XLA


def min_batch() -> int:
    return 1


def compiles_per_shape() -> bool:
    return True


def needs_logits() -> bool:
    return True


def run_eagerly(requested_eager: bool) -> bool:
    return False


def compile_function(fn, jit: bool):
    import jax

    return jax.jit(fn)


def for_any_batch(compiled, *item_shapes):
    """``compiled`` as it is: ``jax.jit`` compiles once per batch size, at its first call."""
    return compiled


def peak_memory() -> int | None:
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else int(peak)


def describe() -> str:
    import jax

    devs = jax.devices()
    return f"jax {jax.__version__}, {len(devs)} {devs[0].platform.upper()} device(s)"
