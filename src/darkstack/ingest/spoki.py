"""Spoki raw per-packet CSV export ('|'-separated, header row; ``ts`` in milliseconds).

Spoki names the TCP options present (``sack_permitted:window_scale:mss``) but not their values, so
MSS, window scale and timestamp stay null; SACK-permitted is known. The IP length is not exported
(null). The Mirai fingerprint survives: ``snum`` is the packet's sequence number.
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
from darkstack.ingest.delimited import read_delimited
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_ICMP, PROTO_TCP, TIMESTAMP

REQUIRED = ["ts", "saddr", "daddr", "proto", "sport", "dport"]
FLAG_COLUMNS = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "ack": 0x10}


def read_spoki(path: str | Path) -> Iterator[Batch]:
    """Decode a Spoki raw CSV into canonical rows."""
    for text, skips in read_delimited(path, "|", REQUIRED):
        yield _convert(text, skips)


def _convert(text: pa.Table, skips: Counter) -> Batch:
    n = text.num_rows
    names = text.column_names
    cols, bad = {}, {}
    ms, present, bad["ts"] = fields.integer(text["ts"], 10**15)
    bad["ts"] |= ~present
    cols["ts"] = (ms * 1000, None, TIMESTAMP)
    for source, name in (("saddr", "src_ip"), ("daddr", "dst_ip")):
        values, bad[source] = fields.ipv4(text[source])
        cols[name] = (values, None, pa.uint32())
    proto, bad["proto"] = fields.protocol(text["proto"])
    cols["proto"] = (proto, None, pa.uint8())
    is_tcp, ports = proto == PROTO_TCP, proto != PROTO_ICMP
    for source, name in (("sport", "src_port"), ("dport", "dst_port")):
        values, present, bad[source] = fields.integer(text[source], 0xFFFF)
        cols[name] = (values, present & ports, pa.uint16())
    for source, name, upper, typ in (("ipid", "ip_id", 0xFFFF, pa.uint16()), ("ttl", "ttl", 0xFF, pa.uint8()),
                                     ("snum", "tcp_seq", 0xFFFFFFFF, pa.uint32()),
                                     ("window size", "tcp_win", 0xFFFF, pa.uint16())):
        if source in names:
            values, present, bad[source] = fields.integer(text[source], upper)
            cols[name] = (values, present & (is_tcp if name.startswith("tcp") else True), typ)
    if all(c in names for c in FLAG_COLUMNS):
        flags = np.zeros(n, np.int64)
        for source, bit in FLAG_COLUMNS.items():
            values, present, wrong = fields.integer(text[source], 1)
            bad[source] = wrong
            flags |= values * bit
        cols["tcp_flags"] = (flags, is_tcp, pa.uint8())
    if "options" in names:
        sack = pc.match_substring(text["options"].combine_chunks(), "sack_permitted").to_numpy(zero_copy_only=False)
        cols["tcp_sackok"] = (sack, is_tcp, pa.bool_())
    return assemble(n, cols, bad, skips)
