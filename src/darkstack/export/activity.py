"""What each host did on the honeypots that day, bounded: counts per event kind and its most frequent strings.

Read from the store's application events (``store/<sensor>/<day>/events-*.parquet``, ``schema.EVENT_SCHEMA``)
of every sensor of the scenario: the event kinds with their counts, and the ``top`` most frequent usernames,
passwords, commands, downloaded files/URLs and web requests (request lines, methods and URLs, header values,
as each reader keeps them in ``detail``), each cut to ``max_length`` characters (``…`` marks a cut) and
counted after the cut. Every string is attacker-written: cleaned like every exported text (valid UTF-8, control characters as
U+FFFD) and escaped by each writer for its format.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from darkstack.store import event_files
from darkstack.workspace import Workspace

CUT_MARK = "…"
ACTIVITY = {
    "honeypot_events": "event",
    "usernames": "username",
    "passwords": "password",
    "commands": "CASE WHEN event = 'command' THEN detail END",
    "downloads": "CASE WHEN event = 'download' THEN detail END",
    "web_requests": "CASE WHEN event = 'web_request' THEN detail END",
}
"""Exported activity column → the event value it counts (``honeypot_events``: every kind, never cut to ``top``)."""
COUNTED = pa.list_(pa.struct([("value", pa.string()), ("count", pa.int64())]))
"""Type of each activity column: (value, count) pairs, most frequent first (ties by value)."""


def honeypot_activity(ws: Workspace, ips: np.ndarray, sensors: list[str], day: dt.date, top: int, max_length: int) -> dict[str, list]:
    """Per activity column, one list of {value, count} per host of ``ips`` (in that order; empty without events);
    the values as logged (the caller cleans them)."""
    from darkstack.snapshot.duckdb_engine import DuckDBEngine

    out = {column: [[] for _ in ips] for column in ACTIVITY}
    files = [str(f) for s in sensors for f in event_files(ws, s, day)]
    if not files or len(ips) == 0:
        return out
    engine = DuckDBEngine()
    con = engine.con
    con.register("hosts", pa.table({"ip": pa.array(ips, pa.uint32())}))
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    values = " UNION ALL ".join(
        f"SELECT src_ip, '{column}' AS what, {expression} AS v FROM events" for column, expression in ACTIVITY.items()
    )
    cut = f"CASE WHEN length(v) > {max_length} THEN left(v, {max_length}) || '{CUT_MARK}' ELSE v END"
    found = engine.query(
        f"WITH events AS (SELECT * FROM read_parquet([{listed}], union_by_name = true) WHERE src_ip IN (SELECT ip FROM hosts)),"
        f" counted AS (SELECT src_ip, what, {cut} AS value, count(*) AS n FROM ({values}) WHERE v IS NOT NULL GROUP BY ALL),"
        f" ranked AS (SELECT *, row_number() OVER (PARTITION BY src_ip, what ORDER BY n DESC, value) AS r FROM counted)"
        f" SELECT src_ip, what, list({{'value': value, 'count': n}} ORDER BY r) AS pairs FROM ranked"
        f" WHERE r <= {top} OR what = 'honeypot_events' GROUP BY src_ip, what"
    )
    con.close()
    position = dict(zip(ips.tolist(), range(len(ips))))
    for ip, column, pairs in zip(*(found.column(c).to_pylist() for c in ("src_ip", "what", "pairs"))):
        out[column][position[ip]] = pairs
    return out
