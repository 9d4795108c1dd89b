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
import pyarrow.compute as pc

from darkstack.errors import InputFormatError
from darkstack.ingest import fields
from darkstack.ingest.batch import Batch
from darkstack.ingest.events import event_table
from darkstack.ingest.mhn import NO_SERVICE, SERVICES
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_TCP, PROTO_UDP, TCP_SYN, TIMESTAMP, conform

SQLITE_MAGIC = b"SQLite format 3\x00"
TABLES = ("connections", "logins", "downloads")
KEPT_TYPES = ("accept", "reject")
SKIP_TYPE = "dionaea's own socket or outgoing connection (connection_type {})"
SKIP_IPV6 = "IPv6 connection"
NUMBER = "CASE WHEN typeof({0}) IN ('integer', 'real') THEN {0} END"
TEXT = "CAST({0} AS TEXT)"
CONNECTIONS = (
    f"SELECT connection, {TEXT.format('connection_type')}, {TEXT.format('connection_transport')}, "
    f"{TEXT.format('connection_protocol')}, {NUMBER.format('connection_timestamp')}, {TEXT.format('local_host')}, "
    f"{NUMBER.format('local_port')}, {TEXT.format('remote_host')}, {NUMBER.format('remote_port')} "
    "FROM connections ORDER BY connection")
"""Numbers of the wrong type read as NULL and every text (BLOBs too) as text, so columns convert without a loop."""
LOGINS = "SELECT connection, login_username, login_password FROM logins ORDER BY login"
DOWNLOADS = "SELECT connection, download_url, download_md5_hash FROM downloads ORDER BY download"
COLUMNS = {"connection": pa.int64(), "type": pa.string(), "transport": pa.string(), "protocol": pa.string(),
           "timestamp": pa.float64(), "local_host": pa.string(), "local_port": pa.float64(),
           "remote_host": pa.string(), "remote_port": pa.float64()}


DAMAGED = (sqlite3.Error, UnicodeDecodeError, ValueError)
"""What SQLite raises through Python on a damaged database (a broken schema text fails to decode)."""


def is_dionaea(path: Path) -> bool:
    """A SQLite database with Dionaea's ``connections``, ``logins`` and ``downloads`` tables."""
    try:
        db = _open(path)
    except InputFormatError:
        return False
    try:
        return set(TABLES) <= _tables(db, path)
    except InputFormatError:
        return False
    finally:
        db.close()


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    db.text_factory = lambda raw: raw.decode("utf-8", "replace")  # attacker-written text need not be UTF-8
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DAMAGED as exc:
        db.close()
        raise InputFormatError(f"not a readable SQLite database ({exc})"[:200], path) from exc
    return db


def _query(db: sqlite3.Connection, sql: str, path: Path, what: str) -> list[tuple]:
    """All rows of ``sql``; a damaged database is one clear line naming ``what`` was being read."""
    try:
        return db.execute(sql).fetchall()
    except DAMAGED as exc:
        raise InputFormatError(f"cannot read Dionaea's {what} ({exc})"[:200], path) from exc


def _tables(db: sqlite3.Connection, path: Path) -> set[str]:
    return {name for (name,) in _query(db, "SELECT name FROM sqlite_master WHERE type = 'table'", path, "tables")}


def read_dionaea(path: str | Path) -> Iterator[Batch]:
    """Decode a Dionaea SQLite database into session rows and login/download events."""
    path = Path(path)
    db = _open(path)
    try:
        tables = _tables(db, path)
        missing = [t for t in TABLES if t not in tables]
        if missing:
            raise InputFormatError(f"SQLite database is not Dionaea's: no table(s) {', '.join(missing)}", path)
        rows = _query(db, CONNECTIONS, path, "connections")
        logins = _query(db, LOGINS, path, "logins")
        downloads = _query(db, DOWNLOADS, path, "downloads")
    finally:
        db.close()
    values = list(zip(*rows)) if rows else [[] for _ in COLUMNS]
    table = pa.table({name: pa.array(v, typ) for (name, typ), v in zip(COLUMNS.items(), values)})
    skips: Counter = Counter()
    kind = pc.fill_null(table["type"], "")
    for value in pc.unique(kind).to_pylist():
        if value not in KEPT_TYPES:
            skips[SKIP_TYPE.format(value or "missing")] += pc.sum(pc.equal(kind, value)).as_py()
    table = table.filter(pc.is_in(kind, pa.array(KEPT_TYPES)))
    v6 = pc.fill_null(pc.match_substring(table["remote_host"], ":"), False)
    if pc.any(v6).as_py():
        skips[SKIP_IPV6] += pc.sum(v6).as_py()
        table = table.filter(pc.invert(v6))
    batch = _convert(table, skips)
    batch.read = len(rows)
    batch.events = _events(batch.table, logins, downloads)
    batch.table = batch.table.drop_columns(["connection"])
    yield batch


def _text(value) -> str | None:
    """Dionaea stores some credentials as BLOBs: bytes become text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


def _number(column: pa.ChunkedArray, upper: float) -> tuple[np.ndarray, np.ndarray]:
    """(float values, present mask) of a numeric column; null, negative or above ``upper`` is not present."""
    values = pc.fill_null(column.cast(pa.float64()), -1.0).to_numpy()
    present = np.isfinite(values) & (values >= 0) & (values <= upper)
    return np.where(present, values, 0), present


def _convert(table: pa.Table, skips: Counter) -> Batch:
    n = table.num_rows
    cols, bad = {}, {}
    seconds, present = _number(table["timestamp"], 2**40)
    cols["ts"], bad["connection_timestamp"] = (np.rint(seconds * 1e6).astype(np.int64), None, TIMESTAMP), ~present
    cols["connection"] = (pc.fill_null(table["connection"], -1).to_numpy(), None, pa.int64())  # joins the events
    values, bad["remote_host"] = fields.ipv4(table["remote_host"])
    cols["src_ip"] = (values, None, pa.uint32())
    values, wrong = fields.ipv4(table["local_host"])
    cols["dst_ip"] = (np.where(wrong, 0, values), None, pa.uint32())  # 0.0.0.0 when not logged
    values, present = _number(table["remote_port"], 0xFFFF)
    cols["src_port"] = (values.astype(np.int64), present, pa.uint16())
    values, present = _number(table["local_port"], 0xFFFF)
    cols["dst_port"], bad["local_port"] = (values.astype(np.int64), present, pa.uint16()), ~present
    udp = pc.fill_null(pc.equal(pc.utf8_lower(table["transport"]), "udp"), False).to_numpy(zero_copy_only=False)
    cols["proto"] = (np.where(udp, PROTO_UDP, PROTO_TCP), None, pa.uint8())
    cols["tcp_flags"] = (np.full(n, TCP_SYN), ~udp, pa.uint8())
    protocol = table["protocol"].combine_chunks()
    extra = {"service": pa.array([_service(p) for p in protocol.to_pylist()], pa.string()),
             "event": protocol, "honeypot": pa.array(["dionaea"] * n, pa.string())}
    return assemble(n, cols, bad, skips, extra)


def _service(protocol: str | None) -> str | None:
    name = (protocol or "").lower()
    return None if not name or name in NO_SERVICE else SERVICES.get(name, name)


def _events(rows: pa.Table, logins: list[tuple], downloads: list[tuple]) -> pa.Table:
    """A connect event per kept connection (built column-wise), then its login and download events, each with the
    connection's time, addresses and service."""
    n = rows.num_rows
    dst = rows.column("dst_ip")
    connects = pa.table({
        **{name: rows.column(name) for name in ("ts", "src_ip", "src_port", "dst_port", "service")},
        "dst_ip": pc.if_else(pc.equal(dst, 0), pa.scalar(None, pa.uint32()), dst),
        "honeypot": pa.array(["dionaea"] * n, pa.string()), "event": pa.array(["connect"] * n, pa.string()),
        "raw_event": pa.array(["dionaea.connection"] * n, pa.string()),
        "session": pc.cast(rows.column("connection"), pa.string())})
    base = {}
    wanted = {c for c, _, _ in [*logins, *downloads] if isinstance(c, int)}
    picked = rows.filter(pc.is_in(rows.column("connection"), pa.array(sorted(wanted), pa.int64())))
    ts = picked.column("ts").cast(pa.int64()).to_pylist()
    for i, row in enumerate(picked.drop_columns(["ts"]).to_pylist()):
        base[row["connection"]] = {"ts": ts[i], "src_ip": row["src_ip"], "dst_ip": row["dst_ip"] or None,
                                   "src_port": row["src_port"], "dst_port": row["dst_port"], "honeypot": "dionaea",
                                   "service": row["service"], "session": str(row["connection"])}
    events = []
    for connection, username, password in logins:
        if connection in base:
            events.append({**base[connection], "event": "login_failed", "raw_event": "dionaea.login",
                           "username": _text(username), "password": _text(password)})
    for connection, url, md5 in downloads:
        if connection in base:
            events.append({**base[connection], "event": "download", "raw_event": "dionaea.download",
                           "detail": _text(url) or _text(md5)})
    actions = event_table(events)
    return pa.concat_tables([conform(connects, actions.schema), actions])
