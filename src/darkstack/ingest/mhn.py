"""Modern Honey Network (MHN) session export: one JSON object a line (dionaea, snort, cowrie feeds).

One record becomes one row: a TCP SYN (UDP when the record says so) from ``source_ip:source_port``
to ``destination_port``. ``protocol`` becomes the ``event`` (``pcap`` = a SYN to a port with no
service, i.e. darknet-like traffic; ``smbd``, ``httpd``, ``ssh``… = a honeypot service), and the
service name (``smb``, ``http``, ``ssh``…) goes to ``service``. MHN rarely exports the sensor
address: ``dst_ip`` is ``destination_ip`` when present, else 0.0.0.0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from darkstack.ingest.batch import Batch
from darkstack.ingest.honeypot import column, ipv4_int, iso_to_us, port
from darkstack.ingest.jsonlines import json_objects
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_TCP, PROTO_UDP, TCP_SYN, TIMESTAMP

NO_SERVICE = {"pcap", "tcp", "udp", "blackhole"}
"""``protocol`` values that name no application service (the row's ``service`` stays null)."""
SERVICES = {"smbd": "smb", "microsoft-ds": "smb", "httpd": "http", "ftpd": "ftp", "ftpdatalisten": "ftp",
            "mssqld": "mssql", "mysqld": "mysql", "mongod": "mongodb", "mqttd": "mqtt", "upnpd": "upnp",
            "pptpd": "pptp", "sipsession": "sip", "epmapper": "epmap", "memcache": "memcached",
            "mirrord": "mirror", "mirrorc": "mirror"}


def read_mhn(path: str | Path) -> Iterator[Batch]:
    """Decode an MHN JSON-lines export into canonical rows (one a record)."""
    for objects, skips in json_objects(path):
        yield _convert(objects, skips)


def _timestamp(obj: dict) -> int | None:
    ts = obj.get("timestamp")
    if isinstance(ts, dict):
        ts = ts.get("$date")
    return iso_to_us(ts)


def _convert(objects: list[dict], skips: Counter) -> Batch:
    n = len(objects)
    ts = [_timestamp(o) for o in objects]
    src = [ipv4_int(o.get("source_ip")) for o in objects]
    dst = [ipv4_int(o.get("destination_ip")) or 0 for o in objects]
    sport = [port(o.get("source_port")) for o in objects]
    dport = [port(o.get("destination_port")) for o in objects]
    protocol = [str(o.get("protocol") or "").strip() for o in objects]
    proto = np.array([PROTO_UDP if p.lower() == "udp" else PROTO_TCP for p in protocol], np.int64)
    is_tcp = proto == PROTO_TCP
    services = [None if p.lower() in NO_SERVICE or not p else SERVICES.get(p.lower(), p.lower()) for p in protocol]
    cols, bad = {}, {}
    values, present = column(ts, np.int64)
    cols["ts"], bad["timestamp"] = (values, None, TIMESTAMP), ~present
    values, present = column(src, np.uint32)
    cols["src_ip"], bad["source_ip"] = (values, None, pa.uint32()), ~present
    cols["dst_ip"] = (np.array(dst, np.uint32), None, pa.uint32())
    values, present = column(sport, np.uint16)
    cols["src_port"] = (values, present, pa.uint16())
    values, present = column(dport, np.uint16)
    cols["dst_port"], bad["destination_port"] = (values, present, pa.uint16()), ~present
    cols["proto"] = (proto, None, pa.uint8())
    cols["tcp_flags"] = (np.full(n, TCP_SYN), is_tcp, pa.uint8())
    extra = {"service": pa.array(services, pa.string()),
             "event": pa.array([p or None for p in protocol], pa.string())}
    return assemble(n, cols, bad, skips, extra)
