"""``darkstack run``: the whole pipeline on files and folders, or from a ``darkstack.toml``; cached per step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from darkstack.options import WorkspaceOption

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Pipeline configuration (TOML; default ./darkstack.toml). With PATHs: the settings, its source replaced by the PATHs."),
]


def command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Capture/log files and folders to ingest (format detected; one sensor per kind, see docs/pipeline.md).", show_default=False),
    ] = None,
    labels: Annotated[list[Path] | None, typer.Option("--labels", "-l", help="Ground-truth list(s) (CSV, ipset, MISP JSON, OpenFilters folder; repeatable).")] = None,
    config: ConfigOption = None,
    workspace: WorkspaceOption = None,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Rerun this step even if unchanged (repeatable), e.g. report or embed:darknet:igcngru.")
    ] = None,
) -> None:
    """Run ingest/simulate, labels, snapshots, embeddings, evaluation, stacking and the report; cached per step.

    Given PATHs, the files are ingested (one sensor per kind: darknet, honeypot), the labels are the
    --labels lists plus the Mirai rule, and the configuration used is written into the workspace
    (darkstack.toml) for editing and `darkstack run -c`. Without PATHs: --config, else ./darkstack.toml,
    else the workspace's darkstack.toml, else the traffic already in the workspace's store. Exit 0 when
    anything was computed, 3 when nothing could be (the reason is printed).
    """
    from darkstack.cli import NOTHING_COMPUTED
    from darkstack.log import console
    from darkstack.pipeline.config import load_config
    from darkstack.pipeline.from_paths import config_for_paths, write_config
    from darkstack.pipeline.run import run_pipeline

    if paths:
        base = load_config(config) if config is not None else None
        settings, generated = config_for_paths(paths, labels or [], workspace, base), True
    else:
        settings, generated = _existing_config(config, workspace, labels or [])
    if generated:
        written = write_config(settings)
        console.print(f"configuration used: {written} (edit it and rerun with `darkstack run -c {written}`)", highlight=False, soft_wrap=True)
    result = run_pipeline(settings, force=tuple(force or ()))
    record = result.record
    console.print(f"ran {len(record.ran)} step(s): {', '.join(record.ran) or '-'}", highlight=False, soft_wrap=True)
    console.print(f"unchanged {len(record.skipped)} step(s): {', '.join(record.skipped) or '-'}", highlight=False, soft_wrap=True)
    if result.not_computed_line():
        console.print(result.not_computed_line(), highlight=False, soft_wrap=True)
    if not result.useful:
        reasons = "; ".join(s.line() for s in result.not_computed[:3]) or "no step computed anything"
        console.print(f"[yellow]nothing could be computed on this data: {reasons}[/yellow]", highlight=False, soft_wrap=True)
        raise typer.Exit(NOTHING_COMPUTED)
    if result.report is not None:
        typer.echo(str(result.report))


def _existing_config(config: Path | None, workspace: Path | None, labels: list[Path]):
    """The configuration of a run without PATHs: --config, ./darkstack.toml, the workspace's own, or its store as it is.

    Returns it and whether it was made here (then it is written into the workspace).
    """
    from darkstack.errors import ConfigError
    from darkstack.pipeline.config import WorkspaceConfig, load_config
    from darkstack.pipeline.from_paths import CONFIG_NAME, config_for_store

    here = Path(CONFIG_NAME)
    if config is None and not here.exists() and workspace is not None:
        own = workspace / CONFIG_NAME
        if own.exists():
            config = own
        else:
            return config_for_store(workspace, labels), True
    if labels:
        raise ConfigError("--labels goes with PATHs (or a workspace without a config); with --config, list them under [labels] sources")
    settings = load_config(config or here)
    if workspace is not None:
        settings = settings.model_copy(update={"workspace": WorkspaceConfig(path=workspace.expanduser().resolve())})
    return settings, False
