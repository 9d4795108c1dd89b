"""CAIDA corsaro3 flowtuple files (Avro, record ``org.caida.corsaro.flowtuple``), the telescope's per-interval
aggregates: one record per distinct (interval, source, destination, ports, protocol, TTL, TCP flags, IP length)
with the number of packets it stands for (``packet_cnt``).

Mapping (field names as corsaro3's ``FLOWTUPLE_RESULT_SCHEMA``): ``time`` (interval start, epoch seconds) → ``ts``;
``src_ip``/``dst_ip`` (IPv4 as an integer) → addresses; ``src_port``/``dst_port`` → ports (for ICMP corsaro stores
the type and code there: ports are null); ``protocol``, ``ttl``, ``tcp_flags``, ``ip_len`` as they are;
``packet_cnt`` → ``packets``; ``tcp_synwinlen`` (the window of a pure SYN, 0 otherwise) → ``tcp_win`` on pure-SYN
tuples. ``tcp_synlen`` (TCP header length with options) names no option value: MSS, window scale, SACK and
timestamp stay null, and so do IP id and sequence number (not in the key). ``is_spoofed``/``is_masscan`` and the
geolocation tags have no canonical column. Every packet of a tuple shares the key fields, so the weighted records
are the packets' fields exactly; only their time within the interval is lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path

import fastavro
import numpy as np
import pyarrow as pa

from darkstack.errors import InputFormatError
from darkstack.ingest.batch import Batch, open_input, read_errors
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_ICMP, PROTO_TCP, TCP_SYN, TIMESTAMP

AVRO_MAGIC = b"Obj\x01"
REQUIRED = ("time", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "ttl", "tcp_flags", "ip_len",
            "packet_cnt")
INTS = {  # Avro field → (canonical column, largest value, arrow type)
    "src_ip": ("src_ip", 0xFFFFFFFF, pa.uint32()), "dst_ip": ("dst_ip", 0xFFFFFFFF, pa.uint32()),
    "src_port": ("src_port", 0xFFFF, pa.uint16()), "dst_port": ("dst_port", 0xFFFF, pa.uint16()),
    "protocol": ("proto", 0xFF, pa.uint8()), "ttl": ("ttl", 0xFF, pa.uint8()),
    "tcp_flags": ("tcp_flags", 0xFF, pa.uint8()), "ip_len": ("ip_len", 0xFFFF, pa.uint16()),
    "packet_cnt": ("packets", 0xFFFFFFFF, pa.uint32()), "tcp_synwinlen": ("tcp_win", 0xFFFF, pa.uint16()),
}
GROUP = 200_000
SKIP_DAMAGED = "records lost in a damaged or truncated Avro block"
SKIP_NO_PACKETS = "tuple with a packet count of 0"


def read_flowtuple(path: str | Path) -> Iterator[Batch]:
    """Decode a corsaro3 flowtuple Avro file into canonical records weighted by ``packets``."""
    path = Path(path)
    with open_input(path) as fh, read_errors(fh, path):
        try:
            reader = fastavro.reader(fh)
        except Exception as exc:  # fastavro raises plain ValueError/EOFError/… on a damaged header
            raise InputFormatError(f"not a readable Avro file ({type(exc).__name__}: {exc})"[:200], path) from exc
        names = {f["name"] for f in reader.writer_schema.get("fields", [])} if isinstance(
            reader.writer_schema, dict) else set()
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise InputFormatError(f"Avro file is not a corsaro flowtuple: missing field(s) {', '.join(missing)}",
                                   path)
        wanted = [c for c in INTS if c in names] + ["time"]
        records = iter(reader)
        while True:
            group, skips = _group(records, wanted)
            if len(group["time"]) or skips:
                yield _convert(group, skips)
            if skips or len(group["time"]) < GROUP:
                return


def _group(records: Iterator[dict], wanted: list[str]) -> tuple[dict[str, list], Counter]:
    """Up to GROUP records as lists per field; a damaged block ends the file (counted once)."""
    pick = itemgetter(*wanted)
    rows: list[tuple] = []
    skips: Counter = Counter()
    try:
        for record in records:
            rows.append(pick(record))
            if len(rows) >= GROUP:
                break
    except Exception:  # noqa: BLE001 -- any decoding error inside a block: keep what was read, count the loss
        skips[SKIP_DAMAGED] += 1
    columns = list(zip(*rows)) if rows else [() for _ in wanted]
    return dict(zip(wanted, columns)), skips


def _ints(values, upper: int) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values, bad mask): missing, non-integer or out-of-range values are bad. The schema makes them
    integers, so one numpy conversion does; anything else (a schema with unions) is checked value by value."""
    try:
        out = np.fromiter(values, np.int64, count=len(values))
        ok = (out >= 0) & (out <= upper)
    except (TypeError, ValueError, OverflowError):
        ok = np.array([isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= upper for v in values], bool)
        out = np.array([v if good else 0 for v, good in zip(values, ok)], np.int64)
    return np.where(ok, out, 0), ~ok


def _convert(group: dict[str, list], skips: Counter) -> Batch:
    n = len(group["time"])
    cols, bad = {}, {}
    seconds, bad["time"] = _ints(group["time"], 2**40)
    cols["ts"] = (seconds * 1_000_000, None, TIMESTAMP)
    values = {}
    for source, (name, upper, typ) in INTS.items():
        if source in group:
            values[name], bad[source] = _ints(group[source], upper)
            cols[name] = (values[name], None, typ)
    proto = values["proto"]
    is_tcp, ports = proto == PROTO_TCP, proto != PROTO_ICMP
    cols["src_port"] = (values["src_port"], ports, pa.uint16())
    cols["dst_port"] = (values["dst_port"], ports, pa.uint16())
    cols["tcp_flags"] = (values["tcp_flags"], is_tcp, pa.uint8())
    if "tcp_win" in values:
        cols["tcp_win"] = (values["tcp_win"], is_tcp & (values["tcp_flags"] == TCP_SYN), pa.uint16())
    return assemble(n, cols, bad, skips, dropped={SKIP_NO_PACKETS: (values["packets"] == 0) & ~bad["packet_cnt"]})
