"""TensorFlow's start-up notices: C++ lines printed before its logging is set up, so
``TF_CPP_MIN_LOG_LEVEL`` cannot silence them. The CLI hides them while Keras loads its backend
and the notebook generator drops them from saved outputs; every other line is kept. On JAX and
PyTorch nothing here imports TensorFlow."""

from __future__ import annotations

import os
import sys

STARTUP_NOISE = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "W0000 ")


def is_startup_noise(line: str) -> bool:
    return line.startswith(STARTUP_NOISE)


def import_keras_quietly() -> None:
    """Check ``KERAS_BACKEND`` (a one-line error for an unknown or missing backend), then import
    Keras, and TensorFlow when it is the backend, with stderr captured; re-print what is not
    start-up noise."""
    import tempfile

    from .backend import check_requested

    backend = check_requested()
    if "keras" in sys.modules and (backend != "tensorflow" or "tensorflow" in sys.modules):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            import keras  # noqa: F401

            if backend == "tensorflow":
                import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
    kept = [line for line in text.splitlines() if not is_startup_noise(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
