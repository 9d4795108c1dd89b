"""Benchmark: approximate (IVF, HNSW) against exact leave-one-out 3-NN: recall, per-class F1 delta, time.

Two inputs, two BENCHMARKS.md sections:

* generated (section ``knn-approx-manifold``, or ``knn-approx`` for ``--generator clusters``): one day of
  ``--hosts`` × ``--dims``, ``bench_knn.manifold_day`` (low-dimensional groups, like real embeddings) or
  ``bench_knn.day_like`` (isotropic clusters). Every host's 3 neighbours are searched approximately, each search
  printed as it finishes; recall is measured on ``--sample`` uniformly drawn queries against their exact search
  (``faiss.IndexFlatIP`` + the exact re-rank; the exact leave-one-out of 10⁶ hosts would take an hour).
  ``nice -n 10 .venv/bin/python benchmarks/bench_knn_approx.py --hosts 1000000 --searches ivf`` (the 10⁶-host
  goal: ≤ 10 min on 2 cores, recall ≥ 0.99).
* a workspace (section ``knn-approx-paper``): the embeddings of ``--variants`` on the last ``--days`` days of
  ``--sensor``, each searched exactly and approximately (all queries), with the evaluation's labels, folding
  and vote (``classify``): recall, the largest per-class F1 difference and the macro-F1 difference.
  ``nice .venv/bin/python benchmarks/bench_knn_approx.py --workspace /work/bench/paper``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from _report import peak_rss_gib, write_section
from bench_knn import day_like, manifold_day

from darkstack.evaluate.knn import neighbours, recall, standardise, unit_rows

APPROXIMATE = ("ivf", "hnsw")
LID_NEIGHBOURS = 20
"""Exact neighbours of each sampled query: its first 3 score the recall, all 20 the intrinsic dimension."""


def timed(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds) of one call."""
    started, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started, time.process_time() - cpu


def intrinsic_dimension(X: np.ndarray, near: np.ndarray, queries: np.ndarray) -> float:
    """Median local intrinsic dimension of ``queries`` (Levina–Bickel MLE over their exact neighbours ``near``).

    Says how hard a day is for approximate search: isotropic noise has the embedding's dimension, real
    embeddings a handful (hosts of a campaign vary along few directions). Twins (distance 0) are left out.
    """
    unit = unit_rows(X[queries])
    dist = np.sqrt(np.maximum(2 - 2 * np.einsum("qd,qkd->qk", unit, unit_rows(X[near.ravel()]).reshape(*near.shape, -1)), 0))
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a query whose 20 neighbours are all twins has no estimate
        ratios = np.log(dist[:, :-1] / dist[:, -1:])
        ratios[~np.isfinite(ratios)] = np.nan
        lid = -1 / np.nanmean(ratios, axis=1)
    return float(np.nanmedian(lid[np.isfinite(lid)]))


def generated(args) -> None:
    import faiss

    faiss.omp_set_num_threads(args.threads)
    make = {"manifold": manifold_day, "clusters": day_like}[args.generator]
    X = standardise(make(args.hosts, args.dims))
    sample = np.sort(np.random.default_rng(2).choice(args.hosts, min(args.sample, args.hosts), replace=False))
    load = os.getloadavg()[0]
    near, exact_s, exact_cpu = timed(neighbours, X, LID_NEIGHBOURS, queries=sample, search="exact")
    exact = near[:, :3]  # the exact order is total: the first 3 of the 20 are the 3-NN
    lid = intrinsic_dimension(X, near, sample)
    print(f"{args.generator} day, {args.hosts:,} hosts × {args.dims}: median intrinsic dimension {lid:.1f}; exact search of "
          f"{sample.size:,} sampled queries {exact_s:.1f} s wall, {exact_cpu:.1f} s CPU", flush=True)
    rows = []
    for search in args.searches:
        started = os.getloadavg()[0]
        found, wall, cpu = timed(neighbours, X, 3, search=search)
        rows.append(f"| `{search}` | {wall:.1f} s | {cpu:.1f} s | {started:.1f} | {recall(X, found[sample], exact, sample):.4f} |")
        print(rows[-1], flush=True)
    what = {
        "manifold": "hosts on low-dimensional groups (`bench_knn.manifold_day`: a 4-dimensional plane per group of "
        "~2,500 hosts, 10 % twins), like a real day's embeddings",
        "clusters": "40 isotropic Gaussian clusters (`bench_knn.day_like`, 1 % duplicated): far harder than a real day",
    }[args.generator]
    write_section(
        {"manifold": "knn-approx-manifold", "clusters": "knn-approx"}[args.generator],
        f"## Approximate k-NN leave-one-out, generated day: {args.generator} (`benchmarks/bench_knn_approx.py`)\n\n"
        f"One day of {args.hosts:,} hosts × {args.dims} dims, {what}; standardised. Median local intrinsic "
        f"dimension (MLE over the {LID_NEIGHBOURS} exact neighbours of the sampled queries) **{lid:.1f}**; the real "
        "/16 day's embeddings (`/work/bench/scale/p16`, 70,558 hosts): DS 4.6, i-GCN-GRU 3.5. Cosine 3-NN of every "
        f"host (leave-one-out) with approximate candidates + the exact re-rank, FAISS on {args.threads} thread(s). "
        f"Recall of the 3 neighbours (ties count as matches, `knn.recall`) on a uniform sample of {sample.size:,} "
        f"queries against their exact search (`search=\"exact\"`: `faiss.IndexFlatIP` above 20,000 hosts, + the "
        f"exact re-rank; {exact_s:.1f} s wall, "
        f"{exact_cpu:.1f} s CPU). Goal for 10⁶ hosts: ≤ 10 min on 2 cores, recall ≥ 0.99.\n\n"
        "| search | wall | CPU | load at its start | recall@3 |\n|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"Load average at the start: {load:.1f}; peak memory {peak_rss_gib():.1f} GiB. Reproduce: "
        f"`nice -n 10 .venv/bin/python benchmarks/bench_knn_approx.py --generator {args.generator} --hosts {args.hosts} "
        f"--dims {args.dims} --sample {args.sample} --threads {args.threads} --searches {','.join(args.searches)}`.",
        write=not args.no_write,
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
        write=not args.no_write,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--sample", type=int, default=10_000, help="uniformly sampled queries whose recall is measured (generated day)")
    parser.add_argument("--generator", choices=("manifold", "clusters"), default="manifold",
                        help="generated day: low-dimensional groups like real embeddings, or isotropic clusters (hard)")
    parser.add_argument("--threads", type=int, default=2, help="FAISS threads (generated day)")
    parser.add_argument("--searches", type=lambda s: s.split(","), default=list(APPROXIMATE))
    parser.add_argument("--workspace", help="measure on this workspace's embeddings instead of a generated day")
    parser.add_argument("--sensor", default="darknet")
    parser.add_argument("--variants", type=lambda s: s.split(","), default=["ds", "idarkvec", "igcngru"])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print the section without storing it in BENCHMARKS.md")
    args = parser.parse_args()
    if args.workspace:
        workspace(args)
    else:
        generated(args)


if __name__ == "__main__":
    main()
