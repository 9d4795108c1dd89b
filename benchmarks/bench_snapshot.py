"""Benchmark: the 31 daily snapshots of the `paper` profile month (~62M darknet packets) on DuckDB.

Goal (issue 4): <= 60 s on 2 cores, <= 4 GiB peak memory. Reads the store of an existing paper-profile
workspace (default /work/bench/paper, through a symlink, so its own snapshots are untouched); when
absent or incomplete, simulates one first in a separate process (not timed, not counted in the memory peak).

    .venv/bin/python benchmarks/bench_snapshot.py [--store-workspace PATH] [--threads 2]

``--days-of WS …`` instead times ``darkstack snapshot --force`` on the store of each one-day workspace (the
/24, /20 and /16 days of ``bench_scale.py``) in a child process: CPU seconds, wall time, peak memory and load;
with ``--before-src DIR`` (an older ``src/``, e.g. ``git archive <commit> src | tar -x -C DIR``) it times that
code too and checks that both give the same tables (section ``snapshot-scale``).
"""

from __future__ import annotations

import argparse
import json
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
STD_COLUMNS = [f"f{i:02d}" for i in (5, 11, 16, 21, 26, 31, 36)]
"""The sample standard deviations: sums of floats whose order DuckDB's threads choose, so they may differ in the
last bits from run to run; every other column is exact."""


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


def time_snapshot(source: Path, out: Path, src: Path, threads: int) -> dict:
    """``darkstack snapshot --force`` on ``source``'s store (a symlink in the fresh workspace ``out``) with the
    code under ``src``, in a child process: its CPU seconds, wall time, peak memory, the load at its end, the
    day's counts and the snapshot folder."""
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "store").exists():
        os.symlink(source.resolve() / "store", out / "store")
    cli = [str(Path(sys.executable).with_name("darkstack")), "snapshot", "-s", "darknet", "--force", "-w", str(out),
           "--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    t0 = time.perf_counter()
    child = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cli)} failed (PYTHONPATH={src})")
    day = sorted((out / "snapshots" / "darknet").glob("day=*"))[-1]
    meta = json.loads((day / "meta.json").read_text())
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall, "peak": usage.ru_maxrss / 1024**2,
            "load": os.getloadavg()[0], "counts": meta["counts"], "edges": meta["rows"]["edges"], "day": day}


def same_tables(a: Path, b: Path) -> str:
    """How two snapshot folders compare: files byte for byte, else tables with the std columns' largest
    relative difference (every other column must be equal)."""
    import numpy as np
    import pyarrow.parquet as pq

    names = ("edges", "host_features", "port_features", "corpus")
    differ = [n for n in names if (a / f"{n}.parquet").read_bytes() != (b / f"{n}.parquet").read_bytes()]
    worst = 0.0
    for n in differ:
        x, y = pq.read_table(a / f"{n}.parquet"), pq.read_table(b / f"{n}.parquet")
        exact = [c for c in x.column_names if c not in STD_COLUMNS]
        if x.num_rows != y.num_rows or not x.select(exact).equals(y.select(exact)):
            return f"**{n} differs**"
        for c in STD_COLUMNS:
            u, v = x.column(c).to_numpy(), y.column(c).to_numpy()
            worst = max(worst, float(np.max(np.abs(u - v) / np.maximum(np.abs(u), 1e-300), initial=0.0)))
    if not differ:
        return "byte-identical"
    return f"{', '.join(differ)}: std ≤ {worst:.1e} relative, the rest equal; others byte-identical"


def scale_section(args) -> None:
    """Old and new code on one-day workspaces, section ``snapshot-scale`` rewritten after each run."""
    runs = [("before", args.before_src)] if args.before_src else []
    runs.append(("after", Path(__file__).resolve().parents[1] / "src"))
    rows, done = [], {}
    for ws in args.days_of:
        for label, src in runs:
            r = time_snapshot(ws, args.out_dir / f"{ws.name}-{label}", src, args.threads)
            done[ws.name, label] = r
            c = r["counts"]
            before = done[ws.name, "before"]["day"] if args.before_src else ws / "snapshots" / "darknet" / r["day"].name
            check = same_tables(before, r["day"]) if label == "after" else ""
            rows.append(f"| `{ws.name}` | {label} | {c['records_read']:,} / {c['packets_read']:,} | {c['hosts_kept']:,} | "
                        f"{r['edges']:,} | **{r['cpu']:.1f}** | {r['wall']:.1f} | {r['peak']:.2f} | {r['load']:.1f} | {check} |")
            print(rows[-1], flush=True)
            write_section("snapshot-scale", f"""## Snapshot of one /24, /20 and /16 day, before and after the one-pass rewrite

`darkstack snapshot -s darknet --force --threads {args.threads}` (memory limit 3GB) in a child process on the
store of each `bench_scale.py` day workspace; *tables* compares the *after* snapshot with the *before* one
({"the code at `" + args.before_label + "`" if args.before_src else "the snapshot the workspace holds, from `bench_scale.py`"}).
CPU seconds are the comparable figure (the 2 cores were shared; load = 1-minute load average at the end of the run).

| day | code | records / packets read | hosts kept | edges | CPU s | wall s | peak GiB | load | tables |
|---|---|---:|---:|---:|---:|---:|---:|---:|---|
{chr(10).join(rows)}

Reproduce: `nice -n 10 .venv/bin/python benchmarks/bench_snapshot.py --days-of {' '.join(str(w) for w in args.days_of)}`
(with `--before-src OLD/src` after `git archive {args.before_label} src | tar -x -C OLD` to time the older code too).
""", write=not args.no_write)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-workspace", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--days-of", type=Path, nargs="+", help="One-day workspaces to time instead (see above).")
    parser.add_argument("--before-src", type=Path, help="With --days-of: an older src/ to time and compare.")
    parser.add_argument("--before-label", default="da8af1d", help="What --before-src is (named in the section).")
    parser.add_argument("--out-dir", type=Path, default=Path("/work/bench/snapfast/bench"))
    parser.add_argument("--no-write", action="store_true", help="Print the section without storing it.")
    parser.add_argument("--sensor", default="darknet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GB")
    args = parser.parse_args()
    if args.days_of:
        scale_section(args)
        return

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
