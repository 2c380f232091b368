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
