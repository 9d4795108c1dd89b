"""``darkstack run``: the whole pipeline from a ``darkstack.toml``, recomputing only what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from darkstack.options import WorkspaceOption

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Pipeline configuration (TOML).")]


def command(
    config: ConfigOption = Path("darkstack.toml"),
    workspace: WorkspaceOption = None,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Rerun this step even if unchanged (repeatable), e.g. report or embed:darknet:igcngru.")
    ] = None,
) -> None:
    """Run ingest/simulate, labels, snapshots, embeddings, evaluation, stacking and the report; cached per step."""
    from darkstack.log import console
    from darkstack.pipeline.config import WorkspaceConfig, load_config
    from darkstack.pipeline.run import run_pipeline

    settings = load_config(config)
    if workspace is not None:
        settings = settings.model_copy(update={"workspace": WorkspaceConfig(path=workspace.expanduser().resolve())})
    result = run_pipeline(settings, force=tuple(force or ()))
    record = result.record
    console.print(f"ran {len(record.ran)} step(s): {', '.join(record.ran) or '-'}", highlight=False)
    console.print(f"unchanged {len(record.skipped)} step(s): {', '.join(record.skipped) or '-'}", highlight=False)
    if result.report is not None:
        typer.echo(str(result.report))
