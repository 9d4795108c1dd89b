"""T-Pot data folders: each honeypot's log, told by its content, → session rows and application events.

T-Pot (the stacking paper's honeypot bundle) writes one log per honeypot program under ``/data``. A file is
recognised by its first record (:func:`recognise`), never by its name; lines are JSON objects, Python-dict lines
(ciscoasa), CSV rows (heralding's auth log) or plain text mixed in (ciscoasa, ddospot start-up and status lines,
counted as skipped). ``darkstack.ingest.tpot_logs`` maps each program's records; this module checks and converts
the fields vectorised (times, addresses, ports, protocols), drops the quirks by reason (epoch-zero records,
source 0.0.0.0) and builds the batch. Cowrie's log is read by the Cowrie reader. The p0f and fatt logs give no
rows of their own: their fingerprints are joined to the other files' sessions (``darkstack.ingest.fingerprints``).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from darkstack.errors import InputFormatError
from darkstack.ingest import fields
from darkstack.ingest.batch import Batch, open_input, read_errors
from darkstack.ingest.cowrie import SKIP_MERGED, read_cowrie
from darkstack.ingest.delimited import SKIP_BAD_ROW
from darkstack.ingest.events import event_table
from darkstack.ingest.fingerprints import is_fatt, is_p0f
from darkstack.ingest.jsonlines import SKIP_NOT_JSON, SKIP_NOT_OBJECT
from darkstack.ingest.rows import assemble
from darkstack.ingest.tpot_logs import CITRIX_MESSAGE, PARSERS
from darkstack.schema import PROTO_TCP, TCP_SYN, TIMESTAMP

SKIP_TEXT = "text line, not a record"
SKIP_EPOCH = "epoch-zero record (1970-01-01, source 0.0.0.0)"
SKIP_NO_SOURCE = "source address 0.0.0.0"
SKIP_FINGERPRINT = "passive fingerprint (joined to the sessions of the honeypot logs beside it)"
SKIP_OTHER_MESSAGE = "log message without a source address"
SKIP_EVENTS_ONLY = "login attempt, kept as an event (the session rows come from heralding's session log)"
HERALDING_AUTH_HEADER = ("timestamp", "auth_id", "session_id", "source_ip")
PY_FIELD = re.compile(r"'(\w+)': '((?:[^'\\]|\\.)*)'(?=, '\w+': |\}$)")
"""``'key': 'value'`` pairs of a Python-dict line whose values hold unescaped quotes (``literal_eval`` fails)."""
SNIFF_LINES = 50
EPOCH_DAY_US = 86_400_000_000
"""A record time within the first day of 1970 is honeytrap's placeholder of no connection (with 0.0.0.0)."""
HONEYPOT = {"heralding_auth": "heralding"}
"""Program whose files log for another honeypot's name."""


def recognise(head: bytes) -> str | None:
    """The T-Pot program that wrote a file starting with ``head``: its first record decides (text lines before it
    are passed over); None when no line of the first :data:`SNIFF_LINES` is one of them."""
    lines = head.split(b"\n")[:SNIFF_LINES]
    for raw in lines:
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if line.startswith(",".join(HERALDING_AUTH_HEADER)):
            return "heralding_auth"
        obj = _decode(line)
        if isinstance(obj, dict):
            return program(obj)
    return None


def program(obj: dict) -> str | None:
    """The T-Pot program a record comes from, by its fields."""
    keys = obj.keys()
    event = str(obj.get("eventid", ""))
    for prefix in ("cowrie", "adbhoney", "elasticpot", "ipphoney"):
        if event.startswith(prefix + "."):
            return prefix
    checks = [
        ("honeytrap", "attack_connection" in keys),
        ("dionaea", isinstance(obj.get("connection"), dict) and "src_ip" in keys),
        ("conpot", {"data_type", "event_type", "src_ip"} <= keys),
        ("heralding", {"session_id", "source_ip", "auth_attempts"} <= keys),
        ("tanner", isinstance(obj.get("peer"), dict) and "path" in keys),
        ("ciscoasa", {"src_ip", "payload_printable"} <= keys),
        ("citrix", {"asctime", "message"} <= keys),
        ("mailoney", {"src_ip", "smtp_input"} <= keys),
        ("ddospot", {"src_ip", "mode", "req_pkt"} <= keys),
        ("redis", {"action", "addr"} <= keys),
        ("sentrypeer", obj.get("app_name") == "sentrypeer" or "sip_method" in keys),
        ("p0f", is_p0f(obj)),
        ("fatt", is_fatt(obj)),
    ]
    return next((name for name, hit in checks if hit), None)


def _decode(line: str):
    """A JSON or Python-dict line → the object (None when neither)."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        pass
    if line.startswith("{'"):
        try:
            return ast.literal_eval(line)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pairs = PY_FIELD.findall(line)
            return dict(pairs) if pairs else None
    return None


def read_tpot(path: str | Path) -> Iterator[Batch]:
    """Decode one T-Pot log (the program told by its content) into session rows and events."""
    path = Path(path)
    text = _text(path)
    name = recognise(text[:1 << 16].encode("utf-8"))
    if name is None:
        raise InputFormatError("not a log of a T-Pot honeypot this reader knows (first records do not match any)", path)
    if name == "cowrie":
        yield from read_cowrie(path)
        return
    records, skips = _records(text, name)
    read = len(records) + sum(skips.values())
    if name in ("p0f", "fatt"):
        skips[SKIP_FINGERPRINT] += len(records)
        yield Batch(pa.table({}), read, skips)
        return
    sessions, events, merged = PARSERS[name](records)
    if merged:
        skips[SKIP_MERGED] += merged
    if not sessions and records:
        skips[SKIP_EVENTS_ONLY] += len(records)
    honeypot = HONEYPOT.get(name, name)
    batch = _sessions(sessions, honeypot, skips)
    batch.read = read
    batch.events = _events(events, honeypot)
    yield batch


def _text(path: Path) -> str:
    """The whole log as text (T-Pot rotates its logs daily, so one is a day of one honeypot)."""
    with open_input(path) as fh, read_errors(fh, path):
        return fh.read().decode("utf-8", "replace")


def _records(text: str, name: str) -> tuple[list[dict], Counter]:
    """The records of a log (dicts), with the lines that are none counted by reason."""
    skips: Counter = Counter()
    if name == "heralding_auth":
        rows = list(csv.DictReader(io.StringIO(text)))  # quoted fields hold commas (password_hash)
        good = [r for r in rows if None not in r and None not in r.values()]
        if len(good) < len(rows):
            skips[SKIP_BAD_ROW] += len(rows) - len(good)
        return good, skips
    records = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        obj = _decode(line)
        if isinstance(obj, dict):
            records.append(obj)
        elif obj is not None:
            skips[SKIP_NOT_OBJECT] += 1
        else:
            skips[SKIP_NOT_JSON if line.startswith("{") else SKIP_TEXT] += 1
    if name == "citrix":  # start-up banners and other messages carry no address
        with_address = [r for r in records if CITRIX_MESSAGE.match(str(r.get("message", "")))]
        if len(with_address) < len(records):
            skips[SKIP_OTHER_MESSAGE] += len(records) - len(with_address)
        records = with_address
    return records, skips


def _strings(values: list) -> pa.Array:
    """Logged values (text, numbers, anything) as Arrow text; None stays null (and ``True`` is no port)."""
    return pa.array([None if v is None else str(v) if not isinstance(v, bool) else "?" for v in values], pa.string())


def _checked(rows: list[dict]) -> dict[str, tuple]:
    """The address, port, time and protocol fields of ``rows``, converted and checked vectorised."""
    out = {}
    out["ts"] = fields.datetime_text(_strings([r["ts"] for r in rows]))
    out["src_ip"] = fields.ipv4(_strings([r["src_ip"] for r in rows]))
    dst, dst_bad = fields.ipv4(_strings([r["dst_ip"] for r in rows]))
    out["dst_ip"] = (np.where(dst_bad, 0, dst).astype(np.uint32), ~dst_bad)
    for name in ("src_port", "dst_port"):
        out[name] = fields.integer(_strings([r[name] for r in rows]), 0xFFFF)
    proto, proto_bad = fields.protocol(_strings([r.get("proto") for r in rows]))
    out["proto"] = (np.where(proto_bad, PROTO_TCP, proto), proto_bad)  # honeytrap's "ip" (no transport): TCP
    return out


def _sessions(rows: list[dict], honeypot: str, skips: Counter) -> Batch:
    """Session rows → a canonical batch: epoch-zero and 0.0.0.0 records dropped by reason, bad values counted
    (``skips`` gains the reasons; the caller sets ``read``)."""
    if not rows:
        return Batch(pa.table({}), 0, skips)
    c = _checked(rows)
    ts, ts_bad = c["ts"]
    src, src_bad = c["src_ip"]
    epoch = ~ts_bad & (ts < EPOCH_DAY_US)
    no_source = ~src_bad & (src == 0) & ~epoch
    for reason, mask in ((SKIP_EPOCH, epoch), (SKIP_NO_SOURCE, no_source)):
        if mask.any():
            skips[reason] += int(mask.sum())
    keep = ~epoch & ~no_source
    cols, bad = {}, {}
    cols["ts"], bad["timestamp"] = (ts[keep], None, TIMESTAMP), ts_bad[keep]
    cols["src_ip"], bad["src_ip"] = (src[keep], None, pa.uint32()), src_bad[keep]
    cols["dst_ip"] = (c["dst_ip"][0][keep], None, pa.uint32())
    for name in ("src_port", "dst_port"):
        values, present, port_bad = c[name]
        cols[name] = (values[keep], present[keep], pa.uint16())
        bad[name] = port_bad[keep]
    proto = c["proto"][0][keep]
    cols["proto"] = (proto, None, pa.uint8())
    cols["tcp_flags"] = (np.full(proto.size, TCP_SYN), proto == PROTO_TCP, pa.uint8())
    mask = pa.array(keep)
    extra = {"service": pa.array([r["service"] for r in rows], pa.string()).filter(mask),
             "event": pa.array([r["event"] for r in rows], pa.string()).filter(mask),
             "honeypot": pa.array([honeypot] * int(keep.sum()), pa.string())}
    return assemble(int(keep.sum()), cols, bad, skips, extra)


def _events(rows: list[dict], honeypot: str) -> pa.Table:
    """Event dicts → the event table (same checks as the rows; epoch-zero and 0.0.0.0 events dropped)."""
    if rows:
        c = _checked(rows)
        ts, ts_bad = c["ts"]
        src, src_bad = c["src_ip"]
        dst, dst_ok = c["dst_ip"]
        sport, sport_ok, _ = c["src_port"]
        dport, dport_ok, _ = c["dst_port"]
        usable = ~ts_bad & ~src_bad & (src != 0) & (ts >= EPOCH_DAY_US)
        for i, r in enumerate(rows):
            r.update(ts=int(ts[i]) if usable[i] else None, src_ip=int(src[i]), honeypot=honeypot,
                     dst_ip=int(dst[i]) if dst_ok[i] else None,
                     src_port=int(sport[i]) if sport_ok[i] else None, dst_port=int(dport[i]) if dport_ok[i] else None)
            r.pop("proto", None)
    return event_table(rows)

