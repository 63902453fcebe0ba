"""The project's exceptions: one small family (the osmnx ``_errors.py`` pattern).

Every user-facing error is a :class:`LifeCircleError`; the command line prints ``str(error)`` as one
line and exits with code 2. Its subclasses say what kind of problem the user has to fix:

- :class:`InputError`: a bad input file, record or option (names the file and record);
- :class:`MissingStageError`: an earlier stage's output is missing or stale (names the command);
- :class:`MissingDependencyError`: an optional package or program is not installed.

Programming mistakes raise ``ValueError`` / ``TypeError`` and are never caught as user errors.
"""

from __future__ import annotations


class LifeCircleError(Exception):
    """An error a planner can act on: names the file/record and what was expected.

    The command line prints ``str(error)`` as a single line and exits non-zero.
    """

    def __init__(
        self,
        message: str,
        *,
        path: object | None = None,
        record: object | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.record = record
        self.hint = hint
        where = ""
        if path is not None:
            where = f"{path}"
            if record is not None:
                where += f" ({record})"
            where += ": "
        tail = f" ({hint})" if hint else ""
        super().__init__(f"{where}{message}{tail}")


class InputError(LifeCircleError):
    """Bad input data or options: the file, the record and what was expected."""


class MissingStageError(LifeCircleError):
    """An earlier stage's output is missing or stale; the message names the command."""

    def __init__(self, what: str, *, path: object | None = None, command: str) -> None:
        self.command = command
        super().__init__(f"{what} is missing; run `{command}` first", path=path)


class MissingDependencyError(LifeCircleError):
    """An optional package or program is not installed; the message says how to install it."""

    def __init__(self, package: str, *, purpose: str, install: str | None = None) -> None:
        self.package = package
        how = install or f"pip install {package}"
        super().__init__(f"{package} is needed for {purpose}; install it with `{how}`")
