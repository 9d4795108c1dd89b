"""Flow-record files written from per-packet canonical records, as the projects document their formats: corsaro3
flowtuples (Avro, ``FLOWTUPLE_RESULT_SCHEMA``), Zeek conn.log (TSV or JSON) and Merit darknet-events NDJSON.
Used by the reader tests (the acceptance "a pcap and the flow records of the same traffic") and the benchmark.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from darkstack.ingest.pcap import write_pcap
from darkstack.schema import PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, int_to_ip

FLOWTUPLE_SCHEMA = fastavro.parse_schema({
    "type": "record", "namespace": "org.caida.corsaro", "name": "flowtuple",
    "doc": "A Corsaro FlowTuple record. All byte fields are in network byte order.",
    "fields": [{"name": name, "type": typ} for name, typ in [
        ("time", "long"), ("src_ip", "long"), ("dst_ip", "long"), ("src_port", "int"), ("dst_port", "int"),
        ("protocol", "int"), ("ttl", "int"), ("tcp_flags", "int"), ("ip_len", "int"), ("tcp_synlen", "int"),
        ("tcp_synwinlen", "int"), ("packet_cnt", "long"), ("is_spoofed", "int"), ("is_masscan", "int"),
        ("maxmind_continent", "string"), ("maxmind_country", "string"), ("netacq_continent", "string"),
        ("netacq_country", "string"), ("prefix2asn", "long")]],
})
FLOWTUPLE_KEY = ["interval", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "ttl", "tcp_flags", "ip_len"]
"""What corsaro3 aggregates on (``corsaro_flowtuple_hash_equal``)."""
ZEEK_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
               "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
               "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents"]
ZEEK_TYPES = ["time", "string", "addr", "port", "addr", "port", "enum", "string", "interval", "count", "count",
              "string", "bool", "bool", "count", "string", "count", "count", "count", "count", "set[string]"]
PROTO_NAMES = {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_ICMP: "icmp"}


def flowtuples(table: pa.Table, path: Path, interval: int = 60) -> int:
    """Aggregate per-packet records as corsaro3 does (per interval and key) and write the tuples as Avro."""
    df = table.to_pandas()
    df["interval"] = table.column("ts").cast(pa.int64()).to_numpy() // 1_000_000 // interval * interval
    df["tcp_flags"] = df["tcp_flags"].fillna(0).astype(int)
    icmp = df["proto"] == PROTO_ICMP
    df.loc[icmp, "src_port"], df.loc[icmp, "dst_port"] = 8, 0  # corsaro: ICMP type and code in the ports
    pure_syn = (df["proto"] == PROTO_TCP) & (df["tcp_flags"] == TCP_SYN)
    df["tcp_synwinlen"] = np.where(pure_syn, df["tcp_win"].fillna(0), 0)
    df["tcp_synlen"] = np.where(pure_syn, 20, 0)
    groups = df.groupby(FLOWTUPLE_KEY, sort=True).agg(packet_cnt=("ts", "size"), tcp_synwinlen=("tcp_synwinlen", "first"),
                                                      tcp_synlen=("tcp_synlen", "first")).reset_index()
    records = [{"time": int(r.interval), "src_ip": int(r.src_ip), "dst_ip": int(r.dst_ip),
                "src_port": int(r.src_port), "dst_port": int(r.dst_port), "protocol": int(r.proto), "ttl": int(r.ttl),
                "tcp_flags": int(r.tcp_flags), "ip_len": int(r.ip_len), "tcp_synlen": int(r.tcp_synlen),
                "tcp_synwinlen": int(r.tcp_synwinlen), "packet_cnt": int(r.packet_cnt), "is_spoofed": 0,
                "is_masscan": 0, "maxmind_continent": "??", "maxmind_country": "??", "netacq_continent": "??",
                "netacq_country": "??", "prefix2asn": 0} for r in groups.itertuples()]
    with open(path, "wb") as fh:
        fastavro.writer(fh, FLOWTUPLE_SCHEMA, records, codec="deflate")
    return len(records)


def _history(flags: list[int]) -> str:
    """The originator's history letters for its packets' flags (Zeek writes each letter once)."""
    letters = ""
    for f in flags:
        letter = ("S" if f & TCP_SYN and not f & TCP_ACK else "H" if f & TCP_SYN else "R" if f & TCP_RST
                  else "F" if f & TCP_FIN else "A")
        letters += letter if letter not in letters else ""
    return letters


def zeek_conns(table: pa.Table) -> list[dict]:
    """One Zeek connection per 5-tuple of the per-packet records (originator = the record's source)."""
    df = table.to_pandas()
    df["tcp_flags"] = df["tcp_flags"].fillna(0).astype(int)
    conns = []
    for n, (key, g) in enumerate(df.sort_values("ts").groupby(["src_ip", "dst_ip", "src_port", "dst_port", "proto"],
                                                               dropna=False, sort=True)):
        src, dst, sport, dport, proto = key
        tcp = proto == PROTO_TCP
        history = _history(g["tcp_flags"].tolist()) if tcp else "D"
        conns.append({"ts": g["ts"].iloc[0].timestamp(), "uid": f"C{n}", "id.orig_h": str(int_to_ip([src])[0]),
                      "id.orig_p": int(0 if np.isnan(sport) else sport), "id.resp_h": str(int_to_ip([dst])[0]),
                      "id.resp_p": int(0 if np.isnan(dport) else dport), "proto": PROTO_NAMES[int(proto)],
                      "conn_state": ("S0" if history == "S" else "SF") if tcp else "S0", "history": history,
                      "orig_pkts": len(g), "orig_ip_bytes": int(g["ip_len"].sum()), "resp_pkts": 0,
                      "resp_ip_bytes": 0})
    return conns


def write_zeek_tsv(conns: list[dict], path: Path) -> None:
    """conn.log as Zeek's ASCII writer lays it out (headers, tab-separated, '-' unset, '#close' trailer)."""
    lines = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
             "#open\t2021-12-01-00-00-00", "#fields\t" + "\t".join(ZEEK_FIELDS), "#types\t" + "\t".join(ZEEK_TYPES)]
    for c in conns:
        row = {**c, "ts": f"{c['ts']:.6f}"}
        lines.append("\t".join(str(row.get(name, "-")) for name in ZEEK_FIELDS))
    lines.append("#close\t2021-12-02-00-00-00")
    path.write_text("\n".join(lines) + "\n")


def write_zeek_json(conns: list[dict], path: Path) -> None:
    """conn.log as JSON lines (``LogAscii::use_json``), unset fields left out."""
    path.write_text("\n".join(json.dumps(c) for c in conns) + "\n")


def merit_events(table: pa.Table, path: Path, tmp: Path) -> int:
    """darknet-events NDJSON: one event per (source, port, traffic type) with a packet sample of its first packet
    (the frame as write_pcap builds it)."""
    write_pcap(table, tmp)
    raw, frames, p = tmp.read_bytes()[24:], [], 0
    while p < len(raw):
        length = int.from_bytes(raw[p + 8:p + 12], "little")
        frames.append(raw[p + 16:p + 16 + length])
        p += 16 + length
    df = table.to_pandas()
    df["frame"] = frames
    traffic = {TCP_SYN: 11, TCP_SYN | TCP_ACK: 12, TCP_ACK: 13, TCP_RST: 14}
    df["traffic"] = [16 if pr == PROTO_UDP else 0 if pr == PROTO_ICMP else traffic.get(int(f), 15)
                     for pr, f in zip(df["proto"], df["tcp_flags"].fillna(0))]
    df["port"] = np.where(df["traffic"].isin([12, 14]), df["src_port"].fillna(0), df["dst_port"].fillna(0))
    events = []
    for (src, port, kind), g in df.sort_values("ts").groupby(["src_ip", "port", "traffic"], sort=True):
        events.append({"SourceIP": str(int_to_ip([src])[0]), "Port": int(port), "Traffic": int(kind),
                       "First": g["ts"].iloc[0].isoformat().replace("+00:00", "Z"),
                       "Last": g["ts"].iloc[-1].isoformat().replace("+00:00", "Z"), "Packets": len(g),
                       "Bytes": int(sum(len(f) for f in g["frame"])), "UniqueDests": int(g["dst_ip"].nunique()),
                       "UniqueDest24s": 1, "Lat": 0, "Long": 0, "Country": "", "City": "", "ASN": 0, "Org": "",
                       "Prefix": "", "RDNS": None, "Zmap": False, "Masscan": False, "Mirai": False,
                       "Samples": [base64.b64encode(g["frame"].iloc[0]).decode()], "TCP": "", "ICMP": ""})
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return len(events)


def weighted(table: pa.Table, keys: list[str]) -> pa.Table:
    """Packets per key, each record counting ``packets`` times (null = 1), sorted by the key."""
    packets = table.column("packets") if "packets" in table.column_names else pa.nulls(table.num_rows, pa.uint32())
    t = table.select(keys).append_column("n", pc.fill_null(packets.cast(pa.int64()), 1))
    return t.group_by(keys).aggregate([("n", "sum")]).sort_by([(k, "ascending") for k in keys])
