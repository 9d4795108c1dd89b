"""``discover()``: per day, cluster a sensor's hosts, describe the clusters and track them as groups.

Outputs (docs/workspace.md, docs/discover.md) under ``results/discover/<sensor>/``:
``day=<YYYY-MM-DD>.parquet`` (one row per embedded host: ``src_ip``, ``cluster``, ``group``, ``label``,
``strength``), ``groups-day=<YYYY-MM-DD>.json`` (one description per group) and ``run.json``.
Every day is recomputed in order, so group ids depend only on the data and the settings (idempotent).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from darkstack import atomic, skips
from darkstack.discover.cluster import NOISE, cluster_hosts
from darkstack.discover.describe import describe_clusters, host_labels
from darkstack.discover.settings import DiscoverSettings
from darkstack.discover.space import SPACE_OPTION, day_vectors, resolve_space
from darkstack.discover.track import match_clusters
from darkstack.evaluate.tables import METHOD_ORDER as STANDARD_VARIANTS
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.stack.settings import StackSettings
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)

SCHEMA = pa.schema([
    pa.field("src_ip", pa.uint32(), False),
    pa.field("cluster", pa.int32(), False),
    pa.field("group", pa.string()),
    pa.field("label", pa.string(), False),
    pa.field("strength", pa.float32(), False),
])
"""One row per host embedded that day: its cluster (-1 noise), group id (null for noise), class, HDBSCAN membership strength."""


def discover_dir(ws: Workspace, sensor: str) -> Path:
    return ws.results_dir / "discover" / sensor


def hosts_path(ws: Workspace, sensor: str, day: dt.date) -> Path:
    return discover_dir(ws, sensor) / f"day={day_str(day)}.parquet"


def groups_path(ws: Workspace, sensor: str, day: dt.date) -> Path:
    return discover_dir(ws, sensor) / f"groups-day={day_str(day)}.json"


@dataclass(frozen=True)
class DiscoverResult:
    sensor: str
    space: str
    days: list[dt.date]
    groups: dict[dt.date, list[dict]]
    paths: list[Path] = field(default_factory=list)


def discover(
    ws: Workspace,
    sensor: str,
    settings: DiscoverSettings | None = None,
    stack: StackSettings | None = None,
    *,
    days: list[dt.date] | None = None,
    candidates: Sequence[str] = STANDARD_VARIANTS,
) -> DiscoverResult:
    """Cluster, describe and track the hosts of ``sensor`` on every day its space has (or on ``days``).

    ``candidates``: the variants ``space = "best"`` falls back on, in order, without a scored evaluation.

    A day that cannot be clustered (too few hosts, a base missing) is left out with a skip line and the
    tracking goes on from the clustered days before it; :class:`darkstack.skips.StageSkipped` when no day is left.
    """
    settings = settings or DiscoverSettings()
    stack = stack or StackSettings()
    space = resolve_space(ws, sensor, settings, stack, candidates)
    log.info(f"discover sensor {sensor}: variant {space.name} ({space.why})", extra={"sensor": sensor, "variant": space.name})
    have = space.days(ws)
    todo = [d for d in have if days is None or d in set(days)]
    if not todo:
        what = f"embeddings of {', '.join(space.bases or (space.name,))}"
        raise skips.skip_stage("discover", f"no day with {what}: run `darkstack embed` first", sensor=sensor,
                               variant=space.name, days=days, option=SPACE_OPTION)
    started = time.perf_counter()
    window: list[pd.DataFrame] = []  # src_ip, group of the last settings.track_days clustered days, latest first
    next_number = 1
    described: dict[dt.date, list[dict]] = {}
    paths: list[Path] = []
    with progress_bar(f"discover sensor {sensor}", len(todo)) as bar:
        for day in todo:
            advance(bar, 0, f"variant {space.name}, {day_str(day)}")
            try:
                ips, X = day_vectors(ws, space, day, settings, stack)
            except skips.StageSkipped as exc:
                skips.record(exc.skip)
                advance(bar)
                continue
            history = pd.concat([w.assign(age=age) for age, w in enumerate(window)], ignore_index=True) if window else None
            hosts, groups, next_number = _one_day(ws, sensor, day, ips, X, history, next_number, settings)
            paths += [atomic.write_parquet(hosts_path(ws, sensor, day), pa.Table.from_pandas(hosts, schema=SCHEMA, preserve_index=False)),
                      atomic.write_json(groups_path(ws, sensor, day), groups)]
            described[day] = groups
            window = [hosts[["src_ip", "group"]], *window][: settings.track_days]
            new = sum(g["status"] == "new" for g in groups)
            log.info(
                f"discover sensor {sensor}, variant {space.name}, {day_str(day)}: {len(groups)} groups "
                f"({new} new) of {len(ips)} hosts, {int((hosts['cluster'] == NOISE).sum())} left as noise",
                extra={"sensor": sensor, "variant": space.name, "day": day_str(day), "groups": len(groups), "new": new},
            )
            advance(bar)
    _remove_stale(ws, sensor, set(paths))
    if not described:
        raise skips.skip_stage("discover", "no day could be clustered (see the lines above)", sensor=sensor, variant=space.name, days=todo)
    run = atomic.write_json(discover_dir(ws, sensor) / "run.json", {
        "sensor": sensor, "space": space.name, "why": space.why, "bases": list(space.bases), "settings": settings.model_dump(mode="json"),
        "days": [day_str(d) for d in described], "groups": next_number - 1, "seconds": round(time.perf_counter() - started, 3),
    })
    return DiscoverResult(sensor, space.name, list(described), described, [*paths, run])


def _one_day(
    ws: Workspace, sensor: str, day: dt.date, ips: np.ndarray, X: np.ndarray, history: pd.DataFrame | None, next_number: int,
    settings: DiscoverSettings,
) -> tuple[pd.DataFrame, list[dict], int]:
    """The day's host table and group descriptions (most hosts first), and the next unused group number."""
    clusters = cluster_hosts(X, settings)
    labels = host_labels(ws, day, ips)
    hosts = pd.DataFrame({"src_ip": ips.astype(np.uint32), "cluster": clusters.labels, "label": labels.astype(str), "strength": clusters.strength})
    matches, next_number = match_clusters(history, hosts, next_number, settings.match_jaccard, settings.size_change)
    group_of = {m.cluster: m.group for m in matches}
    hosts["group"] = hosts["cluster"].map(group_of).astype(object).where(hosts["cluster"] != NOISE, None)
    by_cluster = {m.cluster: m for m in matches}
    groups = []
    for info in describe_clusters(ws, sensor, day, ips, clusters, labels, settings):
        m = by_cluster[info["cluster"]]
        groups.append({"group": m.group, "status": m.status, "parents": m.parents, "previous_size": m.previous_size, **info})
    groups.sort(key=lambda g: (-g["size"], g["group"]))
    return hosts[SCHEMA.names], groups, next_number


def _remove_stale(ws: Workspace, sensor: str, keep: set[Path]) -> None:
    """Drop day files of an earlier run that this run did not write (a day no longer clustered)."""
    folder = discover_dir(ws, sensor)
    for path in [*folder.glob("day=*.parquet"), *folder.glob("groups-day=*.json")]:
        if path not in keep:
            path.unlink()
