"""``darkstack study history|epochs``: i-GCN-GRU macro-F1 versus history H or epochs per day (Fig. 4)."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import (
    SeedOption,
    SensorOption,
    WorkspaceOption,
    resolve_sensors,
    resolve_workspace,
)


def command(
    kind: Annotated[str, typer.Argument(help="history (H = 0…8) or epochs (1, 5, 10, …, 30 per day).")],
    values: Annotated[
        str | None, typer.Option("--values", help="Comma-separated values instead of the paper's, e.g. 0,2,5.")
    ] = None,
    test_days: Annotated[int, typer.Option(help="Evaluate the last N embedded days.")] = 11,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    seed: SeedOption = 0,
    sensor: SensorOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Study i-GCN-GRU: macro-F1 (mean ± std over test days) versus history H or epochs per day."""
    from darkstack.errors import ConfigError
    from darkstack.evaluate.settings import EvalSettings
    from darkstack.evaluate.studies import study, study_dir
    from darkstack.log import console

    try:
        parsed = None if values is None else [int(v) for v in values.split(",") if v.strip()]
    except ValueError as exc:
        raise ConfigError(f"--values must be comma-separated integers, not {values!r}") from exc
    if test_days < 1:
        raise ConfigError(f"--test-days must be at least 1, not {test_days}")
    ws = resolve_workspace(workspace)
    for name in resolve_sensors(ws, sensor):
        frame = study(ws, name, kind, parsed, EvalSettings(test_days=test_days), device=device, seed=seed)
        console.print(frame.to_string(index=False, float_format=lambda x: f"{x:.3f}"), highlight=False)
        console.print(f"written: {study_dir(ws, name) / kind}.{{csv,json,png}}", highlight=False)
