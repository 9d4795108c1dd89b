"""Per-class daily figures of a simulated darknet, measured like Table 2 of the temporal-GNN paper.

The labelled view is what an analyst sees: hosts listed in ``labels.csv`` (within their first/last
day) and hosts whose SYNs carry the Mirai fingerprint; everybody else is ``unknown``. Only TCP
packets count, and only hosts with at least ``MIN_PACKETS`` of them that day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from darkstack import store
from darkstack.schema import TCP_ACK, TCP_SYN, UNKNOWN, ip_to_int
from darkstack.simulate.profiles import MIN_PACKETS, TABLE2
from darkstack.workspace import Workspace, parse_day

COLUMNS = ["src_ip", "dst_ip", "dst_port", "proto", "tcp_flags", "tcp_seq", "packets"]


def published_labels(ws: Workspace) -> pd.DataFrame:
    """labels.csv as ip (uint32), label, first_day, last_day."""
    df = pd.read_csv(ws.truth_dir / "labels.csv")
    return pd.DataFrame({"ip": ip_to_int(df["ip"].to_numpy(str)), "label": df["label"],
                         "first_day": [parse_day(x) for x in df["first_day"]],
                         "last_day": [parse_day(x) for x in df["last_day"]]})


def day_table(ws: Workspace, sensor: str, day: dt.date, labels: pd.DataFrame) -> pd.DataFrame:
    """One row per TCP record of hosts with ≥ MIN_PACKETS TCP packets, with the host's labelled class and
    ``weight``, the packets the record stands for."""
    t = store.read_day(ws, sensor, day, columns=COLUMNS)
    df = t.to_pandas()
    df = df[df["proto"] == 6].assign(weight=lambda d: d["packets"].fillna(1).astype("int64"))
    counts = df.groupby("src_ip")["weight"].sum()
    df = df[df["src_ip"].isin(counts.index[counts >= MIN_PACKETS])]
    valid = labels[(labels["first_day"] <= day) & (labels["last_day"] >= day)]
    label = pd.Series(valid["label"].to_numpy(), index=valid["ip"].to_numpy())
    cls = df["src_ip"].map(label).fillna(UNKNOWN).to_numpy(object)
    flags = df["tcp_flags"].fillna(0).to_numpy("int64")
    seq = df["tcp_seq"].fillna(-1).to_numpy("int64")
    syn = (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN
    marked = df["src_ip"][syn & (seq == df["dst_ip"].to_numpy("int64"))].unique()
    cls[np.isin(df["src_ip"].to_numpy(), marked)] = "mirai"
    return df.assign(cls=cls)


def class_stats(ws: Workspace, sensor: str = "darknet", days: list[dt.date] | None = None) -> pd.DataFrame:
    """Per class: hosts in the period and daily averages of hosts, distinct ports and packets."""
    labels = published_labels(ws)
    days = days or ws.store_days(sensor)
    daily, hosts = [], {}
    for day in days:
        df = day_table(ws, sensor, day, labels)
        g = df.groupby("cls")
        daily.append(pd.DataFrame({"hosts": g["src_ip"].nunique(), "ports": g["dst_port"].nunique(),
                                   "packets": g["weight"].sum()}).assign(day=day))
        daily.append(pd.DataFrame({"hosts": [df["src_ip"].nunique()], "ports": [df["dst_port"].nunique()],
                                   "packets": [df["weight"].sum()]}, index=["total"]).assign(day=day))
        for cls, ips in g["src_ip"]:
            hosts.setdefault(cls, set()).update(ips.unique().tolist())
        hosts.setdefault("total", set()).update(df["src_ip"].unique().tolist())
    all_days = pd.concat(daily).rename_axis("cls").reset_index()
    mean = all_days.groupby("cls")[["hosts", "ports", "packets"]].sum() / len(days)
    mean.insert(0, "month_hosts", pd.Series({k: len(v) for k, v in hosts.items()}))
    return mean


def compare(measured: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    """Measured vs Table 2 (hosts and packets × ``scale``): target, measured and ratio per figure."""
    rows = []
    for cls, t in TABLE2.items():
        m = measured.loc[cls] if cls in measured.index else None
        for what, target in (("hosts", t.daily_hosts * scale), ("ports", t.daily_ports),
                             ("packets", t.daily_packets * scale)):
            got = float(m[what]) if m is not None else 0.0
            rows.append({"class": cls, "figure": what, "target": target, "measured": got,
                         "ratio": got / target if target else float("nan")})
    return pd.DataFrame(rows)


def sensor_overlap(ws: Workspace, day: dt.date) -> dict[str, int]:
    """Hosts with ≥ MIN_PACKETS TCP SYNs that day on the darknet, on the honeypot, and on both."""
    active = {}
    for sensor in ("darknet", "honeypot"):
        df = store.read_day(ws, sensor, day, columns=["src_ip", "proto", "tcp_flags", "packets"]).to_pandas()
        df = df[(df["proto"] == 6) & (df["tcp_flags"] == TCP_SYN)]
        counts = df["packets"].fillna(1).groupby(df["src_ip"]).sum()
        active[sensor] = set(counts.index[counts >= MIN_PACKETS].tolist())
    both = active["darknet"] & active["honeypot"]
    return {"darknet": len(active["darknet"]), "honeypot": len(active["honeypot"]), "both": len(both),
            "union": len(active["darknet"] | active["honeypot"])}


def activity_scores(ws: Workspace, sensor: str = "honeypot") -> pd.DataFrame:
    """Precision and recall per activity class of the labels built in ``ws`` against the simulator's truth.

    Counted over host-days of ``sensor``: a host-day is predicted as a class when that day's label view gives
    it that class from the activity rules, and truly of it when ``truth.csv`` says so. Run
    ``build_labels(ws, [], activity_rules=True)`` first (the Mirai rule on, as its precedence needs).
    Columns: class, truth, predicted, correct, precision, recall.
    """
    from darkstack.labels import labels_for_day
    from darkstack.labels.activity import ACTIVITY_CLASSES, ACTIVITY_SOURCE

    truth = pd.read_csv(ws.truth_dir / "truth.csv")
    true_label = pd.Series(truth["label"].to_numpy(), index=ip_to_int(truth["ip"].to_numpy(str)))
    counts = {c: np.zeros(3, np.int64) for c in ACTIVITY_CLASSES}
    for day in ws.store_days(sensor):
        hosts = np.unique(store.read_day(ws, sensor, day, columns=["src_ip"]).column("src_ip").to_numpy())
        view = labels_for_day(ws, day).to_pandas()
        view = view[view["source"] == ACTIVITY_SOURCE]
        predicted = pd.Series(view["label"].to_numpy(), index=view["ip"].to_numpy()).reindex(hosts).to_numpy(object)
        actual = true_label.reindex(hosts).to_numpy(object)
        for c in ACTIVITY_CLASSES:
            counts[c] += [(actual == c).sum(), (predicted == c).sum(), ((actual == c) & (predicted == c)).sum()]
    rows = [{"class": c, "truth": int(t), "predicted": int(p), "correct": int(k),
             "precision": k / p if p else float("nan"), "recall": k / t if t else float("nan")}
            for c, (t, p, k) in counts.items()]
    return pd.DataFrame(rows)
