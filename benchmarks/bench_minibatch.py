"""Benchmark mini-batch GNN training (issue 14 item 2): i-GCN-GRU's Table-3 macro-F1 in mini-batches against full
batch on the paper profile, and the peak memory of training and inference on generated windows of 10⁴ … 10⁶ hosts,
every run in a fresh process.

    nice -n 10 .venv/bin/python benchmarks/bench_minibatch.py [--workspace W] [--sizes 10000,30000,100000]
        [--full-up-to 30000] [--steps 4] [--batch-size 32768]

Sections `minibatch-quality` (with ``--workspace``) and `minibatch-memory` (unless ``--sizes ''``).
``--workspace`` needs `darkstack simulate --profile paper`, `labels` and `snapshot` run there (the variants
``igcngru`` and ``igcngru-minibatch`` are embedded if missing); without it only the memory table is measured.
The generated windows are H + 1 = 6 days of N active hosts (from a pool of 1.5 N) on 2,501 ports, each host
sending to a geometric number of ports (mean 10, so ~10 N edges a day) with Zipf-like port popularity and
packet counts; features are random. Training is timed over ``--steps`` mini-batch steps (memory is per step),
inference over every host of the target day. Goal (issue 14): macro-F1 within 0.02 of full batch; GNN memory
bounded by the batch (≤ 8 GiB at 10⁶ hosts).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
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


def generated_window(n_hosts: int, seed: int = 0) -> list:
    """H + 1 = 6 generated snapshot days of ``n_hosts`` active hosts each (see the module docstring)."""
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

    days = []
    for i in range(6):
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
        days.append(
            Snapshot(day, edges, features("ip", hosts.astype(np.uint32), pa.uint32()),
                     features("port", np.unique(e_port).astype(np.int32), pa.int32()), pa.table({}), {})
        )
    return days


def child_memory(n_hosts: int, batching: str, steps: int) -> dict:
    """Train i-GCN-GRU (H = 5, features, paper sizes) on a generated window for ``steps`` steps (full batch: one)
    and embed its target day's hosts; the figures as a dict."""
    import numpy as np
    import torch

    from darkstack.embed.models import DeviceGraph, build_model
    from darkstack.embed.sampling import Neighbours, WindowSampler, edge_batches
    from darkstack.embed.settings import EmbedSettings
    from darkstack.embed.train import embed_hosts, embed_hosts_batched, link_epoch, link_step, new_optimizer
    from darkstack.embed.windows import build_day_graph, make_window

    torch.set_num_threads(1)
    st = EmbedSettings()
    graphs = [build_day_graph(s, features=True) for s in generated_window(n_hosts)]
    after_graphs = peak_rss_gib()
    device = torch.device("cpu")
    dev = {g.day: DeviceGraph.build(g, device) for g in graphs}
    window = make_window(graphs[-1], graphs)
    torch.manual_seed(0)
    model = build_model("igcngru", True, st.hidden_dim, st.gcn_dim, st.embedding_dim, st.head_dim)
    optimizer = new_optimizer(model, st)
    rng = np.random.default_rng(0)
    edges = len(window.target.edge_host)
    started, cpu = time.perf_counter(), time.process_time()
    sampler = lambda w: WindowSampler(  # noqa: E731
        w, {g.day: Neighbours.of(g) for g in graphs}, fanout=st.fanout, inner_fanout=st.fanout_inner, inner=False
    )
    if batching == "full":
        link_step(model, optimizer, window, dev, rng, st.negatives)
        trained_steps = 1
    else:  # ``steps`` steps of the epoch: the target day cut to their edges (the same work per step)
        keep = np.sort(np.concatenate(edge_batches(edges, st.batch_size, rng)[:steps]))
        target = dataclasses.replace(window.target, edge_host=window.target.edge_host[keep],
                                     edge_port=window.target.edge_port[keep])
        link_epoch(model, optimizer, sampler(dataclasses.replace(window, target=target)), dev, rng, st.negatives,
                   st.batch_size)
        trained_steps = -(-len(keep) // st.batch_size)
    train_s, train_cpu = time.perf_counter() - started, time.process_time() - cpu
    after_train = peak_rss_gib()
    started, cpu = time.perf_counter(), time.process_time()
    if batching == "full":
        embed_hosts(model, window, dev)
    else:
        embed_hosts_batched(model, sampler(window), dev, st.batch_size)
    return {
        "hosts": window.target.n_hosts,
        "nodes": window.target.n_nodes,
        "edges": edges,
        "window_nodes": sum(g.n_nodes for g in graphs),
        "steps_per_epoch": -(-edges // st.batch_size) if batching != "full" else 1,
        "step_s": train_s / trained_steps,
        "step_cpu_s": train_cpu / trained_steps,
        "infer_s": time.perf_counter() - started,
        "infer_cpu_s": time.process_time() - cpu,
        "graphs_gib": after_graphs,
        "train_gib": after_train,
        "peak_gib": peak_rss_gib(),
    }


def child_embed(workspace: str, batching: str, batch_size: str) -> dict:
    """Embed i-GCN-GRU (paper settings, 1 torch thread) as variant igcngru / igcngru-minibatch; wall time and memory."""
    from darkstack.embed import EmbedSettings, embed
    from darkstack.workspace import Workspace

    started, cpu = time.perf_counter(), time.process_time()
    variant = "igcngru" if batching == "full" else "igcngru-minibatch"
    settings = EmbedSettings(batching=batching, batch_size=int(batch_size))
    embed(Workspace(Path(workspace)), "darknet", "igcngru", settings=settings, variant=variant, threads=1)
    return {"variant": variant, "wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu,
            "peak_gib": peak_rss_gib()}


def _in_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def quality(workspace: str, batch_size: int) -> str:
    from darkstack.evaluate import evaluate
    from darkstack.workspace import Workspace

    with ThreadPoolExecutor(2) as pool:  # the two variants side by side, one torch thread each
        runs = list(pool.map(lambda b: _in_child("embed", workspace, b, str(batch_size)), ("full", "minibatch")))
    ws = Workspace(Path(workspace))
    result = evaluate(ws, "darknet", [r["variant"] for r in runs])
    (full, full_sd), (mb, mb_sd) = (result.macro(r["variant"]) for r in runs)
    verdict = "met" if abs(mb - full) <= 0.02 else "NOT met"
    rows = "\n".join(
        f"| {r['variant']} | {m:.3f} ± {sd:.3f} | {r['wall_s']:.0f} s ({r['cpu_s']:.0f} s CPU) | {r['peak_gib']:.2f} GiB |"
        for r, (m, sd) in zip(runs, [(full, full_sd), (mb, mb_sd)], strict=True)
    )
    days = len(ws.snapshot_days("darknet"))
    return (
        f"i-GCN-GRU (H = 5, 1 epoch/day, features, fp32, 1 torch thread) on the paper profile, {days} days "
        f"(`{workspace}`), Table-3 darknet macro-F1 over {len(result.days)} test days; mini-batch: "
        f"{batch_size:,} positive edges a step, fan-out 10, every neighbour at inference:\n\n"
        "| variant | macro-F1 | embed wall | peak RSS |\n|---|---|---|---|\n"
        f"{rows}\n\nDifference mini-batch − full {mb - full:+.4f} (goal |Δ| ≤ 0.02: **{verdict}**).\n"
    )


def memory(sizes: list[int], full_up_to: int, steps: int) -> str:
    from darkstack.embed.settings import EmbedSettings

    rows = []
    for n in sizes:
        for batching in ("full", "minibatch") if n <= full_up_to else ("minibatch",):
            r = _in_child("memory", str(n), batching, str(steps))
            print(batching, r, flush=True)
            rows.append(
                f"| {r['hosts']:,} | {r['edges']:,} | {r['window_nodes']:,} | {batching} | {r['steps_per_epoch']} | "
                f"{r['step_s']:.1f} s ({r['step_cpu_s']:.1f}) | {r['infer_s']:.1f} s ({r['infer_cpu_s']:.1f}) | {r['graphs_gib']:.2f} | {r['train_gib']:.2f} | "
                f"{r['peak_gib']:.2f} |"
            )
    return (
        f"Peak memory of i-GCN-GRU (paper sizes, H = 5, features, fp32, 1 thread) on generated windows of 6 days "
        f"(N active hosts a day, 2,501 ports, ~{MEAN_DEGREE} N edges): training ({steps} mini-batch steps of the default "
        f"{EmbedSettings().batch_size:,} positive edges, or the one "
        "full-batch step of an epoch) then inference of every host of the target day; each row a fresh process. "
        "GiB columns: peak RSS after building the 6 day graphs, after training, at the end.\n\n"
        "Times are wall (CPU) seconds on the shared 2-core machine.\n\n"
        "| hosts/day | edges (target day) | window nodes | batching | steps/epoch | time/step | inference | "
        "graphs GiB | train GiB | peak GiB |\n|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *args = sys.argv[2:]
        result = child_memory(int(args[0]), args[1], int(args[2])) if kind == "memory" else child_embed(*args)
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="paper-profile workspace with snapshots and labels (quality line)")
    parser.add_argument("--batch-size", type=int, default=32768, help="mini-batch size of the quality run")
    parser.add_argument("--sizes", default="10000,30000,100000", help="active hosts a day of the generated windows")
    parser.add_argument("--full-up-to", type=int, default=30000, help="largest size also run full batch")
    parser.add_argument("--steps", type=int, default=4, help="mini-batch training steps timed per size")
    args = parser.parse_args()
    command = "nice -n 10 .venv/bin/python benchmarks/bench_minibatch.py"
    if args.workspace:
        text = quality(args.workspace, args.batch_size)
        reproduce = f"{command} --workspace {args.workspace} --batch-size {args.batch_size} --sizes ''"
        write_section("minibatch-quality", f"{TITLE}, quality\n\n{text}\nReproduce: `{reproduce}`.")
    if args.sizes:
        text = memory([int(s) for s in args.sizes.split(",")], args.full_up_to, args.steps)
        reproduce = f"{command} --sizes {args.sizes} --full-up-to {args.full_up_to} --steps {args.steps}"
        write_section("minibatch-memory", f"{TITLE}, memory\n\n{text}\nReproduce: `{reproduce}`.")

if __name__ == "__main__":
    main()
