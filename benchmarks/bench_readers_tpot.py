"""Benchmark: the T-Pot reader's rate (records/s) per honeypot log type, p0f/fatt join included.

    .venv/bin/python benchmarks/bench_readers_tpot.py [--records 100000] [--fingerprints 20000] [--repeat 2]

Writes, in a temporary folder, one log per honeypot program with ``--records`` records each (generated from the
programs' record layouts, as T-Pot writes them, with distinct sources and ports), a p0f log of ``--fingerprints``
SYNs of those sources and a fatt log of as many client records, then times ``FORMATS["tpot"].read`` (best of
``--repeat``) on each log: reading, decoding, vectorised field checks and the fingerprint join. When the real
T-Pot folder (``../shared/data/real/tpot``) is present, its files are timed too (small files: fixed costs
dominate). Figures go to BENCHMARKS.md (section "readers-tpot").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import peak_rss_gib, write_section

from darkstack.ingest.formats import FORMATS, detect

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "tpot"
T0 = 1_654_041_600  # 2022-06-01 00:00 UTC


def _iso(t: float, zone: str = "Z") -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}" + zone


def _record(program: str, i: int, ip: str, port: int, t: float) -> list[dict] | str:
    """Records one connection of ``program`` logs (a list of objects, or a text line)."""
    ts = _iso(t)
    if program == "honeytrap":
        return [{"@timestamp": ts[:19] + "Z", "attack_connection": {
            "protocol": "tcp", "remote_ip": ip, "remote_port": port, "local_ip": "10.0.0.1", "local_port": 1000 + i % 5000,
            "payload": {"length": 16, "data_hex": b"GET / HTTP/1.1\r\n".hex() if i % 3 else ""}}}]
    if program == "dionaea":
        return [{"connection": {"protocol": "smbd", "transport": "tcp", "type": "accept"}, "dst_ip": "172.28.0.2",
                 "dst_port": 445, "src_ip": ip, "src_port": port, "timestamp": ts[:-1],
                 **({"credentials": {"username": ["sa"], "password": ["pw"]}} if i % 10 == 0 else {})}]
    if program == "adbhoney":
        s = f"s{i}"
        return [{"eventid": "adbhoney.session.connect", "src_ip": ip, "src_port": port, "dest_ip": "172.18.0.2",
                 "dest_port": "5555", "timestamp": ts, "session": s},
                {"eventid": "adbhoney.command.input", "src_ip": ip, "input": "id", "timestamp": ts, "session": s}]
    if program == "conpot":
        return [{"timestamp": ts[:-1], "id": f"c{i}", "src_ip": ip, "src_port": port, "dst_ip": "172.21.0.2",
                 "dst_port": 161, "data_type": "snmp", "request": {"oid": "1.3.6"}, "event_type": "SNMPv2 Get"}]
    if program == "heralding":
        return [{"timestamp": ts[:-1].replace("T", " "), "session_id": f"h{i}", "source_ip": ip, "source_port": port,
                 "destination_ip": "10.0.0.1", "destination_port": 110, "protocol": "pop3", "num_auth_attempts": 0,
                 "auth_attempts": []}]
    if program == "tanner":
        return [{"method": "GET", "path": f"/p{i}", "peer": {"ip": ip, "port": port}, "uuid": f"u{i}",
                 "timestamp": ts[:-1], "response_msg": {"response": {"message": {"detection": {"name": "index"}}}}}]
    if program == "ciscoasa":
        return f"{{'timestamp': '{ts[:-1]}', 'src_ip': '{ip}', 'payload_printable': '\"GET / HTTP/1.1\" 200 -'}}"
    if program == "citrix":
        return [{"asctime": ts[:-4].replace("T", " ").replace(".", ","), "levelname": "INFO",
                 "message": f"({ip}:{port}): GET Header: /vpn/{i}"}]
    if program == "mailoney":
        return [{"src_ip": ip, "src_port": port, "timestamp": ts, "data": "EHLO x", "smtp_input": []},
                {"src_ip": ip, "src_port": port, "timestamp": ts, "data": "MAIL FROM:<a@b>", "smtp_input": []}]
    if program == "ddospot":
        return [{"time": ts[:-1].replace("T", " "), "src_ip": ip, "src_port": port, "mode": "MONLIST", "req_size": 8,
                 "resp_size": 0, "req_pkt": "FwADKgAAAAA="}]
    if program in ("elasticpot", "ipphoney"):
        return [{"eventid": f"{program}.recon", "url": "/", "timestamp": ts, "src_ip": ip, "src_port": port,
                 "dst_port": 9200, "request": "GET", "dst_ip": "172.29.0.2"}]
    if program == "redis":
        return [{"action": a, "addr": f"{ip}:{port}", "time": ts[:19].replace("T", " ")}
                for a in ("NewConnect", "info", "Closed")]
    if program == "sentrypeer":
        return [{"app_name": "sentrypeer", "event_timestamp": ts[:-1].replace("T", " ") + "123", "transport_type": "UDP",
                 "source_ip": ip, "destination_ip": "192.168.48.2", "called_number": "900", "sip_method": "INVITE"}]
    raise ValueError(program)


PROGRAMS = ["honeytrap", "dionaea", "adbhoney", "conpot", "heralding", "tanner", "ciscoasa", "citrix", "mailoney",
            "ddospot", "elasticpot", "ipphoney", "redis", "sentrypeer"]


def write_folder(folder: Path, records: int, fingerprints: int, seed: int = 0) -> dict[str, tuple[Path, int]]:
    """One log per program (about ``records`` lines each) and p0f/fatt logs of the same sources."""
    rng = np.random.default_rng(seed)
    hosts = [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.integers(1, 255, (max(records // 20, 1), 4))]
    out = {}
    for program in PROGRAMS:
        path, lines = folder / f"{program}.log", 0
        with path.open("w") as fh:
            i = 0
            while lines < records:
                got = _record(program, i, hosts[i % len(hosts)], 1024 + i % 60000, T0 + i * 0.5)
                for item in [got] if isinstance(got, str) else got:
                    fh.write((item if isinstance(item, str) else json.dumps(item)) + "\n")
                    lines += 1
                i += 1
        out[program] = (path, lines)
    with (folder / "p0f.json").open("w") as fh:
        for i in range(fingerprints):
            fh.write(json.dumps({"timestamp": time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(T0 + i)), "mod": "syn",
                                 "client_ip": hosts[i % len(hosts)], "server_ip": "10.0.0.1", "client_port": 1024 + i % 60000,
                                 "server_port": 22, "subject": "cli", "raw_sig": "4:52+12:0:1460:mss*44,7:mss,sok,ts,nop,ws:df:0"}) + "\n")
    with (folder / "fatt.log").open("w") as fh:
        for i in range(fingerprints):
            fh.write(json.dumps({"timestamp": _iso(T0 + i * 0.5)[:-1], "sourceIp": hosts[i % len(hosts)], "destinationIp": "10.0.0.1",
                                 "sourcePort": str(1024 + i % 60000), "destinationPort": "22", "protocol": "ssh",
                                 "ssh": {"hassh": "abc"}}) + "\n")
    return out


def rate(path: Path, repeat: int) -> tuple[float, int, int]:
    """Best seconds to read ``path`` through its detected format, records read and rows kept."""
    form = detect(path)
    best, read, kept = float("inf"), 0, 0
    for _ in range(repeat):
        start = time.perf_counter()
        batches = list(form.read(path))
        best = min(best, time.perf_counter() - start)
        read, kept = sum(b.read for b in batches), sum(b.table.num_rows for b in batches)
    return best, read, kept


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--fingerprints", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    lines = ["| log | records | rows kept | seconds | records/s |", "|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for program, (path, _) in write_folder(Path(tmp), args.records, args.fingerprints).items():
            seconds, read, kept = rate(path, args.repeat)
            lines.append(f"| {program} (generated) | {read:,} | {kept:,} | {seconds:.2f} | {read / seconds:,.0f} |")
    if REAL.is_dir():
        for path in sorted(REAL.iterdir()):
            seconds, read, kept = rate(path, args.repeat)
            lines.append(f"| `{path.name}` (real) | {read:,} | {kept:,} | {seconds:.3f} | {read / seconds:,.0f} |")
    command = (f"`PYTHONPATH=src .venv/bin/python benchmarks/bench_readers_tpot.py --records {args.records} "
               f"--fingerprints {args.fingerprints} --repeat {args.repeat}`")
    write_section("readers-tpot", "## T-Pot reader: records/s per honeypot log\n\n"
                  f"{command}. Each generated log sits beside a p0f log and a fatt log of {args.fingerprints:,} "
                  "records, so the rates include the fingerprint join (read once per folder, then cached). "
                  "Lines are decoded one by one (`json.loads`; Python-dict lines through `ast.literal_eval`); "
                  "times, addresses, ports and protocols are checked vectorised (pyarrow), the join is "
                  "`pandas.merge_asof`.\n\n" + "\n".join(lines) + f"\n\nPeak memory {peak_rss_gib():.2f} GiB; load average while measuring "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work shares them: rates scale with it).")


if __name__ == "__main__":
    main()
