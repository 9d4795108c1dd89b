"""Benchmark the embedding stage on a month of snapshots: wall time and peak memory of i-GCN-GRU
(H = 5, 1 epoch/day, with node features; fp32 as the paper, and bf16) and of i-DarkVec (the papers' per-port
sentences, and DarkVec's hourly ones; 1 worker = deterministic, 2 workers), each in a fresh process.

    nice -n 10 .venv/bin/python benchmarks/bench_embed.py [--workspace /work/bench/paper] [--sensor darknet]
        [--runs idarkvec:hourly:2:file,...] [--until YYYY-MM-DD] [--name embed]

i-DarkVec runs name their corpus reader last (``memory``, the default, or ``file``: gensim's corpus_file mode).

Goals (issue 5): i-GCN-GRU ≤ 69 s (the paper's V100 figure), i-DarkVec ≤ 74 s, peak memory ≤ 4 GiB.
The variants are written as ``bench-<method>`` and removed afterwards (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import peak_rss_gib, write_section

GOALS = {"igcngru": 69.0, "idarkvec": 74.0}
MEMORY_GOAL_GIB = 4.0


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(workspace: str, sensor: str, run: str, device: str, workers: int, threads: int | None, until: str | None) -> None:
    """Run one ``method[:option[:threads[:corpus]]]`` from scratch in this process and print its figures as JSON.
    ``option`` is the precision of a GNN or the sentences of i-DarkVec; ``threads`` are torch threads of a GNN
    or Word2Vec workers of i-DarkVec; ``corpus`` is i-DarkVec's reader (memory or file)."""
    from darkstack.embed import EmbedSettings, embed
    from darkstack.workspace import Workspace, parse_day

    method, option, own_threads, corpus = (run.split(":") + ["", "", ""])[:4]
    word2vec = method == "idarkvec"
    if own_threads and word2vec:
        workers = int(own_threads)
    elif own_threads:
        threads = int(own_threads)
    option = option or ("every" if word2vec else "fp32")
    ws = Workspace(Path(workspace))
    variant = f"bench-{method}"
    for folder in (ws.embedding_dir(sensor, variant), ws.model_dir(sensor, variant)):
        shutil.rmtree(folder, ignore_errors=True)
    choice = {"w2v_senders": option, "w2v_corpus": corpus or "memory"} if word2vec else {"precision": option}
    settings = EmbedSettings(workers=workers, keep_checkpoints=1, **choice)
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    last = parse_day(until) if until else None
    days = embed(ws, sensor, method, settings=settings, variant=variant, until=last, device=device, seed=0, threads=threads)
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    log = json.loads((ws.embedding_dir(sensor, variant) / "run.json").read_text())
    per_day = [d["seconds"] for d in log["days"].values()]
    print(
        json.dumps(
            {
                "method": method,
                "option": f"{option}, {choice['w2v_corpus']}" if word2vec else option,
                "days": len(days),
                "wall_s": wall,
                "cpu_s": cpu,
                "per_day_s": sum(per_day) / max(len(per_day), 1),
                "peak_gib": peak_rss_gib(),
                "device": log.get("last_run", {}).get("device", "cpu"),
                "threads": "-" if word2vec else log.get("last_run", {}).get("threads"),
                "workers": workers if word2vec else "-",
                "tokens": sum(d.get("tokens", 0) for d in log["days"].values()),
                "hosts_per_day": sum(d.get("hosts", 0) for d in log["days"].values()) / max(len(per_day), 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="/work/bench/paper")
    parser.add_argument("--sensor", default="darknet")
    parser.add_argument(
        "--runs",
        default="igcngru,igcngru:bf16,idarkvec,idarkvec:hourly,idarkvec:hourly:2,igcngru:fp32:1,igcngru:bf16:1",
        help="method[:precision|sentences[:torch threads|w2v workers]], comma-separated",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=1, help="i-DarkVec threads (1 = deterministic)")
    parser.add_argument("--threads", type=int, help="torch threads (default: every core)")
    parser.add_argument("--keep", action="store_true", help="keep the bench-<method> outputs")
    parser.add_argument("--until", help="embed the days up to this one only (YYYY-MM-DD)")
    parser.add_argument("--name", default="embed", help="BENCHMARKS.md section written")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.workspace, args.sensor, args.child, args.device, args.workers, args.threads, args.until)
        return
    rows = []
    for run in args.runs.split(","):
        method = run.partition(":")[0]
        cmd = [sys.executable, __file__, "--child", run, "--workspace", args.workspace, "--sensor", args.sensor]
        cmd += ["--device", args.device, "--workers", str(args.workers)]
        cmd += [] if args.threads is None else ["--threads", str(args.threads)]
        cmd += [] if args.until is None else ["--until", args.until]
        load = os.getloadavg()[0]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        result["load"] = load
        rows.append(result)
        if not args.keep:
            from darkstack.workspace import Workspace

            ws = Workspace(Path(args.workspace))
            for folder in (
                ws.embedding_dir(args.sensor, f"bench-{method}"),
                ws.model_dir(args.sensor, f"bench-{method}"),
            ):
                shutil.rmtree(folder, ignore_errors=True)
    lines = [
        (
            f"Embedding {f'the days up to {args.until}' if args.until else 'a month'}: `{args.workspace}`, sensor `{args.sensor}`, paper settings (i-GCN-GRU: H = 5, "
            "1 epoch/day, node features; i-DarkVec: sentences `every` = the papers' per-port sequences, `hourly` = "
            f"DarkVec's per port and hour; `file` = gensim's corpus_file reader), `python benchmarks/bench_embed.py "
            f"--workspace {args.workspace} --runs {args.runs}{f' --until {args.until}' if args.until else ''} --name {args.name}`. "
            "Input: the snapshots of a `paper`-profile "
            "workspace (`benchmarks/bench_simulate.py --workspace W`, then `darkstack snapshot -w W`; "
            "`bash benchmarks/paper_table3.sh W` builds them too)."
        ),
        "",
        (
            "| method | precision / sentences | device | torch threads | w2v workers | days | hosts/day | w2v tokens "
            "| wall (s) | CPU (s) | s/day | peak RSS (GiB) | goal (s) | load avg at start |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        goal = GOALS.get(r["method"], float("nan"))
        ok = "✓" if r["wall_s"] <= goal and r["peak_gib"] <= MEMORY_GOAL_GIB else "✗"
        verdict = "– (a month's goal)" if args.until else f"≤ {goal:.0f} {ok}"
        tokens = f"{r['tokens'] / 1e6:.1f} M" if r["tokens"] else "-"
        lines.append(
            f"| {r['method']} | {r['option']} | {r['device']} | {r['threads']} | {r['workers']} | {r['days']} "
            f"| {r['hosts_per_day']:.0f} | {tokens} | "
            f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['per_day_s']:.2f} | {r['peak_gib']:.2f} | {verdict} "
            f"| {r['load']:.1f} |"
        )
    lines.append("")
    lines.append(
        f"Peak memory goal ≤ {MEMORY_GOAL_GIB:.0f} GiB. Wall time includes reading snapshots, building graphs, "
        "writing embeddings and per-day checkpoints; CPU is the process's user + system time. The machine is "
        "shared: the load average (runnable processes on its 2 cores) says how busy it was."
    )
    write_section(args.name, "\n".join(lines))


if __name__ == "__main__":
    main()
