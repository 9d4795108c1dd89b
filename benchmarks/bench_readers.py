"""Benchmark: records per second of the flow-record and sensor-log readers (Dionaea SQLite, Suricata eve.json,
Zeek conn.log TSV and JSON, corsaro3 flowtuple Avro, Merit darknet-events NDJSON) on generated files.

    .venv/bin/python benchmarks/bench_readers.py [--records 300000] [--repeat 3] [--only zeek-tsv,flowtuple]

Each format has its own writer (a file laid out as the project documents it, random but realistic values) and is
timed, best of ``--repeat``, reading the whole file with its darkstack reader (wall and CPU seconds). Figures go
to BENCHMARKS.md (section "readers").
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import fastavro
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import peak_rss_gib, write_section

from darkstack.ingest.formats import FORMATS
from darkstack.ingest.pcap import write_pcap
from darkstack.schema import int_to_ip

START = 1_638_316_800


def _hosts(rng, n: int) -> np.ndarray:
    return int_to_ip(rng.integers(0x01000000, 0xDF000000, max(n // 20, 1), dtype=np.uint32)[rng.integers(0, max(n // 20, 1), n)])


def write_dionaea(path: Path, n: int, rng) -> None:
    """A Dionaea logsql database: ``n`` accepted connections, a login for a tenth, a download for a hundredth."""
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE connections (connection INTEGER PRIMARY KEY, connection_type TEXT, connection_transport TEXT,
            connection_protocol TEXT, connection_timestamp INTEGER, connection_root INTEGER,
            connection_parent INTEGER, local_host TEXT, local_port INTEGER, remote_host TEXT,
            remote_hostname TEXT, remote_port INTEGER);
        CREATE TABLE logins (login INTEGER PRIMARY KEY, connection INTEGER, login_username TEXT, login_password TEXT);
        CREATE TABLE downloads (download INTEGER PRIMARY KEY, connection INTEGER, download_url TEXT,
            download_md5_hash TEXT);""")
    services = np.array(["smbd", "httpd", "mssqld", "mysqld", "ftpd"])
    ports = {"smbd": 445, "httpd": 80, "mssqld": 1433, "mysqld": 3306, "ftpd": 21}
    kinds = services[rng.integers(0, services.size, n)]
    ts = START + np.sort(rng.random(n) * 86_400)
    hosts = _hosts(rng, n)
    db.executemany("INSERT INTO connections VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (
        (i + 1, "accept", "tcp", str(k), float(t), i + 1, None, "172.28.0.2", ports[str(k)], str(h), "", int(p))
        for i, (k, t, h, p) in enumerate(zip(kinds, ts, hosts, rng.integers(1024, 65536, n)))))
    db.executemany("INSERT INTO logins VALUES (?,?,?,?)", ((i, int(c), b"root", "123456")
                                                         for i, c in enumerate(rng.integers(1, n + 1, n // 10))))
    db.executemany("INSERT INTO downloads VALUES (?,?,?,?)", ((i, int(c), "http://1.2.3.4/x", "00" * 16)
                                                            for i, c in enumerate(rng.integers(1, n + 1, n // 100))))
    db.commit()
    db.close()


def write_suricata(path: Path, n: int, rng) -> None:
    """eve.json: 60 % flow events, 25 % alerts, 15 % http, to one sensor address."""
    hosts = _hosts(rng, n)
    kinds = rng.choice(["flow", "alert", "http"], n, p=[0.6, 0.25, 0.15])
    with open(path, "w") as fh:
        for i, (kind, host) in enumerate(zip(kinds, hosts)):
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(START + i * 86_400 // n)) + ".123456+0000"
            obj = {"timestamp": ts, "flow_id": int(i // 2), "in_iface": "eth0", "event_type": str(kind),
                   "src_ip": str(host), "src_port": 40000 + i % 20000, "dest_ip": "165.22.44.143",
                   "dest_port": 80, "proto": "TCP", "app_proto": "http",
                   "flow": {"pkts_toserver": 5, "pkts_toclient": 4, "bytes_toserver": 420, "bytes_toclient": 900,
                            "start": ts}}
            if kind == "alert":
                obj["alert"] = {"signature": "ET WEB_SERVER exploit attempt", "category": "Web Application Attack",
                                "severity": 1}
            elif kind == "http":
                obj["http"] = {"http_method": "GET", "url": "/cgi-bin/luci", "status": 404}
            elif kind == "flow":
                obj["tcp"] = {"tcp_flags_ts": "1b"}
            fh.write(json.dumps(obj) + "\n")


def _zeek_rows(n: int, rng) -> dict[str, np.ndarray]:
    hist = np.array(["S", "S", "S", "ShAdDaFf", "D"])
    pick = rng.integers(0, hist.size, n)
    pkts = np.where(pick < 3, rng.integers(1, 4, n), rng.integers(3, 20, n))
    return {"ts": np.char.mod("%.6f", START + np.sort(rng.random(n) * 86_400)), "uid": np.char.add("C", np.arange(n).astype(str)),
            "id.orig_h": _hosts(rng, n), "id.orig_p": rng.integers(1024, 65536, n).astype(str),
            "id.resp_h": int_to_ip((0x0A000000 + rng.integers(0, 65536, n)).astype(np.uint32)),
            "id.resp_p": rng.choice(["23", "22", "80", "445"], n), "proto": np.where(pick == 4, "udp", "tcp"),
            "service": np.full(n, "-"), "conn_state": np.where(pick < 3, "S0", "SF"), "history": hist[pick],
            "orig_pkts": pkts.astype(str), "orig_ip_bytes": (pkts * 52).astype(str)}


def write_zeek_tsv(path: Path, n: int, rng) -> None:
    """conn.log in Zeek's ASCII layout (headers, tab-separated)."""
    rows = _zeek_rows(n, rng)
    names = list(rows)
    with open(path, "w") as fh:
        fh.write("#separator \\x09\n#unset_field\t-\n#path\tconn\n#fields\t" + "\t".join(names) + "\n")
        fh.write("#types\t" + "\t".join(["string"] * len(names)) + "\n")
        fh.write("\n".join("\t".join(r) for r in zip(*rows.values())) + "\n#close\tx\n")


def write_zeek_json(path: Path, n: int, rng) -> None:
    """conn.log as JSON lines (numbers as numbers)."""
    rows = _zeek_rows(n, rng)
    numeric = {"ts": float, "id.orig_p": int, "id.resp_p": int, "orig_pkts": int, "orig_ip_bytes": int}
    with open(path, "w") as fh:
        for values in zip(*rows.values()):
            obj = {k: numeric.get(k, str)(v) for k, v in zip(rows, values)}
            fh.write(json.dumps(obj) + "\n")


FLOWTUPLE = fastavro.parse_schema({"type": "record", "namespace": "org.caida.corsaro", "name": "flowtuple", "fields": [
    {"name": name, "type": typ} for name, typ in [
        ("time", "long"), ("src_ip", "long"), ("dst_ip", "long"), ("src_port", "int"), ("dst_port", "int"),
        ("protocol", "int"), ("ttl", "int"), ("tcp_flags", "int"), ("ip_len", "int"), ("tcp_synlen", "int"),
        ("tcp_synwinlen", "int"), ("packet_cnt", "long"), ("is_spoofed", "int"), ("is_masscan", "int"),
        ("maxmind_continent", "string"), ("maxmind_country", "string"), ("netacq_continent", "string"),
        ("netacq_country", "string"), ("prefix2asn", "long")]]})


def write_flowtuple(path: Path, n: int, rng) -> None:
    """corsaro3 flowtuples (deflate-compressed Avro), one-minute intervals."""
    cols = {"time": START + np.sort(rng.integers(0, 1440, n)) * 60, "src_ip": rng.integers(0x01000000, 0xDF000000, n),
            "dst_ip": 0x0A000000 + rng.integers(0, 65536, n), "src_port": rng.integers(1024, 65536, n),
            "dst_port": rng.choice([23, 22, 80, 445], n), "ttl": rng.integers(30, 255, n),
            "ip_len": rng.choice([40, 44, 60], n), "tcp_synwinlen": rng.choice([1024, 29200, 65535], n),
            "packet_cnt": rng.integers(1, 50, n)}
    constant = {"protocol": 6, "tcp_flags": 2, "tcp_synlen": 20, "is_spoofed": 0, "is_masscan": 0,
                "maxmind_continent": "??", "maxmind_country": "??", "netacq_continent": "??", "netacq_country": "??",
                "prefix2asn": 0}
    names = list(cols)
    records = ({**constant, **dict(zip(names, map(int, values)))} for values in zip(*cols.values()))
    with open(path, "wb") as fh:
        fastavro.writer(fh, FLOWTUPLE, records, codec="deflate")


def write_merit(path: Path, n: int, rng) -> None:
    """darknet-events NDJSON, each event with one sample frame (a SYN built by write_pcap)."""
    m = 1000
    sample = Path(tempfile.mkdtemp()) / "s.pcap"
    write_pcap(pa.table({"ts": pa.array(np.full(m, START * 1_000_000)).cast(pa.timestamp("us", tz="UTC")),
                         "src_ip": pa.array(rng.integers(0, 2**32, m, dtype=np.uint32)),
                         "dst_ip": pa.array(rng.integers(0, 2**32, m, dtype=np.uint32)),
                         "src_port": pa.array(rng.integers(1024, 65536, m), pa.uint16()),
                         "dst_port": pa.array(np.full(m, 23), pa.uint16()), "proto": pa.array(np.full(m, 6), pa.uint8()),
                         "tcp_flags": pa.array(np.full(m, 2), pa.uint8()), "ip_len": pa.array(np.full(m, 40), pa.uint16()),
                         "ttl": pa.array(rng.integers(30, 255, m), pa.uint8())}), sample)
    raw = sample.read_bytes()[24:]
    frames = [base64.b64encode(raw[p + 16:p + 16 + 54]).decode() for p in range(0, len(raw), 16 + 54)]
    hosts = _hosts(rng, n)
    with open(path, "w") as fh:
        for i, host in enumerate(hosts):
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(START + i * 86_400 // n)) + ".123456789Z"
            fh.write(json.dumps({"SourceIP": str(host), "Port": 23, "Traffic": 11, "First": ts, "Last": ts,
                                 "Packets": 12, "Bytes": 648, "UniqueDests": 12, "UniqueDest24s": 3, "Lat": 0,
                                 "Long": 0, "Country": "", "City": "", "ASN": 0, "Org": "", "Prefix": "",
                                 "RDNS": None, "Zmap": True, "Masscan": False, "Mirai": False,
                                 "Samples": [frames[i % len(frames)]], "TCP": "TCPSYN", "ICMP": ""}) + "\n")


WRITERS = {"dionaea": ("dionaea", write_dionaea, "connections"), "suricata": ("suricata", write_suricata, "events"),
           "zeek-tsv": ("zeek", write_zeek_tsv, "connections"), "zeek-json": ("zeek", write_zeek_json, "connections"),
           "flowtuple": ("flowtuple", write_flowtuple, "tuples"), "merit": ("merit", write_merit, "events")}
"""Benchmark name → (darkstack format, writer, what a source record is)."""


def time_reader(fmt: str, path: Path, repeat: int) -> tuple[float, float, int, int]:
    """Best wall and CPU seconds of ``repeat`` full reads, records read and rows kept."""
    best_wall = best_cpu = float("inf")
    read = kept = 0
    for _ in range(repeat):
        cpu0, t0 = time.process_time(), time.perf_counter()
        batches = list(FORMATS[fmt].read(path))
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - cpu0)
        read, kept = sum(b.read for b in batches), sum(b.table.num_rows for b in batches)
    return best_wall, best_cpu, read, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="Comma-separated benchmark names (default: all).")
    parser.add_argument("--no-write", action="store_true", help="Print the figures without updating BENCHMARKS.md.")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(WRITERS)
    folder = Path(tempfile.mkdtemp(prefix="bench-readers-"))
    rng = np.random.default_rng(0)
    lines = []
    for name in names:
        fmt, writer, unit = WRITERS[name]
        path = folder / name
        writer(path, args.records, rng)
        size_mb = path.stat().st_size / 1e6
        wall, cpu, read, kept = time_reader(fmt, path, args.repeat)
        assert read == args.records, (name, read)
        lines.append(f"| `{fmt}` ({name}) | {read:,} {unit} | {size_mb:,.0f} | {wall:.2f} | {read / wall / 1e3:,.0f} k | "
                     f"{read / cpu / 1e3:,.0f} k | {kept:,} |")
        print(lines[-1], flush=True)
        path.unlink()
    md = f"""## Ingest: flow-record and sensor-log readers

`.venv/bin/python benchmarks/bench_readers.py --records {args.records}`

Generated files of {args.records:,} source records each (layouts as the projects document them; see the script), read
whole, best of {args.repeat}. Usable cores: {len(os.sched_getaffinity(0))}; load average when measured:
{os.getloadavg()[0]:.1f} (other jobs share the cores: wall-clock rates understate an idle machine).

| reader | source records | MB | wall s | records/s (wall) | records per CPU-second | rows kept |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(lines)}

Zeek TSV and JSON are parsed by Arrow's CSV and JSON readers and converted column-wise; Suricata and Merit
decode one object a line with Python's `json` (their nesting and mixed types rule out Arrow's JSON reader on
real, messy logs), which bounds them; flowtuples are decoded by `fastavro` (most of their time: its per-record
dicts); Dionaea's tables are read with one SQL query each.
Zeek rows kept exceed the connections where a session's SYN is split from the rest (docs/ingest.md).
Peak memory {peak_rss_gib():.2f} GiB.
"""
    write_section("readers", md, write=not args.no_write)


if __name__ == "__main__":
    main()
