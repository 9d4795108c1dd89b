"""Read what the evaluation judges: a day's host embeddings and labels (formats in docs/workspace.md)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow.parquet as pq

from darkstack.errors import DarkstackError, InputFormatError
from darkstack.schema import UNKNOWN
from darkstack.workspace import Workspace


def day_embeddings(ws: Workspace, sensor: str, variant: str, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(ips uint32, X float32 n × d) of the hosts embedded on ``day`` (checked: unique ips, finite values)."""
    from darkstack.embed import load_embeddings

    ips, X = load_embeddings(ws, sensor, variant, day)
    path = ws.embedding_path(sensor, variant, day)
    if len(np.unique(ips)) != len(ips):
        raise InputFormatError("an ip appears more than once", path)
    if not np.isfinite(X).all():
        raise InputFormatError("embeddings hold NaN or infinite values", path)
    return ips, X


def day_labels(ws: Workspace, day: dt.date, ips: np.ndarray) -> np.ndarray:
    """The label of each of ``ips`` on ``day`` (``unknown`` where unlabelled)."""
    from darkstack.labels import labels_for_day

    table = labels_for_day(ws, day)
    known = dict(
        zip(
            table.column("ip").to_numpy(zero_copy_only=False).astype(np.int64).tolist(),
            table.column("label").to_pylist(),
        )
    )
    return np.array([known.get(int(ip)) or UNKNOWN for ip in ips], dtype=object)


def label_fingerprint(ws: Workspace, day: dt.date) -> list[list[int]]:
    """Size and modification time of the label files a day's labels come from (to detect changes)."""
    return [[p.stat().st_size, p.stat().st_mtime_ns] for p in (ws.labels_day(day), ws.labels_table) if p.exists()]


def label_names(ws: Workspace, days: list[dt.date]) -> set[str]:
    """Every label of the label table (else of the given days' label files)."""
    paths = [ws.labels_table] if ws.labels_table.exists() else [ws.labels_day(d) for d in days]
    names: set[str] = set()
    for path in paths:
        if not path.exists():
            raise DarkstackError("no labels: run `darkstack labels` first", path)
        names.update(x for x in pq.read_table(path, columns=["label"]).column("label").to_pylist() if x)
    return names
