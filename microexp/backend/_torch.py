"""PyTorch's own code (imported only when it is the Keras backend)."""

from __future__ import annotations

import contextlib


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def seed_framework(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def deterministic_ops() -> None:
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def lacks_precision(policy: str) -> str | None:
    if gpu_count():
        import torch

        if policy == "bfloat16" and not torch.cuda.is_bf16_supported():
            return "this GPU has no bfloat16 (Ampere or later); use float16"
        return None
    return "PyTorch lacks half-precision 3D convolutions on a CPU; train in float32 there"


def distribution_scope():
    return contextlib.nullcontext()


def replicas() -> int:
    return 1


def jit_compile(requested_xla: bool) -> bool:
    return bool(requested_xla)  # torch.compile when asked


def min_batch() -> int:
    return 1 if gpu_count() else 2


def compiles_per_shape() -> bool:
    return False


def needs_logits() -> bool:
    return True


def run_eagerly(requested_eager: bool) -> bool:
    return bool(requested_eager)


def compile_function(fn, jit: bool):
    return fn


def for_any_batch(compiled, *item_shapes):
    """``compiled`` as it is: eager, any batch size."""
    return compiled


def peak_memory() -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated())


def describe() -> str:
    import torch

    n = torch.cuda.device_count()
    return f"torch {torch.__version__}, {n} GPU" if n else f"torch {torch.__version__}, CPU"
