"""The snapshot files of one sensor and day (docs/workspace.md): schemas, atomic writing, and loading."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from darkstack import atomic
from darkstack.damage import read_parquet
from darkstack.errors import DarkstackError
from darkstack.snapshot.features import FEATURE_COLUMNS
from darkstack.workspace import Workspace, day_str

_FEATURES = [pa.field(c, pa.float64(), nullable=False) for c in FEATURE_COLUMNS]
SCHEMAS: dict[str, pa.Schema] = {
    "edges": pa.schema(
        [
            pa.field("ip", pa.uint32(), False),
            pa.field("port", pa.int32(), False),
            pa.field("packets", pa.int64(), False),
        ]
    ),
    "host_features": pa.schema([pa.field("ip", pa.uint32(), False), *_FEATURES]),
    "port_features": pa.schema([pa.field("port", pa.int32(), False), *_FEATURES]),
    "corpus": pa.schema(
        [
            pa.field("port", pa.int32(), False),
            pa.field("seq", pa.int64(), False),
            pa.field("ip", pa.uint32(), False),
            pa.field("hour", pa.uint8(), False),
        ]
    ),
}
"""Arrow schema of each per-day table (file ``<name>.parquet``)."""

META_FILE = "meta.json"


@dataclass(frozen=True)
class Snapshot:
    """One sensor-day: the bipartite graph, the raw node features, the i-DarkVec corpus and the metadata."""

    day: dt.date
    edges: pa.Table
    host_features: pa.Table
    port_features: pa.Table
    corpus: pa.Table
    meta: dict


def conform(name: str, table: pa.Table) -> pa.Table:
    """Cast an engine's result to the contract schema of table ``name`` (columns by name, in order)."""
    schema = SCHEMAS[name]
    return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in schema], schema=schema)


def empty(name: str) -> pa.Table:
    return SCHEMAS[name].empty_table()


def read_meta(ws: Workspace, sensor: str, day: dt.date) -> dict | None:
    """The day's meta.json, or None when the day was never completed (or its meta is unreadable)."""
    path = ws.snapshot_dir(sensor, day) / META_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_day(ws: Workspace, sensor: str, day: dt.date, tables: dict[str, pa.Table], meta: dict) -> Path:
    """Write the four tables and meta.json (it marks the day complete) into a new folder swapped in whole.

    A failed or killed write (full disk) leaves the day's earlier snapshot as it was.
    """
    folder = ws.snapshot_dir(sensor, day)
    with atomic.atomic_dir(folder) as staging:
        for name in SCHEMAS:
            atomic.write_parquet(staging / f"{name}.parquet", conform(name, tables[name]))
        atomic.write_json(staging / META_FILE, meta)
    return folder


def load_day(ws: Workspace, sensor: str, day: dt.date) -> Snapshot:
    """Load one completed snapshot day (raises DarkstackError when it was not built)."""
    folder = ws.snapshot_dir(sensor, day)
    meta = read_meta(ws, sensor, day)
    if meta is None:
        raise DarkstackError(f"no snapshot for sensor {sensor!r} on {day_str(day)}: run `darkstack snapshot`", folder)
    tables = {}
    for name, schema in SCHEMAS.items():
        path = folder / f"{name}.parquet"
        table = read_parquet(path)
        if not table.schema.equals(schema, check_metadata=False):
            raise DarkstackError(f"unexpected schema {table.schema.names}; rebuild with `darkstack snapshot`", path)
        tables[name] = table
    return Snapshot(day=day, meta=meta, **tables)
