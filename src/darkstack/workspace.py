"""The workspace: one folder holding every stage's inputs and outputs (layout in docs/workspace.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from darkstack import atomic
from darkstack.errors import ConfigError, DarkstackError

DAY_FORMAT = "%Y-%m-%d"


def day_str(day: dt.date) -> str:
    return day.strftime(DAY_FORMAT)


def parse_day(text: str | dt.date) -> dt.date:
    """``YYYY-MM-DD`` (or ``YYYYMMDD``) → date; a clear error otherwise."""
    if isinstance(text, dt.date):
        return text
    for fmt in (DAY_FORMAT, "%Y%m%d"):
        try:
            return dt.datetime.strptime(str(text).strip(), fmt).date()
        except ValueError:
            continue
    raise ConfigError(f"not a day (expected YYYY-MM-DD): {text!r}")


def day_range(start: dt.date, n_days: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n_days)]


def dated_entries(folder: Path) -> list[dt.date]:
    """Days of the ``day=YYYY-MM-DD`` (or plain ``YYYY-MM-DD``) entries directly under ``folder``."""
    days = []
    if folder.is_dir():
        for p in folder.iterdir():
            name = p.name.removeprefix("day=").removesuffix(".parquet")
            try:
                days.append(dt.datetime.strptime(name, DAY_FORMAT).date())
            except ValueError:
                continue
    return sorted(set(days))


@dataclass(frozen=True)
class Workspace:
    """Paths of every artefact; each stage reads and writes only through these."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())

    # --- raw store (canonical records) ---------------------------------------------------------
    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def sensors_file(self) -> Path:
        return self.store_dir / "sensors.json"

    @property
    def ingest_manifest(self) -> Path:
        return self.store_dir / "ingested.json"

    def store_day_dir(self, sensor: str, day: dt.date) -> Path:
        return self.store_dir / sensor / day_str(day)

    def store_days(self, sensor: str) -> list[dt.date]:
        return [d for d in dated_entries(self.store_dir / sensor) if any(self.store_day_dir(sensor, d).glob("part-*.parquet"))]

    def sensors(self) -> dict[str, dict]:
        """Registered sensors: name → {"kind": "darknet"|"honeypot", ...}."""
        if not self.sensors_file.exists():
            return {}
        return json.loads(self.sensors_file.read_text())

    def register_sensor(self, name: str, kind: str, **info) -> None:
        from darkstack.schema import SENSOR_KINDS

        if kind not in SENSOR_KINDS:
            raise ConfigError(f"sensor kind must be one of {SENSOR_KINDS}, not {kind!r}")
        if not name or "/" in name or name.startswith("."):
            raise ConfigError(f"bad sensor name {name!r}")
        sensors = self.sensors()
        known = sensors.get(name)
        if known and known["kind"] != kind:
            raise ConfigError(f"sensor {name!r} is already registered as {known['kind']}, not {kind}")
        sensors[name] = {**(known or {}), "kind": kind, **info}
        atomic.write_json(self.sensors_file, sensors)

    # --- ground truth ----------------------------------------------------------------------------
    @property
    def labels_dir(self) -> Path:
        return self.root / "labels"

    @property
    def labels_table(self) -> Path:
        """Merged label table: network (CIDR), prefix_len, label, source, valid_from, valid_to."""
        return self.labels_dir / "labels.parquet"

    def labels_day(self, day: dt.date) -> Path:
        """Per-day view: ip (uint32), label, source for every host active that day on any sensor."""
        return self.labels_dir / f"day={day_str(day)}.parquet"

    @property
    def truth_dir(self) -> Path:
        """Simulator outputs that are not traffic: published labels.csv and hidden truth.csv."""
        return self.root / "sim"

    # --- snapshots -------------------------------------------------------------------------------
    def snapshot_dir(self, sensor: str, day: dt.date | None = None) -> Path:
        base = self.root / "snapshots" / sensor
        return base if day is None else base / f"day={day_str(day)}"

    def snapshot_days(self, sensor: str) -> list[dt.date]:
        return [d for d in dated_entries(self.snapshot_dir(sensor)) if (self.snapshot_dir(sensor, d) / "meta.json").exists()]

    def node_index(self, sensor: str) -> Path:
        return self.snapshot_dir(sensor) / "node_index.parquet"

    # --- embeddings and models -------------------------------------------------------------------
    def embedding_dir(self, sensor: str, variant: str) -> Path:
        return self.root / "embeddings" / sensor / variant

    def embedding_path(self, sensor: str, variant: str, day: dt.date) -> Path:
        return self.embedding_dir(sensor, variant) / f"day={day_str(day)}.parquet"

    def embedding_days(self, sensor: str, variant: str) -> list[dt.date]:
        return dated_entries(self.embedding_dir(sensor, variant))

    def model_dir(self, sensor: str, variant: str, day: dt.date | None = None) -> Path:
        base = self.root / "models" / sensor / variant
        return base if day is None else base / f"day={day_str(day)}"

    # --- results, reports, logs ------------------------------------------------------------------
    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / "darkstack.jsonl"


_held: set[Path] = set()
"""Roots of the workspaces this process holds the lock of (the outermost ``workspace_lock`` releases it)."""


def lock_file(ws: Workspace) -> Path:
    return ws.root / "pipeline" / "lock"


@contextlib.contextmanager
def workspace_lock(ws: Workspace) -> Iterator[None]:
    """Hold the workspace for writing during the block; every command that writes runs inside one.

    A second darkstack process on the same workspace stops with one clear line (an ``flock`` on
    ``pipeline/lock``, released by the system even when a process is killed). Reentrant within one
    process, so ``run`` and ``update`` can call the stages inside their own lock. On first taking it,
    the temporary files of writes a killed process left (``.<name>.*.tmp``, see :mod:`darkstack.atomic`)
    are removed: no other writer can be running. A damaged workspace file met inside the block is moved
    aside and reported in one line (:func:`darkstack.damage.explain`).
    """
    if ws.root in _held:
        yield
        return
    path = lock_file(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DarkstackError("another darkstack command is writing to this workspace; wait for it to finish", ws.root) from None
        _held.add(ws.root)
        atomic.remove_stale_temporaries(ws.root)
        try:
            yield
        except Exception as exc:
            from darkstack.damage import explain

            damaged = explain(ws.root, exc)
            if damaged is None:
                raise
            raise damaged from exc
    finally:
        _held.discard(ws.root)
        os.close(fd)
