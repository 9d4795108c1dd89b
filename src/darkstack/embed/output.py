"""Embedding files (one Parquet per day, active hosts only) and the variant's ``run.json``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil

import numpy as np
import pyarrow as pa

from darkstack import atomic
from darkstack.damage import read_parquet
from darkstack.errors import DamagedFileError, DarkstackError
from darkstack.workspace import Workspace, day_str

RUN_FILE = "run.json"


def write_embeddings(ws: Workspace, sensor: str, variant: str, day: dt.date, ips: np.ndarray, X: np.ndarray) -> None:
    """Write one day's embeddings (rows sorted by IP) atomically."""
    ips = np.asarray(ips, np.uint32)
    X = np.asarray(X, np.float32)
    if X.ndim != 2 or len(X) != len(ips):
        raise ValueError(f"embedding matrix {X.shape} does not match {len(ips)} hosts")
    order = np.argsort(ips, kind="stable")
    dim = X.shape[1]
    values = pa.array(np.ascontiguousarray(X[order]).ravel(), pa.float32())
    table = pa.table(
        {"ip": pa.array(ips[order], pa.uint32()), "embedding": pa.FixedSizeListArray.from_arrays(values, dim)}
    )
    atomic.write_parquet(ws.embedding_path(sensor, variant, day), table)


def load_embeddings(ws: Workspace, sensor: str, variant: str, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(ips uint32 [n], X float32 [n, d]) of one day, rows sorted by IP."""
    path = ws.embedding_path(sensor, variant, day)
    if not path.exists():
        raise DarkstackError(f"no {variant} embeddings for {day_str(day)}: run `darkstack embed`", path)
    table = read_parquet(path)
    try:
        column = table.column("embedding").combine_chunks()
        dim = column.type.list_size
        ips = table.column("ip").to_numpy(zero_copy_only=False).astype(np.uint32)
    except (KeyError, AttributeError) as exc:
        raise DamagedFileError(f"not an embedding file ({exc})", path) from exc
    X = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(ips), dim)
    return ips, X


def snapshot_digest(ws: Workspace, sensor: str, day: dt.date) -> str:
    """Digest of the day's snapshot meta.json (changes whenever the snapshot is rebuilt differently)."""
    return hashlib.sha256((ws.snapshot_dir(sensor, day) / "meta.json").read_bytes()).hexdigest()[:16]


class RunLog:
    """``run.json`` of one variant: identity (method, seed, settings), device, and per-day records."""

    def __init__(self, ws: Workspace, sensor: str, variant: str, identity: dict):
        self.ws, self.sensor, self.variant = ws, sensor, variant
        self.path = ws.embedding_dir(sensor, variant) / RUN_FILE
        self.identity = identity
        self.data = {**identity, "days": {}}

    def open(self) -> bool:
        """Load the existing run if it has the same identity; otherwise clear the variant. True if kept."""
        try:
            old = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            old = None
        if old is not None and all(old.get(k) == v for k, v in self.identity.items()):
            self.data = {**old, **self.identity}
            return True
        self.reset()
        return False

    def reset(self) -> None:
        """Remove every output of the variant (a different method, seed or settings invalidates them all)."""
        for folder in (self.ws.embedding_dir(self.sensor, self.variant), self.ws.model_dir(self.sensor, self.variant)):
            if folder.is_dir():
                shutil.rmtree(folder)
        self.data = {**self.identity, "days": {}}

    def finished(self, day: dt.date) -> bool:
        """Was ``day`` finished on the same snapshot (and is its embedding file, if any, still there)?"""
        entry = self.data["days"].get(day_str(day))
        if entry is None or entry.get("snapshot") != snapshot_digest(self.ws, self.sensor, day):
            return False
        return not entry.get("embedded", True) or self.ws.embedding_path(self.sensor, self.variant, day).exists()

    def record(self, day: dt.date, **entry) -> None:
        self.data["days"][day_str(day)] = {"snapshot": snapshot_digest(self.ws, self.sensor, day), **entry}

    def forget_from(self, day: dt.date) -> None:
        """Drop the records of ``day`` and later (they are being recomputed)."""
        self.data["days"] = {k: v for k, v in self.data["days"].items() if k < day_str(day)}

    def save(self, **extra) -> None:
        self.data.update(extra)
        atomic.write_json(self.path, self.data)
