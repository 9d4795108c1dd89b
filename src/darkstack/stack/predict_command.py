"""``darkstack predict``: label the unlabelled hosts of one day with the stacked meta-learner."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import AppFeaturesOption, DarknetSensorOption, HoneypotSensorOption, SeedOption, WorkspaceOption, resolve_workspace


def command(
    day: Annotated[str, typer.Option("--day", help="The UTC day whose unlabelled hosts are labelled, YYYY-MM-DD.")],
    scenario: Annotated[str, typer.Option("--scenario", help="D, H, DH or sensor:variant,sensor:variant,...")] = "D",
    darknet_sensor: DarknetSensorOption = None,
    honeypot_sensor: HoneypotSensorOption = None,
    app_features: AppFeaturesOption = False,
    workspace: WorkspaceOption = None,
    seed: SeedOption = 0,
) -> None:
    """Fit the stack on a day's labelled hosts and write class, probability, runner-up and driving bases of its unlabelled hosts."""
    from collections import Counter

    from darkstack.stack.bases import resolve_scenario
    from darkstack.stack.predict import predict, predictions_path
    from darkstack.stack.settings import StackSettings
    from darkstack.workspace import day_str, parse_day

    ws = resolve_workspace(workspace)
    when = parse_day(day)
    settings = StackSettings(darknet_sensor=darknet_sensor, honeypot_sensor=honeypot_sensor, app_features=app_features)
    table = predict(ws, when, scenario, settings, seed=seed)
    counts = Counter(table.column("predicted").to_pylist())
    typer.echo(f"{table.num_rows} unlabelled hosts on {day_str(when)}:")
    for label, n in counts.most_common():
        typer.echo(f"  {label:<16} {n}")
    name = resolve_scenario(ws, scenario, settings).name
    typer.echo(f"written to {predictions_path(ws, name, when)}.{{parquet,csv}}")
