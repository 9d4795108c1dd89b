"""Passive fingerprints (p0f, fatt) joined to the honeypot sessions they describe.

T-Pot runs p0f and fatt on the host interface beside the honeypots; both log **both directions** (the sensor's
own outbound connections and its replies too). Only the attacker side is kept: p0f ``syn`` records (the SYN of
the side that opened the connection, ``subject = cli``) and fatt client records (TLS ClientHello JA3, SSH client
HASSH, HTTP request, RDP request), and only where their client address is a session's source.

Join (documented in docs/ingest.md): a session takes the p0f SYN of the same source address and port nearest in
time within ``window_s``, else the SYN of the same source address nearest in time within ``window_s``
(a SYN's initial TTL, MSS, window and options are properties of the sender's OS stack and path, which do not
change within the window for one address). Only fields the honeypot log left null are filled: ``ttl``,
``tcp_mss``, ``tcp_win``, ``tcp_wscale``, ``tcp_sackok``. fatt's fingerprints have no column in the packet
schema: each client record matching a session of the file exactly (address and port, within the window) becomes
an application event (``other``, ``raw_event`` ``fatt.tls`` …, ``detail`` the JA3/HASSH/user agent), so a
record lands in the one honeypot file whose connection it saw.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from darkstack.errors import DarkstackError
from darkstack.ingest import fields
from darkstack.ingest.batch import Batch, open_input, read_errors
from darkstack.ingest.events import event_table
from darkstack.ingest.settings import FINGERPRINT_WINDOW_S
from darkstack.log import get_logger
from darkstack.schema import PROTO_TCP

log = get_logger(__name__)
FILLED = ("ttl", "tcp_mss", "tcp_win", "tcp_wscale", "tcp_sackok")
FILLED_TYPES = {"ttl": pa.uint8(), "tcp_mss": pa.uint16(), "tcp_win": pa.uint16(), "tcp_wscale": pa.uint8(),
                "tcp_sackok": pa.bool_()}
SNIFF_BYTES = 16 << 10
FATT_CLIENT = {"tls": "ja3", "ssh": "hassh", "http": "userAgent", "rdp": "cookie"}
"""fatt protocol → the key only its client-side records carry (its value is the event's detail)."""
IPV4_HEADERS = 40
"""IPv4 + TCP header bytes: p0f writes a window of ``mtu*N`` for N × (MSS + 40)."""


def is_p0f(obj: dict) -> bool:
    return {"mod", "client_ip", "server_ip", "subject"} <= obj.keys()


def is_fatt(obj: dict) -> bool:
    return {"sourceIp", "destinationIp", "protocol"} <= obj.keys()


def sibling_files(path: Path) -> list[Path]:
    """The p0f and fatt logs in ``path``'s folder, told by their first JSON record."""
    folder = Path(path).parent
    return [p for p in _fingerprint_logs(str(folder), folder.stat().st_mtime_ns) if p != Path(path)]


@functools.lru_cache(maxsize=8)
def _fingerprint_logs(folder: str, mtime_ns: int) -> list[Path]:
    """The fingerprint logs of a folder (cached by the folder's change time: a folder of many logs is looked at
    once, not once per log)."""
    return [p for p in sorted(Path(folder).iterdir()) if p.is_file() and not p.name.startswith(".") and _kind(p)]


def _kind(path: Path) -> str | None:
    """``p0f``, ``fatt`` or None, from the first line of ``path``."""
    try:
        with open_input(path) as fh, read_errors(fh, path):
            first = fh.readline(SNIFF_BYTES)
    except DarkstackError:
        return None
    try:
        obj = json.loads(first)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    return "p0f" if is_p0f(obj) else "fatt" if is_fatt(obj) else None


def _records(path: Path) -> list[dict]:
    """The JSON objects of a fingerprint log (other lines are passed over: the log is an optional companion)."""
    out = []
    with open_input(path) as fh, read_errors(fh, path):
        for line in fh:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def p0f_syns(records: list[dict]) -> pd.DataFrame:
    """p0f ``syn`` records → one row per SYN: source, port, time (µs) and the fields of its raw signature.

    ``raw_sig`` = ``ver:ttl+dist:olen:mss:wsize,scale:olayout:quirks:pclass`` (p0f's ``dump_sig``): the
    first TTL number is the observed TTL; ``wsize`` is a number, ``mss*N`` or ``mtu*N``.
    """
    syn = [r for r in records if r.get("mod") == "syn" and r.get("subject") == "cli" and isinstance(r.get("raw_sig"), str)]
    if not syn:
        return pd.DataFrame(columns=["src_ip", "src_port", "ts", *FILLED])
    frame = pd.DataFrame({"ip": [str(r.get("client_ip")) for r in syn],
                          "port": [str(r.get("client_port")) for r in syn],
                          "time": [str(r.get("timestamp")) for r in syn],
                          "sig": [r["raw_sig"] for r in syn]})
    ip, bad_ip = fields.ipv4(pa.array(frame["ip"], pa.string()))
    port, has_port, _ = fields.integer(pa.array(frame["port"], pa.string()), 0xFFFF)
    ts, bad_ts = fields.datetime_text(pa.array(frame["time"], pa.string()))
    parts = frame["sig"].str.split(":", expand=True).reindex(columns=range(8))
    ttl = pd.to_numeric(parts[1].str.split("+").str[0], errors="coerce")
    mss = pd.to_numeric(parts[3], errors="coerce")
    win_text, scale = parts[4].str.split(",").str[0], pd.to_numeric(parts[4].str.split(",").str[1], errors="coerce")
    multiple = pd.to_numeric(win_text.str.extract(r"^(?:mss|mtu)\*(\d+)$")[0], errors="coerce")
    unit = np.where(win_text.str.startswith("mtu").fillna(False), mss + IPV4_HEADERS, mss)
    win = pd.to_numeric(win_text, errors="coerce").fillna(multiple * unit)
    olayout = parts[5].fillna("").str.split(",")
    out = pd.DataFrame({
        "src_ip": ip.astype(np.int64), "src_port": np.where(has_port, port, -1), "ts": ts,
        "ttl": ttl.where(ttl.between(0, 255)), "tcp_mss": mss.where(mss.between(0, 0xFFFF)),
        "tcp_win": win.where(win.between(0, 0xFFFF)),
        "tcp_wscale": scale.where(olayout.apply(lambda o: "ws" in o) & scale.between(0, 255)),
        "tcp_sackok": olayout.apply(lambda o: "sok" in o).astype(float)})
    keep = ~bad_ip & ~bad_ts & (ip != 0)
    return out[keep].sort_values("ts", kind="stable").reset_index(drop=True)


def fatt_clients(records: list[dict]) -> pd.DataFrame:
    """fatt client-side records → source, port, time (µs), protocol and fingerprint text."""
    rows = []
    for r in records:
        proto = r.get("protocol")
        body = r.get(proto) if isinstance(proto, str) and isinstance(r.get(proto), dict) else None
        key = FATT_CLIENT.get(proto)
        if body is not None and key in body:
            rows.append((str(r.get("sourceIp")), str(r.get("sourcePort")), str(r.get("timestamp")), proto,
                         str(body[key])))
    if not rows:
        return pd.DataFrame(columns=["src_ip", "src_port", "ts", "protocol", "detail"])
    frame = pd.DataFrame(rows, columns=["ip", "port", "time", "protocol", "detail"])
    ip, bad_ip = fields.ipv4(pa.array(frame["ip"], pa.string()))
    port, has_port, _ = fields.integer(pa.array(frame["port"], pa.string()), 0xFFFF)
    ts, bad_ts = fields.datetime_text(pa.array(frame["time"], pa.string()))
    out = pd.DataFrame({"src_ip": ip.astype(np.int64), "src_port": port, "ts": ts, "protocol": frame["protocol"],
                        "detail": frame["detail"]})
    keep = ~bad_ip & ~bad_ts & has_port
    return out[keep].sort_values("ts", kind="stable").reset_index(drop=True)


def _int64(column) -> np.ndarray:
    """An integer column as int64, null → -1 (matches no fingerprint port)."""
    return column.cast(pa.int64()).fill_null(-1).to_numpy()


def _nearest(left: pd.DataFrame, right: pd.DataFrame, by: list[str], window_s: float) -> pd.DataFrame:
    """For each ``left`` row, the ``right`` row with the same ``by`` keys nearest in ``ts`` within the window."""
    if left.empty or right.empty:
        return left.assign(**{c: np.nan for c in right.columns if c not in left.columns})
    return pd.merge_asof(left.sort_values("ts", kind="stable"), right, on="ts", by=by, direction="nearest",
                         tolerance=int(window_s * 1_000_000)).sort_values("row", kind="stable")


def join(table: pa.Table, p0f: pd.DataFrame, window_s: float) -> tuple[pa.Table, int]:
    """``table`` with the null SYN fields of its TCP rows filled from p0f; returns it and the rows filled."""
    if not table.num_rows or p0f.empty:
        return table, 0
    proto = table.column("proto").to_numpy()
    left = pd.DataFrame({"row": np.arange(table.num_rows), "ts": table.column("ts").cast(pa.int64()).to_numpy(),
                         "src_ip": table.column("src_ip").to_numpy().astype(np.int64),
                         "src_port": _int64(table.column("src_port"))})
    left = left[proto == PROTO_TCP]
    exact = _nearest(left, p0f[p0f["src_port"] >= 0], ["src_ip", "src_port"], window_s)  # a missing port is no match
    host = _nearest(left, p0f.drop(columns="src_port"), ["src_ip"], window_s)
    found = exact["tcp_sackok"].notna().to_numpy()
    rows = left["row"].to_numpy()
    for name in FILLED:
        fill = np.full(table.num_rows, np.nan)
        fill[rows] = np.where(found, exact[name].to_numpy(float), host[name].to_numpy(float))
        known = ~np.isnan(fill)
        typ = FILLED_TYPES[name]
        values = pa.array(np.where(known, fill, 0).astype(np.int64), pa.int64(), mask=~known).cast(typ)
        current = table.column(name) if name in table.column_names else pa.nulls(table.num_rows, typ)
        array = pc.coalesce(current, values)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, array)
        else:
            table = table.append_column(name, array)
    return table, int((found | host["tcp_sackok"].notna().to_numpy()).sum())


def fatt_events(table: pa.Table, fatt: pd.DataFrame, honeypot: str, window_s: float) -> list[dict]:
    """fatt client records that saw one of ``table``'s connections (same source address and port, in the window)."""
    if not table.num_rows or fatt.empty:
        return []
    sessions = pd.DataFrame({"ts": table.column("ts").cast(pa.int64()).to_numpy(),
                             "src_ip": table.column("src_ip").to_numpy().astype(np.int64),
                             "src_port": _int64(table.column("src_port")),
                             "dst_ip": table.column("dst_ip").to_numpy().astype(np.int64),
                             "dst_port": _int64(table.column("dst_port")),
                             "service": table.column("service").to_pylist()}).sort_values("ts", kind="stable")
    matched = pd.merge_asof(fatt.assign(fp_ts=fatt["ts"]), sessions, on="ts", by=["src_ip", "src_port"],
                            direction="nearest", tolerance=int(window_s * 1_000_000)).dropna(subset=["dst_ip"])
    return [{"ts": int(m.fp_ts), "src_ip": int(m.src_ip), "src_port": int(m.src_port), "dst_ip": int(m.dst_ip),
             "dst_port": int(m.dst_port) if m.dst_port >= 0 else None, "honeypot": honeypot,
             "service": m.service, "event": "other", "raw_event": f"fatt.{m.protocol}", "detail": m.detail}
            for m in matched.itertuples()]


@functools.lru_cache(maxsize=2)
def _fingerprints(companions: tuple[tuple[str, int, int], ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The attacker-side p0f SYNs and fatt client records of the fingerprint logs ``(path, mtime, size)`` (cached:
    every honeypot log of a folder joins the same ones)."""
    records: dict[str, list[dict]] = {"p0f": [], "fatt": []}
    for name, _, _ in companions:
        kind = _kind(Path(name))
        if kind:
            records[kind] += _records(Path(name))
    return p0f_syns(records["p0f"]), fatt_clients(records["fatt"])


def with_fingerprints(read: Callable[[Path], Iterator[Batch]]) -> Callable[..., Iterator[Batch]]:
    """``read`` whose session rows are joined to the p0f/fatt logs beside the file (nothing changes without them)."""
    def joined(path: str | Path, fingerprint_window_s: float = FINGERPRINT_WINDOW_S) -> Iterator[Batch]:
        path = Path(path)
        p0f, fatt = _fingerprints(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sibling_files(path)))
        for batch in read(path):
            batch.table, filled = join(batch.table, p0f, fingerprint_window_s)
            if filled:
                log.info(f"{path}: {filled:,} of {batch.table.num_rows:,} sessions took TTL, MSS and window from p0f",
                         extra={"file": str(path), "fingerprinted": filled})
            honeypot = batch.table.column("honeypot")[0].as_py() if "honeypot" in batch.table.column_names \
                and batch.table.num_rows else None
            extra = fatt_events(batch.table, fatt, honeypot, fingerprint_window_s)
            if extra:
                more = event_table(extra)
                batch.events = more if batch.events is None else pa.concat_tables([batch.events, more])
            yield batch
    return joined
