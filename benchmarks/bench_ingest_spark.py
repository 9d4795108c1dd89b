"""Benchmark: ingesting many capture files with the embedded engine and with Spark (``--engine spark``).

    .venv/bin/python benchmarks/bench_ingest_spark.py [--files 8] [--packets 500000] [--master local[2]]

Writes ``--files`` pcaps of ``--packets`` darknet-like packets each (``bench_ingest.darknet_like``, one hour of a
day each), then ingests them into a fresh workspace with each engine: embedded, Spark with its Python workers still
to start (the first call of a session) and Spark again with them running (a session that ingests again). The
Spark session's own start-up is timed apart. CPU is that of this process and every process under it (the JVM and
Spark's Python workers). The stores are checked to be equal file for file. Figures go to BENCHMARKS.md (section
"ingest-spark").
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section
from bench_ingest import darknet_like

from darkstack.ingest import IngestSettings, ingest
from darkstack.ingest.pcap import write_pcap
from darkstack.snapshot.spark_engine import SparkEngine
from darkstack.workspace import Workspace

HOUR_US = 3_600_000_000


def cpu_seconds() -> float:
    """User + system CPU of this process and all processes under it."""
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def store_files(ws: Workspace) -> dict[str, bytes]:
    return {str(p.relative_to(ws.root)): p.read_bytes() for p in sorted(ws.store_dir.rglob("*.parquet"))}


def timed_ingest(root: Path, files: list[Path], settings: IngestSettings) -> tuple[float, float, int, Workspace]:
    ws = Workspace(root)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    report = ingest(ws, files, "darknet", settings=settings)
    return time.perf_counter() - t0, cpu_seconds() - cpu0, report.kept, ws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--packets", type=int, default=500_000, help="packets per file")
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-spark-"))
    try:
        files = []
        for i in range(args.files):
            table = darknet_like(args.packets, seed=i)
            us = table.column("ts").cast(pa.int64()).to_numpy()
            us = us[0] + (us - us[0]) // 24 + i * HOUR_US  # the day's traffic squeezed into hour i
            table = table.set_column(0, "ts", pa.array(us).cast(pa.timestamp("us", tz="UTC")))
            files.append(tmp / "in" / f"hour-{i:02d}.pcap")
            files[-1].parent.mkdir(parents=True, exist_ok=True)
            write_pcap(table, files[-1])
        size_mib = sum(f.stat().st_size for f in files) / 2**20
        rows = {}
        rows["embedded"] = timed_ingest(tmp / "embedded", files, IngestSettings())
        t0 = time.perf_counter()
        session = SparkEngine(master=args.master, app="bench-ingest-spark")
        start_s = time.perf_counter() - t0
        on_spark = IngestSettings(engine="spark", spark_master=args.master)
        try:
            rows[f"spark {args.master}, first call"] = timed_ingest(tmp / "spark-cold", files, on_spark)
            rows[f"spark {args.master}, workers running"] = timed_ingest(tmp / "spark-warm", files, on_spark)
        finally:
            session.spark.stop()
        reference = store_files(rows["embedded"][3])
        assert all(store_files(ws) == reference for *_, ws in rows.values()), "the stores differ"
        packets = args.files * args.packets
        lines = [
            f"{args.files} pcap files × {args.packets:,} packets ({packets:,} packets, {size_mib:,.0f} MiB), "
            f"one store day; Spark session start-up {start_s:.1f} s, not included below. The stores are equal file for "
            f"file. CPU: this process and every process under it (JVM, Python workers). Load average {load:.1f} at the "
            f"start on {os.cpu_count()} cores (a shared machine: the figures move with its load).",
            "",
            "| engine | wall s | files/s | M packets/s wall | CPU s | M packets per CPU-second |",
            "|---|---|---|---|---|---|",
        ]
        for name, (wall, cpu, kept, _) in rows.items():
            assert kept == packets, (name, kept)
            lines.append(f"| {name} | {wall:.2f} | {args.files / wall:.2f} | {packets / wall / 1e6:.2f} | {cpu:.2f} | "
                         f"{packets / cpu / 1e6:.2f} |")
        lines += ["", f"`.venv/bin/python benchmarks/bench_ingest_spark.py --files {args.files} --packets {args.packets} "
                      f"--master '{args.master}'`"]
        write_section("ingest-spark", "\n".join(lines))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
