"""``darkstack snapshot``: build the daily snapshots of each sensor."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import SensorOption, WorkspaceOption, resolve_sensors, resolve_workspace


def _days(ws, sensor: str, days: list[str] | None, start: str | None, end: str | None):
    """Explicit days, else every calendar day between --from and --to (defaults: first/last store day), else None."""
    import datetime as dt

    from darkstack.errors import ConfigError
    from darkstack.workspace import parse_day

    if days:
        return sorted({parse_day(d) for text in days for d in text.split(",") if d.strip()})
    if start is None and end is None:
        return None
    stored = ws.store_days(sensor)
    lo = parse_day(start) if start else (stored[0] if stored else None)
    hi = parse_day(end) if end else (stored[-1] if stored else None)
    if lo is None or hi is None:
        return []
    if hi < lo:
        raise ConfigError(f"--to {hi} is before --from {lo}")
    return [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]


def command(
    workspace: WorkspaceOption = None,
    sensor: SensorOption = None,
    days: Annotated[
        list[str] | None,
        typer.Option("--days", help="Day(s) YYYY-MM-DD, comma-separated or repeated (default: every store day)."),
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (inclusive) of a range.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (inclusive) of a range.")] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb (embedded) or spark.")] = "duckdb",
    syn_only: Annotated[
        bool, typer.Option("--syn-only/--all-tcp", help="Keep only pure SYNs (SYN set, ACK clear).")
    ] = False,
    all_protocols: Annotated[bool, typer.Option("--all-protocols", help="Keep UDP too (default: TCP only).")] = False,
    min_packets: Annotated[
        int, typer.Option("--min-packets", help="Host filter: packets a host must send that day.")
    ] = 5,
    host_filter: Annotated[
        str, typer.Option("--host-filter", help="ge: keep hosts with >= N packets (papers); gt: > N (reference code).")
    ] = "ge",
    reference_compat: Annotated[
        bool,
        typer.Option(
            "--reference-compat", help="Reference code's host filter (> N packets); same as --host-filter gt."
        ),
    ] = False,
    top_ports: Annotated[
        int, typer.Option("--top-ports", help="Ports kept per day by packets; the rest fold into port -1 (other).")
    ] = 2500,
    threads: Annotated[int | None, typer.Option("--threads", help="DuckDB threads (default: all cores).")] = None,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="DuckDB memory limit (spills to disk beyond it).")
    ] = "3GB",
    spark_master: Annotated[
        str, typer.Option("--spark-master", help="Spark master URL for --engine spark.")
    ] = "local[*]",
    force: Annotated[bool, typer.Option("--force", help="Recompute days that are already up to date.")] = False,
) -> None:
    """Build daily host-port graphs, the 37 node features and the i-DarkVec corpus of each sensor."""
    from pydantic import ValidationError

    from darkstack.errors import ConfigError
    from darkstack.log import console
    from darkstack.snapshot.build import build_snapshots
    from darkstack.snapshot.settings import SnapshotSettings
    from darkstack.snapshot.tables import read_meta

    try:
        settings = SnapshotSettings(
            tcp_only=not all_protocols,
            syn_only=syn_only,
            min_packets=min_packets,
            host_filter="gt" if reference_compat else host_filter,
            top_ports=top_ports,
        )
    except ValidationError as exc:
        problem = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"bad snapshot option ({problem})") from None
    ws = resolve_workspace(workspace)
    for name in resolve_sensors(ws, sensor):
        built = build_snapshots(
            ws,
            name,
            _days(ws, name, days, start, end),
            settings,
            engine,
            threads=threads,
            memory_limit=memory_limit,
            spark_master=spark_master,
            force=force,
        )
        hosts = sum(read_meta(ws, name, d)["counts"]["hosts_kept"] for d in built)
        console.print(f"{name}: {len(built)} day(s) in {ws.snapshot_dir(name)} ({hosts} host-days)")
