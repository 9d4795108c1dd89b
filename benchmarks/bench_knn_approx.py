"""Benchmark: approximate (IVF, HNSW) against exact leave-one-out 3-NN: recall, per-class F1 delta, time.

Two inputs, two BENCHMARKS.md sections:

* generated (section ``knn-approx``): one day of ``--hosts`` clustered hosts × ``--dims`` (``bench_knn.day_like``).
  Every host's 3 neighbours are searched approximately; recall is measured on ``--sample`` random queries
  against the exact search of those queries (the exact leave-one-out of 10⁶ hosts would take an hour).
  ``nice .venv/bin/python benchmarks/bench_knn_approx.py --hosts 1000000`` (the 10⁶-host goal: ≤ 10 min, recall ≥ 0.99).
* a workspace (section ``knn-approx-paper``): the embeddings of ``--variants`` on the last ``--days`` days of
  ``--sensor``, each searched exactly and approximately (all queries), with the evaluation's labels, folding
  and vote (``classify``): recall, the largest per-class F1 difference and the macro-F1 difference.
  ``nice .venv/bin/python benchmarks/bench_knn_approx.py --workspace /work/bench/paper``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _report import peak_rss_gib, write_section
from bench_knn import day_like

from darkstack.evaluate.knn import neighbours, recall, standardise

APPROXIMATE = ("ivf", "hnsw")


def timed(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds) of one call."""
    started, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started, time.process_time() - cpu


def generated(args) -> None:
    X = standardise(day_like(args.hosts, args.dims))
    sample = np.sort(np.random.default_rng(2).choice(args.hosts, min(args.sample, args.hosts), replace=False))
    load = os.getloadavg()[0]
    exact, exact_s, _ = timed(neighbours, X, 3, queries=sample, search="exact")
    rows = []
    for search in args.searches:
        found, wall, cpu = timed(neighbours, X, 3, search=search)
        rows.append(f"| `{search}` | {wall:.1f} s | {cpu:.1f} s | {recall(X, found[sample], exact, sample):.4f} |")
    write_section(
        "knn-approx",
        "## Approximate k-NN leave-one-out, generated day (`benchmarks/bench_knn_approx.py`)\n\n"
        f"One day of {args.hosts:,} clustered hosts × {args.dims} dims (`bench_knn.day_like`, 1 % duplicated), "
        "standardised; cosine 3-NN of every host (leave-one-out) with approximate candidates + the exact re-rank. "
        f"Recall of the 3 neighbours (ties count as matches, `knn.recall`) on {sample.size:,} random queries "
        f"against their exact search ({exact_s:.1f} s wall for those queries). Goal for 10⁶ hosts: ≤ 10 min, recall ≥ 0.99.\n\n"
        "| search | wall | CPU | recall@3 |\n|---|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"Load average at the start: {load:.1f}; peak memory {peak_rss_gib():.1f} GiB. Reproduce: "
        f"`nice .venv/bin/python benchmarks/bench_knn_approx.py --hosts {args.hosts} --dims {args.dims} --sample {args.sample} "
        f"--searches {','.join(args.searches)}`.",
    )


def workspace(args) -> None:
    from sklearn.metrics import f1_score

    from darkstack.evaluate import EvalSettings
    from darkstack.evaluate.classify import class_vocabulary, classify, fold_small_classes
    from darkstack.evaluate.inputs import day_embeddings, day_labels, label_names
    from darkstack.schema import UNKNOWN
    from darkstack.workspace import Workspace

    ws = Workspace(args.workspace)
    load = os.getloadavg()[0]
    rows = []
    for variant in args.variants:
        days = ws.embedding_days(args.sensor, variant)[-args.days :]
        classes = class_vocabulary(label_names(ws, days))
        for day in days:
            ips, X = day_embeddings(ws, args.sensor, variant, day)
            labels = fold_small_classes(day_labels(ws, day, ips), EvalSettings().min_class_hosts)
            scored = sorted(set(labels.tolist()) - {UNKNOWN})
            Z = standardise(X)
            exact, exact_s, _ = timed(neighbours, Z, 3, search="exact")
            f1_exact = f1_score(labels, classify(X, labels, classes, EvalSettings(search="exact"))[1], labels=scored, average=None)
            for search in args.searches:
                found, wall, _ = timed(neighbours, Z, 3, search=search)
                f1 = f1_score(labels, classify(X, labels, classes, EvalSettings(search=search))[1], labels=scored, average=None)
                rows.append(
                    f"| {variant} | {day} | {len(ips):,} | `{search}` | {recall(Z, found, exact):.4f} | "
                    f"{np.abs(f1 - f1_exact).max():.4f} | {f1.mean() - f1_exact.mean():+.4f} | {exact_s:.2f} s | {wall:.2f} s |"
                )
                print(rows[-1], flush=True)
    write_section(
        "knn-approx-paper",
        f"## Approximate against exact 3-NN on `{args.workspace}` (`benchmarks/bench_knn_approx.py --workspace`)\n\n"
        f"Sensor {args.sensor}, the last {args.days} embedded days of each variant; every host's 3 neighbours "
        "(leave-one-out, standardised, cosine) searched exactly and approximately (forced: these days are below "
        "`approx_above`), then the evaluation's vote (`classify`). Recall: ties count as matches (`knn.recall`); "
        "F1: per class of the day (unknown not scored), largest |difference| and the macro difference.\n\n"
        "| variant | day | hosts | search | recall@3 | max per-class \\|ΔF1\\| | Δ macro-F1 | exact search | approximate search |\n"
        "|---|---|---:|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"Load average at the start: {load:.1f}; peak memory {peak_rss_gib():.1f} GiB. Reproduce: "
        f"`nice .venv/bin/python benchmarks/bench_knn_approx.py --workspace {args.workspace} --sensor {args.sensor} "
        f"--variants {','.join(args.variants)} --days {args.days}`.",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--sample", type=int, default=2000, help="queries whose recall is measured (generated day)")
    parser.add_argument("--searches", type=lambda s: s.split(","), default=list(APPROXIMATE))
    parser.add_argument("--workspace", help="measure on this workspace's embeddings instead of a generated day")
    parser.add_argument("--sensor", default="darknet")
    parser.add_argument("--variants", type=lambda s: s.split(","), default=["ds", "idarkvec", "igcngru"])
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()
    if args.workspace:
        workspace(args)
    else:
        generated(args)


if __name__ == "__main__":
    main()
