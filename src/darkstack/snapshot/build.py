"""Build the daily snapshots of one sensor: skip days already built with the same settings and input,
compute the others on the chosen engine, write them atomically, then extend the node index."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time

import pyarrow.parquet as pq

from darkstack.errors import ConfigError, DarkstackError
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.snapshot.compute import compute_day
from darkstack.snapshot.node_index import update_node_index
from darkstack.snapshot.settings import SnapshotSettings
from darkstack.snapshot.tables import read_meta, write_day
from darkstack.store import day_files, parquet_glob
from darkstack.workspace import Workspace, day_str

ENGINES = ("duckdb", "spark")
log = get_logger(__name__)


def make_engine(engine: str, *, threads: int | None = None, memory_limit: str = "3GB", spark_master: str = "local[*]"):
    """An engine object running the shared SQL: ``duckdb`` (embedded) or ``spark``."""
    if engine == "duckdb":
        from darkstack.snapshot.duckdb_engine import DuckDBEngine

        return DuckDBEngine(threads=threads, memory_limit=memory_limit)
    if engine == "spark":
        from darkstack.snapshot.spark_engine import SparkEngine

        return SparkEngine(master=spark_master)
    raise ConfigError(f"engine must be one of {ENGINES}, not {engine!r}")


def input_fingerprint(ws: Workspace, sensor: str, day: dt.date) -> str:
    """Hash of the day's store parts (name, size, modification time): changes when ingest adds or rewrites one."""
    h = hashlib.sha256()
    for f in day_files(ws, sensor, day):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def day_warnings(counts: dict, settings: SnapshotSettings) -> list[str]:
    """Why a day's snapshot may be empty or unusual (also logged)."""
    if counts["packets_read"] == 0:
        return ["no records for this day in the store: empty snapshot"]
    if counts["packets_kept"] == 0:
        read, passed = counts["packets_read"], counts["packets_selected"]
        warning = (
            f"every packet was filtered out ({read} read, {passed} passed the protocol/flag filter, "
            f"none from a host with >= {settings.min_host_packets} packets): empty snapshot"
        )
        return [warning]
    if counts["ports_distinct"] <= settings.top_ports:
        return [f"only {counts['ports_distinct']} distinct ports after the host filter: no `other` port node (-1)"]
    return []


def _is_current(meta: dict | None, settings_hash: str, fingerprint: str) -> bool:
    return meta is not None and meta.get("settings_hash") == settings_hash and meta.get("input") == fingerprint


def build_snapshots(
    ws: Workspace,
    sensor: str,
    days: list[dt.date] | None = None,
    settings: SnapshotSettings | None = None,
    engine: str = "duckdb",
    *,
    threads: int | None = None,
    memory_limit: str = "3GB",
    spark_master: str = "local[*]",
    force: bool = False,
) -> list[dt.date]:
    """Build (or keep, when up to date) the snapshot of every requested day; returns those days, sorted.

    ``days`` defaults to every store day of the sensor. A day is skipped when its meta.json has the same
    settings hash and input fingerprint (unless ``force``); otherwise it is recomputed.
    """
    settings = settings or SnapshotSettings()
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES}, not {engine!r}")
    sensors = ws.sensors()
    if sensor not in sensors:
        raise ConfigError(f"unknown sensor {sensor!r}; known: {', '.join(sorted(sensors)) or 'none'}", ws.sensors_file)
    days = sorted(set(ws.store_days(sensor) if days is None else days))
    if not days:
        log.warning(f"snapshot sensor {sensor}: no store days in the chosen window, nothing to build", extra={"sensor": sensor})
        return []
    settings_hash = settings.settings_hash()
    fingerprints = {d: input_fingerprint(ws, sensor, d) for d in days}
    todo = [d for d in days if force or not _is_current(read_meta(ws, sensor, d), settings_hash, fingerprints[d])]
    log.debug(
        f"snapshot sensor {sensor}: {len(todo)} of {len(days)} day(s) to build ({engine})",
        extra={
            "sensor": sensor,
            "days": len(days),
            "to_build": len(todo),
            "engine": engine,
            "settings_hash": settings_hash,
        },
    )
    if todo:
        started = time.perf_counter()
        runner = make_engine(engine, threads=threads, memory_limit=memory_limit, spark_master=spark_master)
        try:
            with progress_bar(f"snapshot {sensor}", total=len(todo)) as bar:
                for day in todo:
                    _build_day(ws, sensor, day, settings, runner, fingerprints[day])
                    advance(bar, status=day_str(day))
        finally:
            runner.close()
        log.info(
            "%s: built %d snapshot day(s) in %.1f s (%d already up to date)",
            sensor,
            len(todo),
            time.perf_counter() - started,
            len(days) - len(todo),
            extra={"sensor": sensor, "built": len(todo), "engine": engine},
        )
    hosts = {
        d: pq.read_table(ws.snapshot_dir(sensor, d) / "host_features.parquet", columns=["ip"]).column("ip").to_numpy()
        for d in days
    }
    update_node_index(ws, sensor, hosts)
    return days


def _build_day(ws: Workspace, sensor: str, day: dt.date, settings: SnapshotSettings, runner, fingerprint: str) -> None:
    started = time.perf_counter()
    glob = parquet_glob(ws, sensor, day) if day_files(ws, sensor, day) else None
    try:
        tables, counts = compute_day(runner, glob, settings)
    except runner.errors as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DarkstackError(f"cannot compute the snapshot: {first_line}", ws.store_day_dir(sensor, day)) from exc
    warnings = day_warnings(counts, settings)
    for w in warnings:  # an empty day deserves attention; a day without an `other` node is only a note
        level = logging.WARNING if counts["packets_kept"] == 0 else logging.DEBUG
        log.log(level, "%s %s: %s", sensor, day_str(day), w, extra={"sensor": sensor, "day": day_str(day)})
    meta = {
        "sensor": sensor,
        "day": day_str(day),
        "kind": ws.sensors()[sensor]["kind"],
        "settings": settings.model_dump(),
        "settings_hash": settings.settings_hash(),
        "host_filter": f"packets >= {settings.min_host_packets}",
        "input": fingerprint,
        "engine": runner.name,
        "counts": counts,
        "rows": {name: t.num_rows for name, t in tables.items()},
        "warnings": warnings,
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_day(ws, sensor, day, tables, meta)
    log.debug(f"snapshot sensor {sensor}, {day_str(day)}: day written", extra={"sensor": sensor, "day": day_str(day), **counts})
