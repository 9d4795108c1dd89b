"""Neighbour sampling of a window for mini-batch GNN training and batched inference (GraphSAGE-style).

A two-layer GCN gives node v the output Â[v] (H₁ W) with H₁ = ReLU(Â X W₁ + b₁). With node features Â X
is precomputed per day (models.DeviceGraph), so a batch node needs only its own row of Â and, for each
neighbour u in it, the row u of Â X: one hop. Without features layer 1 is Â T (a learnt table), so the
neighbours' own rows are needed too: a second hop. On the bipartite host→port graph a port has up to
every host as neighbour, so each hop keeps at most ``fanout`` neighbours per node, drawn uniformly without
replacement, and the kept row is renormalised with its self-loop, w_vu / (1 + Σ_kept w) — the Â of the
sampled subgraph, as PyTorch Geometric's NeighborLoader builds it; with every neighbour kept it is Â.
PyG's loader needs pyg-lib or torch-sparse (not installable here), hence this vectorised equivalent.

A batch is a set of target-day nodes; for each snapshot of the window it holds the batch nodes active
there (GCN-GRU's input for the others is the shared isolated-node vector, as in the full computation)
and their sampled rows: memory follows the batch and the fan-out, not the day. A training epoch is
batched by host (``host_batches``): each host is a seed once, with all its edges as the batch's
positives, so an epoch computes each host about once (GraphSAGE's node batches) instead of once per edge.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from darkstack.embed.windows import DayGraph, Window


@dataclass(frozen=True)
class Neighbours:
    """A day's Â read for sampling, without a copy: its CSR arrays, where each row's off-diagonal entries
    start, and each node's self-loop weight.

    The graph is bipartite with hosts before ports and Â's indices sorted, so a host's self-loop is the
    first entry of its row and a port's the last: the off-diagonal entries are the rest of the row.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    first: np.ndarray  # [n] position of each row's first off-diagonal entry
    self_weight: np.ndarray

    @classmethod
    def of(cls, graph: DayGraph) -> Neighbours:
        a, nodes = graph.adjacency, np.arange(graph.n_nodes)
        is_host = nodes < graph.n_hosts
        loop = np.where(is_host, a.indptr[:-1], a.indptr[1:] - 1)
        if graph.n_nodes and not (a.indices[loop] == nodes).all():
            raise ValueError(f"day {graph.day}: Â is not a sorted bipartite host-port matrix with self-loops")
        return cls(a.indptr, a.indices, a.data, a.indptr[:-1] + is_host, a.data[loop])

    @property
    def n_nodes(self) -> int:
        return len(self.self_weight)

    def degrees(self, nodes: np.ndarray) -> np.ndarray:
        return self.indptr[nodes + 1] - self.indptr[nodes] - 1

    def sample_rows(self, nodes: np.ndarray, fanout: int | None, rng: np.random.Generator) -> sp.csr_matrix:
        """Rows ``nodes`` of the sampled Â [len(nodes), n]: self-loop plus ≤ ``fanout`` neighbours (None: all),
        renormalised to sum to 1."""
        degree = self.degrees(nodes)
        keep = degree if fanout is None else np.minimum(degree, fanout)
        row, offset = (
            (np.repeat(np.arange(len(nodes)), degree), _offsets(degree)) if fanout is None else _choose(degree, keep, rng)
        )
        entry = self.first[nodes][row] + offset
        weight = self.weights[entry]
        total = self.self_weight[nodes] + np.bincount(row, weights=weight, minlength=len(nodes))
        rows = np.concatenate([row, np.arange(len(nodes))])
        cols = np.concatenate([self.indices[entry], nodes])
        vals = np.concatenate([weight, self.self_weight[nodes]]) / total[rows]
        out = sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=(len(nodes), self.n_nodes))
        out.sort_indices()
        return out


def _offsets(counts: np.ndarray) -> np.ndarray:
    """0 … c-1 for every c in ``counts``, concatenated."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(starts, counts)


def _choose(degree: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each row r, ``keep[r]`` distinct offsets in [0, degree[r]) drawn uniformly; (row, offset), grouped by row.

    Rows with degree ≤ 2·keep rank every offset by a random key and keep the first ones (≤ 2·fan-out work per
    row); higher-degree rows (there keep = fan-out) use Floyd's algorithm, ``keep`` vectorised draws over all
    of them, so a port with 10⁵ hosts costs ``keep`` draws, not 10⁵.
    """
    small = np.flatnonzero(degree <= 2 * keep)
    row_s = np.repeat(small, degree[small])
    off_s = _offsets(degree[small])
    order = np.lexsort((rng.random(len(off_s)), row_s))
    rank = _offsets(degree[small])  # rank within the row after sorting by key (rows stay grouped)
    chosen = order[rank < np.repeat(keep[small], degree[small])]
    rows, offsets = [row_s[chosen]], [off_s[chosen]]
    large = np.flatnonzero(degree > 2 * keep)
    if len(large):
        rows.append(np.repeat(large, keep[large]))
        offsets.append(_floyd(degree[large], int(keep[large[0]]), rng).ravel())
    row, offset = np.concatenate(rows), np.concatenate(offsets)
    order = np.lexsort((offset, row))
    return row[order], offset[order]


def _floyd(degree: np.ndarray, keep: int, rng: np.random.Generator) -> np.ndarray:
    """[len(degree), keep]: for each row ``keep`` distinct offsets in [0, degree) drawn uniformly (Floyd's
    algorithm: for j = d-keep … d-1 draw t in [0, j], take j if t is already taken, else t)."""
    chosen = np.empty((len(degree), keep), np.int64)
    for i in range(keep):
        top = degree - keep + i
        draw = rng.integers(0, top + 1)
        taken = (chosen[:, :i] == draw[:, None]).any(axis=1)
        chosen[:, i] = np.where(taken, top, draw)
    return chosen


@dataclass(frozen=True)
class Block:
    """One snapshot's part of a batch: the batch nodes active in it and their sampled rows of Â."""

    day: dt.date  # the snapshot's day (key of the window's device graphs)
    present: np.ndarray  # positions, in the batch's node list, of the nodes active in this snapshot
    sources: np.ndarray  # snapshot node indices whose layer-1 output the rows read (sorted)
    rows: sp.csr_matrix  # [len(present), len(sources)] sampled, renormalised Â rows (self-loop kept)
    inner: sp.csr_matrix | None  # [len(sources), snapshot nodes] sampled Â rows of the sources (no features)


@dataclass(frozen=True)
class Batch:
    """Target-day nodes to embed together and one block per snapshot of the window."""

    nodes: np.ndarray  # sorted target-day node indices
    keys: np.ndarray  # their node keys
    blocks: tuple[Block, ...]


class WindowSampler:
    """Samples batches of a window: each batch node's neighbourhood in every snapshot where it is active."""

    def __init__(self, window: Window, neighbours: dict, *, fanout: int | None, inner_fanout: int | None, inner: bool):
        """``neighbours`` maps each snapshot's day to its Neighbours; ``inner`` samples the second hop too."""
        self.window, self.neighbours = window, neighbours
        self.fanout, self.inner_fanout, self.inner = fanout, inner_fanout, inner
        self.where = []  # per snapshot: target node index → its index there (-1 where absent)
        for t_rows, s_rows in zip(window.target_rows, window.snapshot_rows, strict=True):
            where = np.full(window.target.n_nodes, -1, np.int64)
            where[t_rows] = s_rows
            self.where.append(where)

    def batch(self, nodes: np.ndarray, rng: np.random.Generator, *, full: bool = False) -> Batch:
        """The batch of the target-day nodes ``nodes`` (deduplicated, sorted); ``full`` keeps every neighbour."""
        nodes = np.unique(nodes)
        fanout, inner_fanout = (None, None) if full else (self.fanout, self.inner_fanout)
        blocks = []
        for snap, where in zip(self.window.snapshots, self.where, strict=True):
            nbrs = self.neighbours[snap.day]
            there = where[nodes]
            present = np.flatnonzero(there >= 0)
            rows = nbrs.sample_rows(there[present], fanout, rng)
            sources = np.unique(rows.indices)
            rows = sp.csr_matrix(
                (rows.data, np.searchsorted(sources, rows.indices), rows.indptr), shape=(len(present), len(sources))
            )
            inner = nbrs.sample_rows(sources, inner_fanout, rng) if self.inner else None
            blocks.append(Block(snap.day, present, sources, rows, inner))
        return Batch(nodes, self.window.target.keys[nodes], tuple(blocks))


@dataclass(frozen=True)
class HostBatch:
    """One training step's seeds: target-day hosts and the indices of all their edges (its positives)."""

    hosts: np.ndarray  # sorted host node indices
    edges: np.ndarray  # sorted indices into the day's edge arrays


def host_batches(graph: DayGraph, batch_size: int, rng: np.random.Generator) -> list[HostBatch]:
    """One epoch: the day's hosts shuffled and split into ⌈n_hosts / batch_size⌉ near-equal batches, each with
    every edge of its hosts, so every host is a seed and every edge a positive exactly once. The edges are
    sorted by host (build_day_graph), so a host's edges are one range."""
    starts = np.searchsorted(graph.edge_host, np.arange(graph.n_hosts + 1))
    batches = []
    for hosts in np.array_split(rng.permutation(graph.n_hosts), max(1, math.ceil(graph.n_hosts / batch_size))):
        hosts = np.sort(hosts)
        count = starts[hosts + 1] - starts[hosts]
        batches.append(HostBatch(hosts, np.repeat(starts[hosts], count) + _offsets(count)))
    return batches
