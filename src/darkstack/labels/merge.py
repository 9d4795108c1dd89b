"""Merged label table and longest-prefix matching of host addresses against it.

Precedence for a host on a day, among the rows valid that day whose network contains it:
1. the longest prefix wins (a /32 beats the /24 around it);
2. at equal prefix length, the lower ``precedence`` wins: sources in the order given, the Mirai rule
   last; within one source, the earlier row.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from darkstack.schema import int_to_ip

LABELS_SCHEMA = pa.schema([
    pa.field("network", pa.string(), nullable=False),
    pa.field("prefix_len", pa.int8(), nullable=False),
    pa.field("label", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("valid_from", pa.date32()),
    pa.field("valid_to", pa.date32()),
    pa.field("precedence", pa.int32(), nullable=False),
])
DAY_SCHEMA = pa.schema([pa.field("ip", pa.uint32(), nullable=False), pa.field("label", pa.string(), nullable=False),
                        pa.field("source", pa.string(), nullable=False)])


def cidr_strings(network: np.ndarray, prefix_len: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.add(int_to_ip(network), "/"), np.asarray(prefix_len).astype(str))


def network_ints(table: pa.Table) -> np.ndarray:
    """The network address of each row of a merged label table, as uint32."""
    from darkstack.schema import ip_to_int

    addr = pc.list_element(pc.split_pattern(table.column("network"), "/"), 0).to_numpy(zero_copy_only=False)
    return ip_to_int(addr.astype(str))


def valid_on(table: pa.Table, day: dt.date) -> pa.Table:
    """Rows whose validity covers ``day`` (null bounds are open)."""
    d = pa.scalar(day, pa.date32())
    after = pc.fill_null(pc.less_equal(table.column("valid_from"), d), True)
    before = pc.fill_null(pc.greater_equal(table.column("valid_to"), d), True)
    return table.filter(pc.and_(after, before))


def match(ips: np.ndarray, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Longest-prefix match: for each ip, the index of the winning row of ``table`` (-1 if none) and its prefix."""
    ips = np.asarray(ips, np.uint32)
    best = np.full(ips.size, -1, np.int64)
    best_len = np.full(ips.size, -1, np.int64)
    if table.num_rows == 0 or ips.size == 0:
        return best, best_len
    nets = network_ints(table).astype(np.uint64)
    plen = table.column("prefix_len").to_numpy().astype(np.int64)
    prec = table.column("precedence").to_numpy().astype(np.int64)
    for length in sorted(set(plen.tolist()), reverse=True):
        rows = np.flatnonzero(plen == length)
        # winner per network of this length: lowest precedence, then earliest row
        order = np.lexsort((rows, prec[rows], nets[rows]))
        rows = rows[order]
        keys = nets[rows]
        first = np.concatenate(([True], keys[1:] != keys[:-1]))
        rows, keys = rows[first], keys[first]
        mask = np.uint64((0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF) if length else np.uint64(0)
        open_ = best < 0
        probe = ips[open_].astype(np.uint64) & mask
        pos = np.minimum(np.searchsorted(keys, probe), keys.size - 1)
        hit = keys[pos] == probe
        idx = np.flatnonzero(open_)[hit]
        best[idx] = rows[pos[hit]]
        best_len[idx] = length
    return best, best_len


def day_view(ips: np.ndarray, table: pa.Table, day: dt.date) -> pa.Table:
    """ip, label, source for the labelled hosts among ``ips`` on ``day`` (sorted by ip)."""
    valid = valid_on(table, day)
    ips = np.unique(np.asarray(ips, np.uint32))
    best, _ = match(ips, valid)
    hit = best >= 0
    rows = pa.array(best[hit])
    return pa.table({"ip": pa.array(ips[hit], pa.uint32()), "label": valid.column("label").take(rows),
                     "source": valid.column("source").take(rows)}, schema=DAY_SCHEMA)
