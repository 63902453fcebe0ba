"""The one exception type of the project."""

from __future__ import annotations


class LifeCircleError(Exception):
    """An error a planner can act on: names the file/record and what was expected.

    The command line prints ``str(error)`` as a single line and exits non-zero.
    """

    def __init__(self, message: str, *, path: object | None = None, record: object | None = None):
        self.path = path
        self.record = record
        where = ""
        if path is not None:
            where = f"{path}"
            if record is not None:
                where += f" ({record})"
            where += ": "
        super().__init__(f"{where}{message}")
