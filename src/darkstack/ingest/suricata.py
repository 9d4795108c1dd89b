"""Suricata ``eve.json`` (one JSON event a line): flows become records weighted by their packets, alerts and
application events become honeypot events.

Records, one per flow (``flow_id``): from the ``flow`` event when the log has one, else from the flow's first
other event (alerts and app events carry the flow's counters so far in ``flow``; without them the record stands for
one packet). ``packets`` = ``pkts_toserver`` and ``ip_len`` = ``bytes_toserver`` / ``pkts_toserver``: the client
side is the host that opened the flow, the outside host whose traffic a sensor counts; the server's replies are
not records. ``ts`` is the flow's ``start``; TCP flags are ``tcp.tcp_flags_ts`` (flags the client sent, hex) when
logged; ``service`` is ``app_proto``; ``event`` ``suricata.<event_type>`` of the event the record came from;
``honeypot`` = ``suricata`` (the program that logged the row, as in a T-Pot sensor that merges several).

Events (``EVENT_SCHEMA``): ``alert`` → ``exploit`` when the rule's category is one of :data:`EXPLOIT_CATEGORIES`,
else ``alert`` (``detail`` = signature); ``http`` → ``web_request`` (``detail`` = method and URL); ``smtp`` →
``mail`` (``detail`` = sender); ``sip`` → ``sip``. DNS, TLS, SSH and file metadata are no attacker action and are
not kept.

Skipped and counted: IPv6 events; the sensor's own link-local, cloud-metadata, multicast and broadcast traffic;
and, where one address is on at least half of a group's events (an IDS on one host: the sensor), events whose
source is that address (its outbound traffic and replies; an IDS at an edge has no such address and keeps all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from darkstack.ingest import fields
from darkstack.ingest.batch import Batch
from darkstack.ingest.events import event_table
from darkstack.ingest.flows import SKIP_OWN, own_traffic, per_packet_len
from darkstack.ingest.honeypot import column, iso_to_us, port
from darkstack.ingest.jsonlines import json_objects
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_ICMP, PROTO_TCP, PROTO_UDP, TIMESTAMP

EXPLOIT_CATEGORIES = frozenset({
    "Attempted Administrator Privilege Gain", "Successful Administrator Privilege Gain",
    "Attempted User Privilege Gain", "Successful User Privilege Gain", "Web Application Attack",
    "Executable code was detected", "A Network Trojan was detected", "Exploit Kit Activity Detected",
})
"""Alert categories (Suricata's classification.config) that say an exploit was tried: the alert is an ``exploit``."""
EVENT_KINDS = {"http": "web_request", "smtp": "mail", "sip": "sip"}
PROTOCOLS = {"TCP": PROTO_TCP, "UDP": PROTO_UDP, "ICMP": PROTO_ICMP}
SKIP_IPV6 = "IPv6 event"
SKIP_SENSOR = "the sensor's own outbound traffic or reply (source is the sensor address)"
SKIP_MERGED = "event merged into its flow's record"
SKIP_NO_ADDRESS = "event without IPv4 addresses"
SENSOR_SHARE = 0.5


def read_suricata(path: str | Path) -> Iterator[Batch]:
    """Decode an eve.json into flow records (yielded once the whole file is read) and application events."""
    flows: dict = {}
    from_flow_event: set = set()
    events: list[dict] = []
    skips: Counter = Counter()
    read = 0
    for objects, group_skips in json_objects(path):
        skips.update(group_skips)
        read += len(objects) + sum(group_skips.values())
        for obj, src, dst in _inbound(objects, skips):
            kind = obj.get("event_type")
            if kind == "alert" or kind in EVENT_KINDS:
                events.append(_event(obj, src, dst, kind))
            key = obj.get("flow_id", id(obj))
            if kind == "flow" and key not in from_flow_event:
                from_flow_event.add(key)
                flows[key] = (obj, src, dst)
            elif key in flows:
                skips[SKIP_MERGED] += 1
                if key not in from_flow_event:
                    flows[key] = _later_counters(flows[key], obj)
            else:
                flows[key] = (obj, src, dst)
    batch = _convert(list(flows.values()), skips)
    batch.read = read
    batch.events = event_table(events)
    yield batch


def _later_counters(known: tuple[dict, int, int], obj: dict) -> tuple[dict, int, int]:
    """A flow known only from its events keeps the latest (largest) client-side counters any of them logged."""
    first, src, dst = known
    old = first.get("flow") if isinstance(first.get("flow"), dict) else {}
    new = obj.get("flow") if isinstance(obj.get("flow"), dict) else {}
    if (_counter(new, "pkts_toserver") or 0) > (_counter(old, "pkts_toserver") or 0):
        first = {**first, "flow": {**new, "start": old.get("start", new.get("start"))}}
    return first, src, dst


def _inbound(objects: list[dict], skips: Counter) -> Iterator[tuple[dict, int, int]]:
    """(event, source, destination) of the IPv4 events that are an outside host's traffic; the rest counted.
    Addresses are parsed column-wise (Arrow), not one event at a time."""
    text = {name: pa.array([v if isinstance(v, str) else None for v in (o.get(name) for o in objects)], pa.string())
            for name in ("src_ip", "dest_ip")}
    v6 = np.zeros(len(objects), bool)
    for column_ in text.values():
        v6 |= pc.fill_null(pc.match_substring(column_, ":"), False).to_numpy(zero_copy_only=False)
    src, bad_src = fields.ipv4(text["src_ip"])
    dst, bad_dst = fields.ipv4(text["dest_ip"])
    unusable = (bad_src | bad_dst) & ~v6
    own = own_traffic(src, dst) & ~v6 & ~unusable
    sensor = _sensor_address(np.stack([src, dst], axis=1)[~(v6 | unusable | own)])
    from_sensor = (src == sensor) & ~(v6 | unusable | own) if sensor is not None else np.zeros(len(objects), bool)
    for reason, mask in ((SKIP_IPV6, v6), (SKIP_NO_ADDRESS, unusable), (SKIP_OWN, own), (SKIP_SENSOR, from_sensor)):
        if mask.any():
            skips[reason] += int(mask.sum())
    keep = ~(v6 | unusable | own | from_sensor)
    for i in np.flatnonzero(keep).tolist():
        yield objects[i], int(src[i]), int(dst[i])


def _sensor_address(addresses: np.ndarray) -> int | None:
    """The address on at least :data:`SENSOR_SHARE` of the events (either end), if there is one."""
    if not len(addresses):
        return None
    values, counts = np.unique(addresses, return_counts=True)  # an address is at most once per event
    best = int(np.argmax(counts))
    return int(values[best]) if counts[best] >= SENSOR_SHARE * len(addresses) else None


def _event(obj: dict, src: int, dst: int, kind: str) -> dict:
    """One alert or application event as an event row."""
    row = {"ts": iso_to_us(obj.get("timestamp")), "src_ip": src, "dst_ip": dst, "src_port": port(obj.get("src_port")),
           "dst_port": port(obj.get("dest_port")), "honeypot": "suricata", "service": obj.get("app_proto"),
           "raw_event": f"suricata.{kind}", "session": str(obj.get("flow_id", "")) or None}
    sub = obj.get(kind) if isinstance(obj.get(kind), dict) else {}
    if kind == "alert":
        row["event"] = "exploit" if sub.get("category") in EXPLOIT_CATEGORIES else "alert"
        row["detail"] = sub.get("signature")
    else:
        row["event"] = EVENT_KINDS[kind]
        if kind == "http":
            row["detail"] = " ".join(str(v) for v in (sub.get("http_method"), sub.get("url")) if v)
            row["service"] = row["service"] or "http"
        elif kind == "smtp":
            row["detail"] = sub.get("mail_from")
        else:
            row["detail"] = sub.get("uri") or sub.get("method")
    return row


def _flags(obj: dict) -> int | None:
    tcp = obj.get("tcp")
    text = tcp.get("tcp_flags_ts") if isinstance(tcp, dict) else None
    try:
        value = int(str(text), 16)
    except ValueError:
        return None
    return value if 0 <= value <= 0xFF else None


def _counter(flow: dict, name: str) -> int | None:
    value = flow.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _convert(flows: list[tuple[dict, int, int]], skips: Counter) -> Batch:
    n = len(flows)
    objs = [o for o, _, _ in flows]
    subs = [o.get("flow") if isinstance(o.get("flow"), dict) else {} for o in objs]
    cols, bad = {}, {}
    values, present = column([iso_to_us(f.get("start")) or iso_to_us(o.get("timestamp")) for o, f in zip(objs, subs)],
                             np.int64)
    cols["ts"], bad["timestamp"] = (values, None, TIMESTAMP), ~present
    cols["src_ip"] = (np.array([s for _, s, _ in flows], np.uint32), None, pa.uint32())
    cols["dst_ip"] = (np.array([d for _, _, d in flows], np.uint32), None, pa.uint32())
    values, present = column([PROTOCOLS.get(str(o.get("proto")).upper()) for o in objs], np.int64)
    cols["proto"], bad["proto"] = (values, None, pa.uint8()), ~present
    ports = values != PROTO_ICMP
    for source, name in (("src_port", "src_port"), ("dest_port", "dst_port")):
        values, present = column([port(o.get(source)) for o in objs], np.int64)
        cols[name] = (values, present & ports, pa.uint16())
    packets, has_packets = column([_counter(f, "pkts_toserver") for f in subs], np.int64)
    total, _ = column([_counter(f, "bytes_toserver") for f in subs], np.int64)
    ip_len, has_len = per_packet_len(total, packets)
    cols["ip_len"] = (ip_len, has_len, pa.uint16())
    cols["packets"] = (packets, has_packets & (packets > 0), pa.uint32())
    values, present = column([_flags(o) for o in objs], np.int64)
    cols["tcp_flags"] = (values, present & (cols["proto"][0] == PROTO_TCP), pa.uint8())
    extra = {"service": pa.array([o.get("app_proto") if isinstance(o.get("app_proto"), str) else None for o in objs],
                                 pa.string()),
             "event": pa.array([f"suricata.{o.get('event_type')}" for o in objs], pa.string()),
             "honeypot": pa.array(["suricata"] * n, pa.string())}
    return assemble(n, cols, bad, skips, extra)
