"""``darkstack discover``: per day and sensor, groups of hosts acting alike, and how they change from day to day."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import SensorOption, WorkspaceOption, resolve_sensors, resolve_workspace


def command(
    workspace: WorkspaceOption = None,
    sensor: SensorOption = None,
    space: Annotated[
        str, typer.Option("--space", help="'best' (the variant the evaluation scores highest; without one, the first embedded), a variant name, or 'stack' (the stacked probability space).")
    ] = "best",
    min_cluster_size: Annotated[int, typer.Option(help="HDBSCAN's smallest group of hosts (scikit-learn's default).")] = 5,
    min_samples: Annotated[int | None, typer.Option(help="HDBSCAN's core neighbourhood (default: --min-cluster-size).")] = None,
    min_hosts: Annotated[int, typer.Option(help="Days with fewer embedded hosts are not clustered.")] = 20,
    match_jaccard: Annotated[float, typer.Option(help="Jaccard index (over hosts seen today and in the window) at which a cluster continues a group.")] = 0.3,
    track_days: Annotated[int, typer.Option(help="Clustered days a group's members are remembered for matching (1: the day before only).")] = 3,
    size_change: Annotated[float, typer.Option(help="Relative size change beyond which a continued group has grown or shrunk.")] = 0.2,
    top_ports: Annotated[int, typer.Option(help="Ports listed per group (most packets first).")] = 5,
    members_listed: Annotated[int, typer.Option(help="Member addresses listed per group in groups-day=….json.")] = 20,
    day: Annotated[list[str] | None, typer.Option("--day", help="Only these UTC days, YYYY-MM-DD (default: every embedded day).")] = None,
) -> None:
    """Cluster each day's hosts (HDBSCAN, cosine), describe the groups and track them from day to day."""
    from pydantic import ValidationError

    from darkstack import skips
    from darkstack.discover.run import discover, discover_dir
    from darkstack.discover.settings import DiscoverSettings
    from darkstack.errors import ConfigError
    from darkstack.workspace import day_str, parse_day

    ws = resolve_workspace(workspace)
    options = {"space": space, "min_cluster_size": min_cluster_size, "min_samples": min_samples, "min_hosts": min_hosts,
               "match_jaccard": match_jaccard, "track_days": track_days, "size_change": size_change, "top_ports": top_ports, "members_listed": members_listed}
    try:
        settings = DiscoverSettings(**options)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg'].removeprefix('Value error, ')}") from exc
    days = [parse_day(d) for d in day] if day else None

    def discover_sensor(name: str) -> None:
        result = discover(ws, name, settings, days=days)
        last = result.days[-1]
        groups = result.groups[last]
        fresh = [g["group"] for g in groups if g["status"] in ("new", "grown")]
        typer.echo(
            f"sensor {name}, variant {result.space}: {len(result.days)} day(s) clustered; {day_str(last)}: {len(groups)} groups, "
            f"new or grown: {', '.join(fresh) or 'none'}; written to {discover_dir(ws, name)}"
        )

    skips.each("discover", resolve_sensors(ws, sensor), discover_sensor, "no sensor could be clustered")
