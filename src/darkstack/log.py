"""Structured logging: readable lines on the console (rich), JSON lines in a log file."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

console = Console(stderr=True)
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with every ``extra=`` field kept as a key."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        return json.dumps(out, default=str)


class _WorkspaceLogHandler(logging.FileHandler):
    """The JSON log file; a failed write (full or read-only disk) is dropped instead of printing a traceback.

    The console shows every line anyway, and the command reports the failing write of an output itself.
    """

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def setup_logging(level: str = "INFO", log_file: str | Path | None = None) -> None:
    """Configure the ``darkstack`` logger once per process."""
    root = logging.getLogger("darkstack")
    root.handlers.clear()
    root.setLevel(level.upper())
    root.propagate = False
    handler = RichHandler(console=console, show_path=False, rich_tracebacks=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file_handler = _WorkspaceLogHandler(log_file)
        file_handler.setFormatter(JsonFormatter())
        root.addHandler(file_handler)


def get_logger(name: str) -> logging.Logger:
    """Logger under the ``darkstack`` namespace (``darkstack.<name>``)."""
    return logging.getLogger(name if name.startswith("darkstack") else f"darkstack.{name}")
