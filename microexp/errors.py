"""User-facing errors.

Every mistake a user can make (a wrong path, a malformed spreadsheet, an unknown name) raises
:class:`MicroexpError` with one line that names the file or value and what was expected. The CLI
prints that line and exits with code 2; library users can catch it like any ``ValueError``.
"""

from __future__ import annotations


class MicroexpError(ValueError):
    """A user's input is wrong; the message is one line naming the file and what was expected."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> MicroexpError:
    """The error for an unknown dataset, protocol, model, recipe... name."""
    return MicroexpError(f"unknown {kind} {name!r}; expected one of: {', '.join(sorted(known))}")


def workers_died(what: str) -> MicroexpError:
    """The error for worker processes that stopped (BrokenProcessPool). Workers start by
    importing the caller's ``__main__`` module, so a script that calls microexp at its top
    level runs again in each worker: the usual cause."""
    return MicroexpError(
        f"{what}: worker processes stopped; in a script, put the microexp calls under "
        '`if __name__ == "__main__":` (workers import your script), or lower --workers if '
        "memory ran out"
    )


def is_int(value: object) -> bool:
    """An ``int`` proper: not a bool, a float or a string of digits."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(value: object, what: str, low: int = 0, high: int | None = None) -> int:
    """``value`` when it is an integer from ``low`` (to ``high``), else the one-line error
    "WHAT VALUE: expected an integer >= LOW" (or "from LOW to HIGH")."""
    if is_int(value) and low <= value and (high is None or value <= high):
        return value
    span = f">= {low}" if high is None else f"from {low} to {high}"
    raise MicroexpError(f"{what} {value!r}: expected an integer {span}")
