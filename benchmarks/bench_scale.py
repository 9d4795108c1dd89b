"""Benchmark (section ``scale``): one simulated darknet day at telescope sizes /24, /20 and /16, stage by stage.

Each stage is the darkstack CLI run as its own process under ``/usr/bin/time -v`` (wall time, CPU time, peak
resident memory of that process alone): simulate, labels, snapshot, embed ds, embed igcngru, evaluate (3-NN
leave-one-out), stack (scenario D) and predict. The day's hosts, host–port edges and packets come from the
snapshot; the growth exponent of each stage's time against hosts and against edges is the least-squares slope
of log(CPU seconds) over the sizes measured. Results accumulate in ``ROOT/p<size>.json`` (one entry per stage,
replaced when re-run), so sizes and stages can be run separately, even at once, and the section is rebuilt from
every size's file.

    nice -n 10 .venv/bin/python benchmarks/bench_scale.py [--sizes 24,20,16] [--stages ...] [--thin 16:32]
        [--root /work/bench/scale] [--profile paper] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from _report import write_section

from darkstack.snapshot.tables import read_meta
from darkstack.workspace import Workspace

DAY = dt.date(2021, 12, 1)
SENSOR = "darknet"
STAGES = ("simulate", "labels", "snapshot", "embed-ds", "embed-igcngru", "evaluate", "stack", "predict")
DARKSTACK = str(Path(sys.executable).with_name("darkstack"))


def stage_command(stage: str, ws: Path, size: int, thin: int, profile: str, variants: list[str],
                  batching: str = "auto") -> list[str]:
    """The darkstack command line of ``stage`` on the workspace ``ws``."""
    w = ["-w", str(ws)]
    one_day = ["--test-days", "1", "--train-days", "0"]
    scenario = ",".join(f"{SENSOR}:{v}" for v in variants)
    return {
        "simulate": ["simulate", "--profile", profile, "--days", "1", "--start", DAY.isoformat(), "--prefix-len",
                     str(size), "--thin", str(thin), *w],
        "labels": ["labels", "--source", str(ws / "sim" / "labels.csv"), "--source",
                   str(ws / "sim" / "acknowledged_scanners.ipset"), *w],
        "snapshot": ["snapshot", "-s", SENSOR, "--force", *w],
        "embed-ds": ["embed", "-m", "ds", "-s", SENSOR, *w],
        "embed-igcngru": ["embed", "-m", "igcngru", "-s", SENSOR, "--batching", batching, *w],
        "evaluate": ["evaluate", "-s", SENSOR, *sum((["-v", v] for v in variants), []), *one_day, *w],
        "stack": ["stack", "--scenario", scenario, "--day", DAY.isoformat(), "--train-days", "0", "--no-figures", *w],
        "predict": ["predict", "--day", DAY.isoformat(), "--scenario", scenario, *w],
    }[stage]


def timed(command: list[str], log: Path) -> dict:
    """Run ``command`` under /usr/bin/time -v; its wall and CPU seconds, peak RSS (GiB) and exit status."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with open(log, "w") as out:
        rc = subprocess.run(["/usr/bin/time", "-v", DARKSTACK, *command], stdout=out, stderr=subprocess.STDOUT,
                            env=env).returncode
    text = log.read_text()

    def grab(label: str) -> str:
        return re.search(rf"{re.escape(label)}: (.+)", text).group(1).strip()

    clock = [float(x) for x in grab("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(x * 60 ** i for i, x in enumerate(reversed(clock)))
    cpu = float(grab("User time (seconds)")) + float(grab("System time (seconds)"))
    return {"rc": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "peak_gib": round(int(grab("Maximum resident set size (kbytes)")) / 1024**2, 3)}


def day_size(ws: Path) -> dict:
    """Hosts, host–port edges, packets and store records of the snapshot day."""
    workspace = Workspace(ws)
    counts = read_meta(workspace, SENSOR, DAY)["counts"]
    edges = pq.read_metadata(workspace.snapshot_dir(SENSOR, DAY) / "edges.parquet").num_rows
    store_bytes = sum(p.stat().st_size for p in (workspace.store_dir / SENSOR).rglob("*.parquet"))
    return {"hosts": counts["hosts_kept"], "edges": edges, "packets": counts["packets_read"],
            "records": counts["records_read"], "store_gib": round(store_bytes / 1024**3, 3)}


def exponent(x: list[float], y: list[float]) -> float | None:
    """Least-squares slope of log y over log x (None with fewer than two distinct points)."""
    if len(set(x)) < 2:
        return None
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def table(results: dict) -> str:
    sizes = sorted(results, key=int, reverse=True)
    lines = ["| size | thin | hosts | edges | packets | store records | store GiB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for s in sizes:
        d = results[s].get("day")
        if d:
            lines.append(f"| /{s} | {results[s]['thin']} | {d['hosts']:,} | {d['edges']:,} | {d['packets']:,} | "
                         f"{d['records']:,} | {d['store_gib']} |")
    lines += ["", "| stage | " + " | ".join(f"/{s} wall s · CPU s · GiB" for s in sizes)
              + " | exponent vs hosts | vs edges |", "|---|" + "---:|" * (len(sizes) + 2)]
    for stage in STAGES:
        cells, xs_h, xs_e, ys = [], [], [], []
        for s in sizes:
            r = results[s]["stages"].get(stage)
            if r is None:
                cells.append("not run")
                continue
            if r["rc"] != 0:
                cells.append(f"failed (exit {r['rc']})")
                continue
            batching = f" ({r['batching']} batch)" if r.get("batching", "auto") != "auto" else ""
            cells.append(f"{r['wall_s']:.1f} · {r['cpu_s']:.1f} · {r['peak_gib']:.2f}{batching}")
            if results[s].get("day"):
                xs_h.append(results[s]["day"]["hosts"])
                xs_e.append(results[s]["day"]["edges"])
                ys.append(max(r["cpu_s"], 0.01))
        fits = [exponent(xs_h, ys), exponent(xs_e, ys)]
        lines.append(f"| {stage} | " + " | ".join(cells) + " | "
                     + " | ".join("–" if f is None else f"{f:.2f}" for f in fits) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="24,20,16", help="Telescope prefix lengths (comma-separated).")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"Stages to run, from {', '.join(STAGES)}.")
    parser.add_argument("--thin", default="18:32,16:32", help="size:N pairs (comma-separated): --thin of that size's day "
                                                        "(every packet a row elsewhere).")
    parser.add_argument("--profile", default="paper", help="Simulator profile (paper: the papers' /24).")
    parser.add_argument("--root", type=Path, default=Path("/work/bench/scale"), help="Workspaces ROOT/p<size>/.")
    parser.add_argument("--batching", default="auto", choices=("auto", "full", "minibatch"),
                        help="i-GCN-GRU's embed.batching (docs/embeddings.md, Mini-batches).")
    parser.add_argument("--no-write", action="store_true", help="Print only; do not write BENCHMARKS.md.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}")
    thin = {int(k): int(v) for k, v in (pair.split(":") for pair in args.thin.split(",") if pair)}
    args.root.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        ws = args.root / f"p{size}"
        results_file = args.root / f"p{size}.json"
        entry = json.loads(results_file.read_text()) if results_file.exists() else {"stages": {}}
        entry["thin"] = thin.get(size, 1)
        if "simulate" in stages and ws.exists():
            shutil.rmtree(ws)
        for stage in STAGES:
            if stage not in stages:
                continue
            variants = ["ds"] + (["igcngru"] if entry["stages"].get("embed-igcngru", {}).get("rc") == 0 else [])
            started = time.strftime("%H:%M:%S")
            r = timed(stage_command(stage, ws, size, entry["thin"], args.profile, variants, args.batching),
                      args.root / f"p{size}-{stage}.log")
            r["variants"] = variants if stage in ("evaluate", "stack", "predict") else None
            if stage == "embed-igcngru":
                r["batching"] = args.batching
            entry["stages"][stage] = r
            print(f"/{size} {stage} (from {started}): {r}", flush=True)
            if stage == "snapshot" and r["rc"] == 0:
                entry["day"] = day_size(ws)
                print(f"/{size} day: {entry['day']}", flush=True)
            results_file.write_text(json.dumps(entry, indent=1))
    results = {f.stem[1:]: json.loads(f.read_text()) for f in args.root.glob("p*.json")}
    markdown = (
        f"One simulated day (`{args.profile}` profile, {DAY}) of a "
        + ", ".join(f"/{s}" for s in sorted(results, key=int, reverse=True)) + " darknet "
        "(`darkstack simulate --prefix-len N`, docs/simulator.md § Telescope size; a day with `thin` > 1 written "
        "with `--thin`, docs/simulator.md § Thinned days), every stage a separate darkstack process under "
        "`/usr/bin/time -v` (wall seconds · CPU seconds · peak resident GiB of that process). Hosts: kept by the "
        "5-packet filter; edges: host–port pairs after the top-2500 cut; packets: read by the snapshot. "
        "Exponents: least-squares slope of log(CPU seconds) against log(hosts) and log(edges) over the sizes "
        "measured (CPU time: the shared machine's load makes wall time noisy; each process's ~2–3 CPU-second start "
        "is included, so small stages show exponents below their asymptotic ones). evaluate/stack/predict use DS plus i-GCN-GRU where i-GCN-GRU ran (variants in "
        f"`{args.root}/p<size>.json`). The day is the simulation's first, so i-GCN-GRU's window holds this one "
        "snapshot and trains with no history: a later day's H = 5 window holds six, and its cost and memory grow "
        f"with the window's nodes and edges (up to ≈ 6×).\n\n{table(results)}\n\n"
        f"Load average of the shared 2-core machine when the section was written: {os.getloadavg()[0]:.1f} "
        "(11–15 during the runs of 2026-12-02: wall time is 3–15× the CPU time).\n\n"
        "Reproduce: `nice -n 10 .venv/bin/python benchmarks/bench_scale.py --sizes "
        + ",".join(sorted(results, key=int, reverse=True)) + " --thin "
        + (",".join(f"{k}:{v['thin']}" for k, v in results.items() if v["thin"] > 1) or '""') + "` "
        "(`--stages` and `--sizes` pick a subset; results accumulate in `ROOT/p<size>.json`)."
    )
    write_section("scale", markdown, write=not args.no_write)


if __name__ == "__main__":
    main()
