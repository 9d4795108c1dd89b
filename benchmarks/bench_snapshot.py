"""Benchmark: the 31 daily snapshots of the `paper` profile month (~62M darknet packets) on DuckDB.

Goal (issue 4): <= 60 s on 2 cores, <= 4 GiB peak memory. Reads the store of an existing paper-profile
workspace (default /work/bench/paper, through a symlink, so its own snapshots are untouched); when
absent or incomplete, simulates one first in a separate process (not timed, not counted in the memory peak).

    .venv/bin/python benchmarks/bench_snapshot.py [--store-workspace PATH] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

DEFAULT_STORE = Path("/work/bench/paper")


def simulate_store(root: Path) -> None:
    """Simulate the paper-profile month into ``root`` in a child process."""
    code = (
        "from darkstack.simulate import simulate; from darkstack.workspace import Workspace; "
        f"simulate(Workspace({str(root)!r}), profile='paper', days=31, seed=0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def is_complete(root: Path) -> bool:
    """A finished simulation: world.json (written last by the simulator) is newer than every store part."""
    world = root / "sim" / "world.json"
    parts = list((root / "store").glob("*/*/part-*.parquet"))
    return world.is_file() and bool(parts) and world.stat().st_mtime >= max(p.stat().st_mtime for p in parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-workspace", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--sensor", default="darknet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GB")
    args = parser.parse_args()

    from darkstack.snapshot import build_snapshots
    from darkstack.snapshot.tables import read_meta
    from darkstack.workspace import Workspace

    source = args.store_workspace
    generated = not is_complete(source)
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        if generated:
            source = Path(tmp) / "source"
            simulate_store(source)
        ws = Workspace(Path(tmp) / "ws")
        ws.root.mkdir(parents=True)
        os.symlink(source.resolve() / "store", ws.store_dir)
        t0, c0 = time.perf_counter(), time.process_time()
        days = build_snapshots(ws, args.sensor, threads=args.threads, memory_limit=args.memory_limit)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t1 = time.perf_counter()
        build_snapshots(ws, args.sensor, threads=args.threads, memory_limit=args.memory_limit)
        rerun = time.perf_counter() - t1
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        metas = [read_meta(ws, args.sensor, d) for d in days]
        total = {k: sum(m["counts"][k] for m in metas) for k in metas[0]["counts"]}
        per_day = sorted(m["seconds"] for m in metas)
        load = os.getloadavg()[0]
    origin = "simulated by this script (paper profile, seed 0)" if generated else f"`{args.store_workspace}`"
    ok = "yes" if wall <= 60 and peak <= 4 else "**no**"
    write_section(
        "snapshot",
        f"""## Snapshots (`darkstack snapshot`, DuckDB engine)

{len(days)} days of sensor `{args.sensor}` from {origin}; default settings (TCP, hosts >= 5 packets/day,
top 2500 ports), DuckDB threads = {args.threads}, memory limit {args.memory_limit}.

| measure | value |
|---|---|
| packets read / kept | {total["packets_read"]:,} / {total["packets_kept"]:,} |
| host-days kept (mean per day) | {total["hosts_kept"]:,} ({total["hosts_kept"] / len(days):,.0f}) |
| edges, corpus tokens | {sum(m["rows"]["edges"] for m in metas):,}, {total["corpus_tokens"]:,} |
| wall time, all days | **{wall:.1f} s** ({total["packets_read"] / wall / 1e6:.2f} M packets/s) |
| CPU time (all threads) | {cpu:.1f} s |
| per-day wall time: median / max | {per_day[len(per_day) // 2]:.2f} s / {per_day[-1]:.2f} s |
| re-run (every day up to date) | {rerun:.2f} s |
| peak resident memory | **{peak:.2f} GiB** |
| goal (<= 60 s, <= 4 GiB) met | {ok} |

Machine load average at the end of the run: {load:.1f} (the machine is shared).
Reproduce: `.venv/bin/python benchmarks/bench_snapshot.py --store-workspace PATH`. Input: the store of a
`paper`-profile workspace (`benchmarks/bench_simulate.py --workspace PATH`; the script simulates one itself
when PATH has none).
""",
    )


if __name__ == "__main__":
    main()
