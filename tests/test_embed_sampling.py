"""Mini-batch GNN: the neighbour sampler, batched encoders against the full ones, a mini-batch run end to end."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from embed_fixtures import write_days
from test_embed_models import one_thread  # noqa: F401  (autouse: tiny graphs, one torch thread)

from darkstack.embed import EmbedSettings, load_embeddings
from darkstack.embed import embed as embed_stage
from darkstack.embed.models import DeviceGraph, build_model
from darkstack.embed import train
from darkstack.embed.sampling import Neighbours, WindowSampler, host_batches
from darkstack.embed.train import batch_pairs, embed_hosts, embed_hosts_batched, grow_table
from darkstack.embed.windows import NegativePool, build_day_graph, make_window
from darkstack.snapshot import load_day

TINY = EmbedSettings(
    hidden_dim=16, gcn_dim=8, embedding_dim=4, head_dim=4, history=2, train_days=3, max_epochs=4, keep_checkpoints=0
)


@pytest.fixture
def dense_day(ws):
    """One day where each of 4 ports has ~25-45 hosts and each host 1-3 ports (both sampling paths run)."""
    (day,) = write_days(ws, n_days=1, pool_size=120, active=80, n_ports=4)
    return build_day_graph(load_day(ws, "darknet", day), features=True)


def _off_diagonal(matrix) -> list[set]:
    m = matrix.tocoo()
    rows = [set() for _ in range(matrix.shape[0])]
    for r, c in zip(m.row, m.col, strict=True):
        rows[r].add(int(c))
    return rows


@pytest.mark.parametrize("fanout", [3, 20])
def test_sampled_rows_are_subsets_within_the_fanout_renormalised(dense_day, fanout):
    g = dense_day
    nbrs = Neighbours.of(g)
    nodes = np.arange(g.n_nodes)
    sampled = nbrs.sample_rows(nodes, fanout, np.random.default_rng(0))
    true = _off_diagonal(g.adjacency)
    degree = nbrs.degrees(nodes)
    assert degree.max() > 2 * 3 and (degree <= 40).any()  # the large-degree and the ranked path both run
    for v, cols in enumerate(_off_diagonal(sampled)):
        assert v in cols  # the self-loop is kept
        assert cols <= true[v]
        assert len(cols - {v}) == min(degree[v], fanout)
    np.testing.assert_allclose(np.asarray(sampled.sum(axis=1)).ravel(), 1.0, rtol=1e-5)
    # kept weights keep their ratios: w_vu / (1 + Σ kept w)
    v = int(np.argmax(degree))
    row = sampled[v].toarray().ravel()
    kept = np.flatnonzero(row)
    full = g.adjacency[v].toarray().ravel()
    np.testing.assert_allclose(row[kept] / row[v], full[kept] / full[v], rtol=1e-5)


def test_every_neighbour_kept_is_the_adjacency(dense_day):
    g = dense_day
    sampled = Neighbours.of(g).sample_rows(np.arange(g.n_nodes), None, np.random.default_rng(0))
    np.testing.assert_allclose(sampled.toarray(), g.adjacency.toarray(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fanout", [3, 20])
def test_sampling_is_seeded_and_uniform(dense_day, fanout):
    g = dense_day
    nbrs = Neighbours.of(g)
    port = np.array([int(np.argmax(nbrs.degrees(np.arange(g.n_nodes))))])
    draw = lambda seed: nbrs.sample_rows(port, fanout, np.random.default_rng(seed)).indices  # noqa: E731
    np.testing.assert_array_equal(draw(7), draw(7))
    assert not np.array_equal(draw(7), draw(8))
    counts = np.zeros(g.n_nodes)
    rounds = 1500
    for seed in range(rounds):
        counts[draw(seed)] += 1
    neighbours = np.array(sorted(_off_diagonal(g.adjacency)[port[0]] - {int(port[0])}))
    expected = rounds * fanout / len(neighbours)
    assert np.abs(counts[neighbours] / expected - 1).max() < 0.3


def test_an_epoch_seeds_every_host_once_with_all_its_edges(dense_day):
    g = dense_day
    batches = host_batches(g, 7, np.random.default_rng(0))
    assert len(batches) == -(-g.n_hosts // 7) and max(len(b.hosts) for b in batches) <= 7
    np.testing.assert_array_equal(np.sort(np.concatenate([b.hosts for b in batches])), np.arange(g.n_hosts))
    np.testing.assert_array_equal(np.sort(np.concatenate([b.edges for b in batches])), np.arange(len(g.edge_host)))
    for b in batches:  # a batch's positives are exactly its hosts' edges
        np.testing.assert_array_equal(b.edges, np.flatnonzero(np.isin(g.edge_host, b.hosts)))
    again, other = (host_batches(g, 7, np.random.default_rng(seed)) for seed in (0, 1))
    assert all(np.array_equal(a.edges, b.edges) for a, b in zip(batches, again, strict=True))
    assert not all(np.array_equal(a.hosts, b.hosts) for a, b in zip(batches, other, strict=True))


def test_a_host_batch_pairs_its_edges_with_fresh_negatives_of_its_hosts(dense_day):
    g = dense_day
    pool, rng = NegativePool.of(g), np.random.default_rng(0)
    edges = set(zip(g.edge_host.tolist(), g.edge_port.tolist(), strict=True))
    for b in host_batches(g, 16, np.random.default_rng(0)):
        hosts, ports, labels = batch_pairs(g, pool, b, 1, rng)
        pos, neg = labels == 1, labels == 0
        np.testing.assert_array_equal(hosts[pos], g.edge_host[b.edges])
        np.testing.assert_array_equal(ports[pos], g.edge_port[b.edges])
        room = len(np.unique(hosts[pos])) * len(pool.ports) - pos.sum()  # the batch's non-edges
        assert neg.sum() == min(pos.sum(), room) > 0  # one negative per positive where there is room
        negatives = set(zip(hosts[neg].tolist(), ports[neg].tolist(), strict=True))
        assert len(negatives) == neg.sum() and not negatives & edges
        assert set(hosts[neg].tolist()) <= set(b.hosts.tolist()) and (ports >= g.n_hosts).all()


def test_a_training_batch_holds_only_its_hosts_and_the_ports_of_its_pairs(ws):
    _, window, _, sampler = _window_model(ws, "igcngru", True)
    target = window.target
    for b in host_batches(target, 5, np.random.default_rng(0)):
        hosts, ports, _ = batch_pairs(target, NegativePool.of(target), b, 1, np.random.default_rng(1))
        batch = sampler.batch(np.concatenate([hosts, ports]), np.random.default_rng(2))
        batch_hosts = batch.nodes[batch.nodes < target.n_hosts]
        assert set(batch_hosts.tolist()) <= set(b.hosts.tolist())
        assert len(batch.nodes) <= len(b.hosts) + target.n_nodes - target.n_hosts
        for block in batch.blocks:  # each row reads itself and at most fan-out (2) neighbours
            assert len(block.sources) <= 3 * len(block.present)


def test_pairs_in_chunks_give_the_same_step(ws):
    runs = []
    for chunk in (10**9, 7):
        model, window, graphs, sampler = _window_model(ws, "igcngru", True)
        optimizer = train.new_optimizer(model, TINY)
        batches = host_batches(window.target, 12, np.random.default_rng(0))
        result = train.link_epoch(model, optimizer, sampler, graphs, np.random.default_rng(1), 1, batches, chunk)
        runs.append((result, [p.detach().clone() for p in model.parameters()]))
    (first, params), (second, chunked) = runs
    assert first == pytest.approx(second, rel=1e-5)
    for a, b in zip(params, chunked, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_neighbours_refuse_a_matrix_that_is_not_bipartite(dense_day):
    with pytest.raises(ValueError, match="not a sorted bipartite"):
        Neighbours.of(dataclasses.replace(dense_day, n_hosts=dense_day.n_hosts - 1))


def _window_model(ws, method, features):
    days = write_days(ws, n_days=3, active=40, pool_size=70)
    gs = [build_day_graph(load_day(ws, "darknet", d), features=features) for d in days]
    torch.manual_seed(0)
    model = build_model(method, features, hidden=16, gcn=8, dim=4, head=4)
    window = make_window(gs[-1], gs if method == "igcngru" else [gs[-1]])
    grow_table(model, None, window, seed=0, day_ordinal=1)
    graphs = {g.day: DeviceGraph.build(g, torch.device("cpu")) for g in gs}
    sampler = WindowSampler(
        window, {s.day: Neighbours.of(s) for s in window.snapshots}, fanout=2, inner_fanout=2, inner=not features
    )
    return model, window, graphs, sampler


@pytest.mark.parametrize(("method", "features"), [("igcngru", True), ("igcngru", False), ("igcn", True), ("igcn", False)])
def test_batched_encoder_with_every_neighbour_equals_the_full_encoder(ws, method, features):
    model, window, graphs, sampler = _window_model(ws, method, features)
    model.train()  # all nodes in one batch: the same BatchNorm statistics as the full pass
    every = sampler.batch(np.arange(window.target.n_nodes), None, full=True)
    torch.testing.assert_close(model.encoder.forward_batch(every, graphs), model.encoder(window, graphs), rtol=1e-4, atol=1e-4)
    # eval mode: hosts embedded in batches of 7 equal the full inference
    model.encoder.norm.running_mean.uniform_(-1, 1)
    full = embed_hosts(model, window, graphs)
    np.testing.assert_allclose(embed_hosts_batched(model, sampler, graphs, 7), full, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("features", [True, False])
def test_a_sampled_batch_reads_only_its_nodes_neighbourhoods(ws, features):
    _, window, _, sampler = _window_model(ws, "igcngru", features)
    nodes = np.array([0, 3, window.target.n_hosts])  # two hosts and a port
    batch = sampler.batch(nodes, np.random.default_rng(0))
    np.testing.assert_array_equal(batch.nodes, nodes)
    for snap, block in zip(window.snapshots, batch.blocks, strict=True):
        true = _off_diagonal(snap.adjacency)
        there = np.searchsorted(snap.keys, batch.keys[block.present])
        assert (snap.keys[there] == batch.keys[block.present]).all()
        for i, v in enumerate(there):
            cols = set(block.sources[block.rows[i].indices].tolist())
            assert v in cols and cols <= true[v] and len(cols) <= 2 + 1
        assert len(block.sources) <= len(block.present) * 3
        assert (block.inner is None) == features
        if not features:
            assert (np.diff(block.inner.indptr) <= 3).all()


def test_minibatch_runs_train_and_embed_every_host_deterministically(ws):
    days = write_days(ws, n_days=4)
    small = TINY.model_copy(update={"batching": "minibatch", "batch_size": 16, "fanout": 2, "fanout_inner": 2})
    for method, features in [("igcngru", True), ("igcngru", False), ("gcn", True), ("gcngru", True)]:
        embed_stage(ws, "darknet", method, features=features, settings=TINY, variant=f"{method}-{features}-full", threads=1)
        embed_stage(ws, "darknet", method, features=features, settings=small, variant=f"{method}-{features}-mb", threads=1)
        first = 3 if method == "gcngru" else 0
        for day in days[first:]:
            _, full = load_embeddings(ws, "darknet", f"{method}-{features}-full", day)
            ips, mb = load_embeddings(ws, "darknet", f"{method}-{features}-mb", day)
            hosts = load_day(ws, "darknet", day).host_features.column("ip").to_numpy()
            np.testing.assert_array_equal(ips, np.sort(hosts))
            assert np.isfinite(mb).all() and (method == "gcn" or not np.allclose(mb, full))
        if method != "gcngru":  # (GCN-GRU trains once on its first days, then embeds frozen)
            run = json.loads((ws.embedding_dir("darknet", f"{method}-{features}-mb") / "run.json").read_text())
            assert all(e["batching"] == "minibatch" and e["loss"] > 0 for e in run["days"].values())
    again = small.model_copy(update={"batch_above": 0, "batching": "auto"})  # auto above the threshold = minibatch
    assert again.fingerprint("igcngru") != small.fingerprint("igcngru")
    embed_stage(ws, "darknet", "igcngru", settings=again, variant="auto-mb", threads=1)
    for day in days:
        np.testing.assert_array_equal(
            load_embeddings(ws, "darknet", "auto-mb", day)[1], load_embeddings(ws, "darknet", "igcngru-True-mb", day)[1]
        )


def test_default_batching_keeps_the_fingerprint_and_full_batch_at_small_sizes():
    default = EmbedSettings()
    assert "batching" not in default.relevant("igcngru") and "fanout" not in default.relevant("gcn")
    assert default.relevant("igcngru")["history"] == 5
    assert EmbedSettings(batching="minibatch").relevant("igcngru")["batching"] == "minibatch"
    assert not default.minibatch(10_000) and default.minibatch(50_001)
    assert not EmbedSettings(batching="full").minibatch(10**7) and EmbedSettings(batching="minibatch").minibatch(1)


def test_cli_batching_options(ws, capsys):
    from darkstack.cli import main

    days = write_days(ws, n_days=2)
    base = ["embed", "-w", str(ws.root), "-m", "igcn", "--until", str(days[0]), "--threads", "1"]
    assert main([*base, "--batching", "sometimes"]) == 2
    assert "--batching" in capsys.readouterr().err
    assert main([*base, "--batching", "minibatch", "--batch-size", "8", "--fanout", "2", "--fanout-inner", "2"]) == 0
    run = json.loads((ws.embedding_dir("darknet", "igcn") / "run.json").read_text())
    assert run["settings"]["batch_size"] == 8 and run["days"][str(days[0])]["batching"] == "minibatch"
    assert main([*base, "--batching", "auto", "--batch-above", "10"]) == 0  # 30 hosts + ports > 10: mini-batches
    run = json.loads((ws.embedding_dir("darknet", "igcn") / "run.json").read_text())
    assert run["settings"]["batch_above"] == 10 and run["days"][str(days[0])]["batching"] == "minibatch"
