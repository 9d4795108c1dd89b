"""The ``darkstack`` command line: one sub-command per stage of the data flow."""

from __future__ import annotations

import functools
import importlib
import logging
import sys
import traceback

import typer
from rich.text import Text
from typer.exceptions import TyperException

from darkstack.errors import DarkstackError, os_error_line
from darkstack.log import console, setup_logging
from darkstack.skips import StageSkipped

FAILED = 2
"""Exit code of an error the user can act on: bad input or option, an unwritable, full or damaged workspace."""
NOTHING_COMPUTED = 3
"""Exit code of a command that could compute nothing on the data at hand (its one line says why)."""
INTERNAL_ERROR = 1
"""Exit code of an unexpected error (a bug): one line, and the traceback with --log-level DEBUG."""

# (command name, module exposing `command`, whether the command takes the workspace lock of its
# --workspace itself) in data-flow order. run, update and demo find their workspace in a config and
# lock it inside (darkstack.pipeline.run). Modules import heavy libraries inside `command`, so
# `darkstack --help` stays fast.
COMMANDS = [
    ("demo", "darkstack.pipeline.demo", False),
    ("simulate", "darkstack.simulate.command", True),
    ("ingest", "darkstack.ingest.command", True),
    ("labels", "darkstack.labels.command", True),
    ("snapshot", "darkstack.snapshot.command", True),
    ("embed", "darkstack.embed.command", True),
    ("evaluate", "darkstack.evaluate.command", True),
    ("study", "darkstack.evaluate.study_command", True),
    ("stack", "darkstack.stack.command", True),
    ("predict", "darkstack.stack.predict_command", True),
    ("discover", "darkstack.discover.command", True),
    ("export", "darkstack.export.command", True),
    ("run", "darkstack.pipeline.run_command", False),
    ("update", "darkstack.pipeline.update_command", False),
    ("report", "darkstack.report.command", True),
]

app = typer.Typer(
    help="darkstack: who is knocking on your darknet and honeypots.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING or ERROR."),
) -> None:
    """darkstack: who is knocking on your darknet and honeypots."""
    if log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise DarkstackError(f"--log-level must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}")
    setup_logging(log_level)


def holding_workspace(command):
    """Run ``command`` holding the lock of its ``--workspace`` (every one of them writes there)."""

    @functools.wraps(command)
    def locked(*args, **kwargs):
        from darkstack.options import resolve_workspace
        from darkstack.workspace import workspace_lock

        with workspace_lock(resolve_workspace(kwargs.get("workspace"))):
            return command(*args, **kwargs)

    return locked


for _name, _module, _locks in COMMANDS:
    _command = importlib.import_module(_module).command
    app.command(_name)(holding_workspace(_command) if _locks else _command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: every error is one ``error:`` line, never a traceback (unless --log-level DEBUG).

    Exit codes: 0 done; 2 an error the user can act on (bad input or option, or the file system
    refused: read-only, no permission, full disk, a damaged workspace file); 3 nothing computable on
    this data; 1 an unexpected internal error; 130 aborted.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        rc = app(args=argv or ["--help"], standalone_mode=False)
    except StageSkipped as exc:
        console.print(Text(exc.line(), style="yellow"), highlight=False, soft_wrap=True)
        return NOTHING_COMPUTED
    except DarkstackError as exc:
        return _error(exc.line(), FAILED)
    except OSError as exc:
        return _error(os_error_line(exc), FAILED)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _error("aborted", 130)
    except TyperException as exc:
        return _error(exc.format_message(), exc.exit_code)
    except Exception as exc:
        if logging.getLogger("darkstack").isEnabledFor(logging.DEBUG):
            traceback.print_exc()
            hint = ""
        else:
            hint = " (a bug: rerun with --log-level DEBUG for the traceback)"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _error(f"internal error: {type(exc).__name__}: {first}{hint}", INTERNAL_ERROR)
    return rc if isinstance(rc, int) else 0


def _error(line: str, code: int) -> int:
    """Print one error line (the text as is: brackets in file names or messages are not markup)."""
    console.print(Text.assemble(("error:", "red"), " ", " ".join(line.split("\n"))), highlight=False, soft_wrap=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
