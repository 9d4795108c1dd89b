"""``darkstack export``: one day's classified hosts as CSV, JSON lines, a MISP event and STIX 2.1 indicators."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import WorkspaceOption, resolve_workspace


def command(
    day: Annotated[str | None, typer.Option("--day", help="UTC day to export, YYYY-MM-DD (default: each scenario's last predicted day).")] = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="Scenario(s) to export (default: every scenario with predictions).")
    ] = None,
    fmt: Annotated[list[str] | None, typer.Option("--format", help="csv, jsonl, misp or stix; repeat for several (default: all four).")] = None,
    top_strings: Annotated[
        int, typer.Option("--top-strings", help="Most frequent usernames, passwords, commands, downloads and web requests kept per host (0: event counts only).")
    ] = 5,
    max_string_length: Annotated[int, typer.Option("--max-string-length", help="Characters kept of each of those strings (16–2048).")] = 200,
    include: Annotated[
        str, typer.Option("--include", help="all (hosts with a ground-truth label and hosts predict labelled), predicted or labelled.")
    ] = "all",
    workspace: WorkspaceOption = None,
) -> None:
    """Write a day's classified hosts — ground-truth labels and `darkstack predict`'s labels (class, source, probability, runner-up, deciding base, cluster, first and last seen) — as feed files."""
    from pydantic import ValidationError

    from darkstack import skips
    from darkstack.errors import ConfigError
    from darkstack.export.formats import FORMATS
    from darkstack.export.run import export, predicted_days, scenarios_with_predictions
    from darkstack.export.settings import ExportSettings
    from darkstack.workspace import parse_day

    ws = resolve_workspace(workspace)
    when = parse_day(day) if day else None
    unknown = [f for f in fmt or [] if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown export format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    bounds = {"top_strings": top_strings, "max_string_length": max_string_length, "include": include}
    try:
        settings = ExportSettings(**bounds, **({"formats": tuple(fmt)} if fmt else {}))
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg'].removeprefix('Value error, ')}") from exc
    scenarios = list(scenario or scenarios_with_predictions(ws, when))
    if not scenarios:
        what = "of this day" if when else "in this workspace"
        raise skips.skip_stage("export", f"no predictions {what}: run `darkstack predict` first", days=when)

    def one(name: str) -> None:
        the_day = when or (predicted_days(ws, name) or [None])[-1]
        if the_day is None:
            raise skips.skip_stage("export", "no predictions: run `darkstack predict` first", scenario=name)
        for path in export(ws, name, the_day, settings):
            typer.echo(str(path))

    skips.each("export", scenarios, one, "no scenario could be exported")
