"""The export's honeypot-activity summary (docs/export.md#honeypot-activity): run time on generated events and on the
real T-Pot day, section ``export-activity``.

Generated: ``--events`` events of ``--hosts`` hosts, each a random kind and random usernames, passwords and details
drawn from 20,000 strings of 6 to 306 characters (every host many distinct strings: a worst case for the top-N).
Real: every source of the T-Pot sample's 2022-06-01 (Cowrie and Honeytrap logs ingested), when
``../shared/data/real`` is present.
    nice -n 10 .venv/bin/python benchmarks/bench_export_activity.py [--events 1000000] [--hosts 50000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from _report import peak_rss_gib, write_section

from darkstack import store
from darkstack.export.activity import honeypot_activity
from darkstack.export.hosts import clean_text
from darkstack.export.settings import ExportSettings
from darkstack.ingest import ingest
from darkstack.schema import EVENT_KINDS
from darkstack.workspace import Workspace

REAL_TPOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "tpot"
REAL_DAY = dt.date(2022, 6, 1)


def _measure(ws: Workspace, ips: np.ndarray, day: dt.date) -> tuple[float, float, int]:
    """CPU-seconds of the summary, CPU-seconds of cleaning its strings, and how many strings it kept."""
    settings = ExportSettings()
    start = time.process_time()
    found = honeypot_activity(ws, ips, ["honeypot"], day, settings.top_strings, settings.max_string_length)
    query = time.process_time() - start
    start = time.process_time()
    kept = [clean_text(p["value"]) for lists in found.values() for pairs in lists for p in pairs]
    return query, time.process_time() - start, len(kept)


def generated(root: Path, events: int, hosts: int) -> str:
    rng = np.random.default_rng(0)
    ws = Workspace(root / "generated")
    day = dt.date(2022, 6, 1)
    words = np.array([f"s{i}-" + "x" * (i % 300) for i in range(20_000)])
    start_us = int(dt.datetime(2022, 6, 1, 12, tzinfo=dt.UTC).timestamp() * 1e6)
    table = pa.table({
        "ts": pa.array(np.full(events, start_us), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "src_ip": pa.array(rng.integers(1, hosts + 1, events).astype(np.uint32)),
        "event": pa.array(np.array(EVENT_KINDS)[rng.integers(0, 6, events)]),
        **{c: pa.array(words[rng.integers(0, len(words), events)]) for c in ("username", "password", "detail")},
    })  # fmt: skip
    store.write_events(ws, "honeypot", table, part="generated")
    query, cleaning, kept = _measure(ws, np.arange(1, hosts + 1, dtype=np.uint32), day)
    return f"| generated | {events:,} | {hosts:,} | {kept:,} | {query:.1f} | {cleaning:.1f} |"


def real(root: Path) -> str | None:
    files = [REAL_TPOT / f"cowrie.json.{REAL_DAY}", REAL_TPOT / f"honeytrap_attackers.{REAL_DAY}.json"]
    if not all(f.exists() for f in files):
        print(f"real T-Pot logs not found in {REAL_TPOT}: real row left out")
        return None
    ws = Workspace(root / "real")
    ingest(ws, files, "honeypot")
    events = store.read_events(ws, "honeypot", REAL_DAY)
    ips = np.unique(events.column("src_ip").to_numpy()).astype(np.uint32)
    query, cleaning, kept = _measure(ws, ips, REAL_DAY)
    return f"| T-Pot {REAL_DAY} (Cowrie, Honeytrap) | {events.num_rows:,} | {len(ips):,} | {kept:,} | {query:.2f} | {cleaning:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [generated(Path(tmp), args.events, args.hosts), real(Path(tmp))]
    table = "\n".join(r for r in rows if r)
    write_section("export-activity", f"""## Export: honeypot activity per host

What `darkstack export` adds per host and day (counts per event kind, the 5 most frequent usernames, passwords,
commands, downloads and web requests, cut at 200 characters; the defaults). CPU-seconds of this process
(DuckDB's threads included), one run each.

| events of | events | hosts | values kept | summary (DuckDB), CPU-s | cleaning the strings, CPU-s |
|---|---:|---:|---:|---:|---:|
{table}

Peak memory {peak_rss_gib():.2f} GiB. Reproduce: `nice -n 10 .venv/bin/python benchmarks/bench_export_activity.py --events {args.events} --hosts {args.hosts}`.
""")


if __name__ == "__main__":
    main()
