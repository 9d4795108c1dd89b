"""Cowrie SSH/Telnet honeypot JSON events → one honeypot row per session.

A session's row comes from its ``cowrie.session.connect`` event (time, addresses, ports, a TCP SYN);
``service`` is the session's protocol (``ssh``/``telnet``; older logs without it: from the factory
name or the port) and ``event`` the session's first application event (e.g. ``cowrie.login.failed``;
transport bookkeeping such as ``cowrie.client.version`` or ``cowrie.session.closed`` is passed over;
``cowrie.session.connect`` when nothing else happened). The other events are counted as merged into the
session row, and every event but transport bookkeeping is also kept as an application event
(:data:`COWRIE_EVENTS` says which normalised kind each becomes) for the activity labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from darkstack.ingest.batch import Batch
from darkstack.ingest.events import event_table
from darkstack.ingest.honeypot import column, ipv4_int, iso_to_us, port
from darkstack.ingest.jsonlines import json_objects
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_TCP, TCP_SYN, TIMESTAMP

CONNECT = "cowrie.session.connect"
BOOKKEEPING = ("cowrie.client.", "cowrie.log.", "cowrie.session.closed", "cowrie.session.params")
TELNET_PORTS = {23, 2223}
SKIP_MERGED = "event merged into its session row"
SKIP_ORPHAN = "event of a session whose connect is not in this file"
SKIP_NO_SESSION = "event without a session id"
COWRIE_EVENTS = {
    "cowrie.session.connect": "connect",
    "cowrie.login.failed": "login_failed",
    "cowrie.login.success": "login_success",
    "cowrie.command.input": "command",
    "cowrie.command.failed": "command",
    "cowrie.session.file_download": "download",
    "cowrie.session.file_download.failed": "download",
    "cowrie.session.file_upload": "upload",
}
"""Cowrie event id → normalised event kind; any other non-bookkeeping event is ``other``."""


def read_cowrie(path: str | Path) -> Iterator[Batch]:
    """Decode a Cowrie JSON log into one row per session (yielded once the whole file is read)."""
    sessions: dict[str, dict] = {}
    first_event: dict[str, str] = {}
    skips: Counter = Counter()
    read = 0
    events: list[dict] = []
    for objects, group_skips in json_objects(path):
        skips.update(group_skips)
        read += len(objects) + sum(group_skips.values())
        for obj in objects:
            sid = obj.get("session")
            event = obj.get("eventid")
            if not str(event).startswith(BOOKKEEPING):
                events.append(_event(obj))
            if not isinstance(sid, str) or not sid:
                skips[SKIP_NO_SESSION] += 1
            elif event == CONNECT and sid not in sessions:
                sessions[sid] = obj
            elif sid in sessions:
                if not str(event).startswith(BOOKKEEPING):
                    first_event.setdefault(sid, str(event))
                skips[SKIP_MERGED] += 1
            else:
                skips[SKIP_ORPHAN] += 1
    objs = list(sessions.values())
    batch = _convert(objs, [first_event.get(s, CONNECT) for s in sessions], skips)
    batch.read = read
    batch.events = event_table(events)
    yield batch


def _event(obj: dict) -> dict:
    """One Cowrie event as an application-event row."""
    raw = str(obj.get("eventid"))
    dst_port = port(obj.get("dst_port"))
    return {"ts": iso_to_us(obj.get("timestamp")), "src_ip": ipv4_int(obj.get("src_ip")),
            "dst_ip": ipv4_int(obj.get("dst_ip")), "src_port": port(obj.get("src_port")), "dst_port": dst_port,
            "honeypot": "cowrie", "service": _service(obj, dst_port), "event": COWRIE_EVENTS.get(raw, "other"),
            "raw_event": raw, "session": obj.get("session"), "username": obj.get("username"),
            "password": obj.get("password"),
            "detail": obj.get("input") or obj.get("url") or obj.get("filename") or obj.get("shasum")}


def _service(obj: dict, dst_port: int | None) -> str:
    proto = obj.get("protocol")
    if isinstance(proto, str) and proto:
        return proto.lower()
    system = str(obj.get("system", "")).lower()
    if "telnet" in system or dst_port in TELNET_PORTS:
        return "telnet"
    return "ssh"


def _convert(objects: list[dict], events: list[str], skips: Counter) -> Batch:
    n = len(objects)
    cols, bad = {}, {}
    values, present = column([iso_to_us(o.get("timestamp")) for o in objects], np.int64)
    cols["ts"], bad["timestamp"] = (values, None, TIMESTAMP), ~present
    values, present = column([ipv4_int(o.get("src_ip")) for o in objects], np.uint32)
    cols["src_ip"], bad["src_ip"] = (values, None, pa.uint32()), ~present
    cols["dst_ip"] = (np.array([ipv4_int(o.get("dst_ip")) or 0 for o in objects], np.uint32), None, pa.uint32())
    values, present = column([port(o.get("src_port")) for o in objects], np.uint16)
    cols["src_port"] = (values, present, pa.uint16())
    dports = [port(o.get("dst_port")) for o in objects]
    values, present = column(dports, np.uint16)
    cols["dst_port"], bad["dst_port"] = (values, present, pa.uint16()), ~present
    cols["proto"] = (np.full(n, PROTO_TCP), None, pa.uint8())
    cols["tcp_flags"] = (np.full(n, TCP_SYN), None, pa.uint8())
    extra = {"service": pa.array([_service(o, d) for o, d in zip(objects, dports)], pa.string()),
             "event": pa.array(events, pa.string()), "honeypot": pa.array(["cowrie"] * n, pa.string())}
    return assemble(n, cols, bad, skips, extra)
