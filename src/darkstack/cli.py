"""The ``darkstack`` command line: one sub-command per stage of the data flow."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.markup import escape
from typer.exceptions import TyperException

from darkstack.errors import DarkstackError
from darkstack.log import console, setup_logging
from darkstack.skips import StageSkipped

NOTHING_COMPUTED = 3
"""Exit code of a command that could compute nothing on the data at hand (its one line says why)."""

# (command name, module exposing `command`) in data-flow order. Modules import heavy libraries
# inside `command`, so `darkstack --help` stays fast.
COMMANDS = [
    ("demo", "darkstack.pipeline.demo"),
    ("simulate", "darkstack.simulate.command"),
    ("ingest", "darkstack.ingest.command"),
    ("labels", "darkstack.labels.command"),
    ("snapshot", "darkstack.snapshot.command"),
    ("embed", "darkstack.embed.command"),
    ("evaluate", "darkstack.evaluate.command"),
    ("study", "darkstack.evaluate.study_command"),
    ("stack", "darkstack.stack.command"),
    ("predict", "darkstack.stack.predict_command"),
    ("run", "darkstack.pipeline.run_command"),
    ("update", "darkstack.pipeline.update_command"),
    ("report", "darkstack.report.command"),
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


for _name, _module in COMMANDS:
    app.command(_name)(importlib.import_module(_module).command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one ``error:`` line and exit code 2; nothing computable, one line and 3."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        rc = app(args=argv or ["--help"], standalone_mode=False)
    except StageSkipped as exc:
        console.print(f"[yellow]{escape(exc.line())}[/yellow]", highlight=False, soft_wrap=True)
        return NOTHING_COMPUTED
    except DarkstackError as exc:
        console.print(f"[red]error:[/red] {escape(exc.line())}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        console.print("[red]error:[/red] aborted", highlight=False)
        return 130
    except TyperException as exc:
        console.print(f"[red]error:[/red] {exc.format_message()}", highlight=False, soft_wrap=True)
        return exc.exit_code
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
