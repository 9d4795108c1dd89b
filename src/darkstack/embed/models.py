"""The GNN family: a two-layer graph-convolution stack, the GCN and GCN-GRU encoders, the link head.

Layers follow the temporal-GNN paper and the reference code (reference-notes §4.1): H' = Â(H W) + b with
Â = D⁻¹(A + I); 37 → 1024 → ReLU → 512 (no activation after 512); GCN adds Linear 512→128 + ReLU +
BatchNorm; GCN-GRU runs a single-layer GRU(512→128) over the window and normalises its final state.

Exact rewrites keep the work proportional to the window's active nodes and cheap on a CPU:
* Â X of a day is weight-independent, so layer 1 is (Â X) W1 with Â X computed once per day;
* no activation sits between layer 2 and the next linear map (the GCN's Linear, the GRU's input
  gates), so the two are applied as one product with W2·W_next (same parameters, same gradients), over
  only the rows the encoder needs (the target day's nodes present in the snapshot), transformation first;
* the link loss is taken over the pairs in chunks (``LinkModel.link_backward``): memory bounded, same gradient;
* sparse products use a precomputed transposed Â in the backward pass (torch would re-sort Â each step).
A target node absent from a snapshot has, there, zero features and only its self-loop, exactly as in the
reference's all-node computation: its layer-2 output is ReLU(b1)·W2 + b2 (with features) or
ReLU(T_v + b1)·W2 + b2 (without), computed once per window instead of per snapshot.
Each encoder also runs on a sampled batch of target nodes (``forward_batch``, embed.sampling): the same
layers on the batch nodes' sampled rows of Â; with every neighbour kept it equals ``forward`` on those nodes.
There layer 2 aggregates first, (Â H₁) W: a batch's sources (its ports' sampled hosts) outnumber its rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from darkstack.embed.sampling import Batch, Block
from darkstack.embed.windows import DayGraph, Window
from darkstack.snapshot.features import FEATURE_COLUMNS


def _uniform(shape: tuple[int, ...], bound: float) -> nn.Parameter:
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


def _csr(matrix) -> torch.Tensor:
    """A scipy CSR matrix as a torch sparse CSR tensor (float32; built valid by scipy, so unchecked)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)),
            size=matrix.shape,
            check_invariants=False,
        )


class SparseMatmul(torch.autograd.Function):
    """A @ X for a constant sparse A, with Aᵀ given for the backward pass (no per-step transposition)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.a_t = a_t
        return a @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, None, ctx.a_t @ grad


@dataclass
class SparsePair:
    """A constant sparse matrix and its transpose, on the device."""

    a: torch.Tensor
    a_t: torch.Tensor

    @classmethod
    def build(cls, matrix, device: torch.device) -> SparsePair:
        return cls(_csr(matrix).to(device), _csr(matrix.T.tocsr()).to(device))

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        return SparseMatmul.apply(self.a, self.a_t, x)


@dataclass
class DeviceGraph:
    """A day graph's tensors on the compute device (built once per day and reused by every window)."""

    graph: DayGraph
    aggregated_features: torch.Tensor | None  # Â X (weight-independent, so computed once)
    device: torch.device
    _adjacency: SparsePair | None = None

    @classmethod
    def build(cls, graph: DayGraph, device: torch.device) -> DeviceGraph:
        """The device graph; the raw features are dropped once Â X is computed (nothing reads them after)."""
        ax = None
        if graph.features is not None:
            ax = torch.from_numpy(graph.adjacency @ graph.features).to(device)
        return cls(replace(graph, features=None), ax, device)

    @property
    def adjacency(self) -> SparsePair:
        """Â on the device, built on first use (mini-batches never use the whole of it)."""
        if self._adjacency is None:
            self._adjacency = SparsePair.build(self.graph.adjacency, self.device)
        return self._adjacency

    def rows(self, rows: np.ndarray) -> SparsePair:
        """The rows ``rows`` of Â (all of Â when they are every node in order)."""
        if len(rows) == self.graph.n_nodes and (rows == np.arange(len(rows))).all():
            return self.adjacency
        return SparsePair.build(self.graph.adjacency[rows], self.device)


class NodeTable(nn.Module):
    """Learnt per-node input of the no-features variants: row v equals one-hot(v)·W1 (no N×N identity).

    Rows are appended as new node keys appear; ``keys`` (a buffer, saved with the weights) maps rows to
    node keys.
    """

    def __init__(self, width: int):
        super().__init__()
        self.width = width
        self.weight = nn.Parameter(torch.zeros(0, width))
        self.register_buffer("keys", torch.zeros(0, dtype=torch.int64))
        self._refresh()

    def _refresh(self) -> None:
        keys = self.keys.cpu().numpy()
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]

    def resize(self, n: int) -> None:
        """Make room for ``n`` rows (before loading a checkpoint)."""
        self.weight = nn.Parameter(torch.zeros(n, self.width, device=self.weight.device))
        self.keys = torch.zeros(n, dtype=torch.int64, device=self.keys.device)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._refresh()

    def _find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in the sorted keys, found mask) of ``keys``."""
        pos = np.searchsorted(self._sorted, keys)
        if len(self._sorted) == 0:
            return pos, np.zeros(len(keys), bool)
        return pos, self._sorted[np.minimum(pos, len(self._sorted) - 1)] == keys

    def missing(self, keys: np.ndarray) -> np.ndarray:
        """The keys (sorted, unique) that have no row yet."""
        keys = np.unique(keys)
        return keys[~self._find(keys)[1]]

    def grow(self, new_keys: np.ndarray, generator: torch.Generator) -> tuple[nn.Parameter, nn.Parameter]:
        """Append rows for ``new_keys`` (U(±1/√width), as the first layer's weight); returns (old, new) parameter."""
        old = self.weight
        bound = 1.0 / math.sqrt(self.width)
        rows = torch.empty(len(new_keys), self.width).uniform_(-bound, bound, generator=generator)
        self.weight = nn.Parameter(torch.cat([old.detach(), rows.to(old.device)]))
        self.keys = torch.cat([self.keys, torch.from_numpy(np.asarray(new_keys, np.int64)).to(self.keys.device)])
        self._refresh()
        return old, self.weight

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """Row indices of ``keys``; every key must have a row."""
        pos, found = self._find(keys)
        if not found.all():
            raise KeyError(f"{int((~found).sum())} node key(s) without a table row")
        return self._order[pos]

    def lookup(self, keys: np.ndarray) -> torch.Tensor:
        """Row indices (on the table's device) of ``keys``; every key must have a row."""
        return torch.from_numpy(self.rows_of(keys)).to(self.weight.device)

    def aggregate(self, rows: sp.csr_matrix, keys: np.ndarray) -> torch.Tensor:
        """``rows`` @ T for sparse rows over the nodes whose keys are ``keys``: columns are mapped to table
        rows, so no [nodes, width] copy of the table is gathered."""
        mapped = sp.csr_matrix((rows.data, self.rows_of(keys[rows.indices]), rows.indptr), shape=(rows.shape[0], len(self.keys)))
        mapped.sort_indices()
        return SparsePair.build(mapped, self.weight.device) @ self.weight

    def forward(self, keys: np.ndarray) -> torch.Tensor:
        return self.weight.index_select(0, self.lookup(keys))


class GCNStack(nn.Module):
    """Two graph-convolution layers in → hidden → ReLU → out (Kipf-style init U(±1/√out))."""

    def __init__(self, in_features: int | None, hidden: int, out: int):
        super().__init__()
        b1, b2 = 1.0 / math.sqrt(hidden), 1.0 / math.sqrt(out)
        self.table = NodeTable(hidden) if in_features is None else None
        self.weight1 = None if in_features is None else _uniform((in_features, hidden), b1)
        self.bias1 = _uniform((hidden,), b1)
        self.weight2 = _uniform((hidden, out), b2)
        self.bias2 = _uniform((out,), b2)
        self.compute_dtype = torch.float32  # dtype of the two large dense products (bfloat16 optional)

    def _dense(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """x @ weight in ``compute_dtype``, result in float32 (parameters stay float32)."""
        if self.compute_dtype == torch.float32:
            return x @ weight
        return (x.to(self.compute_dtype) @ weight.to(self.compute_dtype)).float()

    def hidden(self, g: DeviceGraph) -> torch.Tensor:
        """Layer-1 output ReLU(Â X W1 + b1) on every node of the day [n, hidden]."""
        if self.table is None:
            pre = self._dense(g.aggregated_features, self.weight1)
        else:
            pre = g.adjacency @ self.table(g.graph.keys)
        return F.relu(pre + self.bias1)

    def isolated_hidden(self, keys: np.ndarray | None) -> torch.Tensor:
        """Layer-1 output of nodes that are isolated (self-loop only, zero features): [1 or len(keys), hidden]."""
        if self.table is None:
            return F.relu(self.bias1).unsqueeze(0)
        return F.relu(self.table(keys) + self.bias1)

    def folded(self, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer 2's weight and bias followed by the linear map x ↦ x·weight + bias, as one map."""
        return self.weight2 @ weight, self.bias2 @ weight + bias

    def project(self, g: DeviceGraph, rows: np.ndarray, folded: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Rows ``rows`` of layer 2 followed by the next linear map, given ``folded`` = self.folded(...):
        Â[rows] (H1 W) + b, transformation first (aggregating first over an earlier snapshot's fewer rows was
        measured slower on the paper month: torch's CSR product at width 1024 costs more than the dense FLOPs saved)."""
        weight, bias = folded
        return g.rows(rows) @ self._dense(self.hidden(g), weight) + bias

    def hidden_of(self, g: DeviceGraph, block: Block) -> torch.Tensor:
        """Layer-1 output of a block's sources: exact with features (rows of Â X), from the block's sampled
        second hop without."""
        if self.table is None:
            ax = g.aggregated_features.index_select(0, torch.from_numpy(block.sources).to(g.device))
            pre = self._dense(ax, self.weight1)
        else:
            pre = self.table.aggregate(block.inner, g.graph.keys)
        return pre.add_(self.bias1).relu_()  # in place: [sources, 1024] is a step's largest tensor

    def project_block(self, g: DeviceGraph, block: Block, folded: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``project`` for a sampled block: its rows of Â (over its sources) and H₁ W + b, in the cheaper order.

        A port's fan-out brings ~10 sources per row, so a batch has several times more sources than rows:
        aggregating first ((Â H₁) W) makes the 1024-wide product follow the rows, not the sources."""
        weight, bias = folded
        rows, hidden = SparsePair.build(block.rows, g.device), self.hidden_of(g, block)
        if block.rows.shape[0] < block.rows.shape[1]:
            return self._dense(rows @ hidden, weight) + bias
        return rows @ self._dense(hidden, weight) + bias


class Encoder(nn.Module):
    """Common part of the encoders: the stack and the final BatchNorm over the target day's nodes."""

    def __init__(self, features: bool, hidden: int, gcn: int, dim: int):
        super().__init__()
        self.stack = GCNStack(len(FEATURE_COLUMNS) if features else None, hidden, gcn)
        self.norm = nn.BatchNorm1d(dim)
        self.batch_stats_at_inference = False

    def normalise(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training and self.batch_stats_at_inference:  # reference code: BN never in eval mode
            return F.batch_norm(h, None, None, self.norm.weight, self.norm.bias, True, 0.0, self.norm.eps)
        return self.norm(h)


class GCNEncoder(Encoder):
    """GCN / i-GCN: stack → Linear(512→128) → ReLU → BatchNorm on the target day's graph."""

    def __init__(self, features: bool, hidden: int, gcn: int, dim: int):
        super().__init__(features, hidden, gcn, dim)
        self.linear = nn.Linear(gcn, dim)

    def forward(self, window: Window, graphs: dict) -> torch.Tensor:
        g = graphs[window.target.day]
        every = np.arange(g.graph.n_nodes)
        folded = self.stack.folded(self.linear.weight.T, self.linear.bias)
        return self.normalise(F.relu(self.stack.project(g, every, folded)))

    def forward_batch(self, batch: Batch, graphs: dict) -> torch.Tensor:
        """Embeddings of the batch's nodes [len(batch.nodes), dim] (its one block is the target day's)."""
        (block,) = batch.blocks
        folded = self.stack.folded(self.linear.weight.T, self.linear.bias)
        return self.normalise(F.relu(self.stack.project_block(graphs[block.day], block, folded)))


class GCNGRUEncoder(Encoder):
    """GCN-GRU: the shared stack on each snapshot of [t-H … t], a GRU(512→128) over them, BatchNorm of h_T."""

    def __init__(self, features: bool, hidden: int, gcn: int, dim: int):
        super().__init__(features, hidden, gcn, dim)
        self.gru = nn.GRU(gcn, dim)

    def forward(self, window: Window, graphs: dict) -> torch.Tensor:
        steps = [
            (t_rows, lambda folded, day=snap.day, rows=s_rows: self.stack.project(graphs[day], rows, folded))
            for snap, t_rows, s_rows in zip(window.snapshots, window.target_rows, window.snapshot_rows, strict=True)
        ]
        return self._recur(window.target.keys, window.always_present, steps)

    def forward_batch(self, batch: Batch, graphs: dict) -> torch.Tensor:
        """Embeddings of the batch's nodes [len(batch.nodes), dim] from their sampled blocks."""
        count = np.zeros(len(batch.nodes), np.int64)
        for block in batch.blocks:
            count[block.present] += 1
        steps = [
            (block.present, lambda folded, b=block: self.stack.project_block(graphs[b.day], b, folded))
            for block in batch.blocks
        ]
        return self._recur(batch.keys, count == len(batch.blocks), steps)

    def _recur(self, keys: np.ndarray, always_present: np.ndarray, steps: list) -> torch.Tensor:
        """The GRU over the snapshots: ``steps`` = (rows of the nodes present, their input gates given the
        folded layer-2 map) per snapshot; nodes absent from one get the isolated-node gates there."""
        n, dim = len(keys), self.gru.hidden_size
        weight, bias = self.stack.folded(self.gru.weight_ih_l0.T, self.gru.bias_ih_l0)
        device = weight.device
        # Input gates of target nodes absent from a snapshot (self-loop only there).
        if self.stack.table is None:
            base = (self.stack.isolated_hidden(None) @ weight + bias).expand(n, -1)
        else:
            absent = np.flatnonzero(~always_present)
            iso = self.stack.isolated_hidden(keys[absent]) @ weight + bias
            base = torch.zeros(n, weight.shape[1], device=device).index_copy(
                0, torch.from_numpy(absent).to(device), iso
            )
        h = torch.zeros(n, dim, device=device)
        for rows, active_gates in steps:
            gates_in = base.index_copy(0, torch.from_numpy(rows).to(device), active_gates((weight, bias)))
            h = self._gru_step(gates_in, h)
        return self.normalise(h)

    def _gru_step(self, gates_in: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step of torch.nn.GRU given the precomputed input gates x·W_ihᵀ + b_ih (gate order r, z, n)."""
        gates_h = h @ self.gru.weight_hh_l0.T + self.gru.bias_hh_l0
        i_r, i_z, i_n = gates_in.chunk(3, dim=1)
        h_r, h_z, h_n = gates_h.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        candidate = torch.tanh(i_n + r * h_n)
        return (1 - z) * candidate + z * h


class LinkModel(nn.Module):
    """Encoder plus the link-prediction head concat(host, port) → 64 → ReLU → 2 → log-softmax."""

    def __init__(self, encoder: Encoder, dim: int, head: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.Linear(2 * dim, head), nn.ReLU(), nn.Linear(head, 2))

    def link_log_probs(self, z: torch.Tensor, hosts: torch.Tensor, ports: torch.Tensor) -> torch.Tensor:
        """log P(no edge), log P(edge) of each (host, port) pair.

        The first layer on concat(z_h, z_p) equals z_h·W_hostᵀ + z_p·W_portᵀ + b, so it is applied once per
        node and the per-pair work is a gather of 64-wide rows (exact; no pairs × 256 matrix).
        """
        return self._pair_log_probs(*self._by_node(z), hosts, ports)

    def _by_node(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's first layer on each node as a host (z·W_hostᵀ) and as a port (z·W_portᵀ): [n, head] each."""
        first, dim = self.head[0], z.shape[1]
        return z @ first.weight[:, :dim].T, z @ first.weight[:, dim:].T

    def _pair_log_probs(
        self, by_host: torch.Tensor, by_port: torch.Tensor, hosts: torch.Tensor, ports: torch.Tensor
    ) -> torch.Tensor:
        first, _, last = self.head
        hidden = F.relu(by_host.index_select(0, hosts) + by_port.index_select(0, ports) + first.bias)
        return F.log_softmax(last(hidden), dim=1)

    def link_backward(
        self, z: torch.Tensor, hosts: torch.Tensor, ports: torch.Tensor, labels: torch.Tensor, chunk: int
    ) -> tuple[float, int]:
        """The mean NLL loss of the pairs' labels, back-propagated into ``z``'s graph and the head, with the
        pairs taken ``chunk`` at a time; returns (loss, pairs predicted right) of this forward pass.

        Exact rewrite of ``nll_loss(link_log_probs(z, hosts, ports), labels).backward()`` that bounds the
        per-pair tensors (pairs × head wide, several of them in the backward pass) by the chunk: each chunk's
        loss, weighted by its share of the pairs, is back-propagated at once into detached copies of the
        per-node products, whose summed gradients then run through the rest of the graph once. With one
        chunk (weight 1) every operation is the unchunked one, bit for bit; with more the gradient differs
        only in float summation order.
        """
        by_node = self._by_node(z)
        by_host, by_port = (t.detach().requires_grad_() for t in by_node)
        n, loss, correct = len(labels), 0.0, 0
        for start in range(0, n, chunk):
            part = slice(start, start + chunk)
            log_p = self._pair_log_probs(by_host, by_port, hosts[part], ports[part])
            share = F.nll_loss(log_p, labels[part]) * (len(log_p) / n)
            share.backward()
            loss += float(share.detach())
            correct += int((log_p.argmax(dim=1) == labels[part]).sum())
        torch.autograd.backward(by_node, (by_host.grad, by_port.grad))
        return loss, correct


def build_model(method: str, features: bool, hidden: int, gcn: int, dim: int, head: int) -> LinkModel:
    """A fresh model of ``method`` (gcn/igcn → GCN encoder, gcngru/igcngru → GCN-GRU encoder)."""
    encoder_cls = GCNGRUEncoder if method in ("gcngru", "igcngru") else GCNEncoder
    return LinkModel(encoder_cls(features, hidden, gcn, dim), dim, head)
