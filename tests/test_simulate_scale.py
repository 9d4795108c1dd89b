"""A telescope larger than the /24 (``--prefix-len``) and its thinned days (``--thin``): the growth model of
docs/simulator.md § Telescope size, determinism of the sliced day, and the thinned store's weighted snapshot."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from darkstack import store
from darkstack.cli import main
from darkstack.errors import ConfigError
from darkstack.schema import ip_to_int
from darkstack.simulate import simulate, traffic
from darkstack.simulate.profiles import HOST_EXPONENT, MIN_PACKETS, build_profile, sweeps
from darkstack.snapshot import SnapshotSettings, build_snapshots, load_day
from darkstack.workspace import Workspace

START = dt.date(2021, 12, 1)
FIELDS = {"size": "ip_len", "ttl": "ttl", "mss": "tcp_mss", "win": "tcp_win", "tsval": "tcp_ts"}
"""Snapshot field → store column; its five statistics are f12 + 5·i … f16 + 5·i."""


def test_telescope_model_scales_each_kind_of_sender():
    """At /16 (r = 256): organisations keep their hosts and send r× the packets, random senders grow r^a× in hosts
    and r× in packets, noise r^a× at its 1–4 packets; the honeypot's expected hosts do not change; /24 is the profile."""
    base, big = build_profile("paper"), build_profile("paper", prefix_len=16)
    assert build_profile("paper", prefix_len=24) == base and big.darknet_prefix == "44.0.0.0/16"
    r, g = 256.0, 256.0 ** HOST_EXPONENT
    for a, b in zip(base.behaviours, big.behaviours, strict=True):
        hosts, packets = b.daily_hosts / a.daily_hosts, b.daily_hosts * b.packets_per_host / (a.daily_hosts * a.packets_per_host)
        if sweeps(a):
            assert (hosts, packets) == pytest.approx((1.0, r)), a.name
        elif a.max_packets < MIN_PACKETS:
            assert (hosts, packets) == pytest.approx((g, g)), a.name
        else:
            assert (hosts, packets) == pytest.approx((g, r)), a.name
        assert b.daily_hosts * b.honeypot_share == pytest.approx(a.daily_hosts * a.honeypot_share)
        assert b.daily_hosts * b.honeypot_only == pytest.approx(a.daily_hosts * a.honeypot_only)
    assert sum(sweeps(b) for b in base.behaviours) >= 12  # the acknowledged organisations and the unlisted ones


def _active_hosts(ws: Workspace, day: dt.date) -> pd.Series:
    """TCP packets per host with at least MIN_PACKETS of them (records weigh their ``packets``)."""
    df = store.read_day(ws, "darknet", day, columns=["src_ip", "proto", "packets"]).to_pandas()
    df = df[df["proto"] == 6]
    n = df["packets"].fillna(1).groupby(df["src_ip"]).sum()
    return n[n >= MIN_PACKETS]


def _groups(ws: Workspace) -> pd.Series:
    truth = pd.read_csv(ws.truth_dir / "truth.csv")
    return pd.Series(truth["group"].to_numpy(), index=ip_to_int(truth["ip"].to_numpy(str)))


def test_larger_telescope_grows_hosts_and_packets_as_the_model_says(tmp_path):
    """A /20 demo day against the /24 one (r = 16): packets ×r, active random senders ×r^a, organisations' hosts
    the same, the honeypot the same size (measured on a tiny world: ±25 %)."""
    r, g = 16.0, 16.0 ** HOST_EXPONENT
    measured = {}
    for prefix in (24, 20):
        ws = Workspace(tmp_path / f"p{prefix}")
        summary = simulate(ws, "demo", days=1, start=START, seed=5, scale=0.3, prefix_len=prefix)
        hosts = _active_hosts(ws, START)
        org = _groups(ws).reindex(hosts.index).map(
            lambda grp: any(b.name == str(grp).split("/")[0] and sweeps(b) for b in build_profile("demo").behaviours))
        measured[prefix] = {"packets": sum(summary["darknet_packets"].values()), "random": int((~org).sum()),
                            "organisations": int(org.sum()), "honeypot": sum(summary["honeypot"].values())}
    small, big = measured[24], measured[20]
    assert big["packets"] / small["packets"] == pytest.approx(r, rel=0.25)
    assert big["random"] / small["random"] == pytest.approx(g, rel=0.25)
    assert big["organisations"] / small["organisations"] == pytest.approx(1.0, rel=0.25)
    assert big["honeypot"] / small["honeypot"] == pytest.approx(1.0, rel=0.25)


def _store_bytes(ws: Workspace) -> dict[str, bytes]:
    return {str(p.relative_to(ws.store_dir)): p.read_bytes() for p in sorted(ws.store_dir.rglob("*.parquet"))}


def test_sliced_days_are_deterministic_bounded_and_rerun_cleanly(tmp_path, monkeypatch):
    """With small slices and parts a day streams out as several Parquet parts, none above PART_RECORDS rows; the
    same seed gives the same bytes; the day's senders are the unsliced day's (their volume drawn alike); re-running with larger parts leaves no stale part behind."""
    kwargs = {"profile": "demo", "days": 2, "start": START, "seed": 3, "scale": 0.1, "prefix_len": 22}
    whole = Workspace(tmp_path / "whole")
    simulate(whole, **kwargs)
    monkeypatch.setattr(traffic, "SLICE_PACKETS", 4_000)
    monkeypatch.setattr(traffic, "PART_RECORDS", 30_000)
    a, b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    simulate(a, **kwargs)
    simulate(b, **kwargs)
    assert _store_bytes(a) == _store_bytes(b)
    for day in a.store_days("darknet"):
        parts = store.day_files(a, "darknet", day)
        assert len(parts) > 2 and all(pq.read_metadata(p).num_rows <= 30_000 for p in parts)
        sliced = store.read_day(a, "darknet", day, columns=["src_ip"]).to_pandas().value_counts()
        unsliced = store.read_day(whole, "darknet", day, columns=["src_ip"]).to_pandas().value_counts()
        assert len(store.day_files(whole, "darknet", day)) == 1
        assert set(sliced.index) == set(unsliced.index)
        assert sliced.sum() == pytest.approx(unsliced.sum(), rel=0.1)
    monkeypatch.undo()
    simulate(a, **kwargs)
    assert _store_bytes(a) == _store_bytes(whole)


def _snapshot(ws: Workspace):
    build_snapshots(ws, "darknet", settings=SnapshotSettings())
    return load_day(ws, "darknet", START)


def _constant_hosts(ws: Workspace, column: str) -> np.ndarray:
    """Hosts whose TCP packets all carry one value of ``column`` (null counted as a value)."""
    df = store.read_day(ws, "darknet", START, columns=["src_ip", "proto", column]).to_pandas()
    df = df[df["proto"] == 6]
    n = df[column].fillna(-1).groupby(df["src_ip"]).nunique()
    return n.index[n == 1].to_numpy()


def test_thinned_day_keeps_the_weighted_snapshot(tmp_path):
    """--thin 8 writes far fewer records but the same hosts, edges and edge weights, the same per-port and
    per-host packet-count features (f00–f05), the same packet counts in meta, and the same statistics of every
    field that is constant over a host's packets; the destination-address features (f06–f11) shrink, as
    documented."""
    kwargs = {"profile": "demo", "days": 1, "start": START, "seed": 2, "scale": 0.1, "prefix_len": 22}
    full, thinned = Workspace(tmp_path / "full"), Workspace(tmp_path / "thin")
    simulate(full, **kwargs)
    summary = simulate(thinned, **kwargs, thin=8)
    assert summary["darknet_packets"] == simulate(Workspace(tmp_path / "again"), **kwargs)["darknet_packets"]
    assert sum(summary["darknet"].values()) < sum(summary["darknet_packets"].values()) / 2
    a, b = _snapshot(full), _snapshot(thinned)
    assert a.edges.equals(b.edges) and a.edges.num_rows > 1000
    counts = lambda s: {k: v for k, v in s.meta["counts"].items() if k.startswith(("packets_", "hosts_", "ports_"))}
    assert counts(a) == counts(b)
    for name in ("host_features", "port_features"):
        x, y = getattr(a, name).to_pandas().set_index(getattr(a, name).column_names[0]), \
            getattr(b, name).to_pandas().set_index(getattr(b, name).column_names[0])
        pd.testing.assert_index_equal(x.index, y.index)
        cols = [f"f{i:02d}" for i in range(6)]
        np.testing.assert_allclose(x[cols].to_numpy(), y[cols].to_numpy(), rtol=1e-12)
    x, y = (s.host_features.to_pandas().set_index("ip") for s in (a, b))
    assert (y["f06"] <= x["f06"]).all() and (y["f06"] < x["f06"]).any()
    for i, (field, column) in enumerate(FIELDS.items()):
        hosts = np.intersect1d(_constant_hosts(full, column), x.index.to_numpy())
        cols = [f"f{12 + 5 * i + j:02d}" for j in range(5)]
        assert len(hosts) > 10, field
        np.testing.assert_allclose(x.loc[hosts, cols].to_numpy(), y.loc[hosts, cols].to_numpy(), rtol=1e-9,
                                   err_msg=field)


def test_bad_telescope_options(tmp_path):
    ws = Workspace(tmp_path / "ws")
    for kwargs in ({"prefix_len": 25}, {"prefix_len": 7}, {"thin": 0}, {"thin": 4, "pcap": True},
                   {"prefix_len": 20, "pcap": True}):
        with pytest.raises(ConfigError):
            simulate(ws, "demo", days=1, start=START, scale=0.1, **kwargs)
    assert main(["simulate", "--days", "1", "--prefix-len", "30", "-w", str(tmp_path / "cli")]) != 0
    assert main(["simulate", "--days", "1", "--scale", "0.05", "--prefix-len", "23", "--thin", "4",
                 "-w", str(tmp_path / "cli")]) == 0
