"""Tiny synthetic snapshot days in the exact snapshot layout, for the embedding tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from darkstack.snapshot.features import FEATURE_COLUMNS
from darkstack.snapshot.tables import write_day
from darkstack.workspace import Workspace

START = dt.date(2021, 12, 1)


def _features(key: str, ids: np.ndarray, rng: np.random.Generator, ptype) -> pa.Table:
    cols = {key: pa.array(ids, ptype)}
    for c in FEATURE_COLUMNS:
        cols[c] = pa.array(rng.integers(0, 100, len(ids)).astype(np.float64))
    return pa.table(cols)


def day_tables(day: dt.date, rng: np.random.Generator, pool: np.ndarray, ports: np.ndarray, active: int) -> dict:
    """One day's tables: ``active`` hosts of ``pool``, each sending to 1-3 ports of ``ports``."""
    hosts = np.sort(rng.choice(pool, active, replace=False))
    e_ip, e_port = [], []
    for h in hosts:
        chosen = rng.choice(ports, rng.integers(1, 4), replace=False)
        e_ip += [h] * len(chosen)
        e_port += chosen.tolist()
    e_ip, e_port = np.array(e_ip, np.uint32), np.array(e_port, np.int32)
    packets = rng.integers(1, 20, len(e_ip))
    day_ports = np.unique(e_port)
    # Corpus: per port (sentence), one token per packet in a random time order (hours non-decreasing).
    tok_port, tok_ip, tok_hour = [], [], []
    for p in day_ports:
        senders = np.repeat(e_ip[e_port == p], packets[e_port == p])
        tok_ip += rng.permutation(senders).tolist()
        tok_port += [p] * len(senders)
        tok_hour += np.sort(rng.integers(0, 24, len(senders))).tolist()
    return {
        "edges": pa.table(
            {
                "ip": pa.array(e_ip, pa.uint32()),
                "port": pa.array(e_port, pa.int32()),
                "packets": pa.array(packets, pa.int64()),
            }
        ),
        "host_features": _features("ip", hosts, rng, pa.uint32()),
        "port_features": _features("port", day_ports, rng, pa.int32()),
        "corpus": pa.table(
            {
                "port": pa.array(tok_port, pa.int32()),
                "seq": pa.array(np.arange(len(tok_ip)), pa.int64()),
                "ip": pa.array(tok_ip, pa.uint32()),
                "hour": pa.array(tok_hour, pa.uint8()),
            }
        ),
    }


def write_days(
    ws: Workspace,
    n_days: int = 4,
    sensor: str = "darknet",
    pool_size: int = 60,
    active: int = 30,
    n_ports: int = 8,
    seed: int = 0,
) -> list[dt.date]:
    """Write ``n_days`` snapshot days of a small churning world; returns the days."""
    rng = np.random.default_rng(seed)
    ws.register_sensor(sensor, "darknet")
    pool = (np.arange(pool_size) + 167772160).astype(np.uint32)  # 10.0.0.0 + i
    ports = np.array([-1, 22, 23, 80, 443, 445, 2323, 8080][:n_ports], np.int32)
    days = [START + dt.timedelta(days=i) for i in range(n_days)]
    for day in days:
        write_day(
            ws, sensor, day, day_tables(day, rng, pool, ports, active), {"day": str(day), "settings_hash": "test"}
        )
    return days


class ProgressRecorder:
    """Stands in for ``progress_bar``/``advance`` of a stage module: keeps every description and status."""

    def __init__(self):
        self.descriptions: list[str] = []
        self.statuses: list[str] = []

    def install(self, monkeypatch, module) -> ProgressRecorder:
        import contextlib

        @contextlib.contextmanager
        def progress_bar(description, total):
            self.descriptions.append(description)
            yield self

        def advance(bar, n=1, status=None):
            if status:
                self.statuses.append(status)

        monkeypatch.setattr(module, "progress_bar", progress_bar)
        monkeypatch.setattr(module, "advance", advance)
        return self
