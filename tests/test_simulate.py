"""Simulator: determinism, Mirai fingerprint, partial labels, shared hosts, Table 2 calibration, outputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from darkstack import store
from darkstack.cli import main
from darkstack.errors import ConfigError
from darkstack.schema import CLASSES, PACKET_SCHEMA, TCP_SYN, UNKNOWN, ip_to_int
from darkstack.simulate import simulate
from darkstack.simulate.measure import class_stats, compare, published_labels
from darkstack.simulate.profiles import MIN_PACKETS, TABLE2
from darkstack.workspace import Workspace

START = dt.date(2021, 12, 1)
TINY = ("intrinsec", "umich", "securitytrails")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("demo") / "ws")
    simulate(ws, "demo", days=2, start=START, seed=7)
    return ws


def _all(ws: Workspace, sensor: str) -> pd.DataFrame:
    df = pd.concat([store.read_day(ws, sensor, d).to_pandas() for d in ws.store_days(sensor)], ignore_index=True)
    return df.assign(tcp_flags=df["tcp_flags"].fillna(0).astype("int64"),
                     tcp_seq=df["tcp_seq"].fillna(-1).astype("int64"))


def _truth(ws: Workspace) -> pd.Series:
    t = pd.read_csv(ws.truth_dir / "truth.csv")
    return pd.Series(t["label"].to_numpy(), index=ip_to_int(t["ip"].to_numpy(str)))


def _active(df: pd.DataFrame) -> pd.DataFrame:
    """TCP records of hosts with at least MIN_PACKETS of them that day."""
    df = df[df["proto"] == 6].assign(day=df["ts"].dt.date)
    n = df.groupby(["day", "src_ip"])["src_ip"].transform("size")
    return df[n >= MIN_PACKETS]


def test_same_seed_same_output(demo, tmp_path):
    again = Workspace(tmp_path / "again")
    simulate(again, "demo", days=2, start=START, seed=7)
    for sensor in ("darknet", "honeypot"):
        for day in demo.store_days(sensor):
            a = pq.read_table(store.day_files(demo, sensor, day)[0])
            b = pq.read_table(store.day_files(again, sensor, day)[0])
            assert a.equals(b)
    for name in ("labels.csv", "truth.csv", "acknowledged_scanners.ipset"):
        assert (demo.truth_dir / name).read_bytes() == (again.truth_dir / name).read_bytes()
    other = Workspace(tmp_path / "other")
    simulate(other, "demo", days=1, start=START, seed=8)
    first = pq.read_table(store.day_files(demo, "darknet", START)[0])
    assert not first.equals(pq.read_table(store.day_files(other, "darknet", START)[0]))


def test_records_follow_the_schema(demo):
    for sensor, kind in (("darknet", "darknet"), ("honeypot", "honeypot")):
        assert demo.sensors()[sensor]["kind"] == kind
        table = store.read_day(demo, sensor, START)
        assert table.schema.equals(PACKET_SCHEMA)
        df = table.to_pandas()
        tcp = df[df["proto"] == 6]
        for col in ("src_port", "dst_port", "tcp_flags", "ip_len", "ttl", "ip_id", "tcp_seq", "tcp_win"):
            assert tcp[col].notna().all(), col
        assert tcp["tcp_mss"].notna().any() and tcp["tcp_mss"].isna().any()
        assert tcp["tcp_ts"].notna().any() and tcp["tcp_wscale"].notna().any()
        assert set(tcp["ip_len"].unique()) >= ({40, 44, 52, 60} if sensor == "darknet" else {40, 52, 60})
        assert df["ts"].is_monotonic_increasing
        sensor_nets = ip_to_int(["203.0.113.0", "198.51.100.0"]) >> 8
        assert not np.isin(df["src_ip"].to_numpy() >> 8, sensor_nets).any()
        assert (df["ts"].dt.date == START).all()


def test_darknet_mix_and_demo_size(demo):
    dark = _all(demo, "darknet")
    assert 0.91 < (dark["proto"] == 6).mean() < 0.97  # TCP ≈ 93.7 % of packets
    tcp = dark[dark["proto"] == 6]
    assert ((tcp["tcp_flags"] & 0x12) == 0x12).any() and ((tcp["tcp_flags"] & 0x04) == 0x04).any()
    assert (tcp["tcp_flags"] == TCP_SYN).mean() > 0.85
    assert set(dark["proto"].unique()) == {1, 6, 17}
    active = _active(dark)
    per_day = active.groupby("day").agg(hosts=("src_ip", "nunique"), ports=("dst_port", "nunique"))
    assert per_day["hosts"].between(1000, 1600).all()
    assert (per_day["ports"] > 2500).all()
    assert (dark.groupby(dark["ts"].dt.date).size() <= 200_000).all()
    stats = class_stats(demo)
    for cls in CLASSES:
        if cls not in TINY:
            assert stats.loc[cls, "hosts"] >= 15, cls


def test_mirai_fingerprint_only_on_mirai(demo):
    truth = _truth(demo)
    for sensor in ("darknet", "honeypot"):
        df = _all(demo, sensor)
        syn = df[(df["proto"] == 6) & (df["tcp_flags"] == TCP_SYN)]
        marked = syn["tcp_seq"] == syn["dst_ip"]
        assert marked.any()
        assert (truth.reindex(syn.loc[marked, "src_ip"]) == "mirai").all()
        mirai = syn[truth.reindex(syn["src_ip"]).to_numpy() == "mirai"]
        share = (mirai["tcp_seq"] == mirai["dst_ip"]).groupby(mirai["src_ip"]).mean()
        assert set(share.unique()) == {0.0, 1.0}  # a bot always or never marks; variants never do
        assert 0.03 < (share == 0).mean() < 0.3


def test_labelled_share_below_one(demo):
    truth = _truth(demo)
    labels = published_labels(demo)
    assert "mirai" not in set(labels["label"])
    assert set(labels["label"]) <= set(CLASSES)
    assert (labels["first_day"] <= labels["last_day"]).all()
    hosts = pd.concat([_active(_all(demo, s)) for s in ("darknet", "honeypot")])
    marked = set(hosts.loc[(hosts["tcp_seq"] == hosts["dst_ip"]) & (hosts["tcp_flags"] == TCP_SYN), "src_ip"])
    seen = pd.Series(hosts["src_ip"].unique())
    cls = truth.reindex(seen).to_numpy()
    published = seen.isin(set(labels["ip"]) | marked).to_numpy()
    for c in CLASSES:
        share = published[cls == c].mean()
        assert 0.4 < share < 1.0, (c, share)
    assert not published[cls == UNKNOWN].any()


def test_sensors_share_hosts_and_honeypot_is_smaller(demo):
    dark, hp = _all(demo, "darknet"), _all(demo, "honeypot")
    d, h = set(_active(dark)["src_ip"]), set(_active(hp)["src_ip"])
    assert len(d & h) / len(d | h) > 0.2
    assert len(hp) <= 0.25 * len(dark)
    truth = _truth(demo)
    brute = lambda s: sum(1 for ip in s if truth.get(ip) == "bruteforcer")
    assert brute(h) > 3 * brute(d)
    assert hp["service"].notna().all() and hp["event"].notna().all()
    assert (hp["tcp_flags"] == TCP_SYN).all()
    assert set(hp.loc[hp["dst_port"] == 22, "service"]) == {"ssh"}
    assert set(hp.loc[hp["dst_port"] == 445, "service"]) == {"smb"}
    assert (hp["service"] == "dpipot").any()
    assert hp.loc[hp["dst_port"].isin([22, 23]), "event"].str.startswith("cowrie.").all()


def test_truth_files(demo):
    truth = pd.read_csv(demo.truth_dir / "truth.csv")
    assert set(truth["label"]) == set(CLASSES) | {UNKNOWN}
    assert truth["ip"].is_unique
    orgs = truth.loc[truth["group"].str.startswith("unk_scanner_org"), "group"]  # the hidden groups discover is measured on
    assert orgs.str.fullmatch(r"unk_scanner_org/\d+").all() and orgs.nunique() > 5
    assert (truth.loc[truth["label"] == "mirai", "group"] == "mirai").all()
    lines = (demo.truth_dir / "acknowledged_scanners.ipset").read_text().splitlines()
    adds = [line.split() for line in lines if line.startswith("add ")]
    assert {a[1] for a in adds} >= {"censys.io", "shadowserver.org", "rapid7.com", "umich.edu"}
    assert all(a[2].endswith(".0/24") for a in adds)
    world = (demo.truth_dir / "world.json").read_text()
    assert '"seed": 7' in world


def test_scaled_paper_profile_matches_table2(tmp_path):
    scale = 0.3
    ws = Workspace(tmp_path / "paper")
    simulate(ws, "paper", days=3, start=START, seed=0, scale=scale)
    cmp = compare(class_stats(ws), scale)
    big = [c for c, t in TABLE2.items() if t.daily_hosts * scale >= 20]
    checked = cmp[cmp["class"].isin(big)]
    assert len(big) >= 10
    bad = checked[(checked["ratio"] < 0.75) | (checked["ratio"] > 1.25)]
    assert bad.empty, bad.to_string()


def test_bad_options_and_cli(tmp_path):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(ConfigError):
        simulate(ws, "nope", days=1)
    with pytest.raises(ConfigError):
        simulate(ws, "demo", days=0)
    assert main(["simulate", "--profile", "nope", "-w", str(tmp_path / "cli")]) == 2
    assert main(["simulate", "--days", "1", "--scale", "0.2", "--seed", "3", "-w", str(tmp_path / "cli")]) == 0
    assert Workspace(tmp_path / "cli").store_days("darknet") == [START]


def test_rerun_replaces_days(tmp_path):
    ws = Workspace(tmp_path / "ws")
    simulate(ws, "demo", days=2, start=START, seed=1, scale=0.2)
    simulate(ws, "demo", days=1, start=START, seed=1, scale=0.2)
    assert ws.store_days("darknet") == [START] and ws.store_days("honeypot") == [START]


def test_pcap_export(tmp_path):
    pcap = pytest.importorskip("darkstack.ingest.pcap")
    if not hasattr(pcap, "write_pcap"):
        pytest.skip("write_pcap not available yet")
    ws = Workspace(tmp_path / "ws")
    summary = simulate(ws, "demo", days=1, start=START, seed=2, scale=0.1, pcap=True)
    path = ws.truth_dir / "pcap" / "darknet" / "2021-12-01.pcap"
    assert path.exists() and path.stat().st_size > 24 + 16 * summary["darknet"]["2021-12-01"]


def test_campaigns_appear_together_with_one_configuration(tmp_path):
    """Campaign k: all its hosts start on day k + 1, stay, and share tool, window, hop count (±1) and daily window."""
    from darkstack.simulate.profiles import CAMPAIGN_HOSTS, build_profile
    from darkstack.simulate.world import build_world

    world = build_world(build_profile("demo", 0.1, campaigns=3), 3, START, 4)
    for k, first in enumerate((1, 2, 3)):
        members = world.group == f"unk_campaign{k}/0"
        assert members.sum() == round(CAMPAIGN_HOSTS * 0.1)
        assert not world.active[members, :first].any() and world.active[members, first:].all()
        assert len(set(world.tool[members])) == len(set(world.traits["win"][members])) == 1
        start = world.window_start[members]
        assert np.ptp(world.traits["hops"][members]) <= 1 and np.abs((start - start[0] + 12) % 24 - 12).max() < 3
    with pytest.raises(ConfigError):
        build_profile("demo", campaigns=-1)
    assert main(["simulate", "--days", "2", "--campaigns", "99", "-w", str(tmp_path / "cli")]) == 2
    assert main(["simulate", "--days", "2", "--scale", "0.1", "--campaigns", "1", "-w", str(tmp_path / "cli")]) == 0
    assert "unk_campaign0/0" in set(pd.read_csv(tmp_path / "cli" / "sim" / "truth.csv")["group"])
