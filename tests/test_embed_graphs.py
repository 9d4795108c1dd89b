"""Day graphs, windows and link-prediction samples of the GNN family."""

from __future__ import annotations

import numpy as np
import pytest
from embed_fixtures import write_days

from darkstack.embed.windows import (
    PORT_KEY_BASE,
    build_day_graph,
    make_window,
    sample_negatives,
    window_positions,
)
from darkstack.errors import InputFormatError
from darkstack.snapshot import load_day


@pytest.fixture
def graphs(ws):
    days = write_days(ws, n_days=3)
    return [build_day_graph(load_day(ws, "darknet", d), features=True) for d in days], days


def test_adjacency_is_row_normalised_with_self_loops(graphs):
    for g in graphs[0]:
        a = g.adjacency
        np.testing.assert_allclose(np.asarray(a.sum(axis=1)).ravel(), 1.0, rtol=1e-6)
        assert (a.diagonal() > 0).all()
        assert ((a != 0) != (a.T != 0)).nnz == 0  # same pattern both ways (weights differ: row-normalised)


def test_adjacency_weights_are_packets(ws):
    (day,) = write_days(ws, n_days=1)
    snap = load_day(ws, "darknet", day)
    g = build_day_graph(snap, features=False)
    e_ip, e_port = snap.edges.column("ip").to_numpy(), snap.edges.column("port").to_numpy()
    packets = snap.edges.column("packets").to_numpy()
    mask = e_ip == e_ip[0]
    host = int(np.searchsorted(g.keys, e_ip[0]))
    row = g.adjacency[host].toarray().ravel()
    total = 1 + packets[mask].sum()
    assert row[host] == pytest.approx(1 / total)
    ports = np.searchsorted(g.keys, PORT_KEY_BASE + 1 + e_port[mask].astype(np.int64))
    np.testing.assert_allclose(row[ports], packets[mask] / total, rtol=1e-6)


def test_positives_are_exactly_the_days_host_port_pairs(ws, graphs):
    gs, days = graphs
    for g, day in zip(gs, days, strict=True):
        edges = load_day(ws, "darknet", day).edges
        expected = set(zip(edges.column("ip").to_pylist(), edges.column("port").to_pylist(), strict=True))
        got = {
            (int(g.keys[h]), int(g.keys[p] - PORT_KEY_BASE - 1)) for h, p in zip(g.edge_host, g.edge_port, strict=True)
        }
        assert got == expected
        assert (g.edge_host < g.n_hosts).all() and (g.edge_port >= g.n_hosts).all()
        assert set(g.hosts.tolist()) == set(load_day(ws, "darknet", day).host_features.column("ip").to_pylist())


def test_features_are_day_max_scaled_per_node_type(graphs):
    g = graphs[0][0]
    assert g.features.shape == (g.n_nodes, 37)
    hosts, ports = g.features[: g.n_hosts], g.features[g.n_hosts :]
    for block in (hosts, ports):
        assert block.min() >= 0 and block.max() <= 1
        assert (
            np.isclose(block.max(axis=0), 1).all() or (block.max(axis=0)[~np.isclose(block.max(axis=0), 1)] == 0).all()
        )


def test_negatives_are_never_edges_and_distinct(graphs):
    g = graphs[0][0]
    rng = np.random.default_rng(0)
    n = g.n_nodes
    real = set((g.edge_host * n + g.edge_port).tolist())
    for _ in range(5):
        h, p = sample_negatives(g, len(g.edge_host), rng)
        assert len(h) == len(g.edge_host)
        codes = h * n + p
        assert not (set(codes.tolist()) & real)
        assert len(np.unique(codes)) == len(codes)
        assert set(h.tolist()) <= set(g.edge_host.tolist()) and set(p.tolist()) <= set(g.edge_port.tolist())


def test_negatives_on_a_dense_graph_are_every_non_edge(graphs):
    g = graphs[0][0]
    # Ask for far more than exist: every non-edge among the hosts and ports with edges comes back once.
    h, _ = sample_negatives(g, 10**6, np.random.default_rng(1))
    hosts, ports = np.unique(g.edge_host), np.unique(g.edge_port)
    assert len(h) == len(hosts) * len(ports) - len(g.edge_host)


def test_window_positions_for_every_model():
    # i-GCN-GRU / GCN-GRU: [t-H … t], shorter at the start; GCN-GRU reference compat leaves t out.
    assert window_positions(31, 30, 5) == [25, 26, 27, 28, 29, 30]
    assert window_positions(31, 2, 5) == [0, 1, 2]
    assert window_positions(31, 0, 5) == [0]
    assert window_positions(31, 25, 5, include_target=False) == [20, 21, 22, 23, 24]
    # GCN / i-GCN and H = 0: the day alone.
    assert window_positions(31, 7, 0) == [7]


def test_window_aligns_target_nodes_by_key(graphs):
    gs, _ = graphs
    w = make_window(gs[2], gs)
    for snap, t_rows, s_rows in zip(w.snapshots, w.target_rows, w.snapshot_rows, strict=True):
        np.testing.assert_array_equal(gs[2].keys[t_rows], snap.keys[s_rows])
        assert set(gs[2].keys[t_rows]) == set(gs[2].keys) & set(snap.keys)
    np.testing.assert_array_equal(w.target_rows[-1], np.arange(gs[2].n_nodes))


def test_host_without_feature_row_is_an_error(ws):
    import pyarrow.compute as pc

    write_days(ws, n_days=1)
    snap = load_day(ws, "darknet", ws.snapshot_days("darknet")[0])
    first = snap.host_features.column("ip")[0]
    broken = snap.__class__(
        **{
            **snap.__dict__,
            "host_features": snap.host_features.filter(pc.not_equal(snap.host_features.column("ip"), first)),
        }
    )
    with pytest.raises(InputFormatError, match="no feature row"):
        build_day_graph(broken, features=True, where="x")
