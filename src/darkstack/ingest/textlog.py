"""The authors' raw packet log: space-separated text, one header row, one packet a line ('-' = absent).

Columns (by name, any order): ts (epoch seconds), proto (or only ethtype), src_ip, src_port, dst_ip,
dst_port, pck_len, tcp_flags, mirai, tcp_seq, ttl, t_mss, t_win, t_ts, t_sack, t_sackp.
``mirai`` is not read (darkstack derives the fingerprint from tcp_seq); ``t_sack`` (SACK blocks)
has no canonical column.
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
from darkstack.schema import PROTO_TCP, TIMESTAMP

REQUIRED = ["ts", "src_ip", "dst_ip", "dst_port"]
OPTIONAL_INT = {  # column → (canonical name, largest value, arrow type)
    "src_port": ("src_port", 0xFFFF, pa.uint16()),
    "pck_len": ("ip_len", 0xFFFF, pa.uint16()),
    "ttl": ("ttl", 0xFF, pa.uint8()),
    "tcp_seq": ("tcp_seq", 0xFFFFFFFF, pa.uint32()),
    "t_mss": ("tcp_mss", 0xFFFF, pa.uint16()),
    "t_win": ("tcp_win", 0xFFFF, pa.uint16()),
    "t_ts": ("tcp_ts", 0xFFFFFFFF, pa.uint32()),
}


def read_textlog(path: str | Path) -> Iterator[Batch]:
    """Decode the authors' raw packet log into canonical rows (rows without ``proto`` count as TCP)."""
    for text, skips in read_delimited(path, " ", REQUIRED):
        yield _convert(text, skips)


def _convert(text: pa.Table, skips: Counter) -> Batch:
    n = text.num_rows
    names = text.column_names
    cols: dict = {}
    bad: dict = {}
    cols["ts"] = (*_first(fields.timestamp_seconds(text["ts"]), bad, "ts"), TIMESTAMP)
    for name in ("src_ip", "dst_ip"):
        values, wrong = fields.ipv4(text[name])
        bad[name] = wrong
        cols[name] = (values, None, pa.uint32())
    values, present, wrong = fields.integer(text["dst_port"], 0xFFFF)
    bad["dst_port"] = wrong
    cols["dst_port"] = (values, present, pa.uint16())
    if "proto" in names:
        values, bad["proto"] = fields.protocol(text["proto"])
        cols["proto"] = (values, None, pa.uint8())
    else:
        cols["proto"] = (np.full(n, PROTO_TCP), None, pa.uint8())
    for source, (name, upper, typ) in OPTIONAL_INT.items():
        if source in names:
            values, present, wrong = fields.integer(text[source], upper)
            bad[source] = wrong
            cols[name] = (values, present, typ)
    if "tcp_flags" in names:
        values, present, wrong = fields.tcp_flags_from_text(text["tcp_flags"])
        bad["tcp_flags"] = wrong
        cols["tcp_flags"] = (values, present, pa.uint8())
    if "t_sackp" in names:  # '-' = option absent; any other value except 0 = present
        sackp = text["t_sackp"]
        given = ~fields.absent(sackp) & ~pc.fill_null(pc.equal(pc.utf8_trim_whitespace(sackp), "0"), False).to_numpy(
            zero_copy_only=False)
        cols["tcp_sackok"] = (given, None, pa.bool_())
    return assemble(n, cols, bad, skips)


def _first(pair, bad: dict, name: str):
    values, wrong = pair
    bad[name] = wrong
    return values, None
