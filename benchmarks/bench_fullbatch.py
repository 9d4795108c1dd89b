"""Benchmark full-batch i-GCN-GRU at /16 sizes (issue 14): peak memory and CPU time with the link loss taken in
chunks of pairs (``embed.link_chunk``, docs/embeddings.md), on a real simulated /16 day and on generated windows of
six snapshots (the H = 5 case), each run a fresh process.

    nice -n 10 .venv/bin/python benchmarks/bench_fullbatch.py [--day /work/bench/scale/p16] [--chunks 1048576]
        [--windows 70000,100000] [--threads 2] [--no-write]

* ``--day WS``: a workspace with snapshots (bench_scale.py builds one); ``darkstack embed -m igcngru --batching full``
  under ``/usr/bin/time -v`` (variant ``bench-fullbatch``, removed afterwards), once per ``--chunks`` value.
* ``--windows``: bench_minibatch.generated_window (6 days of N active hosts, ~10 N edges a day, 2,501 ports): one
  full-batch training step and the inference of every target-day host.
Sections ``fullbatch-day`` and ``fullbatch-windows``. Goal (issue 14): GNN memory ≤ 8 GiB on a /16 day.
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

VARIANT = "bench-fullbatch"


def child_window(n_hosts: int, chunk: int, threads: int) -> dict:
    """One full-batch i-GCN-GRU step (paper sizes, H = 5, features, fp32) and the inference of the target day on a
    generated 6-day window of ``n_hosts`` hosts a day; figures as a dict."""
    import numpy as np
    import torch
    from bench_minibatch import generated_window

    from darkstack.embed.models import DeviceGraph, build_model
    from darkstack.embed.settings import EmbedSettings
    from darkstack.embed.train import embed_hosts, link_step, new_optimizer
    from darkstack.embed.windows import build_day_graph, make_window

    torch.set_num_threads(threads)
    st = EmbedSettings()
    graphs = [build_day_graph(s, features=True) for s in generated_window(n_hosts)]
    window = make_window(graphs[-1], graphs)
    device = {g.day: DeviceGraph.build(g, torch.device("cpu")) for g in graphs}
    after_graphs = peak_rss_gib()
    torch.manual_seed(0)
    model = build_model("igcngru", True, st.hidden_dim, st.gcn_dim, st.embedding_dim, st.head_dim)
    optimizer = new_optimizer(model, st)
    started, cpu = time.perf_counter(), time.process_time()
    link_step(model, optimizer, window, device, np.random.default_rng(0), st.negatives, chunk)
    train_s, train_cpu, after_train = time.perf_counter() - started, time.process_time() - cpu, peak_rss_gib()
    started, cpu = time.perf_counter(), time.process_time()
    embed_hosts(model, window, device)
    return {
        "hosts": window.target.n_hosts,
        "edges": len(window.target.edge_host),
        "window_nodes": sum(g.n_nodes for g in graphs),
        "train_s": train_s,
        "train_cpu_s": train_cpu,
        "infer_s": time.perf_counter() - started,
        "infer_cpu_s": time.process_time() - cpu,
        "graphs_gib": after_graphs,
        "train_gib": after_train,
        "peak_gib": peak_rss_gib(),
    }


def day_run(workspace: Path, chunk: int, threads: int, logs: Path) -> dict:
    """``darkstack embed`` of i-GCN-GRU in full batch on the workspace's days, under /usr/bin/time -v."""
    from bench_scale import timed

    from darkstack.workspace import Workspace

    ws = Workspace(workspace)
    for folder in (ws.embedding_dir("darknet", VARIANT), ws.model_dir("darknet", VARIANT)):
        shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()[0]
    command = ["embed", "-m", "igcngru", "-s", "darknet", "--batching", "full", "--variant", VARIANT,
               "--link-chunk", str(chunk), "--threads", str(threads), "-w", str(workspace)]
    result = timed(command, logs / f"fullbatch-day-{chunk}.log")
    run = json.loads((ws.embedding_dir("darknet", VARIANT) / "run.json").read_text())
    for folder in (ws.embedding_dir("darknet", VARIANT), ws.model_dir("darknet", VARIANT)):
        shutil.rmtree(folder, ignore_errors=True)
    days = list(run["days"].values())
    return {**result, "load": load, "days": len(days), "hosts": sum(d["hosts"] for d in days) / len(days)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child_window(*(int(a) for a in sys.argv[2:5]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=Path, help="workspace whose snapshot days are embedded in full batch")
    parser.add_argument("--chunks", default=str(1 << 20), help="embed.link_chunk values, comma-separated")
    parser.add_argument("--windows", default="70000,100000", help="hosts a day of the generated 6-day windows")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--logs", type=Path, default=Path("/tmp"), help="folder for the /usr/bin/time logs")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    command = "nice -n 10 .venv/bin/python benchmarks/bench_fullbatch.py"
    head = (
        "## Full-batch i-GCN-GRU at /16 sizes (`benchmarks/bench_fullbatch.py`)\n\n"
        f"i-GCN-GRU, paper sizes (H = 5, features, fp32), {args.threads} torch threads, full batch; the link loss in "
        "chunks of `embed.link_chunk` host–port pairs (exact). "
    )
    tail = "Wall times are on the shared 2-core machine at the load shown; CPU seconds are the comparable figure."
    if args.day:
        rows = []
        for chunk in chunks:
            r = day_run(args.day, chunk, args.threads, args.logs)
            print("day", chunk, r, flush=True)
            rows.append(f"| {r['days']} | {r['hosts']:,.0f} | {chunk:,} | {r['wall_s']:.0f} s | {r['cpu_s']:.0f} s | "
                        f"{r['peak_gib']:.2f} | {r['load']:.1f} |")
        write_section("fullbatch-day", head + (
            f"`darkstack embed --batching full` of the days of `{args.day}` under `/usr/bin/time -v` (training, "
            "inference, checkpoint and writing; peak RSS of the process).\n\n"
            "| days | hosts/day | link chunk | wall | CPU | peak GiB | load avg |\n|---|---|---|---|---|---|---|\n"
            + "\n".join(rows) + f"\n\n{tail}\n\nReproduce: `{command} --day {args.day} --chunks {args.chunks} "
            f"--windows '' --threads {args.threads}`."), write=not args.no_write)
    sizes = [int(s) for s in args.windows.split(",") if s]
    if sizes:
        rows = []
        for n in sizes:
            for chunk in chunks:
                load = os.getloadavg()[0]
                out = subprocess.run([sys.executable, __file__, "--child", str(n), str(chunk), str(args.threads)],
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                print("window", n, chunk, r, flush=True)
                rows.append(
                    f"| {r['hosts']:,} | {r['edges']:,} | {r['window_nodes']:,} | {chunk:,} | {r['train_s']:.0f} s "
                    f"({r['train_cpu_s']:.0f} s) | {r['infer_s']:.0f} s ({r['infer_cpu_s']:.0f} s) | "
                    f"{r['graphs_gib']:.2f} / {r['train_gib']:.2f} / {r['peak_gib']:.2f} | {load:.1f} |"
                )
        write_section("fullbatch-windows", head + (
            "Generated windows of six snapshots (bench_minibatch.generated_window: N active hosts a day, ~10 N edges, "
            "2,501 ports), each a fresh process: one training step (an epoch) then inference of every host of the "
            "target day; GiB = peak RSS after building the 6 day graphs / after the step / at the end.\n\n"
            "| hosts/day | edges (target day) | window nodes | link chunk | epoch wall (CPU) | inference wall (CPU) | "
            "peak GiB | load avg |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\n{tail}\n\nReproduce: `{command} --chunks {args.chunks} --windows {args.windows} "
            f"--threads {args.threads}`."), write=not args.no_write)

if __name__ == "__main__":
    main()
