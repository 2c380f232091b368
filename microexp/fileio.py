"""Atomic writes (a temporary file in the target's folder, then an atomic rename: an interrupted
run never leaves a half-written file under the final name), and the fingerprint that tells a
cache entry which input files it was made from.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import MicroexpError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write names no file
            exc.filename = str(path)
        raise


def os_error_line(exc: OSError) -> str:
    """One line for an OSError that reaches the user: the path concerned and what to do. A
    full disk names the folder and says to free space there or write elsewhere."""
    import errno

    where = exc.filename or "a file"
    if isinstance(exc, FileExistsError):
        return f"{where}: a file is there, not a folder"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        folder = Path(where).parent if exc.filename else Path.cwd()
        return (
            f"{folder}: no space left on the device (writing {Path(where).name}); free space "
            "there, or write elsewhere: --out DIR, --cache DIR for the flow cache"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: {exc.strerror}; choose a folder you can write (--out DIR, --cache DIR)"
    return f"{where}: {exc.strerror or exc}"


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: str | os.PathLike) -> dict:
    """A JSON file written by microexp; a missing, truncated or malformed one is a
    :class:`MicroexpError` naming it."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MicroexpError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise MicroexpError(f"{path}: not text (expected a JSON object in UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise MicroexpError(
            f"{path}: truncated or malformed JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    if not isinstance(value, dict):
        raise MicroexpError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def files_fingerprint(
    paths: Iterable[str | os.PathLike], *fields: object, times: bool = True
) -> str:
    """16 hex digits that change when any of ``paths`` changes (its name, size and, if
    ``times``, modification time; a missing file counts as one state) or any of ``fields``
    does. Folders are not part of it: files moved with their times kept give the same
    fingerprint, and without ``times`` so does any copy. Stats the files, never reads them."""
    h = hashlib.sha256(repr(fields).encode())
    for path in map(Path, paths):
        try:
            st = path.stat()
            when = f":{st.st_mtime_ns}" if times else ""
            h.update(f"{path.name}:{st.st_size}{when};".encode())
        except OSError:
            h.update(f"{path.name}:missing;".encode())
    return h.hexdigest()[:16]


def load_keras_model(path: str | os.PathLike, compile: bool = True):
    """A ``.keras`` file written by microexp (its custom layers registered first; Keras and
    TensorFlow are imported only here); one that cannot be loaded is a one-line error."""
    import keras

    from . import layers  # noqa: F401  (registers the custom layers for loading)

    try:
        return keras.models.load_model(path, compile=compile)
    except (ValueError, OSError, TypeError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MicroexpError(f"{path}: not a loadable Keras model ({first})") from None
