"""``darkstack update --day D``: one new day, processed incrementally, and its unknown hosts labelled."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from darkstack.options import WorkspaceOption

SHOWN = {"address": "address", "token": "token", "predicted": "class", "probability": "p", "runner_up": "runner-up", "runner_up_probability": "p"}
"""Prediction columns printed, with their headers (the files hold every column, e.g. the driving bases)."""


def command(
    day: Annotated[str, typer.Option("--day", help="The new UTC day, YYYY-MM-DD.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Pipeline configuration (default: the one saved by the workspace's last `darkstack run`).")
    ] = None,
    workspace: WorkspaceOption = None,
    inputs: Annotated[list[Path] | None, typer.Option("--input", "-i", help="Capture/log file(s) of the day to ingest first (repeatable).")] = None,
    sensor: Annotated[str | None, typer.Option("--sensor", "-s", help="Sensor the --input files belong to.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="darknet or honeypot (default: from the file format).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Input format, or auto.")] = "auto",
    anonymise_key: Annotated[Path | None, typer.Option("--anonymise-key", help="32-byte Crypto-PAn key file for --input.")] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="Predictions printed per scenario.")] = 10,
) -> None:
    """Process one new day (ingest, labels, snapshot, embeddings from their checkpoints) and label its unknown hosts.

    A sensor without traffic that day, and the scenarios needing it, are reported as not computed;
    exit 0 when anything was computed, 3 when nothing could be.
    """
    import pyarrow.parquet as pq
    from rich.table import Table

    from darkstack.cli import NOTHING_COMPUTED
    from darkstack.log import console
    from darkstack.options import resolve_workspace
    from darkstack.pipeline.config import WorkspaceConfig, load_config
    from darkstack.pipeline.update import update_day, workspace_config
    from darkstack.schema import int_to_ip
    from darkstack.workspace import parse_day

    the_day = parse_day(day)
    if config is not None:
        settings = load_config(config)
        if workspace is not None:
            settings = settings.model_copy(update={"workspace": WorkspaceConfig(path=workspace.expanduser().resolve())})
    else:
        settings = workspace_config(resolve_workspace(workspace))
    result = update_day(settings, the_day, inputs=inputs, sensor=sensor, kind=kind, fmt=fmt, anonymise_key=anonymise_key)
    for scenario, paths in result.predictions.items():
        parquet = next((p for p in paths if p.suffix == ".parquet"), None)
        if parquet is None:
            continue
        frame = pq.read_table(parquet).to_pandas()
        console.print(f"scenario {scenario}: {len(frame)} unknown host(s) labelled → {parquet}", highlight=False)
        if top and len(frame):
            if "address" not in frame and "ip" in frame:
                frame["address"] = int_to_ip(frame["ip"].to_numpy())
            columns = [c for c in SHOWN if c in frame.columns]
            table = Table(*(SHOWN[c] for c in columns))
            table.columns[0].no_wrap = True
            for row in frame[columns].head(top).itertuples(index=False):
                table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
            console.print(table)
    for skip in result.not_computed:
        console.print(f"not computed: {skip.line()}", highlight=False, soft_wrap=True)
    if not result.embeddings and not result.predictions:
        console.print(f"[yellow]nothing could be computed for {the_day}[/yellow]", highlight=False)
        raise typer.Exit(NOTHING_COMPUTED)
    typer.echo(f"updated {the_day}: {len(result.embeddings)} embedding file(s), predictions for {len(result.predictions)} scenario(s)")
