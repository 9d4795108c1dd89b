"""User-facing errors: one clear line naming the file and the problem."""

from __future__ import annotations

import errno
from pathlib import Path


class DarkstackError(Exception):
    """An error caused by input or options, shown to the user as one line (no traceback)."""

    def __init__(self, problem: str, path: str | Path | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class InputFormatError(DarkstackError):
    """A file whose content does not match the expected format."""


class ConfigError(DarkstackError):
    """A bad option or configuration value."""


class DamagedFileError(DarkstackError):
    """A workspace file that is missing, truncated or unreadable although its stage recorded it as written.

    Raised by the readers; :func:`darkstack.workspace.workspace_lock` moves the file aside and rewrites the
    message to say so, and the next run rebuilds it (:mod:`darkstack.damage`).
    """


def os_error_line(exc: OSError) -> str:
    """One line for an operating-system error: ``<file>: <problem>`` (the file when the system named it)."""
    problem = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in _HINTS:
        problem = f"{problem} ({_HINTS[exc.errno]})"
    return f"{exc.filename}: {problem}" if exc.filename is not None else problem


_HINTS = {
    errno.EROFS: "use a writable --workspace",
    errno.EACCES: "this user may not write here: use a workspace it owns, or fix the permissions",
    errno.EPERM: "this user may not write here: use a workspace it owns, or fix the permissions",
    errno.ENOSPC: "free some space and rerun: finished outputs are intact and unfinished ones are redone",
    errno.EDQUOT: "disk quota exceeded; free some space and rerun",
}
