"""Honeypot application features: a block appended to the DS embedding of honeypot sensors (``stack.app_features``).

Beyond the papers, whose DS features are the 37 packet-header features: what a host did on the honeypot
that day, from the application events (``store.read_events``). Each column is ``log1p`` of a per-host
count, scaled by the day's maximum as the DS features are (``scale_by_day_max``); ``log1p`` first because
the counts are heavy-tailed (one brute-forcer's thousands of attempts would squash every other host to 0).
Hosts without events get zeros. Off by default: labels built from the same events (the activity rules)
make scores of bruteforcer, spammer and exploiter circular (docs/stacking.md).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from darkstack.snapshot.features import scale_by_day_max
from darkstack.store import read_events
from darkstack.workspace import Workspace

APP_FEATURES = ("sessions", "failed_logins", "successful_logins", "usernames", "passwords", "commands",
                "downloads", "services", "payload_bytes")
"""Columns of the block, in order."""


def app_feature_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Per ``src_ip`` of ``events`` (the event schema as pandas): the raw :data:`APP_FEATURES` counts."""
    kind = events["event"]
    grouped = events.assign(
        failed=kind == "login_failed", success=kind == "login_success", command=kind == "command",
        download=kind.isin(["download", "upload"]),
        user=events["username"].where(kind.isin(["login_failed", "login_success"])),
        secret=events["password"].where(kind.isin(["login_failed", "login_success"])),
        nbytes=events["bytes"].fillna(0).astype(np.int64),
    ).groupby("src_ip")
    return pd.DataFrame({
        "sessions": grouped["session"].nunique(), "failed_logins": grouped["failed"].sum(),
        "successful_logins": grouped["success"].sum(), "usernames": grouped["user"].nunique(),
        "passwords": grouped["secret"].nunique(), "commands": grouped["command"].sum(),
        "downloads": grouped["download"].sum(), "services": grouped["service"].nunique(),
        "payload_bytes": grouped["nbytes"].sum(),
    })[list(APP_FEATURES)]


def app_feature_block(ws: Workspace, sensor: str, day: dt.date, ips: np.ndarray) -> tuple[np.ndarray, bool]:
    """(block rows aligned with ``ips``, whether the sensor has events that day); zeros for hosts without events."""
    events = read_events(ws, sensor, day)
    if events.num_rows == 0:
        return np.zeros((len(ips), len(APP_FEATURES)), np.float32), False
    counts = app_feature_counts(events.select(["src_ip", "event", "session", "username", "password", "service",
                                               "bytes"]).to_pandas())
    raw = counts.reindex(np.asarray(ips, np.uint32), fill_value=0).to_numpy(np.float64)
    return scale_by_day_max(np.log1p(raw)).astype(np.float32), True
