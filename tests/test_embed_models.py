"""The GNN encoders equal a naive dense computation over every node of the window (the reference's way)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from embed_fixtures import write_days

from darkstack.embed.models import DeviceGraph, build_model
from darkstack.embed.train import grow_table
from darkstack.embed.windows import build_day_graph, make_window, sample_negatives
from darkstack.snapshot import load_day


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny graphs: one torch thread (the test machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _dense_reference(model, window, features: bool) -> torch.Tensor:
    """All-node computation: every window node in every snapshot, inactive ones with zero features and a
    self-loop only, a dense [T, N, 512] sequence through torch.nn.GRU, BatchNorm over the target's nodes."""
    stack = model.encoder.stack
    keys = np.unique(np.concatenate([s.keys for s in window.snapshots]))
    n = len(keys)
    outs = []
    for snap in window.snapshots:
        a = np.eye(n, dtype=np.float32)
        pos = np.searchsorted(keys, snap.keys)
        a[np.ix_(pos, pos)] = snap.adjacency.toarray()
        a = torch.from_numpy(a)
        if features:
            x = np.zeros((n, 37), np.float32)
            x[pos] = snap.features
            xw = torch.from_numpy(x) @ stack.weight1
        else:
            xw = stack.table(keys)
        h1 = torch.relu(a @ xw + stack.bias1)
        outs.append(a @ (h1 @ stack.weight2) + stack.bias2)
    _, h = model.encoder.gru(torch.stack(outs))
    rows = np.searchsorted(keys, window.target.keys)
    return model.encoder.norm(h[0][rows])


@pytest.mark.parametrize("features", [True, False])
def test_gcngru_encoder_matches_dense_all_node_computation(ws, features):
    days = write_days(ws, n_days=3, active=25, pool_size=60)
    gs = [build_day_graph(load_day(ws, "darknet", d), features=features) for d in days]
    torch.manual_seed(0)
    model = build_model("igcngru", features, hidden=16, gcn=8, dim=4, head=4)
    window = make_window(gs[-1], gs)
    grow_table(model, None, window, seed=0, day_ordinal=1)
    graphs = {g.day: DeviceGraph.build(g, torch.device("cpu")) for g in gs}
    model.train()
    fast = model.encoder(window, graphs)
    slow = _dense_reference(model, window, features)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("features", [True, False])
def test_gcn_encoder_matches_dense_computation(ws, features):
    (day,) = write_days(ws, n_days=1)
    g = build_day_graph(load_day(ws, "darknet", day), features=features)
    torch.manual_seed(0)
    model = build_model("igcn", features, hidden=16, gcn=8, dim=4, head=4)
    window = make_window(g, [g])
    grow_table(model, None, window, seed=0, day_ordinal=1)
    model.train()
    fast = model.encoder(window, {g.day: DeviceGraph.build(g, torch.device("cpu"))})
    stack, a = model.encoder.stack, torch.from_numpy(g.adjacency.toarray())
    xw = torch.from_numpy(g.features) @ stack.weight1 if features else stack.table(g.keys)
    h2 = a @ (torch.relu(a @ xw + stack.bias1) @ stack.weight2) + stack.bias2
    slow = model.encoder.norm(torch.relu(model.encoder.linear(h2)))
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)


def test_link_head_equals_the_concatenation_layer():
    torch.manual_seed(0)
    model = build_model("igcn", True, hidden=16, gcn=8, dim=4, head=4)
    z = torch.randn(10, 4)
    hosts, ports = torch.tensor([0, 1, 2, 2]), torch.tensor([7, 8, 9, 7])
    direct = torch.log_softmax(model.head(torch.cat([z[hosts], z[ports]], dim=1)), dim=1)
    torch.testing.assert_close(model.link_log_probs(z, hosts, ports), direct)


def _window_and_pairs(ws):
    """A 3-day i-GCN-GRU window of a tiny world and every target edge plus as many non-edges, as link_step draws."""
    days = write_days(ws, n_days=3, active=25, pool_size=60)
    gs = [build_day_graph(load_day(ws, "darknet", d), features=True) for d in days]
    window = make_window(gs[-1], gs)
    graphs = {g.day: DeviceGraph.build(g, torch.device("cpu")) for g in gs}
    target = window.target
    neg_h, neg_p = sample_negatives(target, len(target.edge_host), np.random.default_rng(0))
    hosts = torch.from_numpy(np.concatenate([target.edge_host, neg_h]))
    ports = torch.from_numpy(np.concatenate([target.edge_port, neg_p]))
    labels = torch.cat([torch.ones(len(target.edge_host)), torch.zeros(len(neg_h))]).long()
    return window, graphs, hosts, ports, labels


def _gradients(window, graphs, hosts, ports, labels, chunk):
    """(loss, gradient of every parameter) of one training pass of a fresh seeded model; ``chunk`` None = the
    unchunked loss (the step as it was before link_backward)."""
    torch.manual_seed(0)
    model = build_model("igcngru", True, hidden=16, gcn=8, dim=4, head=4)
    model.train()
    z = model.encoder(window, graphs)
    if chunk is None:
        loss = F.nll_loss(model.link_log_probs(z, hosts, ports), labels)
        loss.backward()
        loss = float(loss.detach())
    else:
        loss, _ = model.link_backward(z, hosts, ports, labels, chunk)
    return loss, {name: p.grad for name, p in model.named_parameters()}


def test_link_loss_in_one_chunk_is_bit_identical_to_the_unchunked_loss(ws):
    window, graphs, hosts, ports, labels = _window_and_pairs(ws)
    loss, grads = _gradients(window, graphs, hosts, ports, labels, None)
    one_loss, one_grads = _gradients(window, graphs, hosts, ports, labels, len(labels))
    assert one_loss == loss
    for name, grad in grads.items():
        assert torch.equal(one_grads[name], grad), name


def test_link_loss_in_small_chunks_has_the_unchunked_gradient(ws):
    window, graphs, hosts, ports, labels = _window_and_pairs(ws)
    assert len(labels) > 4 * 7  # several chunks, the last one short
    loss, grads = _gradients(window, graphs, hosts, ports, labels, None)
    chunked_loss, chunked = _gradients(window, graphs, hosts, ports, labels, 7)
    assert chunked_loss == pytest.approx(loss, rel=1e-6)
    for name, grad in grads.items():
        torch.testing.assert_close(chunked[name], grad, rtol=1e-5, atol=1e-7, msg=name)
