"""Snapshot stage: hand-computed fixtures (every feature value, filter boundary, top-port folding, corpus
order), empty and filtered-out days, idempotence, the node index and load_day."""

from __future__ import annotations

import datetime as dt
import json
import statistics

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from darkstack.errors import DarkstackError
from darkstack.schema import ip_to_int
from darkstack.snapshot import Snapshot, SnapshotSettings, build_snapshots, load_day
from darkstack.snapshot.features import FEATURE_COLUMNS, scale_by_day_max
from darkstack.snapshot.node_index import load_node_index
from darkstack.store import write_records

DAY1, DAY2, DAY3 = dt.date(2021, 12, 1), dt.date(2021, 12, 2), dt.date(2021, 12, 3)
A, B, C, D, E, F = (int(ip_to_int(f"10.0.0.{i}")) for i in range(1, 7))
S1, S2 = int(ip_to_int("192.0.2.1")), int(ip_to_int("192.0.2.2"))
SYN, SYNACK = 0x02, 0x12


def _rows(day, host, packets, proto=6, flags=SYN):
    """Canonical rows: packets = [(second, dst_port, dst_ip, ip_len, ttl, mss, win, tsval)]."""
    base = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return [
        {
            "ts": base + dt.timedelta(seconds=s),
            "src_ip": host,
            "dst_ip": dst,
            "src_port": 40000,
            "dst_port": port,
            "proto": proto,
            "tcp_flags": flags,
            "ip_len": size,
            "ttl": ttl,
            "tcp_mss": mss,
            "tcp_win": win,
            "tcp_ts": tsv,
        }
        for s, port, dst, size, ttl, mss, win, tsv in packets
    ]


# Day 1 (features): A sends 6 packets, B 5, C 4 (dropped by the default host filter).
A_PACKETS = [
    (0, 23, S1, 40, 50, 1460, 1024, None),
    (3, 23, S2, 40, 50, None, 1024, 100),
    (20, 23, S1, 60, 52, 1460, 2048, 200),
    (30, 80, S1, 60, 52, None, None, None),
    (40, 80, S1, 40, 50, 1460, 1024, 300),
    (45, 8080, S2, 44, 50, 536, 512, None),
]
B_PACKETS = [
    (5, 23, S1, 40, 100, 1400, 65535, 7),
    (15, 23, S1, 40, 100, 1400, 65535, 7),
    (25, 443, S2, 40, 100, 1400, 65535, 7),
    (35, 443, S2, 40, 100, 1400, 65535, 7),
    (45, 22, S1, 40, 100, 1400, 65535, None),
]
C_PACKETS = [(s, 23, S1, 40, 64, 1460, 1024, 1) for s in (1, 2, 4, 6)]


def stats5(values):
    """sum, min, max, mean, sample std (0 for one value): the packet-field statistics order."""
    return [
        sum(values),
        min(values),
        max(values),
        statistics.mean(values),
        statistics.stdev(values) if len(values) > 1 else 0.0,
    ]


def count_stats(counts):
    """#groups, then min, max, sum, mean, std of the per-group counts: the count-statistics order."""
    s = stats5(counts)
    return [len(counts), s[1], s[2], s[0], s[3], s[4]]


def field_block(packets):
    """Stats of size, TTL, MSS, window, TSval with nulls as 0."""
    cols = list(zip(*[p[3:] for p in packets]))
    return [v for col in cols for v in stats5([x or 0 for x in col])]


@pytest.fixture
def store(ws):
    rows = _rows(DAY1, A, A_PACKETS) + _rows(DAY1, B, B_PACKETS) + _rows(DAY1, C, C_PACKETS)
    six = [(s, 80, S1, 40, 64, 1460, 1024, None) for s in range(6)]
    rows += _rows(DAY2, D, six, proto=17, flags=None) + _rows(DAY2, E, six, flags=SYNACK) + _rows(DAY2, F, six)
    rows += _rows(DAY3, C, C_PACKETS)
    write_records(ws, "dn", "darknet", pa.Table.from_pylist(rows), part="fixture")
    return ws


def test_every_feature_edges_folding_and_corpus(store):
    days = build_snapshots(store, "dn", days=[DAY1], settings=SnapshotSettings(top_ports=2))
    assert days == [DAY1]
    snap = load_day(store, "dn", DAY1)
    assert isinstance(snap, Snapshot) and snap.day == DAY1
    # ports by packets after the host filter: 23 (5), then 80 and 443 tie at 2 -> 80 (lower number); rest -> -1
    assert snap.edges.to_pylist() == [
        {"ip": A, "port": -1, "packets": 1},
        {"ip": A, "port": 23, "packets": 3},
        {"ip": A, "port": 80, "packets": 2},
        {"ip": B, "port": -1, "packets": 3},
        {"ip": B, "port": 23, "packets": 2},
    ]
    a_port = [A_PACKETS[i] for i in (0, 1, 2)], [A_PACKETS[i] for i in (3, 4)], [A_PACKETS[5]]
    host_expected = {
        A: count_stats([3, 2, 1]) + count_stats([4, 2]) + field_block(A_PACKETS),
        B: count_stats([2, 3]) + count_stats([3, 2]) + field_block(B_PACKETS),
    }
    port_expected = {
        -1: count_stats([1, 3]) + [0.0] * 6 + field_block(a_port[2] + B_PACKETS[2:]),
        23: count_stats([3, 2]) + [0.0] * 6 + field_block(a_port[0] + B_PACKETS[:2]),
        80: count_stats([2]) + [0.0] * 6 + field_block(a_port[1]),
    }
    hosts = snap.host_features
    assert hosts.column_names == ["ip", *FEATURE_COLUMNS]
    assert hosts.column("ip").to_pylist() == [A, B]
    for row in hosts.to_pylist():
        np.testing.assert_allclose([row[c] for c in FEATURE_COLUMNS], host_expected[row["ip"]], rtol=1e-12)
    ports = snap.port_features
    assert ports.column("port").to_pylist() == [-1, 23, 80]
    for row in ports.to_pylist():
        np.testing.assert_allclose([row[c] for c in FEATURE_COLUMNS], port_expected[row["port"]], rtol=1e-12)
    # spot checks written out by hand
    a = hosts.to_pylist()[0]
    assert (a["f00"], a["f03"], a["f05"], a["f06"], a["f11"]) == (3, 6, 1.0, 2, pytest.approx(2**0.5))
    assert (a["f12"], a["f22"], a["f32"], a["f35"]) == (284, 1460 * 3 + 536, 600, 100)
    # corpus: port 23 [A,A,B,B,A] -> [A,B,A]; 80 [A,A] -> [A]; other last, (B25,B35,A45,B45) -> [B,A,B]
    assert snap.corpus.to_pylist() == [
        {"port": 23, "seq": 0, "ip": A, "hour": 0},
        {"port": 23, "seq": 1, "ip": B, "hour": 0},
        {"port": 23, "seq": 2, "ip": A, "hour": 0},
        {"port": 80, "seq": 3, "ip": A, "hour": 0},
        {"port": -1, "seq": 4, "ip": B, "hour": 0},
        {"port": -1, "seq": 5, "ip": A, "hour": 0},
        {"port": -1, "seq": 6, "ip": B, "hour": 0},
    ]
    counts = snap.meta["counts"]
    assert counts["packets_read"] == 15 and counts["packets_kept"] == 11 and counts["packets_other"] == 4
    assert (counts["hosts_kept"], counts["ports_distinct"], counts["ports_kept"]) == (2, 5, 2)
    assert snap.meta["warnings"] == [] and snap.meta["host_filter"] == "packets >= 5"


@pytest.mark.parametrize(
    ("settings", "kept"),
    [
        (SnapshotSettings(), [A, B]),  # papers: >= 5 keeps the 5- and 6-packet hosts
        (SnapshotSettings.reference(), [A]),  # reference code: > 5 keeps only the 6-packet host
        (SnapshotSettings(min_packets=4), [A, B, C]),
        (SnapshotSettings(min_packets=6), [A]),
    ],
)
def test_host_filter_boundary(store, settings, kept):
    build_snapshots(store, "dn", days=[DAY1], settings=settings)
    snap = load_day(store, "dn", DAY1)
    assert snap.host_features.column("ip").to_pylist() == kept
    assert sorted(set(snap.edges.column("ip").to_pylist())) == kept


def test_protocol_and_flag_filters(store):
    build_snapshots(store, "dn", days=[DAY2])
    assert load_day(store, "dn", DAY2).host_features.column("ip").to_pylist() == [E, F]
    build_snapshots(store, "dn", days=[DAY2], settings=SnapshotSettings(syn_only=True))
    assert load_day(store, "dn", DAY2).host_features.column("ip").to_pylist() == [F]
    build_snapshots(store, "dn", days=[DAY2], settings=SnapshotSettings(tcp_only=False))
    assert load_day(store, "dn", DAY2).host_features.column("ip").to_pylist() == [D, E, F]


def test_filtered_out_and_missing_days_are_empty_with_a_warning(store):
    missing = dt.date(2021, 12, 9)
    assert build_snapshots(store, "dn", days=[DAY3, missing]) == [DAY3, missing]
    for day, warning in ((DAY3, "every packet was filtered out"), (missing, "no records")):
        snap = load_day(store, "dn", day)
        assert all(t.num_rows == 0 for t in (snap.edges, snap.host_features, snap.port_features, snap.corpus))
        assert snap.host_features.column_names == ["ip", *FEATURE_COLUMNS]
        assert warning in snap.meta["warnings"][0]


def test_rerun_is_idempotent_and_changes_recompute(store):
    build_snapshots(store, "dn", days=[DAY1, DAY2])
    meta_file = store.snapshot_dir("dn", DAY1) / "meta.json"
    first = meta_file.stat().st_mtime_ns, meta_file.read_text()
    build_snapshots(store, "dn", days=[DAY1, DAY2])
    assert (meta_file.stat().st_mtime_ns, meta_file.read_text()) == first
    build_snapshots(store, "dn", days=[DAY1], settings=SnapshotSettings(top_ports=2))
    meta = json.loads(meta_file.read_text())
    assert meta["settings"]["top_ports"] == 2 and meta["settings_hash"] != json.loads(first[1])["settings_hash"]
    # new records for the day (a second ingest part) change the input fingerprint: the day is recomputed
    write_records(store, "dn", "darknet", pa.Table.from_pylist(_rows(DAY1, C, C_PACKETS[:1])), part="late")
    build_snapshots(store, "dn", days=[DAY1], settings=SnapshotSettings(top_ports=2))
    assert load_day(store, "dn", DAY1).host_features.column("ip").to_pylist() == [A, B, C]


def test_days_of_an_older_layout_are_rebuilt(store, monkeypatch):
    import darkstack.snapshot.settings as snapshot_settings

    monkeypatch.setattr(snapshot_settings, "SNAPSHOT_FORMAT", 1)
    build_snapshots(store, "dn", days=[DAY1])
    old = json.loads((store.snapshot_dir("dn", DAY1) / "meta.json").read_text())["settings_hash"]
    monkeypatch.undo()
    build_snapshots(store, "dn", days=[DAY1])
    assert json.loads((store.snapshot_dir("dn", DAY1) / "meta.json").read_text())["settings_hash"] != old


def test_node_index_is_stable_and_append_only(store):
    build_snapshots(store, "dn", days=[DAY2])
    build_snapshots(store, "dn", days=[DAY1, DAY2, DAY3])
    index = load_node_index(store, "dn").to_pylist()
    # E, F indexed first (day 2 built first); A, B appended later; first_day moves to the earliest day seen
    assert [(r["ip"], r["node_id"]) for r in index] == [(E, 0), (F, 1), (A, 2), (B, 3)]
    assert {r["ip"]: r["first_day"] for r in index} == {E: DAY2, F: DAY2, A: DAY1, B: DAY1}


def test_load_day_errors_and_unknown_sensor(store):
    with pytest.raises(DarkstackError, match="no snapshot"):
        load_day(store, "dn", DAY1)
    with pytest.raises(DarkstackError, match="unknown sensor"):
        build_snapshots(store, "nope")
    with pytest.raises(DarkstackError, match="engine"):
        build_snapshots(store, "dn", engine="pandas")


def test_scale_by_day_max():
    x = np.array([[2.0, 0.0, 5.0], [1.0, 0.0, 10.0]])
    np.testing.assert_array_equal(scale_by_day_max(x), [[1.0, 0.0, 0.5], [0.5, 0.0, 1.0]])
    assert scale_by_day_max(np.zeros((0, 37))).shape == (0, 37)


def test_cli_snapshot(store, capsys):
    from darkstack.cli import main

    assert main(["snapshot", "-w", str(store.root), "--days", "2021-12-01,2021-12-02", "--top-ports", "2"]) == 0
    assert store.snapshot_days("dn") == [DAY1, DAY2]
    assert load_day(store, "dn", DAY1).meta["settings"]["top_ports"] == 2
    assert (
        main(["snapshot", "-w", str(store.root), "--from", "2021-12-03", "--to", "2021-12-04", "--reference-compat"])
        == 0
    )
    assert load_day(store, "dn", dt.date(2021, 12, 4)).meta["settings"]["host_filter"] == "gt"
    assert main(["snapshot", "-w", str(store.root), "--top-ports", "0"]) == 2
    assert main(["snapshot", "-w", str(store.root), "--engine", "pandas"]) == 2
    assert "engine must be one of" in capsys.readouterr().err


def _oracle(df, top_ports: int, min_packets: int):
    """Independent pandas computation of edges, host/port features and corpus (the papers' definitions)."""
    df = df[df.proto == 6].copy()
    for col in ("ip_len", "ttl", "tcp_mss", "tcp_win", "tcp_ts"):
        df[col] = df[col].fillna(0).astype("float64")
    df = df[df.groupby("src_ip").src_ip.transform("size") >= min_packets]
    ranks = df.groupby("dst_port").size().reset_index(name="n").sort_values(["n", "dst_port"], ascending=[False, True])
    top = ranks.dst_port.to_numpy()[:top_ports]
    order = {int(p): i for i, p in enumerate(top)}
    df["port"] = np.where(df.dst_port.isin(top), df.dst_port.astype("int64"), -1)
    df["sentence"] = df.port.map(lambda p: order.get(p, top_ports))

    def count_block(keys):
        g = df.groupby(keys).size().groupby(level=0)
        return pd.DataFrame(
            {
                "n": g.size(),
                "min": g.min(),
                "max": g.max(),
                "sum": g.sum(),
                "mean": g.mean(),
                "std": g.std(ddof=1).fillna(0.0),
            }
        )

    def field_block(key):
        g = df.groupby(key)
        parts = [
            g[c].agg(["sum", "min", "max", "mean"]).assign(std=g[c].std(ddof=1).fillna(0.0))
            for c in ("ip_len", "ttl", "tcp_mss", "tcp_win", "tcp_ts")
        ]
        return pd.concat(parts, axis=1)

    hosts = pd.concat(
        [count_block(["src_ip", "port"]), count_block(["src_ip", "dst_ip"]), field_block("src_ip")], axis=1
    )
    per_host = count_block(["port", "src_ip"])
    ports = pd.concat(
        [per_host, pd.DataFrame(0.0, index=per_host.index, columns=range(6)), field_block("port")], axis=1
    )
    edges = df.groupby(["src_ip", "port"]).size().reset_index(name="packets")
    tokens = df.sort_values(["sentence", "ts", "src_ip"])
    keep = (tokens.src_ip != tokens.src_ip.shift()) | (tokens.port != tokens.port.shift())
    tokens = tokens[keep].assign(hour=tokens.ts.dt.tz_convert("UTC").dt.hour)
    return edges, hosts.sort_index(), ports.sort_index(), tokens[["port", "src_ip", "hour"]]


def test_random_day_matches_a_pandas_oracle(ws):
    rng = np.random.default_rng(7)
    n = 4000
    base = dt.datetime(2021, 12, 1, tzinfo=dt.UTC)
    hosts = rng.integers(1, 2**32, 150, dtype=np.uint64).astype(np.uint32)
    nullable = lambda hi: pa.array(rng.integers(0, hi, n), mask=rng.random(n) < 0.3)
    table = pa.table(
        {
            "ts": pa.array([base + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 86400, n)]),
            "src_ip": hosts[np.minimum(rng.zipf(1.5, n), 150) - 1],
            "dst_ip": rng.integers(S1, S1 + 8, n).astype(np.uint32),
            "dst_port": np.minimum(rng.zipf(1.4, n), 65535).astype(np.uint16),
            "proto": rng.choice(np.array([6, 6, 6, 17], np.uint8), n),
            "ip_len": rng.integers(40, 80, n).astype(np.uint16),
            "ttl": rng.integers(30, 255, n).astype(np.uint8),
            "tcp_mss": nullable(1461),
            "tcp_win": nullable(65536),
            "tcp_ts": nullable(2**32),
        }
    )
    write_records(ws, "dn", "darknet", table, part="random")
    build_snapshots(ws, "dn", settings=SnapshotSettings(top_ports=20))
    snap = load_day(ws, "dn", DAY1)
    edges, hosts_x, ports_x, tokens = _oracle(table.to_pandas(), top_ports=20, min_packets=5)
    assert snap.edges.num_rows > 50 and -1 in snap.port_features.column("port").to_pylist()
    np.testing.assert_array_equal(snap.edges.column("ip").to_numpy(), edges.src_ip.to_numpy())
    np.testing.assert_array_equal(snap.edges.column("port").to_numpy(), edges.port.to_numpy())
    np.testing.assert_array_equal(snap.edges.column("packets").to_numpy(), edges.packets.to_numpy())
    for got, want in ((snap.host_features, hosts_x), (snap.port_features, ports_x)):
        np.testing.assert_array_equal(got.column(0).to_numpy(), want.index.to_numpy())
        features = np.column_stack([got.column(c).to_numpy() for c in FEATURE_COLUMNS])
        np.testing.assert_allclose(features, want.to_numpy(dtype=np.float64), rtol=1e-9)
    np.testing.assert_array_equal(snap.corpus.column("ip").to_numpy(), tokens.src_ip.to_numpy())
    np.testing.assert_array_equal(snap.corpus.column("port").to_numpy(), tokens.port.to_numpy())
    np.testing.assert_array_equal(snap.corpus.column("hour").to_numpy(), tokens.hour.to_numpy())
    assert len(np.unique(tokens.hour)) == 24
