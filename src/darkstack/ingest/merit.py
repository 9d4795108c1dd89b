"""Merit's darknet-events output as newline-delimited JSON (``parse --newdl``): one scanning event a line, the
packets one source sent of one traffic type to one port while the event lasted.

Mapping (field names of darknet-events' ``annotate.Output``): ``First`` → ``ts``; ``SourceIP`` → ``src_ip``;
``Traffic`` (0–10 ICMP types, 11 TCP SYN, 12 SYN-ACK, 13 ACK, 14 RST, 15 other TCP, 16 UDP, 17 unknown) →
``proto`` and ``tcp_flags`` (null for "other TCP"); ``Port`` → ``dst_port`` (for SYN-ACK and RST, the backscatter of
spoofed attacks, darknet-events keys on the source port: it goes to ``src_port`` and ``dst_port`` stays null);
``Packets`` → ``packets``; ``Bytes`` / ``Packets`` less the 14-byte Ethernet header (darknet-events counts whole
frames) → ``ip_len``. The event keeps no destination list, only its size (``UniqueDests``): the destination and
the per-packet fields (TTL, IP id, sequence number, window, TCP options) are those of the event's first sample
packet (``Samples``, base64 frames, decoded by the pcap reader), and null with destination 0.0.0.0 when the event
has no sample. ``Zmap``/``Masscan``/``Mirai`` flags and the annotations have no canonical column (the sample's
sequence number keeps the Mirai fingerprint).
"""

from __future__ import annotations

import base64
import binascii
import struct
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from darkstack.errors import DarkstackError
from darkstack.ingest.batch import Batch
from darkstack.ingest.flows import per_packet_len
from darkstack.ingest.honeypot import column, ipv4_int, iso_to_us, port
from darkstack.ingest.jsonlines import json_objects
from darkstack.ingest.pcap import pcap_global_header, read_pcap
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_RST, TCP_SYN, TIMESTAMP, empty_packets

ETHERNET_HEADER = 14
LINKTYPE_ETHERNET = 1
TCP_TRAFFIC = {11: TCP_SYN, 12: TCP_SYN | TCP_ACK, 13: TCP_ACK, 14: TCP_RST, 15: None}
BACKSCATTER = (12, 14)
"""SYN-ACK and RST events: darknet-events keys them on the source port."""
UDP_TRAFFIC, UNKNOWN_TRAFFIC = 16, 17
SAMPLE_FIELDS = ("dst_ip", "ttl", "ip_id", "tcp_seq", "tcp_win", "tcp_mss", "tcp_wscale", "tcp_sackok", "tcp_ts")
SKIP_IPV6 = "IPv6 event"
SKIP_UNKNOWN = "event of unknown traffic type (not TCP, UDP or ICMP)"


def read_merit(path: str | Path) -> Iterator[Batch]:
    """Decode darknet-events NDJSON into canonical records weighted by ``packets``."""
    for objects, skips in json_objects(path):
        yield _convert(objects, skips)


def _traffic(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= UNKNOWN_TRAFFIC else None


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32 else None


def _convert(objects: list[dict], skips: Counter) -> Batch:
    read = len(objects) + sum(skips.values())
    v6 = np.array([":" in str(o.get("SourceIP", "")) for o in objects], bool)
    if v6.any():
        skips[SKIP_IPV6] += int(v6.sum())
    objects = [o for o, is_v6 in zip(objects, v6) if not is_v6]
    n = len(objects)
    cols, bad = {}, {}
    values, present = column([iso_to_us(o.get("First")) for o in objects], np.int64)
    cols["ts"], bad["First"] = (values, None, TIMESTAMP), ~present
    values, present = column([ipv4_int(o.get("SourceIP")) for o in objects], np.uint32)
    cols["src_ip"], bad["SourceIP"] = (values, None, pa.uint32()), ~present
    traffic, present = column([_traffic(o.get("Traffic")) for o in objects], np.int64)
    bad["Traffic"] = ~present
    proto = np.where(traffic <= 10, PROTO_ICMP, np.where(traffic == UDP_TRAFFIC, PROTO_UDP, PROTO_TCP))
    cols["proto"] = (proto, None, pa.uint8())
    flags = [TCP_TRAFFIC.get(t) for t in traffic.tolist()]
    values, present = column(flags, np.int64)
    cols["tcp_flags"] = (values, present, pa.uint8())
    ports, present = column([port(o.get("Port")) for o in objects], np.int64)
    bad["Port"] = ~present & (proto != PROTO_ICMP)
    backscatter = np.isin(traffic, BACKSCATTER)
    cols["src_port"] = (ports, present & backscatter, pa.uint16())
    cols["dst_port"] = (ports, present & ~backscatter & (proto != PROTO_ICMP), pa.uint16())
    packets, present = column([_count(o.get("Packets")) for o in objects], np.int64)
    bad["Packets"] = ~present | (packets == 0)
    cols["packets"] = (packets, None, pa.uint32())
    total, has_bytes = column([_count(o.get("Bytes")) for o in objects], np.int64)
    ip_len, has_len = per_packet_len(np.maximum(total - ETHERNET_HEADER * packets, 0), packets)
    cols["ip_len"] = (ip_len, has_len & has_bytes, pa.uint16())
    cols.update(_first_samples(objects, proto == PROTO_TCP))
    batch = assemble(n, cols, bad, skips, dropped={SKIP_UNKNOWN: traffic == UNKNOWN_TRAFFIC})
    batch.read = read
    return batch


def _first_samples(objects: list[dict], is_tcp: np.ndarray) -> dict:
    """Destination and per-packet fields of each event's first sample frame, decoded by the pcap reader: the
    samples go into a temporary capture whose record timestamps are the event numbers, so rows the reader
    skips (IPv6, damaged) leave their event's fields null."""
    n = len(objects)
    frames = [_frame(o.get("Samples")) for o in objects]
    out = {name: (np.zeros(n, np.int64), np.zeros(n, bool)) for name in SAMPLE_FIELDS}
    if any(frames):
        with tempfile.NamedTemporaryFile(suffix=".pcap") as tmp:
            tmp.write(pcap_global_header(LINKTYPE_ETHERNET))
            for i, frame in enumerate(frames):
                if frame:
                    tmp.write(struct.pack("<IIII", i, 0, len(frame), len(frame)) + frame)
            tmp.flush()
            try:
                decoded = pa.concat_tables([b.table for b in read_pcap(tmp.name)])
            except DarkstackError:  # no frame decodes: the events keep null sample fields
                decoded = empty_packets()
        rows = pc.divide(pc.cast(decoded.column("ts"), pa.int64()), 1_000_000).to_numpy()
        for name in SAMPLE_FIELDS:
            col = decoded.column(name)
            values, present = out[name]
            values[rows] = pc.fill_null(col.cast(pa.int64()), 0).to_numpy()
            present[rows] = col.is_valid().to_numpy(zero_copy_only=False)
    types = {"dst_ip": pa.uint32(), "ttl": pa.uint8(), "ip_id": pa.uint16(), "tcp_seq": pa.uint32(),
             "tcp_win": pa.uint16(), "tcp_mss": pa.uint16(), "tcp_wscale": pa.uint8(), "tcp_sackok": pa.bool_(),
             "tcp_ts": pa.uint32()}
    cols = {}
    for name, (values, present) in out.items():
        if name == "dst_ip":
            cols[name] = (values, None, types[name])  # 0.0.0.0 without a sample
        else:
            values = values.astype(bool) if name == "tcp_sackok" else values
            cols[name] = (values, present & (is_tcp if name.startswith("tcp") else True), types[name])
    return cols


def _frame(samples) -> bytes | None:
    if not isinstance(samples, list) or not samples or not isinstance(samples[0], str):
        return None
    try:
        frame = base64.b64decode(samples[0], validate=True)
    except (binascii.Error, ValueError):
        return None
    return frame if 0 < len(frame) <= 0xFFFF else None
