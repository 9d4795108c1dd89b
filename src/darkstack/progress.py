"""Progress bars for every step that takes more than a second.

On a terminal, a rich bar. Off a terminal (a log file, CI, a pipe) rich draws nothing, so a plain line with the
bar's description, counts and elapsed time is printed at least every ``PLAIN_INTERVAL_S`` seconds and once when
the step finishes: a long step (a 90-second i-GCN-GRU month) never looks hung. Plain lines are INFO output: with
``--log-level WARNING`` or above they are not printed, and a step that fails ends with its error line alone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from darkstack.log import console

PLAIN_INTERVAL_S = 10.0
"""Seconds between two plain progress lines when stderr is not a terminal."""


def plain_line(task: Task) -> str:
    """``embed darknet/igcngru: 3/31 (10%), 42 s, 2021-03-04 loss 0.12``: the bar as one line of text."""
    done = f"{task.completed:,.0f}"
    if task.total is not None:
        done += f"/{task.total:,.0f}" + (f" ({task.percentage:.0f}%)" if task.total else "")
    status = task.fields.get("status") or ""
    return f"{task.description}: {done}, {task.elapsed or 0:.0f} s" + (f", {status}" if status else "")


@contextlib.contextmanager
def _plain_lines(bar: Progress, interval: float) -> Iterator[None]:
    """Print ``plain_line`` of the bar's task every ``interval`` seconds from a helper thread, and once at a normal end."""
    stop = threading.Event()

    def emit() -> None:
        console.print(plain_line(bar.tasks[0]), markup=False, highlight=False, soft_wrap=True)

    def ticker() -> None:
        while not stop.wait(interval):
            emit()

    thread = threading.Thread(target=ticker, name="darkstack-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    emit()


@contextlib.contextmanager
def progress_bar(description: str, total: float | None) -> Iterator[Progress]:
    """A rich progress bar with one task; use ``bar.advance(bar.task_ids[0], n)`` or ``advance(bar, n)``.

    Extra fields (``loss``, ``rate``) can be updated with ``bar.update(task, status="...")``.
    """
    terminal = console.is_terminal
    level = logging.getLogger("darkstack").level  # set by --log-level; NOTSET when used as a library
    plain = not terminal and level <= logging.INFO
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
        disable=not terminal,
    )
    with bar:
        bar.add_task(description, total=total, status="")
        with _plain_lines(bar, PLAIN_INTERVAL_S) if plain else contextlib.nullcontext():
            yield bar


def advance(bar: Progress, n: float = 1, status: str | None = None) -> None:
    """Advance the single task of ``bar`` by ``n`` and optionally set its status text."""
    task = bar.task_ids[0]
    if status is None:
        bar.advance(task, n)
    else:
        bar.update(task, advance=n, status=status)
