"""Mirror a machine that lacks some packages (the project's GPU machine has no TensorFlow, no
dlib and no ``cv2.optflow``): put this folder first on PYTHONPATH and name what to hide in
``MICROEXP_TEST_BLOCK`` (comma-separated: module names, and ``cv2.optflow``). Importing a
hidden module then fails as a missing one does."""

import importlib.util
import os
import sys

_BLOCKED = {n.strip() for n in os.environ.get("MICROEXP_TEST_BLOCK", "").split(",") if n.strip()}


class _Hide:
    def find_spec(self, name, path=None, target=None):
        if _blocked(name):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        return None


def _blocked(name: str) -> bool:
    return any(name == b or name.startswith(b + ".") for b in _BLOCKED)


_find_spec = importlib.util.find_spec


def _find_spec_hiding(name, package=None):
    """As for a package that is not installed: None (torch, for one, probes so)."""
    return None if _blocked(name) else _find_spec(name, package)


sys.meta_path.insert(0, _Hide())
importlib.util.find_spec = _find_spec_hiding
if "cv2.optflow" in _BLOCKED:
    try:
        import cv2

        if hasattr(cv2, "optflow"):
            del cv2.optflow
    except ImportError:
        pass
