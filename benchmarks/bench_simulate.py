"""Benchmark: the full ``paper`` profile (31 days) — run time, peak memory, and Table 2 calibration.

Writes the workspace to /work/bench/paper (kept for the other stages' benchmarks; override with
``--workspace``) and the section "simulate" of BENCHMARKS.md.

    nice -n 10 .venv/bin/python benchmarks/bench_simulate.py [--workspace DIR] [--realism-days 11]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import peak_rss_gib, write_section
from simulate_realism import host_features, knn_macro_f1

from darkstack.simulate import simulate
from darkstack.simulate.measure import (
    class_stats,
    compare,
    published_labels,
    sensor_overlap,
)
from darkstack.simulate.profiles import TABLE2, TABLE2_TOTAL
from darkstack.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", default="/work/bench/paper")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--realism-days", type=int, default=11, help="last days scored by the DS 3-NN check (0: skip)")
    args = ap.parse_args()
    ws = Workspace(args.workspace)
    began, cpu_began = time.perf_counter(), time.process_time()
    summary = simulate(ws, "paper", days=31, seed=args.seed)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    load = os.getloadavg()[0]
    peak = peak_rss_gib()
    dark, hp = sum(summary["darknet"].values()), sum(summary["honeypot"].values())

    stats = class_stats(ws)
    cmp = compare(stats).pivot(index="class", columns="figure", values=["target", "measured", "ratio"])
    rows = ["| class | month hosts (T2 / sim) | hosts/day (T2 / sim) | ports/day (T2 / sim) | packets/day (T2 / sim) |",
            "|---|---|---|---|---|"]
    for cls, t in [*TABLE2.items(), ("total", TABLE2_TOTAL)]:
        m = stats.loc[cls] if cls in stats.index else None
        cells = [f"{t.month_hosts:,} / {int(m['month_hosts']) if m is not None else 0:,}"]
        for fig, target in (("hosts", t.daily_hosts), ("ports", t.daily_ports), ("packets", t.daily_packets)):
            got = float(m[fig]) if m is not None else 0.0
            cells.append(f"{target:,.0f} / {got:,.0f} ({got / target - 1:+.0%})")
        rows.append(f"| {cls} | " + " | ".join(cells) + " |")
    worst = cmp["ratio"].loc[[c for c in TABLE2 if c not in ("ipip", "umich")]].sub(1).abs().max().max()

    last = ws.store_days("darknet")[-11:]
    overlap = {k: np.mean([sensor_overlap(ws, d)[k] for d in last]) for k in ("darknet", "honeypot", "both", "union")}

    realism = ""
    if args.realism_days:
        labels = published_labels(ws)
        scores = [knn_macro_f1(*host_features(ws, day, labels))[0]
                  for day in ws.store_days("darknet")[-args.realism_days:]]
        realism = (f"\nDS-realism check (37 host features, standardised, 3-NN cosine leave-one-out on the last "
                   f"{args.realism_days} days, `benchmarks/simulate_realism.py`): macro-F1 "
                   f"{np.mean(scores):.3f} ± {np.std(scores, ddof=1):.3f}.\n")
    md = "\n".join([
        "## Simulator: full `paper` profile (31 days)",
        "",
        f"`nice -n 10 .venv/bin/python benchmarks/bench_simulate.py` → workspace `{ws.root}`.",
        "",
        (f"- run time **{seconds:.0f} s** wall (target < 180 s), {cpu:.0f} s CPU (both threads), "
         f"peak memory {peak:.2f} GiB; machine load average {load:.1f} on {os.cpu_count()} cores during the run"),
        (f"- darknet {dark:,} packets ({dark / 31:,.0f}/day), honeypot {hp:,} sessions "
         f"({hp / max(dark, 1):.0%} of the darknet volume), {summary['hosts']:,} hosts in the world"),
        (f"- sensors (last 11 days, TCP SYN, ≥ 5 a day): {overlap['darknet']:,.0f} darknet and "
         f"{overlap['honeypot']:,.0f} honeypot hosts/day, {overlap['both'] / overlap['union']:.0%} of them on both "
         f"(stacking paper Table 1: 52 %)"),
        (f"- per-class daily averages vs Table 2 (labelled view, TCP, hosts with ≥ 5 packets that day): "
         f"largest deviation {worst:.0%} over the 15 Table-2 rows (ipip and umich are our own estimates)"),
        "",
        *rows,
        realism,
    ])
    write_section("simulate", md)


if __name__ == "__main__":
    main()
