"""The authors' raw packet log: space-separated text, one header row, one packet a line ('-' = absent).

Columns (by name, any order): ts (epoch seconds), proto (or only ethtype), src_ip, src_port, dst_ip,
dst_port, pck_len, tcp_flags, mirai, tcp_seq, ttl, t_mss, t_win, t_ts, t_sack, t_sackp.
``mirai`` is not read (darkstack derives the fingerprint from tcp_seq); ``t_sack`` (SACK blocks)
has no canonical column.

The same columns comma-separated with addresses replaced by tokens (``src_ipaddr0``) are the DarkVec
study's public trace (``tokenlog``): tokens go through the workspace's :class:`TokenMap`, and since
the anonymised destination can no longer equal ``tcp_seq``, the trace's own ``mirai`` column (computed
before anonymisation) carries the fingerprint over: ``tcp_seq`` becomes the mapped destination there.
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
from darkstack.ingest.tokens import TokenMap
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


def read_tokenlog(path: str | Path, tokens: TokenMap | None = None, per_file: bool = False) -> Iterator[Batch]:
    """Decode the comma-separated log whose addresses are tokens, mapping them through ``tokens``.

    ``tokens`` is the workspace's table (ingest passes it and saves it with the file); without one a
    fresh table is used, so addresses then depend on this file alone. ``per_file``: the file numbers
    its own tokens, so they are kept apart from other files' tokens of the same name.
    """
    tokens = tokens if tokens is not None else TokenMap()
    scope = Path(path).name if per_file else None
    for text, skips in read_delimited(path, ",", REQUIRED):
        yield _convert(text, skips, tokens, scope)


def _convert(text: pa.Table, skips: Counter, tokens: TokenMap | None = None, scope: str | None = None) -> Batch:
    n = text.num_rows
    names = text.column_names
    cols: dict = {}
    bad: dict = {}
    cols["ts"] = (*_first(fields.timestamp_seconds(text["ts"]), bad, "ts"), TIMESTAMP)
    for name, space in (("src_ip", "src"), ("dst_ip", "dst")):
        values, wrong = fields.ipv4(text[name]) if tokens is None else tokens.addresses(text[name], space, scope)
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
    if tokens is not None and "mirai" in names:
        _carry_mirai(text["mirai"], cols)
    return assemble(n, cols, bad, skips)


def _carry_mirai(flag, cols: dict) -> None:
    """Rows the trace flags as Mirai (``mirai`` = 1) get ``tcp_seq`` = their mapped destination."""
    values, present, _ = fields.integer(flag, 1)
    flagged = present & (values == 1) & (cols["proto"][0] == PROTO_TCP)
    if not flagged.any():
        return
    dst = cols["dst_ip"][0]
    seq, seq_present, typ = cols.get("tcp_seq", (np.zeros(dst.size, np.int64), np.zeros(dst.size, bool), pa.uint32()))
    cols["tcp_seq"] = (np.where(flagged, dst.astype(np.int64), seq), seq_present | flagged, typ)


def _first(pair, bad: dict, name: str):
    values, wrong = pair
    bad[name] = wrong
    return values, None
