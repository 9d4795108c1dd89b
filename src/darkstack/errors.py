"""User-facing errors: one clear line naming the file and the problem."""

from __future__ import annotations

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
