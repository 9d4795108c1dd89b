"""Dionaea's own SQLite database (``logsql``): ``connections`` become session rows, ``logins`` and ``downloads``
honeypot events.

A row is one accepted connection (``connection_type`` ``accept``; ``reject`` too): ``connection_timestamp``
(epoch seconds) → ``ts``, ``remote_host``/``remote_port`` → source, ``local_host``/``local_port`` → destination
(often the container's address), ``connection_transport`` → protocol (``tls`` is TCP), a TCP SYN;
``connection_protocol`` (``smbd``, ``httpd``, ``mssqld`` …) → ``event`` and, as MHN names it, ``service``
(``smb``, ``http`` …); ``honeypot`` = ``dionaea``. Dionaea's own sockets (``listen``) and the connections it
opens (``connect``, e.g. to fetch a payload) are counted, not rows. No TTL, window or options are logged.

Events: every kept connection → ``connect``; each ``logins`` row → ``login_failed`` with its username and password
(dionaea's emulations accept or refuse without logging which, and most refuse: a login is taken as failed);
each ``downloads`` row → ``download`` with the URL (the MD5 when the URL is empty).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from darkstack.errors import InputFormatError
from darkstack.ingest.batch import Batch
from darkstack.ingest.events import event_table
from darkstack.ingest.honeypot import column, ipv4_int, port
from darkstack.ingest.mhn import NO_SERVICE, SERVICES
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_TCP, PROTO_UDP, TCP_SYN, TIMESTAMP

SQLITE_MAGIC = b"SQLite format 3\x00"
TABLES = ("connections", "logins", "downloads")
KEPT_TYPES = ("accept", "reject")
SKIP_TYPE = "dionaea's own socket or outgoing connection (connection_type {})"
SKIP_IPV6 = "IPv6 connection"
CONNECTIONS = ("SELECT connection, connection_type, connection_transport, connection_protocol, connection_timestamp, "
               "local_host, local_port, remote_host, remote_port FROM connections ORDER BY connection")
LOGINS = "SELECT connection, login_username, login_password FROM logins ORDER BY login"
DOWNLOADS = "SELECT connection, download_url, download_md5_hash FROM downloads ORDER BY download"


def is_dionaea(path: Path) -> bool:
    """A SQLite database with Dionaea's ``connections``, ``logins`` and ``downloads`` tables."""
    try:
        return set(TABLES) <= _tables(_open(path))
    except InputFormatError:
        return False


def _open(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise InputFormatError(f"not a readable SQLite database ({exc})", path) from exc
    return db


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def read_dionaea(path: str | Path) -> Iterator[Batch]:
    """Decode a Dionaea SQLite database into session rows and login/download events."""
    path = Path(path)
    db = _open(path)
    try:
        missing = [t for t in TABLES if t not in _tables(db)]
        if missing:
            raise InputFormatError(f"SQLite database is not Dionaea's: no table(s) {', '.join(missing)}", path)
        try:
            rows = db.execute(CONNECTIONS).fetchall()
            logins = db.execute(LOGINS).fetchall()
            downloads = db.execute(DOWNLOADS).fetchall()
        except sqlite3.Error as exc:
            raise InputFormatError(f"cannot read Dionaea's tables ({exc})", path) from exc
    finally:
        db.close()
    skips: Counter = Counter()
    kept = []
    for row in rows:
        kind, remote = row[1], row[7]
        if kind not in KEPT_TYPES:
            skips[SKIP_TYPE.format(kind)] += 1
        elif ":" in str(remote):
            skips[SKIP_IPV6] += 1
        else:
            kept.append(row)
    batch = _convert(kept, skips)
    batch.read = len(rows)
    batch.events = event_table(_events(kept, logins, downloads))
    yield batch


def _seconds_to_us(value) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 2**40:
        return int(round(value * 1_000_000))
    return None


def _text(value) -> str | None:
    """Dionaea stores some credentials as BLOBs: bytes become text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


def _service(protocol) -> str | None:
    name = str(protocol or "").lower()
    return None if not name or name in NO_SERVICE else SERVICES.get(name, name)


def _proto(transport) -> int:
    return PROTO_UDP if str(transport).lower() == "udp" else PROTO_TCP


def _convert(rows: list[tuple], skips: Counter) -> Batch:
    n = len(rows)
    cols, bad = {}, {}
    values, present = column([_seconds_to_us(r[4]) for r in rows], np.int64)
    cols["ts"], bad["connection_timestamp"] = (values, None, TIMESTAMP), ~present
    values, present = column([ipv4_int(_text(r[7])) for r in rows], np.uint32)
    cols["src_ip"], bad["remote_host"] = (values, None, pa.uint32()), ~present
    cols["dst_ip"] = (np.array([ipv4_int(_text(r[5])) or 0 for r in rows], np.uint32), None, pa.uint32())
    values, present = column([port(r[8]) for r in rows], np.uint16)
    cols["src_port"] = (values, present, pa.uint16())
    values, present = column([port(r[6]) for r in rows], np.uint16)
    cols["dst_port"], bad["local_port"] = (values, present, pa.uint16()), ~present
    proto = np.array([_proto(r[2]) for r in rows], np.int64)
    cols["proto"] = (proto, None, pa.uint8())
    cols["tcp_flags"] = (np.full(n, TCP_SYN), proto == PROTO_TCP, pa.uint8())
    extra = {"service": pa.array([_service(r[3]) for r in rows], pa.string()),
             "event": pa.array([_text(r[3]) or None for r in rows], pa.string()),
             "honeypot": pa.array(["dionaea"] * n, pa.string())}
    return assemble(n, cols, bad, skips, extra)


def _events(rows: list[tuple], logins: list[tuple], downloads: list[tuple]) -> list[dict]:
    """Connect, login and download events, each with its connection's time, addresses and service."""
    base = {}
    for r in rows:
        base[r[0]] = {"ts": _seconds_to_us(r[4]), "src_ip": ipv4_int(_text(r[7])), "dst_ip": ipv4_int(_text(r[5])),
                      "src_port": port(r[8]), "dst_port": port(r[6]), "honeypot": "dionaea",
                      "service": _service(r[3]), "session": str(r[0])}
    events = [{**b, "event": "connect", "raw_event": "dionaea.connection"} for b in base.values()]
    for connection, username, password in logins:
        if connection in base:
            events.append({**base[connection], "event": "login_failed", "raw_event": "dionaea.login",
                           "username": _text(username), "password": _text(password)})
    for connection, url, md5 in downloads:
        if connection in base:
            events.append({**base[connection], "event": "download", "raw_event": "dionaea.download",
                           "detail": _text(url) or _text(md5)})
    return events
