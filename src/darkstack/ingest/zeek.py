"""Zeek ``conn.log``: one connection a line, as Zeek's ASCII writer logs it (tab-separated with ``#separator``,
``#fields`` and ``#types`` headers, ``-`` unset) or as JSON lines (``LogAscii::use_json``; ``ts`` as epoch seconds
or ISO 8601).

A connection stands for its originator's packets: ``packets`` = ``orig_pkts``, ``ip_len`` = ``orig_ip_bytes`` /
``orig_pkts`` (IP bytes per packet, rounded). The responder's packets are not records: a darknet or honeypot
counts what outside hosts send. TCP flags come from the originator's (upper-case) ``history`` letters: ``S`` SYN,
``H`` SYN+ACK, ``A``/``D`` ACK (data segments carry ACK), ``F`` FIN, ``R`` RST. A connection whose originator
sent only SYNs (``S``; or, without a history, state ``S0``/``REJ``) is one record of SYNs; one that went on after
its SYN becomes two records, its SYN (one packet) and the rest (``orig_pkts`` − 1, the other letters' flags), so
the SYN-only snapshot counts connection attempts as a capture of the same traffic does. ``service`` is Zeek's
``service``, ``event`` its ``conn_state``. TTL, IP id, sequence number, window and TCP options are not logged.

TSV is parsed by Arrow's CSV reader; JSON by Arrow's JSON reader (the whole file: conn.log rotates hourly), or line
by line when a line is malformed or a field changes type, so that each bad line is counted by reason.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pajson

from darkstack.errors import InputFormatError
from darkstack.ingest import fields
from darkstack.ingest.batch import Batch, open_input, read_line
from darkstack.ingest.delimited import BLOCK_BYTES, arrow_input, text_blocks
from darkstack.ingest.flows import SKIP_OWN, own_traffic, per_packet_len
from darkstack.ingest.honeypot import iso_to_us
from darkstack.ingest.jsonlines import json_objects
from darkstack.ingest.rows import assemble
from darkstack.schema import PROTO_ICMP, PROTO_TCP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TIMESTAMP

REQUIRED = ["ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "orig_pkts", "orig_ip_bytes"]
OPTIONAL = ["service", "conn_state", "history"]
HISTORY_FLAGS = {"S": TCP_SYN, "H": TCP_SYN | TCP_ACK, "A": TCP_ACK, "D": TCP_ACK, "F": TCP_FIN, "R": TCP_RST}
SYN_ONLY_STATES = ("S0", "REJ")
"""States in which the originator sent SYNs and nothing else (used when ``history`` is not logged)."""
SKIP_IPV6 = "IPv6 connection"
SKIP_NO_PACKETS = "connection without originator packets"
MAX_HEADER_LINES = 64


def read_zeek(path: str | Path) -> Iterator[Batch]:
    """Decode a Zeek conn.log (TSV or JSON lines) into canonical records weighted by ``packets``."""
    path = Path(path)
    with open_input(path) as fh:
        first = read_line(fh, path).lstrip()
    if first.startswith(b"{"):
        fast = _arrow_json(path)
        if fast is not None:
            yield _convert(fast, Counter())
            return
        for objects, skips in json_objects(path):
            yield _convert(_json_text(objects), skips)
    else:
        for text, skips in _tsv_blocks(path):
            yield _convert(text, skips)


def _header(path: Path) -> tuple[str, list[str], int]:
    """(separator, field names, header line count) from the ``#`` lines at the top of a TSV log."""
    separator, names, count = "\t", None, 0
    with open_input(path) as fh:
        while count < MAX_HEADER_LINES:
            line = read_line(fh, path)
            if not line.startswith(b"#"):
                break
            count += 1
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if text.startswith("#separator"):
                separator = text.split(" ", 1)[1].encode().decode("unicode_escape") if " " in text else "\t"
            elif text.startswith("#fields"):
                names = text.split(separator)[1:]
    if not names:
        raise InputFormatError("not a Zeek log: no '#fields' header line", path)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InputFormatError(f"not a Zeek conn.log: missing field(s) {', '.join(missing)}", path)
    return separator, names, count


def _tsv_blocks(path: Path) -> Iterator[tuple[pa.Table, Counter]]:
    separator, names, header_lines = _header(path)
    read_options = pcsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False, skip_rows=header_lines, column_names=names)
    kept = REQUIRED + [c for c in OPTIONAL if c in names]
    # '#close' and the headers of a concatenated log are not records: neither counted when short nor kept when whole
    for table, skipped in text_blocks(path, separator, read_options, names, "a Zeek TSV log", kept,
                                      counted=lambda line: not line.startswith("#")):
        comment = pc.starts_with(table.column("ts"), "#").to_numpy(zero_copy_only=False)
        yield table.filter(pa.array(~comment)), skipped


def _arrow_json(path: Path) -> pa.Table | None:
    """A JSON conn.log read whole by Arrow's JSON reader, as a text table; None when a line is malformed or a field
    changes type (then the log is read line by line, which counts each bad line by reason)."""
    source = arrow_input(path)
    try:
        table = pajson.read_json(source, read_options=pajson.ReadOptions(use_threads=False, block_size=BLOCK_BYTES))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        return None
    finally:
        source.close()
    columns = {}
    for name in REQUIRED + OPTIONAL:
        if name not in table.column_names:
            columns[name] = pa.array(["-"] * table.num_rows, pa.string())
            continue
        column_ = table.column(name)
        if pa.types.is_nested(column_.type) or pa.types.is_boolean(column_.type):
            return None
        if name == "ts" and pa.types.is_string(column_.type):  # ISO 8601 (LogAscii::json_timestamps)
            try:
                column_ = column_.cast(pa.timestamp("us", tz="UTC"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
        if pa.types.is_timestamp(column_.type):  # written back as epoch text
            micros = column_.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            valid = micros.is_valid().to_numpy(zero_copy_only=False) if micros.null_count else None
            us = pc.fill_null(micros, 0).to_numpy()
            text = np.char.add(np.char.add((us // 1_000_000).astype(str), "."),
                               np.char.zfill((us % 1_000_000).astype(str), 6))
            column_ = pa.array(text, pa.string(), mask=None if valid is None else ~valid)
        columns[name] = pc.fill_null(pc.cast(column_, pa.string()), "-")
    return pa.table(columns)


def _json_text(objects: list[dict]) -> pa.Table:
    """JSON connections as a text table with the TSV's field names (numbers written out, ISO times as epoch)."""
    def text(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool) or isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    def epoch(value) -> str:
        if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
            us = iso_to_us(value)
            return "-" if us is None or us < 0 else f"{us // 1_000_000}.{us % 1_000_000:06d}"
        return text(value)

    columns = {name: [text(o.get(name)) for o in objects] for name in REQUIRED[1:] + OPTIONAL}
    columns["ts"] = [epoch(o.get("ts")) for o in objects]
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def _convert(text: pa.Table, skips: Counter) -> Batch:
    text, read = _without_ipv6(text, skips)
    n = text.num_rows
    names = text.column_names
    cols, bad = {}, {}
    ts, bad["ts"] = fields.timestamp_seconds(text["ts"])
    cols["ts"] = (ts, None, TIMESTAMP)
    src, bad["id.orig_h"] = fields.ipv4(text["id.orig_h"])
    dst, bad["id.resp_h"] = fields.ipv4(text["id.resp_h"])
    cols["src_ip"], cols["dst_ip"] = (src, None, pa.uint32()), (dst, None, pa.uint32())
    proto, bad["proto"] = fields.protocol(text["proto"])
    cols["proto"] = (proto, None, pa.uint8())
    ports = proto != PROTO_ICMP  # Zeek writes ICMP type/code in the port fields
    for source, name in (("id.orig_p", "src_port"), ("id.resp_p", "dst_port")):
        values, present, bad[source] = fields.integer(text[source], 0xFFFF)
        cols[name] = (values, present & ports, pa.uint16())
    packets, present, bad["orig_pkts"] = fields.integer(text["orig_pkts"], 0xFFFFFFFF)
    dropped = {SKIP_NO_PACKETS: ~bad["orig_pkts"] & ~(present & (packets > 0))}
    total, _, bad["orig_ip_bytes"] = fields.integer(text["orig_ip_bytes"], 2**62)
    cols["ip_len"] = (*per_packet_len(total, packets), pa.uint16())
    syn, rest = _history_flags(text, n)
    is_tcp = proto == PROTO_TCP
    flags = np.where(syn, TCP_SYN, 0) | np.maximum(rest, 0)
    cols["tcp_flags"] = (flags, is_tcp & ((rest >= 0) | syn), pa.uint8())
    cols["packets"] = (packets, None, pa.uint32())
    dropped[SKIP_OWN] = own_traffic(src, dst)
    extra = {name: _optional_text(text, source) for name, source in (("service", "service"), ("event", "conn_state"))}
    split = is_tcp & syn & (rest > 0) & (packets >= 2) & ~np.logical_or.reduce([*bad.values(), *dropped.values()])
    batch = _with_split_syns(n, cols, bad, dropped, skips, extra, split, rest)
    batch.read = read
    return batch


def _without_ipv6(text: pa.Table, skips: Counter) -> tuple[pa.Table, int]:
    """The table without IPv6 connections (counted), and the records read including earlier skips."""
    read = text.num_rows + sum(skips.values())
    v6 = pc.fill_null(pc.match_substring(text["id.orig_h"], ":"), False).to_numpy(zero_copy_only=False)
    if v6.any():
        skips[SKIP_IPV6] += int(v6.sum())
        text = text.filter(pa.array(~v6))
    return text, read


def _history_flags(text: pa.Table, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(originator sent a SYN, OR of its other flags; -1 where unknown) from ``history`` or ``conn_state``."""
    rest = np.full(n, -1, np.int64)
    syn = np.zeros(n, bool)
    if "history" in text.column_names:
        history = pc.fill_null(text["history"], "-")
        known = pc.invert(pc.is_in(history, pa.array(fields.ABSENT))).to_numpy(zero_copy_only=False)
        rest[known] = 0
        for letter, bit in HISTORY_FLAGS.items():
            has = pc.match_substring(history, letter).to_numpy(zero_copy_only=False)
            if letter == "S":
                syn |= has
            else:
                rest[has] |= bit
    if "conn_state" in text.column_names:
        unknown = rest < 0
        syn_only = pc.is_in(text["conn_state"], pa.array(SYN_ONLY_STATES)).to_numpy(zero_copy_only=False) & unknown
        syn |= syn_only
        rest[syn_only] = 0
    return syn, rest


def _optional_text(text: pa.Table, name: str) -> pa.Array:
    if name not in text.column_names:
        return pa.nulls(text.num_rows, pa.string())
    values = text[name].combine_chunks()
    return pc.if_else(pc.is_in(values, pa.array(fields.ABSENT)), pa.scalar(None, pa.string()), values)


def _with_split_syns(n, cols, bad, dropped, skips, extra, split, rest) -> Batch:
    """Rows as they are, each ``split`` connection followed by a second row: the first keeps its SYN (one packet),
    the second the rest of the originator's packets and flags."""
    extra_rows = np.flatnonzero(split)
    take = np.concatenate([np.arange(n), extra_rows])
    second = np.arange(take.size) >= n
    order = np.argsort(take, kind="stable")  # a connection's two rows side by side, in the log's order
    take, second = take[order], second[order]
    first = split[take] & ~second
    out = {}
    for name, (values, present, typ) in cols.items():
        values = values[take].copy()
        if name == "packets":
            values[first] = 1
            values[second] -= 1
        elif name == "tcp_flags":
            values[first] = TCP_SYN
            values[second] = rest[take[second]]
        out[name] = (values, None if present is None else present[take], typ)
    return assemble(take.size, out, {name: mask[take] for name, mask in bad.items()}, skips,
                    {name: arr.take(pa.array(take)) for name, arr in extra.items()},
                    {reason: mask[take] for reason, mask in dropped.items()})
