"""Benchmark (section ``scale``): one simulated darknet day at telescope sizes /24, /20 and /16, stage by stage.

Each stage is the darkstack CLI run as its own process under ``/usr/bin/time -v`` (wall time, CPU time, peak
resident memory of that process alone): simulate, labels, snapshot, embed ds, embed igcngru, evaluate (3-NN
leave-one-out), stack (scenario D) and predict. The day's hosts, host–port edges and packets come from the
snapshot; the growth exponent of each stage's time against hosts and against edges is the least-squares slope
of log(CPU seconds) over the sizes measured. Results accumulate in ``ROOT/p<size>.json`` (one entry per stage,
replaced when re-run), so sizes and stages can be run separately, even at once, and the section is rebuilt from
every size's file. With ``--days N`` (and ``--scale``) a run spans N days (``ROOT/p<size>-<N>d-x<scale>.json``):
every day is simulated, snapshot and embedded, evaluate/stack/predict run on the last, and the section adds a
"Several days" table.

    nice -n 10 .venv/bin/python benchmarks/bench_scale.py [--sizes 24,20,16] [--stages ...] [--thin 16:32]
        [--days 7 --scale 1.5] [--stage-limit S] [--root /work/bench/scale] [--profile paper] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
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


def last_day(days: int) -> dt.date:
    """The day evaluate, stack and predict measure: the simulation's last (its GNN window the fullest)."""
    return DAY + dt.timedelta(days=days - 1)


def run_name(size: int, days: int, scale: float) -> str:
    """The workspace / results name of a run: ``p16`` for one day at scale 1, else e.g. ``p16-7d-x1.5``."""
    return f"p{size}" if (days, scale) == (1, 1.0) else f"p{size}-{days}d-x{scale:g}"


def stage_command(stage: str, ws: Path, size: int, thin: int, profile: str, variants: list[str],
                  batching: str = "auto", days: int = 1, scale: float = 1.0) -> list[str]:
    """The darkstack command line of ``stage`` on the workspace ``ws``: every day is simulated, snapshot and
    embedded; evaluate, stack and predict run on the last day."""
    w = ["-w", str(ws)]
    one_day = ["--test-days", "1", "--train-days", "0"]
    scenario = ",".join(f"{SENSOR}:{v}" for v in variants)
    day = last_day(days).isoformat()
    return {
        "simulate": ["simulate", "--profile", profile, "--days", str(days), "--start", DAY.isoformat(),
                     "--prefix-len", str(size), "--thin", str(thin), "--scale", f"{scale:g}", *w],
        "labels": ["labels", "--source", str(ws / "sim" / "labels.csv"), "--source",
                   str(ws / "sim" / "acknowledged_scanners.ipset"), *w],
        "snapshot": ["snapshot", "-s", SENSOR, "--force", *w],
        "embed-ds": ["embed", "-m", "ds", "-s", SENSOR, *w],
        "embed-igcngru": ["embed", "-m", "igcngru", "-s", SENSOR, "--batching", batching, *w],
        "evaluate": ["evaluate", "-s", SENSOR, *sum((["-v", v] for v in variants), []), *one_day, *w],
        "stack": ["stack", "--scenario", scenario, "--day", day, "--train-days", "0", "--no-figures", *w],
        "predict": ["predict", "--day", day, "--scenario", scenario, *w],
    }[stage]


def timed(command: list[str], log: Path, limit: float | None = None) -> dict:
    """Run ``command`` under /usr/bin/time -v; its wall and CPU seconds, peak RSS (GiB) and exit status. After
    ``limit`` seconds the command is sent SIGTERM (``/usr/bin/time`` still reports it) and marked stopped."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    stopped = False
    with open(log, "w") as out:
        timer = subprocess.Popen(["/usr/bin/time", "-v", DARKSTACK, *command], stdout=out, stderr=subprocess.STDOUT,
                                 env=env)
        try:
            rc = timer.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            stopped = True
            for child in Path(f"/proc/{timer.pid}/task/{timer.pid}/children").read_text().split():
                os.kill(int(child), signal.SIGTERM)
            rc = timer.wait()
    text = log.read_text()

    def grab(label: str) -> str:
        return re.search(rf"{re.escape(label)}: (.+)", text).group(1).strip()

    clock = [float(x) for x in grab("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(x * 60 ** i for i, x in enumerate(reversed(clock)))
    cpu = float(grab("User time (seconds)")) + float(grab("System time (seconds)"))
    result = {"rc": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
              "peak_gib": round(int(grab("Maximum resident set size (kbytes)")) / 1024**2, 3)}
    return {**result, "stopped_after_s": limit} if stopped else result


def day_size(ws: Path, day: dt.date = DAY) -> dict:
    """Hosts, host–port edges, packets and store records of the snapshot ``day`` (the store: every day)."""
    workspace = Workspace(ws)
    counts = read_meta(workspace, SENSOR, day)["counts"]
    edges = pq.read_metadata(workspace.snapshot_dir(SENSOR, day) / "edges.parquet").num_rows
    store_bytes = sum(p.stat().st_size for p in (workspace.store_dir / SENSOR).rglob("*.parquet"))
    return {"hosts": counts["hosts_kept"], "edges": edges, "packets": counts["packets_read"],
            "records": counts["records_read"], "store_gib": round(store_bytes / 1024**3, 3)}


def embed_seconds(ws: Path, variant: str) -> dict[str, float]:
    """Seconds each day took in the embed stage (its run.json; training and embedding of that day)."""
    path = Workspace(ws).embedding_dir(SENSOR, variant) / "run.json"
    if not path.exists():
        return {}
    log = json.loads(path.read_text())
    return {day: round(entry.get("seconds", 0.0), 2) for day, entry in sorted(log["days"].items())}


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


def longer_table(runs: dict) -> str:
    """Runs over several days (or at another --scale): each stage's process over every day; hosts and edges
    of the last day, on which evaluate, stack and predict run and whose i-GCN-GRU window is the fullest."""
    lines = []
    for name, r in sorted(runs.items()):
        d, days = r.get("day", {}), r["days"]
        lines += [f"**{name}**: /{r['size']}, {days} days from {DAY}, `--scale {r['scale']:g}`, thin {r['thin']}; "
                  f"last day {last_day(days)}: {d.get('hosts', 0):,} hosts, {d.get('edges', 0):,} edges, "
                  f"store {d.get('store_gib', '?')} GiB for all days.", "",
                  "| stage | wall s | CPU s | peak GiB | per day |", "|---|---:|---:|---:|---|"]
        for stage in STAGES:
            x = r["stages"].get(stage)
            if x is None:
                lines.append(f"| {stage} | not run | | | |")
                continue
            stopped = x.get("stopped_after_s")
            if x["rc"] != 0 and not stopped:
                lines.append(f"| {stage} | failed (exit {x['rc']}) | | | |")
                continue
            per_day = x.get("seconds_per_day")
            note = ("; ".join(f"{k[5:]} {v:.0f} s" for k, v in per_day.items()) if per_day
                    else "last day only" if stage in ("evaluate", "stack", "predict") else "all days")
            batching = f" ({x['batching']} batch)" if x.get("batching", "auto") != "auto" else ""
            if stopped:
                note = f"stopped after {stopped:.0f} s, {len(per_day or {})} of {days} days done: {note}"
            lines.append(f"| {stage}{batching} | {x['wall_s']:.1f} | {x['cpu_s']:.1f} | {x['peak_gib']:.2f} | {note} |")
        lines.append("")
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
    parser.add_argument("--days", type=int, default=1, help="Days to simulate; evaluate, stack and predict run on "
                        "the last (results ROOT/p<size>-<days>d-x<scale>.json unless 1 day at scale 1).")
    parser.add_argument("--scale", type=float, default=1.0, help="Simulator --scale (host numbers ×).")
    parser.add_argument("--stage-limit", type=float, default=None, help="Stop a stage after this many seconds "
                        "(SIGTERM; its figures so far are kept and the stage is marked stopped).")
    parser.add_argument("--no-write", action="store_true", help="Print only; do not write BENCHMARKS.md.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}")
    thin = {int(k): int(v) for k, v in (pair.split(":") for pair in args.thin.split(",") if pair)}
    args.root.mkdir(parents=True, exist_ok=True)
    last = last_day(args.days)
    for size in sizes:
        name = run_name(size, args.days, args.scale)
        ws, results_file = args.root / name, args.root / f"{name}.json"
        entry = json.loads(results_file.read_text()) if results_file.exists() else {"stages": {}}
        entry.update(thin=thin.get(size, 1), size=size, days=args.days, scale=args.scale)
        if "simulate" in stages and ws.exists():
            shutil.rmtree(ws)
        for stage in STAGES:
            if stage not in stages:
                continue
            variants = ["ds"] + (["igcngru"] if entry["stages"].get("embed-igcngru", {}).get("rc") == 0 else [])
            started = time.strftime("%H:%M:%S")
            r = timed(stage_command(stage, ws, size, entry["thin"], args.profile, variants, args.batching,
                                    args.days, args.scale), args.root / f"{name}-{stage}.log", args.stage_limit)
            r["variants"] = variants if stage in ("evaluate", "stack", "predict") else None
            if stage == "embed-igcngru":
                r["batching"] = args.batching
                if r["rc"] == 0 or "stopped_after_s" in r:
                    r["seconds_per_day"] = embed_seconds(ws, "igcngru")
            entry["stages"][stage] = r
            print(f"{name} {stage} (from {started}): {r}", flush=True)
            if stage == "snapshot" and r["rc"] == 0:
                entry["day"] = day_size(ws, last)
                print(f"{name} day {last}: {entry['day']}", flush=True)
            results_file.write_text(json.dumps(entry, indent=1))
    runs = {f.stem: json.loads(f.read_text()) for f in args.root.glob("p*.json")}
    results = {name[1:]: r for name, r in runs.items() if name[1:].isdigit()}
    longer = {name: r for name, r in runs.items() if not name[1:].isdigit()}
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
    if longer:
        markdown += (
            "\n\n### Several days\n\nThe same stages over a simulated week (each stage one process over every "
            "day; evaluate, stack and predict on the last day, whose i-GCN-GRU window holds H + 1 = 6 snapshots). "
            "`per day`: the seconds embed's run.json gives each day (training plus embedding).\n\n"
            + longer_table(longer)
            + "\nReproduce: " + "; ".join(
                f"`nice -n 10 .venv/bin/python benchmarks/bench_scale.py --sizes {r['size']} --days {r['days']} "
                f"--scale {r['scale']:g} --thin {r['size']}:{r['thin']}`" for r in longer.values()) + "."
        )
    write_section("scale", markdown, write=not args.no_write)


if __name__ == "__main__":
    main()
