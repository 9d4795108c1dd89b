"""Progress bars for every step that takes more than a second."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from darkstack.log import console


@contextlib.contextmanager
def progress_bar(description: str, total: float | None) -> Iterator[Progress]:
    """A rich progress bar with one task; use ``bar.advance(bar.task_ids[0], n)`` or ``advance(bar, n)``.

    Extra fields (``loss``, ``rate``) can be updated with ``bar.update(task, status="...")``.
    """
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
    with bar:
        bar.add_task(description, total=total, status="")
        yield bar


def advance(bar: Progress, n: float = 1, status: str | None = None) -> None:
    """Advance the single task of ``bar`` by ``n`` and optionally set its status text."""
    task = bar.task_ids[0]
    if status is None:
        bar.advance(task, n)
    else:
        bar.update(task, advance=n, status=status)
