"""TensorFlow's start-up notices: C++ lines printed before its logging is set up, so
``TF_CPP_MIN_LOG_LEVEL`` cannot silence them. The CLI hides them while TensorFlow loads and the
notebook generator drops them from saved outputs; every other line is kept."""

from __future__ import annotations

import os
import sys

STARTUP_NOISE = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "W0000 ")


def is_startup_noise(line: str) -> bool:
    return line.startswith(STARTUP_NOISE)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras with stderr captured; re-print what is not start-up noise."""
    import tempfile

    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
    kept = [line for line in text.splitlines() if not is_startup_noise(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
