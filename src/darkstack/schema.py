"""The canonical record schema every input is turned into, the label vocabulary, and IPv4 helpers.

One row is one packet (darknet) or one successfully negotiated TCP session's SYN / one honeypot
event (honeypot). Optional fields are null when the source does not carry them. See
``docs/schema.md`` for units and meanings.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa

SENSOR_KINDS = ("darknet", "honeypot")

TIMESTAMP = pa.timestamp("us", tz="UTC")
"""Arrow type of every timestamp: microseconds since the epoch, UTC."""

PACKET_SCHEMA = pa.schema(
    [
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("sensor", pa.string(), nullable=False),
        pa.field("sensor_kind", pa.string(), nullable=False),
        pa.field("src_ip", pa.uint32(), nullable=False),
        pa.field("dst_ip", pa.uint32(), nullable=False),
        pa.field("src_port", pa.uint16()),
        pa.field("dst_port", pa.uint16()),
        pa.field("proto", pa.uint8(), nullable=False),
        pa.field("tcp_flags", pa.uint8()),
        pa.field("ip_len", pa.uint16()),
        pa.field("ttl", pa.uint8()),
        pa.field("ip_id", pa.uint16()),
        pa.field("tcp_seq", pa.uint32()),
        pa.field("tcp_win", pa.uint16()),
        pa.field("tcp_mss", pa.uint16()),
        pa.field("tcp_wscale", pa.uint8()),
        pa.field("tcp_sackok", pa.bool_()),
        pa.field("tcp_ts", pa.uint32()),
        pa.field("service", pa.string()),
        pa.field("event", pa.string()),
        pa.field("honeypot", pa.string()),
        pa.field("packets", pa.uint32()),
    ]
)
"""Canonical packet/flow schema (columns in this order).

``honeypot`` names the program that logged a honeypot row (``cowrie``, ``dionaea``, ``honeytrap`` …) when one
sensor merges several. ``packets`` is how many packets a record stands for (flow records, Zeek connections,
Suricata flows); null means one, so per-packet sources leave it null.
"""

EVENT_KINDS = (
    "connect",
    "login_failed",
    "login_success",
    "command",
    "download",
    "upload",
    "web_request",
    "exploit",
    "alert",
    "mail",
    "sip",
    "other",
)
"""Normalised honeypot application events (``EVENT_SCHEMA.event``); what each format maps to is in docs/schema.md."""

EVENT_SCHEMA = pa.schema(
    [
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("sensor", pa.string(), nullable=False),
        pa.field("src_ip", pa.uint32(), nullable=False),
        pa.field("dst_ip", pa.uint32()),
        pa.field("src_port", pa.uint16()),
        pa.field("dst_port", pa.uint16()),
        pa.field("honeypot", pa.string()),
        pa.field("service", pa.string()),
        pa.field("event", pa.string(), nullable=False),
        pa.field("raw_event", pa.string()),
        pa.field("session", pa.string()),
        pa.field("username", pa.string()),
        pa.field("password", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("bytes", pa.uint32()),
    ]
)
"""Honeypot application events, one row per logged event (a login attempt, a command, a download, an IDS alert).

The packet table keeps one row per session; the events beside it keep what the attacker did, for the
honeypot-activity labels (stacking paper, ground-truth source iv) and the honeypot application features.
``event`` is one of :data:`EVENT_KINDS`, ``raw_event`` the honeypot's own name for it (``cowrie.login.failed``),
``detail`` the command, URL, file, mail sender or alert signature. Every string here was written by an attacker.
"""

PROTO_TCP, PROTO_UDP, PROTO_ICMP = 6, 17, 1
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

UNKNOWN = "unknown"
CLASSES = (
    "mirai",
    "bruteforcer",
    "spammer",
    "exploiter",
    "shadowserver",
    "driftnet",
    "internetcensus",
    "censys",
    "rapid7",
    "onyphe",
    "netsystems",
    "shodan",
    "securitytrails",
    "intrinsec",
    "ipip",
    "umich",
)
"""Ground-truth classes of the two papers (the union of their tables); ``unknown`` is the rest."""

CLASS_DISPLAY = {
    "mirai": "Mirai-like",
    "bruteforcer": "Brute-forcer",
    "spammer": "Spammer",
    "exploiter": "Exploiter",
    "shadowserver": "Shadowserver",
    "driftnet": "Driftnet",
    "internetcensus": "InternetCensus",
    "censys": "Censys",
    "rapid7": "Rapid7",
    "onyphe": "Onyphe",
    "netsystems": "Netsystems",
    "shodan": "Shodan",
    "securitytrails": "SecurityTrails",
    "intrinsec": "IntrinSec",
    "ipip": "Ipip",
    "umich": "Michigan Uni.",
    UNKNOWN: "Unknown",
}


def empty_packets() -> pa.Table:
    """A zero-row table with the canonical schema."""
    return PACKET_SCHEMA.empty_table()


def empty_events() -> pa.Table:
    """A zero-row table with the event schema."""
    return EVENT_SCHEMA.empty_table()


def conform(table: pa.Table, schema: pa.Schema = PACKET_SCHEMA) -> pa.Table:
    """Cast ``table`` to ``schema`` (the canonical packet schema unless told): missing optional columns become
    null, order fixed."""
    n = table.num_rows
    cols = []
    for field in schema:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        elif field.nullable:
            cols.append(pa.nulls(n, field.type))
        else:
            raise ValueError(f"missing required column {field.name!r}")
    return pa.Table.from_arrays(cols, schema=schema)


def ip_to_int(ips) -> np.ndarray:
    """Dotted IPv4 strings → uint32 array (vectorised for arrays of strings)."""
    arr = np.asarray(ips, dtype=str)
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint32)
    parts = np.char.split(np.char.strip(arr), ".")
    octets = np.array([p if len(p) == 4 else ["x"] * 4 for p in parts.ravel()])
    try:
        o = octets.astype(np.int64)
    except ValueError as exc:
        raise ValueError(f"not an IPv4 address in {arr.ravel()[:3].tolist()}…") from exc
    if (o < 0).any() or (o > 255).any():
        raise ValueError("IPv4 octet out of range")
    out = (o[:, 0] << 24) | (o[:, 1] << 16) | (o[:, 2] << 8) | o[:, 3]
    return out.astype(np.uint32).reshape(arr.shape)


def int_to_ip(values) -> np.ndarray:
    """uint32 array → dotted IPv4 strings (numpy array of str)."""
    v = np.asarray(values, dtype=np.uint32).astype(np.int64)
    if v.size == 0:
        return np.zeros(0, dtype="<U15")
    parts = [((v >> s) & 255).astype(str) for s in (24, 16, 8, 0)]
    return np.char.add(np.char.add(np.char.add(np.char.add(parts[0], "."), parts[1]), "."),
                       np.char.add(np.char.add(parts[2], "."), parts[3]))


def parse_ip(text: str) -> int:
    """One dotted IPv4 string → int."""
    return int(ipaddress.IPv4Address(text.strip()))
