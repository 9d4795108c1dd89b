"""Records that stand for several packets (``packets``): the per-packet records of some traffic and the same traffic
aggregated into weighted flow records give identical snapshots (host set, edges and their weights, the 37 node
features, hence the DS embedding), the documented i-DarkVec corpus, and the same host filter."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from darkstack.embed.ds import ds_embeddings
from darkstack.embed.idarkvec import sentences
from darkstack.schema import ip_to_int
from darkstack.snapshot import SnapshotSettings, build_snapshots, load_day
from darkstack.snapshot.features import FEATURE_COLUMNS
from darkstack.store import read_day, write_records
from darkstack.workspace import Workspace
from flow_fixtures import aggregate_to_flows, first_packets

DAY = dt.date(2021, 12, 1)
BASE = dt.datetime(2021, 12, 1, tzinfo=dt.UTC)
SYN, SYNACK = 0x02, 0x12


def packet_table(seed: int = 3, n: int = 3000) -> pa.Table:
    """Random per-packet records over two days: each host mostly repeats its own field values (so its packets
    share flows), TSvals near 2^32 (the std's precision), hosts on both sides of the 5-packet filter, UDP,
    SYN-ACKs, null flags and absent options."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(1, 2**32, 80, dtype=np.uint64).astype(np.uint32)
    host = np.minimum(rng.zipf(1.3, n), 80) - 1
    variant = host + (rng.random(n) < 0.15)  # 15 % of a host's packets take its neighbour's values

    def per_host(values, type_, null_every: int = 0):
        values = np.asarray(values)[variant % len(values)]
        return pa.array(values, type_, mask=(variant % null_every == 0) if null_every else None)

    seconds = np.sort(rng.integers(0, 2 * 86400, n))
    return pa.table(
        {
            "ts": pa.array([BASE + dt.timedelta(seconds=int(s)) for s in seconds]),
            "sensor": pa.array(["dn"] * n),
            "sensor_kind": pa.array(["darknet"] * n),
            "src_ip": pool[host],
            "dst_ip": (rng.integers(0, 3, n) + int(ip_to_int("192.0.2.1"))).astype(np.uint32),
            "src_port": per_host([40000, 40001], pa.uint16()),
            "dst_port": np.minimum(rng.zipf(1.5, n), 40).astype(np.uint16),
            "proto": per_host([6, 6, 6, 17, 6], pa.uint8()),
            "tcp_flags": per_host([SYN, SYN, SYNACK], pa.uint8(), null_every=7),
            "ip_len": per_host([40, 44, 60, 52], pa.uint16()),
            "ttl": per_host([50, 64, 240], pa.uint8()),
            "tcp_mss": per_host([1460, 536], pa.uint16(), null_every=5),
            "tcp_win": per_host([1024, 65535, 29200], pa.uint16(), null_every=6),
            "tcp_ts": per_host([2**32 - 7, 2**32 - 1_000_003, 12345], pa.uint32(), null_every=4),
        }
    )


def _snapshot(ws: Workspace, table: pa.Table, settings: SnapshotSettings, engine: str = "duckdb"):
    write_records(ws, "dn", "darknet", table, part="t")
    build_snapshots(ws, "dn", settings=settings, engine=engine)
    return [load_day(ws, "dn", d) for d in ws.store_days("dn")]


def _features(table: pa.Table) -> np.ndarray:
    return np.column_stack([table.column(c).to_numpy() for c in FEATURE_COLUMNS])


def assert_same_snapshot(a, b) -> None:
    """Host set, edges and weights, node features (std to rounding), DS embedding and the day's packet counts."""
    assert a.edges.equals(b.edges) and a.edges.num_rows > 0
    for name in ("host_features", "port_features"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.column(0).equals(y.column(0)) and x.num_rows > 0
        np.testing.assert_allclose(_features(x), _features(y), rtol=1e-12, atol=0)
    (ips_a, ds_a), (ips_b, ds_b) = ds_embeddings(a), ds_embeddings(b)
    np.testing.assert_array_equal(ips_a, ips_b)
    np.testing.assert_allclose(ds_a, ds_b, rtol=1e-6)
    counts = lambda s: {k: v for k, v in s.meta["counts"].items() if not k.startswith("records_") and k != "corpus_tokens"}
    assert counts(a) == counts(b)


@pytest.mark.parametrize(
    "settings",
    [SnapshotSettings(top_ports=8), SnapshotSettings(syn_only=True), SnapshotSettings(tcp_only=False, host_filter="gt")],
    ids=["default-folded", "syn-only", "all-protocols-gt"],
)
def test_flows_give_the_snapshot_of_their_packets(tmp_path, settings):
    packets = packet_table()
    flows = aggregate_to_flows(packets)
    assert flows.num_rows < packets.num_rows / 2 and flows.column("packets").to_numpy().max() > 5
    per_packet = _snapshot(Workspace(tmp_path / "packets"), packets, settings)
    weighted = _snapshot(Workspace(tmp_path / "flows"), flows, settings)
    assert [s.day for s in per_packet] == [s.day for s in weighted] == [DAY, DAY + dt.timedelta(days=1)]
    for a, b in zip(per_packet, weighted):
        assert_same_snapshot(a, b)
        assert b.meta["counts"]["records_read"] < a.meta["counts"]["records_read"] == a.meta["counts"]["packets_read"]
    assert any(s.meta["counts"]["packets_other"] > 0 for s in weighted) or settings.top_ports > 40


@pytest.mark.slow
@pytest.mark.requires("pyspark", "java")
def test_spark_weighs_flow_records_like_duckdb(tmp_path):
    flows = aggregate_to_flows(packet_table())
    settings = SnapshotSettings(top_ports=8)
    duck = _snapshot(Workspace(tmp_path / "duck"), flows, settings)
    spark = _snapshot(Workspace(tmp_path / "spark"), flows, settings, engine="spark")
    for a, b in zip(duck, spark, strict=True):
        assert a.meta["counts"] == b.meta["counts"] and a.meta["counts"]["records_kept"] < a.meta["counts"]["packets_kept"]
        assert a.edges.equals(b.edges) and a.corpus.equals(b.corpus)
        for name in ("host_features", "port_features"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.column(0).equals(y.column(0))
            np.testing.assert_allclose(_features(x), _features(y), rtol=1e-9, atol=0)


def _by_port(snapshot) -> dict[int, list[int]]:
    """The corpus as port → senders in order."""
    out: dict[int, list[int]] = {}
    for row in snapshot.corpus.sort_by("seq").to_pylist():
        out.setdefault(row["port"], []).append(row["ip"])
    return out


def test_flow_corpus_is_the_corpus_of_first_packets(tmp_path):
    """A flow enters the corpus once, at its first packet (docs/snapshot.md): its corpus is that of the flows'
    first packets; the senders' first arrivals (``first``) are those of the packets; flows whose packets are
    not interleaved with other senders' give exactly the per-packet corpus."""
    packets = packet_table()
    weighted = _snapshot(Workspace(tmp_path / "flows"), aggregate_to_flows(packets), SnapshotSettings())
    per_packet = _snapshot(Workspace(tmp_path / "packets"), packets, SnapshotSettings())
    kept = {(s.day, ip) for s in weighted for ip in s.host_features.column("ip").to_pylist()}
    firsts = first_packets(packets)
    days = [t.date() for t in firsts.column("ts").to_pylist()]
    firsts = firsts.filter(pa.array([(d, ip) in kept for d, ip in zip(days, firsts.column("src_ip").to_pylist())]))
    first_only = _snapshot(Workspace(tmp_path / "firsts"), firsts, SnapshotSettings(min_packets=1))
    for w, f, p in zip(weighted, first_only, per_packet):
        assert _by_port(w) == _by_port(f) != {}
        assert sentences(w, 10_000, "first") == sentences(p, 10_000, "first")
        assert w.corpus.num_rows < p.corpus.num_rows  # interleaved packets give more tokens than their flows

    flows = aggregate_to_flows(packets)
    bursts = _bursts(flows.filter(flows.column("ts").to_numpy() < np.datetime64("2021-12-02")))
    burst_packets = _snapshot(Workspace(tmp_path / "bursts"), bursts, SnapshotSettings())
    burst_flows = _snapshot(Workspace(tmp_path / "burst-flows"), aggregate_to_flows(bursts), SnapshotSettings())
    assert len(burst_packets) == len(burst_flows) == 1
    assert_same_snapshot(burst_packets[0], burst_flows[0])
    assert burst_packets[0].corpus.equals(burst_flows[0].corpus) and burst_packets[0].corpus.num_rows > 0


def _bursts(flows: pa.Table) -> pa.Table:
    """Each flow's packets sent back to back, one second apart, one flow after the other (none overlap)."""
    n = flows.column("packets").to_numpy().astype(np.int64)
    start = np.cumsum(n + 1) - (n + 1)
    rows = np.repeat(np.arange(flows.num_rows), n)
    seconds = np.repeat(start, n) + np.arange(rows.size) - np.repeat(np.cumsum(n) - n, n)
    assert seconds.max() < 86400
    ts = np.datetime64("2021-12-01T00:00:00", "us") + seconds.astype("timedelta64[s]")
    table = flows.take(pa.array(rows)).drop_columns(["packets"])
    return table.set_column(0, "ts", pa.array(ts, pa.timestamp("us", tz="UTC")))


def _records(host: int, n: int, packets, port: int = 23, second: int = 0) -> list[dict]:
    return [
        {"ts": BASE + dt.timedelta(seconds=second + i), "src_ip": host, "dst_ip": 7, "dst_port": port, "proto": 6,
         "tcp_flags": SYN, "ip_len": 40, "ttl": 64, "packets": packets}
        for i in range(n)
    ]


@pytest.mark.parametrize(("settings", "kept"), [(SnapshotSettings(), ["one-of-5", "one-of-6"]),
                                                (SnapshotSettings(host_filter="gt"), ["one-of-6"])])
def test_host_filter_sums_packets_not_rows(ws, settings, kept):
    hosts = {"one-of-5": 1, "four-rows": 2, "one-of-6": 3, "zero": 4}
    rows = _records(1, 1, 5) + _records(1, 1, 0, port=9999) + _records(2, 4, None) + _records(3, 1, 6)
    rows += _records(4, 4, None) + _records(4, 3, 0, port=25)  # records of 0 packets are dropped, not counted
    write_records(ws, "dn", "darknet", pa.Table.from_pylist(rows), part="t")
    build_snapshots(ws, "dn", settings=settings)
    snap = load_day(ws, "dn", DAY)
    assert snap.host_features.column("ip").to_pylist() == [hosts[k] for k in kept]
    first = snap.host_features.to_pylist()[0]
    n = 5 if kept[0] == "one-of-5" else 6
    # one port, n packets on it, one address: count stats; size sum n·40, mean 40, std 0 (one value)
    assert [first[f"f{i:02d}"] for i in (0, 1, 2, 3, 4, 5, 6, 12, 13, 15, 16)] == [1, n, n, n, n, 0, 1, 40 * n, 40, 40, 0]
    assert snap.edges.to_pylist()[0] == {"ip": hosts[kept[0]], "port": 23, "packets": n}
    assert snap.meta["counts"]["records_read"] == len(rows)
    assert snap.meta["counts"]["packets_read"] == 5 + 4 + 6 + 4  # zero-packet records stand for no packet


def test_measure_weighs_flow_records(tmp_path):
    """The simulator's Table-2 measure counts the packets flow records stand for, not their rows."""
    from darkstack.simulate import simulate
    from darkstack.simulate.measure import class_stats

    packets, flows = Workspace(tmp_path / "packets"), Workspace(tmp_path / "flows")
    simulate(packets, "demo", days=1, start=DAY, seed=7)
    shutil.copytree(packets.truth_dir, flows.truth_dir)
    table = read_day(packets, "darknet", DAY)
    # the measure reads the destination and sequence number only to test them against each other (Mirai)
    mirai = pc.equal(table.column("tcp_seq"), table.column("dst_ip")).fill_null(False)
    for name in ("tcp_seq", "dst_ip"):
        column = table.column(name)
        table = table.set_column(table.column_names.index(name), name,
                                 pc.if_else(mirai, column, pa.scalar(None if name == "tcp_seq" else 0, column.type)))
    keys = ("sensor", "sensor_kind", "src_ip", "dst_ip", "dst_port", "proto", "tcp_flags", "tcp_seq")
    flows_table = aggregate_to_flows(table, keys=keys)
    assert flows_table.num_rows < table.num_rows / 2
    write_records(flows, "darknet", "darknet", flows_table, part="flows")
    want = class_stats(packets, days=[DAY])
    assert want.loc["total", "packets"] > 1000 and want.loc["mirai", "hosts"] > 0
    pd.testing.assert_frame_equal(class_stats(flows, days=[DAY]), want)



@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=[pytest.mark.slow,
                                                                        pytest.mark.requires("pyspark", "java")])])
def test_store_written_before_the_packets_column(tmp_path, engine):
    """Parts of an older store lack ``honeypot`` and ``packets``: alone (first day) or beside a newer part (second
    day), the snapshot is the same as from a store written today."""
    packets = packet_table()
    settings = SnapshotSettings(top_ports=8)
    expected = _snapshot(Workspace(tmp_path / "new"), packets, settings)
    ws = Workspace(tmp_path / "old")
    write_records(ws, "dn", "darknet", packets, part="t")
    for k, path in enumerate(sorted(ws.store_dir.glob("dn/*/part-t.parquet"))):
        table = pq.read_table(path)
        half = table.num_rows // 2
        old = table.drop_columns(["honeypot", "packets"])
        pq.write_table(old.slice(0, half), path)
        pq.write_table((old if k == 0 else table).slice(half), path.with_name("part-u.parquet"))
    build_snapshots(ws, "dn", settings=settings, engine=engine)
    for a, day in zip(expected, ws.store_days("dn"), strict=True):
        assert_same_snapshot(a, load_day(ws, "dn", day))
