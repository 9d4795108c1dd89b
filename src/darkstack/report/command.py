"""``darkstack report``: write the HTML report of a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import WorkspaceOption, resolve_workspace


def command(
    workspace: WorkspaceOption = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Report folder name under reports/ (default: the current UTC time).")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows of predictions shown per scenario.")] = 500,
    title: Annotated[str, typer.Option("--title", help="Page title.")] = "darkstack report",
    lookup_hosts: Annotated[int, typer.Option("--lookup-hosts", min=1, help="Exported hosts the host lookup holds (the most probable).")] = 20_000,
) -> None:
    """Write a self-contained HTML report (tables, figures, predictions) of a workspace and print its path."""
    from darkstack.report.build import build_report

    path = build_report(resolve_workspace(workspace), run_id=run_id, top_predictions=top, title=title, lookup_hosts=lookup_hosts)
    typer.echo(str(path))
