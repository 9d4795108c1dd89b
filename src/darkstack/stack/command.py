"""``darkstack stack``: evaluate the bases, naive stacking and the meta-learners of the scenarios."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import (
    AppFeaturesOption,
    ApproxAboveOption,
    DarknetSensorOption,
    HoneypotSensorOption,
    SearchOption,
    SeedOption,
    WorkspaceOption,
    resolve_workspace,
    settings_from_options,
)


def command(
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="D, H, DH, or a custom list sensor:variant,sensor:variant,... (repeatable; default: each of D, H "
            "and DH whose embeddings exist).",
        ),
    ] = None,
    day: Annotated[list[str] | None, typer.Option("--day", help="Evaluate these UTC days (repeatable; default: the last --test-days).")] = None,
    test_days: Annotated[int, typer.Option("--test-days", min=1, help="Evaluate the last N embedded days (fewer with fewer than N + --train-days days; docs/evaluation.md).")] = 11,
    train_days: Annotated[int, typer.Option("--train-days", min=0, help="Days kept before the test days (paper: 20); 0 stacks every day up to --test-days.")] = 20,
    min_class_hosts: Annotated[int, typer.Option("--min-class-hosts", min=1, help="Classes with fewer hosts on a day are folded into unknown that day.")] = 11,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Stratified folds of the meta-learner cross-validation.")] = 10,
    k: Annotated[int, typer.Option("--k", min=1, help="Neighbours of each base kNN.")] = 3,
    confusion_day: Annotated[str | None, typer.Option("--confusion-day", help="Day of the confusion matrices and coefficient figures (default: the last).")] = None,
    no_figures: Annotated[bool, typer.Option("--no-figures", help="Write the CSV tables only (no PNG figures).")] = False,
    app_features: AppFeaturesOption = False,
    search: SearchOption = "auto",
    approx_above: ApproxAboveOption = None,
    darknet_sensor: DarknetSensorOption = None,
    honeypot_sensor: HoneypotSensorOption = None,
    workspace: WorkspaceOption = None,
    seed: SeedOption = 0,
) -> None:
    """Stack base classifiers (naive vote and meta-learner) and write per-class F1 tables, confusion matrices and coefficients."""
    from darkstack import skips
    from darkstack.stack.run import stack
    from darkstack.stack.settings import StackSettings
    from darkstack.stack.tables import days_note, markdown, write_overview
    from darkstack.workspace import parse_day

    ws = resolve_workspace(workspace)
    settings = settings_from_options(
        StackSettings,
        test_days=test_days,
        train_days=train_days,
        min_class_hosts=min_class_hosts,
        folds=folds,
        k=k,
        confusion_day=parse_day(confusion_day) if confusion_day else None,
        figures=not no_figures,
        app_features=app_features,
        darknet_sensor=darknet_sensor,
        honeypot_sensor=honeypot_sensor,
        search=search,
        **({} if approx_above is None else {"approx_above": approx_above}),
    )
    if not scenario:
        scenario = [s for s in ("D", "H", "DH") if _resolves(ws, s, settings)]
        if not scenario:
            raise skips.skip_stage("stack", "no scenario D, H or DH fits the registered sensors")
    days = [parse_day(d) for d in day] if day else None

    def stack_scenario(spec: str) -> None:
        result = stack(ws, spec, settings, days=days, seed=seed)
        typer.echo(f"\nScenario {result.scenario}: {len(result.days)} day(s), {result.seconds:.1f} s → {result.out_dir}\n")
        typer.echo(markdown(result.table, days_note(len(result.days))))

    skips.each("stack", scenario, stack_scenario, "no scenario could be stacked")
    overview = write_overview(ws.results_dir / "stack")
    if overview is not None and len(scenario) > 1:
        typer.echo("Macro-F1 per scenario:\n")
        typer.echo(overview)


def _resolves(ws, spec: str, settings) -> bool:
    """Whether scenario ``spec`` fits the registered sensors (a scenario lacking embeddings gets a skip line)."""
    from darkstack.errors import ConfigError
    from darkstack.stack.bases import resolve_scenario

    try:
        resolve_scenario(ws, spec, settings)
    except ConfigError:
        return False
    return True
