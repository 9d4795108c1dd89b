"""What each cluster of a day is: size, unknown share, majority known class, ports, packets, hours, first seen.

Read from the day's snapshot (edges: packets per host and port; corpus: the hour of each packet), the
sensor's node index (the day each host was first seen) and the day's labels (docs/workspace.md).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from darkstack.damage import read_parquet
from darkstack.discover.cluster import Clusters
from darkstack.discover.settings import DiscoverSettings
from darkstack.schema import UNKNOWN, int_to_ip
from darkstack.workspace import Workspace, day_str


def host_labels(ws: Workspace, day: dt.date, ips: np.ndarray) -> np.ndarray:
    """Each host's ground-truth class on ``day`` (``unknown`` where unlabelled, or when the workspace has no labels)."""
    from darkstack.evaluate.inputs import day_labels

    if not ws.labels_table.exists() and not ws.labels_day(day).exists():
        return np.full(len(ips), UNKNOWN, dtype=object)
    return day_labels(ws, day, ips)


def _host_activity(ws: Workspace, sensor: str, day: dt.date, ips: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """(edges of ``ips``: ip, port, packets), (their corpus hours: ip, hour), packets per ip, first day per ip."""
    folder = ws.snapshot_dir(sensor, day)
    edges = read_parquet(folder / "edges.parquet").to_pandas()
    edges = edges[edges["ip"].isin(ips)]
    hours = read_parquet(folder / "corpus.parquet", columns=["ip", "hour"]).to_pandas().drop_duplicates()
    hours = hours[hours["ip"].isin(ips)]
    index = read_parquet(ws.node_index(sensor), columns=["ip", "first_day"]).to_pandas()
    first = index.set_index("ip")["first_day"]
    return edges, hours, edges.groupby("ip")["packets"].sum(), first


def _closest_classes(unit: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> tuple[list[str | None], np.ndarray]:
    """For each cluster centre (unit rows), the known class whose mean direction is most similar, and the cosine."""
    from darkstack.evaluate.knn import unit_rows

    known = sorted(set(labels.tolist()) - {UNKNOWN})
    if not known:
        return [None] * len(centres), np.full(len(centres), np.nan)
    class_centres = unit_rows(np.vstack([unit[labels == c].mean(axis=0) for c in known]))
    similarity = centres @ class_centres.T
    best = similarity.argmax(axis=1)
    return [known[i] for i in best], similarity[np.arange(len(centres)), best]


def describe_clusters(
    ws: Workspace, sensor: str, day: dt.date, ips: np.ndarray, clusters: Clusters, labels: np.ndarray, settings: DiscoverSettings
) -> list[dict]:
    """One description per cluster (by cluster number): see docs/discover.md for every field."""
    from darkstack.evaluate.knn import unit_rows

    numbers = clusters.numbers
    if not numbers:
        return []
    edges, hours, packets, first = _host_activity(ws, sensor, day, ips)
    of_ip = pd.Series(clusters.labels, index=ips)
    edges = edges.assign(cluster=edges["ip"].map(of_ip))
    hours = hours.assign(cluster=hours["ip"].map(of_ip))
    centres = unit_rows(np.vstack([clusters.unit[clusters.labels == c].mean(axis=0) for c in numbers]))
    closest, similarity = _closest_classes(clusters.unit, labels, centres)
    port_packets = edges.groupby(["cluster", "port"])["packets"].sum().reset_index()
    out = []
    for i, c in enumerate(numbers):
        inside = clusters.labels == c
        members = ips[inside]
        known = labels[inside][labels[inside] != UNKNOWN]
        names, counts = np.unique(known.astype(str), return_counts=True) if len(known) else (np.array([]), np.array([]))
        top = np.argmax(counts) if len(counts) else None
        ports = port_packets[port_packets["cluster"] == c].sort_values(["packets", "port"], ascending=[False, True], kind="stable")
        volume = packets.reindex(members).fillna(0).astype(np.int64)
        loudest = members[np.argsort(-volume.to_numpy(), kind="stable")][: settings.members_listed]
        seen = first.reindex(members).dropna()
        out.append({
            "cluster": int(c),
            "size": int(inside.sum()),
            "unknown_share": float(1 - len(known) / inside.sum()),
            "labelled": int(len(known)),
            "majority_class": None if top is None else str(names[top]),
            "purity": None if top is None else float(counts[top] / len(known)),
            "closest_known_class": closest[i],
            "closest_similarity": None if np.isnan(similarity[i]) else round(float(similarity[i]), 4),
            "top_ports": [int(p) for p in ports["port"].head(settings.top_ports)],
            "packets": int(volume.sum()),
            "hours_active": int(hours.loc[hours["cluster"] == c, "hour"].nunique()),
            "first_seen": day_str(min(seen)) if len(seen) else day_str(day),
            "members": int_to_ip(loudest).tolist(),
        })
    return out
