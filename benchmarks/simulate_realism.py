"""DS-realism check of the simulator (a script, not a test).

Computes the 37 per-host daily features of the temporal-GNN paper (reference-notes §2.1) with plain
pandas/numpy on a simulated darknet (TCP, hosts with ≥ 5 packets, top-2500 ports kept, the rest
folded into one "other" port), standardises them per day, and scores a 3-NN (cosine) leave-one-out
classifier on the labelled hosts of the last days (classes with ≤ 10 hosts that day count as unknown).
The simulator aims at a macro-F1 between 0.6 and 0.9: neither trivially separable nor hopeless.

    .venv/bin/python benchmarks/simulate_realism.py WORKSPACE [--days 5] [--simulate demo|paper --scale S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from darkstack import store
from darkstack.schema import UNKNOWN
from darkstack.simulate.measure import day_table, published_labels
from darkstack.workspace import Workspace

TOP_PORTS = 2500
STATS = ["sum", "min", "max", "mean", "std"]


def host_features(ws: Workspace, day: dt.date, labels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(37 features per active host, labelled class per host) for one darknet day."""
    base = day_table(ws, "darknet", day, labels)
    extra = store.read_day(ws, "darknet", day, columns=["src_ip", "proto", "ip_len", "ttl", "tcp_mss", "tcp_win",
                                                         "tcp_ts"]).to_pandas()
    extra = extra[extra["proto"] == 6].loc[:, ["ip_len", "ttl", "tcp_mss", "tcp_win", "tcp_ts"]]
    df = pd.concat([base.reset_index(drop=True), extra.loc[base.index].reset_index(drop=True)], axis=1)
    df = df.fillna({"tcp_mss": 0, "tcp_win": 0, "tcp_ts": 0})
    top = df["dst_port"].value_counts().index[:TOP_PORTS]
    df["port"] = np.where(df["dst_port"].isin(top), df["dst_port"], -1)
    g = df.groupby("src_ip")
    per_port = df.groupby(["src_ip", "port"]).size().groupby(level=0).agg(["min", "max", "sum", "mean", "std"])
    per_dst = df.groupby(["src_ip", "dst_ip"]).size().groupby(level=0).agg(["min", "max", "sum", "mean", "std"])
    blocks = [g["port"].nunique(), per_port, g["dst_ip"].nunique(), per_dst]
    for col in ("ip_len", "ttl", "tcp_mss", "tcp_win", "tcp_ts"):
        blocks.append(g[col].agg(STATS))
    feats = pd.concat(blocks, axis=1).fillna(0.0)
    cls = g["cls"].first().reindex(feats.index)
    return feats.to_numpy(float), cls.to_numpy(object)


def knn_macro_f1(X: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    """3-NN cosine leave-one-out macro-F1 over labelled classes with ≥ 11 hosts."""
    counts = pd.Series(y).value_counts()
    y = np.where(np.isin(y, counts.index[counts <= 10]), UNKNOWN, y)
    Xs = StandardScaler().fit_transform(X)
    nn = NearestNeighbors(n_neighbors=3, metric="cosine", algorithm="brute").fit(Xs)
    idx = nn.kneighbors(return_distance=False)
    labelled = np.flatnonzero(y != UNKNOWN)
    pred = []
    for i in labelled:
        votes = pd.Series(y[idx[i]]).value_counts()
        pred.append(min(votes.index[votes == votes.max()]))  # ties: alphabetically first
    classes = sorted(set(y[labelled]))
    f1 = f1_score(y[labelled], pred, labels=classes, average=None, zero_division=0)
    return float(np.mean(f1)), dict(zip(classes, np.round(f1, 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace")
    ap.add_argument("--days", type=int, default=5, help="score the last N days")
    ap.add_argument("--simulate", choices=["demo", "paper"], help="simulate first (days = --sim-days)")
    ap.add_argument("--sim-days", type=int, default=10)
    ap.add_argument("--scale", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ws = Workspace(args.workspace)
    if args.simulate:
        from darkstack.simulate import simulate

        t = time.perf_counter()
        simulate(ws, args.simulate, days=args.sim_days, seed=args.seed, scale=args.scale)
        print(f"simulated in {time.perf_counter() - t:.1f} s")
    labels = published_labels(ws)
    scores, per_class = [], []
    for day in ws.store_days("darknet")[-args.days:]:
        X, y = host_features(ws, day, labels)
        macro, f1 = knn_macro_f1(X, y)
        scores.append(macro)
        per_class.append(pd.Series(f1, name=str(day)))
        print(f"{day}: {len(y)} hosts, macro-F1 {macro:.3f}")
    print(pd.concat(per_class, axis=1).mean(axis=1).round(2).to_string())
    print(f"macro-F1 mean {np.mean(scores):.3f} ± {np.std(scores, ddof=1) if len(scores) > 1 else 0:.3f}")


if __name__ == "__main__":
    main()
