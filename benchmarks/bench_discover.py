"""Benchmark of discovery on the simulator (section ``discover``): are its hidden groups found?

Builds a small simulated world (``--profile demo``, ``--days 7``, ``--campaigns 3``, darknet only), its labels,
snapshots and the embeddings of ``--variants`` (DS, i-DarkVec; add igcngru for the temporal GNN), then runs
``discover`` on each and measures against the simulator's own ``sim/truth.csv`` (column ``group``: the
behaviour, ``/k`` for the k-th unlisted organisation, ``unk_campaign<k>/0`` for a campaign):

1. Unknown hosts (hidden class ``unknown``): adjusted Rand index of the clusters against the hidden groups
   (over the clustered hosts, and with every noise host as its own singleton), purity (share of each
   cluster's hosts in its largest hidden group, weighted by size), and the share of hosts clustered.
2. Known classes removed from the labels (``--remove``, default ``censys``; several: one at a time): each day the
   cluster holding most of the class's hosts, its precision and recall of them, the group ids those clusters
   carry over the days (one id: followed as one group) and whether its group is ``new`` on the first day, for each
   ``--track-days`` value (default: 1, the day-before rule, and the default member history).
3. Coordinated campaigns (``--campaigns N``: the simulator's ``unk_campaign<k>``, appearing on day k + 1): per
   campaign, the precision and recall of its best cluster over its days, and whether that cluster's group is
   ``new`` on the campaign's first day.

``nice -n 10 .venv/bin/python benchmarks/bench_discover.py [--workspace W] [--days 7] [--scale 1] [--campaigns 3]
[--variants ds,idarkvec,igcngru] [--remove censys,shodan] [--track-days 1,3]``
(``--no-write`` only prints). The workspace is built once and reused: it keeps the world it was simulated
with, so a new ``--days``, ``--scale`` or ``--campaigns`` needs a new ``--workspace``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _report import peak_rss_gib, write_section
from sklearn.metrics import adjusted_rand_score

from darkstack.discover import DiscoverSettings, discover
from darkstack.discover.cluster import NOISE
from darkstack.discover.run import groups_path, hosts_path
from darkstack.schema import UNKNOWN, ip_to_int
from darkstack.simulate.profiles import CAMPAIGN_HOSTS, CAMPAIGN_PORTS
from darkstack.workspace import Workspace

SENSOR = "darknet"
VARIANTS = ("ds", "idarkvec")


def build(ws: Workspace, profile: str, days: int, scale: float | None, seed: int, campaigns: int,
          variants: list[str]) -> None:
    """Simulate, label, snapshot and embed (each stage keeps what is already there)."""
    from darkstack.embed import embed
    from darkstack.labels import build_labels
    from darkstack.simulate import simulate
    from darkstack.snapshot import build_snapshots

    if not (ws.truth_dir / "truth.csv").exists():
        simulate(ws, profile=profile, days=days, seed=seed, scale=scale, campaigns=campaigns)
    build_labels(ws, [ws.truth_dir / "labels.csv"])
    build_snapshots(ws, SENSOR)
    for variant in variants:
        embed(ws, SENSOR, variant, device="cpu", seed=seed)


def truth(ws: Workspace) -> pd.DataFrame:
    frame = pd.read_csv(ws.truth_dir / "truth.csv")
    return frame.assign(src_ip=ip_to_int(frame["ip"].to_numpy(str))).set_index("src_ip")


def purity(clusters: np.ndarray, groups: np.ndarray) -> float:
    """Size-weighted share of each cluster's hosts in its largest hidden group (clustered hosts only)."""
    frame = pd.DataFrame({"c": clusters, "g": groups})
    return float(frame.groupby("c")["g"].agg(lambda g: g.value_counts().iloc[0]).sum() / len(frame)) if len(frame) else float("nan")


def unknown_recovery(ws: Workspace, hidden: pd.DataFrame, days: list[dt.date]) -> dict:
    """Mean over days of ARI, purity and clustered share on the hosts whose hidden class is unknown."""
    rows = []
    for day in days:
        hosts = pd.read_parquet(hosts_path(ws, SENSOR, day))
        hosts["hidden_class"] = hosts["src_ip"].map(hidden["label"])
        hosts["hidden_group"] = hosts["src_ip"].map(hidden["group"])
        unknown = hosts[hosts["hidden_class"] == UNKNOWN]
        clustered = unknown[unknown["cluster"] != NOISE]
        singletons = np.where(unknown["cluster"] == NOISE, -1 - np.arange(len(unknown)), unknown["cluster"])
        rows.append({
            "hosts": len(unknown), "clustered": len(clustered) / max(len(unknown), 1),
            "ari": adjusted_rand_score(clustered["hidden_group"], clustered["cluster"]) if len(clustered) else float("nan"),
            "ari_all": adjusted_rand_score(unknown["hidden_group"], singletons),
            "purity": purity(clustered["cluster"].to_numpy(), clustered["hidden_group"].to_numpy()),
            "groups": unknown["hidden_group"].nunique(), "clusters": clustered["cluster"].nunique(),
        })
    return pd.DataFrame(rows).mean().to_dict()


def best_cluster(hosts: pd.DataFrame, mine: np.ndarray) -> tuple[float, float, str | None]:
    """(precision, recall, group id) of the cluster holding most of the hosts ``mine`` (zeros when none is clustered)."""
    inside = hosts[mine & (hosts["cluster"] != NOISE).to_numpy()]
    if not mine.any() or inside.empty:
        return 0.0, 0.0, None
    chosen = (hosts["cluster"] == inside["cluster"].value_counts().index[0]).to_numpy()
    shared = (chosen & mine).sum()
    return float(shared / chosen.sum()), float(shared / mine.sum()), hosts.loc[chosen, "group"].iloc[0]


def per_group(ws: Workspace, hidden: pd.DataFrame, days: list[dt.date], min_hosts: int) -> pd.DataFrame:
    """Per unknown behaviour (its unlisted organisations averaged): hosts a day, precision and recall of its best cluster."""
    rows = []
    for day in days:
        hosts = pd.read_parquet(hosts_path(ws, SENSOR, day))
        groups = hosts["src_ip"].map(hidden["group"]).to_numpy()
        unknown = hosts["src_ip"].map(hidden["label"]).to_numpy() == UNKNOWN
        for g in sorted(set(groups[unknown])):
            mine = groups == g
            if mine.sum() < min_hosts:
                continue
            precision, recall, _ = best_cluster(hosts, mine)
            rows.append({"behaviour": g.split("/")[0], "hosts": int(mine.sum()), "precision": precision, "recall": recall})
    frame = pd.DataFrame(rows, columns=["behaviour", "hosts", "precision", "recall"])
    out = frame.groupby("behaviour").agg(groups=("hosts", "size"), hosts=("hosts", "mean"), precision=("precision", "mean"), recall=("recall", "mean"))
    out["groups"] = out["groups"] / len(days)
    return out.sort_values("hosts", ascending=False)


def removed_class(ws: Workspace, hidden: pd.DataFrame, name: str, days: list[dt.date]) -> pd.DataFrame:
    """Per day: hosts of class ``name``, precision and recall of the cluster holding most of them, its group and status."""
    rows = []
    for day in days:
        hosts = pd.read_parquet(hosts_path(ws, SENSOR, day))
        mine = hosts["src_ip"].map(hidden["label"]).to_numpy() == name
        precision, recall, group = best_cluster(hosts, mine)
        status = {x["group"]: x["status"] for x in json.loads(groups_path(ws, SENSOR, day).read_text())}.get(group)
        rows.append({"day": str(day), "hosts": int(mine.sum()), "precision": precision, "recall": recall, "group": group or "",
                     "status": status or ""})
    return pd.DataFrame(rows)


def removed_lines(ws: Workspace, hidden: pd.DataFrame, name: str, variant: str, settings: DiscoverSettings,
                  track_days: list[int]) -> tuple[list[str], list[str]]:
    """Summary rows (one per ``track_days``) and per-day rows (the default's) of class ``name`` removed, in ``variant``."""
    summary, daily = [], []
    for n in track_days:
        result = discover(ws, SENSOR, settings.model_copy(update={"track_days": n}))
        r = removed_class(ws, hidden, name, result.days)
        ids = sorted({g for g in r["group"] if g})
        summary.append(f"| {name} | {variant} | {n} | {r['hosts'].mean():.0f} | {r['precision'].mean():.3f} | {r['recall'].mean():.3f} | "
                       f"{len(ids)} ({', '.join(ids)}) | {'yes' if r['status'].iloc[0] == 'new' else 'no'} |")
        if n == settings.track_days:
            daily += [f"| {name} | {variant} | {d['day']} | {d['hosts']} | {d['precision']:.3f} | {d['recall']:.3f} | {d['group'] or '–'} | "
                      f"{d['status'] or '–'} |" for _, d in r.iterrows()]
    return summary, daily


def campaign_recovery(ws: Workspace, hidden: pd.DataFrame, days: list[dt.date]) -> pd.DataFrame:
    """Per simulated campaign: first day, hosts, best-cluster precision and recall (mean over its days), new on day one."""
    campaigns = sorted({g for g in hidden["group"] if g.startswith("unk_campaign")}, key=lambda g: int(g[12:].split("/")[0]))
    rows = []
    for g in campaigns:
        seen, first_new = [], None
        for day in days:
            hosts = pd.read_parquet(hosts_path(ws, SENSOR, day))
            mine = (hosts["src_ip"].map(hidden["group"]) == g).to_numpy()
            if not mine.any():
                continue
            precision, recall, group = best_cluster(hosts, mine)
            if first_new is None:
                status = {x["group"]: x["status"] for x in json.loads(groups_path(ws, SENSOR, day).read_text())}
                first_new = (day, status.get(group) == "new")
            seen.append({"hosts": int(mine.sum()), "precision": precision, "recall": recall})
        if seen:
            frame = pd.DataFrame(seen).mean()
            rows.append({"campaign": g.split("/")[0], "first_day": str(first_new[0]), "new": first_new[1], **frame.to_dict()})
    return pd.DataFrame(rows)


def relabel_without(ws: Workspace, name: str) -> Path:
    """A copy of the published labels without class ``name`` (its hosts become unknown), applied to the workspace."""
    from darkstack.labels import build_labels

    published = pd.read_csv(ws.truth_dir / "labels.csv")
    path = ws.root / "bench" / f"labels-without-{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    published[published["label"] != name].to_csv(path, index=False)
    build_labels(ws, [path])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/darkstack-bench-discover"))
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--remove", default="censys", help="known classes removed from the labels, one at a time (comma-separated)")
    parser.add_argument("--track-days", default=f"1,{DiscoverSettings().track_days}",
                        help="track_days values the removed classes are tracked with (comma-separated; the default's days are listed)")
    parser.add_argument("--campaigns", type=int, default=3, help="coordinated campaigns added to the simulated world")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="embedding spaces clustered (comma-separated)")
    parser.add_argument("--min-cluster-size", type=int, default=DiscoverSettings().min_cluster_size)
    parser.add_argument("--min-samples", type=int, default=DiscoverSettings().min_samples)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    started = time.perf_counter()
    variants = args.variants.split(",")
    build(ws, args.profile, args.days, args.scale, args.seed, args.campaigns, variants)
    built = time.perf_counter() - started
    hidden = truth(ws)
    removed = args.remove.split(",")
    track_days = [int(n) for n in args.track_days.split(",")]
    relabel_without(ws, removed[0])
    settings = {v: DiscoverSettings(space=v, min_cluster_size=args.min_cluster_size, min_samples=args.min_samples)
                for v in variants}
    lines, removed_summary, removed_days, group_lines, campaign_lines = [], [], [], [], []
    for variant in variants:
        t0 = time.perf_counter()
        result = discover(ws, SENSOR, settings[variant])
        seconds = time.perf_counter() - t0
        days = result.days
        u = unknown_recovery(ws, hidden, days)
        lines.append(f"| {variant} | {u['hosts']:.0f} | {u['groups']:.1f} | {u['clusters']:.1f} | {u['clustered']:.2f} | {u['ari']:.3f} | "
                     f"{u['ari_all']:.3f} | {u['purity']:.3f} | {seconds / len(days):.2f} |")
        for behaviour, g in per_group(ws, hidden, days, args.min_cluster_size).iterrows():
            group_lines.append(f"| {variant} | `{behaviour}` | {g['groups']:.1f} | {g['hosts']:.1f} | {g['precision']:.3f} | {g['recall']:.3f} |")
        for _, c in campaign_recovery(ws, hidden, days).iterrows():
            campaign_lines.append(f"| {variant} | `{c['campaign']}` | {c['first_day']} | {c['hosts']:.0f} | {c['precision']:.3f} | "
                                  f"{c['recall']:.3f} | {'yes' if c['new'] else 'no'} |")
    for name in removed:
        relabel_without(ws, name)
        for variant in variants:
            summary, daily = removed_lines(ws, hidden, name, variant, settings[variant], track_days)
            removed_summary += summary
            removed_days += daily
    scale = "" if args.scale is None else f" --scale {args.scale}"
    scale += f" --campaigns {args.campaigns} --variants {args.variants}"
    scale += f" --remove {args.remove} --track-days {args.track_days}"
    scale += "" if args.min_samples is None else f" --min-samples {args.min_samples}"
    text = f"""## Discovery on the simulator: hidden groups recovered (bench_discover.py)

`nice -n 10 .venv/bin/python benchmarks/bench_discover.py --days {args.days} --profile {args.profile}{scale}` —
simulator profile `{args.profile}` with {args.campaigns} coordinated campaigns, {args.days} days, seed {args.seed}, sensor darknet; labels,
snapshots and the {", ".join(variants)} embeddings with every default (built in {built:.0f} s), then `darkstack discover --space <variant>`
(HDBSCAN, min_cluster_size {args.min_cluster_size}, min_samples {args.min_samples or args.min_cluster_size}, cosine; tracking: match_jaccard {DiscoverSettings().match_jaccard}, track_days {DiscoverSettings().track_days}) over every day, against the simulator's hidden groups (`sim/truth.csv`, column `group`).
Figures are means over the {len(days)} days.

**Unknown hosts** (hidden class unknown; hidden groups: the unknown behaviours, `unk_scanner_org` split into its unlisted organisations):

| Space | Unknown hosts / day | Hidden groups | Clusters | Clustered share | ARI (clustered) | ARI (noise as singletons) | Purity | Seconds / day |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(lines)}

**Each hidden group of unknown hosts** with at least {args.min_cluster_size} hosts that day (`unk_scanner_org`: its unlisted
organisations, averaged): the cluster holding most of its hosts, its precision (share of the cluster in the group) and recall.

| Space | Behaviour | Groups / day | Hosts per group / day | Precision | Recall |
|---|---|---:|---:|---:|---:|
{chr(10).join(group_lines)}

**Coordinated campaigns** (`unk_campaign<k>`: {CAMPAIGN_HOSTS} unlisted hosts × scale, one tool configuration, {CAMPAIGN_PORTS} rare ports,
one 3-hour window, appearing on day k + 1): the cluster holding most of its hosts each day it is active, and whether
that cluster's group is `new` on the campaign's first day.

| Space | Campaign | First day | Hosts / day | Precision | Recall | New on its first day |
|---|---|---|---:|---:|---:|---|
{chr(10).join(campaign_lines)}

**A known class removed from the labels** ({", ".join(removed)}, one at a time: its hosts unlabelled, the world
otherwise the same): each day the cluster holding most of its hosts, its precision (share of the cluster in the class)
and recall (share of the class's hosts in it), means over the days; the distinct group ids those clusters carry over the
days (one id: the class is followed as one group), and whether its group is `new` on the first day. `track_days` 1 is the
day-before matching rule; {DiscoverSettings().track_days} is the default (member history, docs/discover.md).

| Class | Space | track_days | Its hosts / day | Precision | Recall | Group ids over the days | New on day one |
|---|---|---:|---:|---:|---:|---|---|
{chr(10).join(removed_summary)}

Per day, default settings:

| Class | Space | Day | Its hosts | Precision | Recall | Group | Status |
|---|---|---|---:|---:|---:|---|---|
{chr(10).join(removed_days)}

Peak memory {peak_rss_gib():.1f} GiB; load average {os.getloadavg()[1]:.1f} (5 min) at the end on {os.cpu_count()} cores (seconds scale with it).
"""
    write_section("discover", text, write=not args.no_write)


if __name__ == "__main__":
    main()
