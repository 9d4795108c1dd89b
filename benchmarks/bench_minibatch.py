"""Benchmark mini-batch GNN training (issue 14 item 2): i-GCN-GRU's Table-3 macro-F1 in mini-batches against full
batch on the paper profile, and the peak memory of training and inference on generated windows of 10⁴ … 10⁶ hosts,
every run in a fresh process.

    nice -n 10 .venv/bin/python benchmarks/bench_minibatch.py [--workspace W] [--sizes 10000,30000,100000]
        [--full-up-to 30000] [--steps 4] [--batch-sizes 16384,2048] [--days 6,6,6]

Sections `minibatch-quality` (with ``--workspace``) and `minibatch-memory` (unless ``--sizes ''``).
``--workspace`` needs `darkstack simulate --profile paper`, `labels` and `snapshot` run there (the variants
``igcngru`` and ``igcngru-mb<B>`` for each ``--batch-sizes`` B, in hosts, are embedded if missing); without it only the memory table is measured.
The generated windows are H + 1 = 6 days of N active hosts (from a pool of 1.5 N) on 2,501 ports, each host
sending to a geometric number of ports (mean 10, so ~10 N edges a day) with Zipf-like port popularity and
packet counts; features are random. Training is timed over the first ``--steps`` host batches of an epoch
(memory is per step; a larger ``--steps`` runs the whole epoch), inference over every host of the target day. Goal (issue 14): macro-F1 within 0.02 of full batch; GNN memory
bounded by the batch (≤ 8 GiB at 10⁶ hosts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import peak_rss_gib, write_section

PORTS = 2501
MEAN_DEGREE = 10
TITLE = "## Mini-batch GNN training and inference (`benchmarks/bench_minibatch.py`)"


def generated_window(n_hosts: int, days: int = 6, seed: int = 0):
    """``days`` (H + 1 = 6) generated snapshot days of ``n_hosts`` active hosts each (see the module docstring),
    yielded one at a time so that only one day's tables exist while its graph is built (as GraphCache does)."""
    import numpy as np
    import pyarrow as pa

    from darkstack.snapshot.features import FEATURE_COLUMNS
    from darkstack.snapshot.tables import Snapshot

    rng = np.random.default_rng(seed)
    pool = np.arange(int(1.5 * n_hosts), dtype=np.int64) + (10 << 24)
    popularity = 1.0 / np.arange(1, PORTS + 1) ** 0.8
    popularity /= popularity.sum()
    ports = np.arange(-1, PORTS - 1)

    def features(key, ids, ptype):
        cols = {key: pa.array(ids, ptype)}
        cols |= {c: pa.array(rng.integers(0, 100, len(ids)).astype(np.float64)) for c in FEATURE_COLUMNS}
        return pa.table(cols)

    for i in range(days):
        hosts = np.sort(rng.choice(pool, n_hosts, replace=False))
        degree = np.minimum(rng.geometric(1 / MEAN_DEGREE, n_hosts), PORTS)
        e_ip = np.repeat(hosts, degree)
        e_port = ports[rng.choice(PORTS, len(e_ip), p=popularity)]
        codes = np.unique(e_ip * (PORTS + 1) + e_port + 1)  # one edge per (host, port)
        e_ip, e_port = codes // (PORTS + 1), codes % (PORTS + 1) - 1
        edges = pa.table(
            {
                "ip": pa.array(e_ip.astype(np.uint32)),
                "port": pa.array(e_port.astype(np.int32)),
                "packets": pa.array(rng.zipf(2.0, len(e_ip)).astype(np.int64)),
            }
        )
        day = dt.date(2021, 12, 1) + dt.timedelta(days=i)
        yield Snapshot(day, edges, features("ip", hosts.astype(np.uint32), pa.uint32()),
                       features("port", np.unique(e_port).astype(np.int32), pa.int32()), pa.table({}), {})


def resident_gib() -> float:
    """Resident memory of this process now, GiB (what is kept, against the peak that includes transients)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**3


def child_memory(n_hosts: int, batching: str, steps: int, days: int) -> dict:
    """Train i-GCN-GRU (H = 5, features, paper sizes) on a generated window, one full-batch step or the first
    ``steps`` host batches of a mini-batch epoch (every one if ``steps`` ≥ the epoch's), and embed its target
    day's hosts; the figures as a dict."""
    import numpy as np
    import torch

    from darkstack.embed.models import DeviceGraph, build_model
    from darkstack.embed.sampling import Neighbours, WindowSampler, host_batches
    from darkstack.embed.settings import EmbedSettings
    from darkstack.embed.train import embed_hosts, embed_hosts_batched, link_epoch, link_step, new_optimizer
    from darkstack.embed.windows import build_day_graph, make_window

    torch.set_num_threads(1)
    st = EmbedSettings()
    started, cpu = time.perf_counter(), time.process_time()
    graphs = [build_day_graph(s, features=True) for s in generated_window(n_hosts, days)]
    graphs_s, graphs_cpu, graphs_peak, graphs_kept = time.perf_counter() - started, time.process_time() - cpu, \
        peak_rss_gib(), resident_gib()
    device = torch.device("cpu")
    dev = {g.day: DeviceGraph.build(g, device) for g in graphs}
    graphs = [d.graph for d in dev.values()]  # without the raw features, as GraphCache keeps them
    window = make_window(graphs[-1], graphs)
    sampler = WindowSampler(window, {g.day: Neighbours.of(g) for g in graphs}, fanout=st.fanout,
                            inner_fanout=st.fanout_inner, inner=False)
    before_train = resident_gib()
    torch.manual_seed(0)
    model = build_model("igcngru", True, st.hidden_dim, st.gcn_dim, st.embedding_dim, st.head_dim)
    optimizer = new_optimizer(model, st)
    rng = np.random.default_rng(0)
    epoch = host_batches(window.target, st.batch_size, rng) if batching != "full" else []
    started, cpu = time.perf_counter(), time.process_time()
    if batching == "full":
        link_step(model, optimizer, window, dev, rng, st.negatives, st.link_chunk)
        trained_steps = 1
    else:
        link_epoch(model, optimizer, sampler, dev, rng, st.negatives, epoch[:steps], st.link_chunk)
        trained_steps = len(epoch[:steps])
    train_s, train_cpu = time.perf_counter() - started, time.process_time() - cpu
    after_train = peak_rss_gib()
    started, cpu = time.perf_counter(), time.process_time()
    hosts = window.target.n_hosts
    if batching == "full":
        embed_hosts(model, window, dev)
    elif trained_steps == len(epoch):
        embed_hosts_batched(model, sampler, dev, st.batch_size)
    else:  # as embed_hosts_batched, over its first ``steps`` batches only (the time extrapolated to every host)
        model.eval()
        with torch.no_grad():
            for chunk in np.array_split(np.arange(hosts), -(-hosts // st.batch_size))[:steps]:
                model.encoder.forward_batch(sampler.batch(chunk, None, full=True), dev)
    inferred = hosts if batching == "full" or trained_steps == len(epoch) else min(hosts, steps * st.batch_size)
    return {
        "hosts": window.target.n_hosts,
        "days": days,
        "nodes": window.target.n_nodes,
        "edges": len(window.target.edge_host),
        "window_edges": sum(len(g.edge_host) for g in graphs),
        "window_nodes": sum(g.n_nodes for g in graphs),
        "steps_per_epoch": len(epoch) if batching != "full" else 1,
        "trained_steps": trained_steps,
        "step_s": train_s / trained_steps,
        "step_cpu_s": train_cpu / trained_steps,
        "infer_s": (time.perf_counter() - started) * hosts / inferred,
        "infer_cpu_s": (time.process_time() - cpu) * hosts / inferred,
        "inferred": inferred,
        "graphs_s": graphs_s,
        "graphs_cpu_s": graphs_cpu,
        "graphs_peak_gib": graphs_peak,
        "graphs_kept_gib": graphs_kept,
        "before_train_gib": before_train,
        "train_gib": after_train,
        "peak_gib": peak_rss_gib(),
    }


def child_embed(workspace: str, batching: str, batch_size: str) -> dict:
    """Embed i-GCN-GRU (paper settings, 1 torch thread) as variant igcngru or igcngru-mb<batch size>; wall time
    and memory (of this process: a variant embedded before is only resumed)."""
    from darkstack.embed import EmbedSettings, embed
    from darkstack.workspace import Workspace

    started, cpu = time.perf_counter(), time.process_time()
    variant = "igcngru" if batching == "full" else f"igcngru-mb{batch_size}"
    settings = EmbedSettings(batching=batching, batch_size=int(batch_size))
    ws = Workspace(Path(workspace))
    embed(ws, "darknet", "igcngru", settings=settings, variant=variant, threads=1)
    run = json.loads((ws.embedding_dir("darknet", variant) / "run.json").read_text())
    return {"variant": variant, "batch_size": int(batch_size), "batching": batching,
            "wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu, "peak_gib": peak_rss_gib(),
            "day_s": sum(d["seconds"] for d in run["days"].values()),
            "hosts": max(d["hosts"] for d in run["days"].values())}


def _in_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def quality(workspace: str, batch_sizes: list[int]) -> str:
    from darkstack.evaluate import evaluate
    from darkstack.workspace import Workspace

    jobs = [("full", str(batch_sizes[0]))] + [("minibatch", str(b)) for b in batch_sizes]
    with ThreadPoolExecutor(2) as pool:  # two variants side by side, one torch thread each
        runs = list(pool.map(lambda job: _in_child("embed", workspace, *job), jobs))
    ws = Workspace(Path(workspace))
    result = evaluate(ws, "darknet", [r["variant"] for r in runs])
    full = result.macro(runs[0]["variant"])[0]
    lines = []
    for r in runs:
        mean, sd = result.macro(r["variant"])
        steps = "1 (full batch)" if r["batching"] == "full" else f"{-(-r['hosts'] // r['batch_size'])}"
        delta = "" if r["batching"] == "full" else f"{mean - full:+.4f}"
        lines.append(f"| {r['variant']} | {steps} | {mean:.3f} ± {sd:.3f} | {delta} | {r['day_s']:.0f} s |")
    deltas = [result.macro(r["variant"])[0] - full for r in runs[1:]]
    verdict = "met" if all(abs(d) <= 0.02 for d in deltas) else "NOT met"
    days = len(ws.snapshot_days("darknet"))
    return (
        f"i-GCN-GRU (H = 5, 1 epoch/day, features, fp32, 1 torch thread) on the paper profile, {days} days "
        f"(`{workspace}`), Table-3 darknet macro-F1 over {len(result.days)} test days; mini-batch (forced, "
        f"`batching = minibatch`): batches of hosts (all their edges as positives), fan-out 10, every neighbour at "
        "inference. Embed time: the variant's per-day seconds in run.json (wall, on the shared machine).\n\n"
        "| variant | steps a day (≤ hosts / batch) | macro-F1 | Δ vs full | embed wall |\n|---|---|---|---|---|\n"
        + "\n".join(lines)
        + f"\n\nGoal |Δ| ≤ 0.02: **{verdict}**.\n"
    )


def memory(sizes: list[int], days: dict[int, int], full_up_to: int, steps: int) -> str:
    from darkstack.embed.settings import EmbedSettings

    jobs = [(n, b) for n in sizes for b in (("full", "minibatch") if n <= full_up_to else ("minibatch",))]
    with ThreadPoolExecutor(2) as pool:  # two fresh processes side by side, the largest first (CPU s unaffected)
        order = sorted(jobs, key=lambda job: -job[0])
        done = dict(zip(order, pool.map(lambda job: _in_child("memory", str(job[0]), job[1], str(steps), str(days[job[0]])), order)))
    rows = []
    for n, batching in jobs:
        r = done[n, batching]
        print(batching, r, flush=True)
        epoch_cpu = r["step_cpu_s"] * r["steps_per_epoch"]
        whole = "" if r["trained_steps"] == r["steps_per_epoch"] else " (from the steps run)"
        infer = "" if r["inferred"] == r["hosts"] else f", from {r['inferred']:,} hosts"
        rows.append(
            f"| {r['hosts']:,} | {r['edges']:,} | {r['days']} | {r['window_edges']:,} | {batching} | "
            f"{r['trained_steps']} of {r['steps_per_epoch']} | {r['step_s']:.1f} s ({r['step_cpu_s']:.1f}) | "
            f"{epoch_cpu:.0f}{whole} | {r['infer_s']:.1f} s ({r['infer_cpu_s']:.1f}{infer}) | "
            f"{r['graphs_cpu_s']:.0f} | {r['graphs_peak_gib']:.2f} / {r['graphs_kept_gib']:.2f} | "
            f"{r['before_train_gib']:.2f} | {r['train_gib']:.2f} | {r['peak_gib']:.2f} |"
        )
    return (
        f"Peak memory of i-GCN-GRU (paper sizes, H = 5, features, fp32, 1 thread) on generated windows of 6 days "
        f"(fewer where the column says so: a shorter window, for time) (N active hosts a day, 2,501 ports, ~{MEAN_DEGREE} N edges a day): training (the first {steps} host batches "
        f"of a mini-batch epoch, {EmbedSettings().batch_size:,} hosts each with all their edges, or the one "
        "full-batch step of an epoch) then inference of every host of the target day (where the epoch was cut, "
        "timed over as many inference batches and scaled to every host); each row a fresh process. "
        "Epoch CPU = steps × CPU a step. Day graphs: the 6 generated days built one after the other (CPU seconds; "
        "peak / kept resident GiB); then resident GiB with the device graphs and samplers, peak GiB after "
        "training, peak GiB at the end.\n\n"
        "Times are wall (CPU) seconds on the shared 2-core machine.\n\n"
        "| hosts/day | edges (target day) | days | edges (window) | batching | steps run | time/step | epoch CPU s | "
        "inference | graphs CPU s | graphs GiB peak / kept | before training GiB | train GiB | peak GiB |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *args = sys.argv[2:]
        result = child_memory(int(args[0]), args[1], int(args[2]), int(args[3])) if kind == "memory" else child_embed(*args)
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="paper-profile workspace with snapshots and labels (quality line)")
    parser.add_argument("--batch-sizes", default="16384", help="mini-batch sizes (hosts) of the quality runs, comma-separated")
    parser.add_argument("--sizes", default="10000,30000,100000", help="active hosts a day of the generated windows")
    parser.add_argument("--days", default="", help="window days per size, comma-separated (default 6 each)")
    parser.add_argument("--full-up-to", type=int, default=30000, help="largest size also run full batch")
    parser.add_argument("--steps", type=int, default=4, help="mini-batch training steps timed per size")
    args = parser.parse_args()
    command = "nice -n 10 .venv/bin/python benchmarks/bench_minibatch.py"
    if args.workspace:
        text = quality(args.workspace, [int(b) for b in args.batch_sizes.split(",")])
        reproduce = f"{command} --workspace {args.workspace} --batch-sizes {args.batch_sizes} --sizes ''"
        write_section("minibatch-quality", f"{TITLE}, quality\n\n{text}\nReproduce: `{reproduce}`.")
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
        days = dict(zip(sizes, [int(d) for d in args.days.split(",")] if args.days else [6] * len(sizes), strict=True))
        text = memory(sizes, days, args.full_up_to, args.steps)
        window = f" --days {args.days}" if args.days else ""
        reproduce = f"{command} --sizes {args.sizes}{window} --full-up-to {args.full_up_to} --steps {args.steps}"
        write_section("minibatch-memory", f"{TITLE}, memory\n\n{text}\nReproduce: `{reproduce}`.")

if __name__ == "__main__":
    main()
