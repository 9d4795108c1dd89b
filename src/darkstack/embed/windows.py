"""Per-day graphs and training windows of the GNN family, and link-prediction samples.

A day's graph holds only that day's nodes (hosts then ports, ordered by a stable node key), its
row-normalised weighted adjacency with self-loops Â = D⁻¹(A + I), and its scaled node features. A
window is the list of snapshots a model reads for one target day, plus, for each snapshot, where the
target day's nodes sit in it: the GNN computes only on those nodes and edges.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from darkstack.errors import InputFormatError
from darkstack.snapshot import Snapshot
from darkstack.snapshot.features import FEATURE_COLUMNS, scale_by_day_max

PORT_KEY_BASE = 1 << 32
"""Node key of port p is PORT_KEY_BASE + p + 1 (port -1 = other → PORT_KEY_BASE); a host's key is its IP."""


def node_keys(ips: np.ndarray, ports: np.ndarray) -> np.ndarray:
    """Stable int64 node keys across days: hosts by IP, ports by number (all hosts sort before all ports)."""
    return np.concatenate([np.asarray(ips, np.int64), PORT_KEY_BASE + 1 + np.asarray(ports, np.int64)])


@dataclass(frozen=True)
class DayGraph:
    """One day's bipartite host-port graph on its active nodes only (hosts first, then ports)."""

    day: dt.date
    keys: np.ndarray  # int64 [n], sorted: hosts (IP) then ports
    n_hosts: int
    edge_host: np.ndarray  # int64 [m], node index of the edge's host (< n_hosts)
    edge_port: np.ndarray  # int64 [m], node index of the edge's port (>= n_hosts)
    adjacency: sp.csr_matrix  # float32 [n, n], Â = D⁻¹(A + I), every row sums to 1
    features: np.ndarray | None  # float32 [n, 37], day-max scaled per node type; None without features

    @property
    def n_nodes(self) -> int:
        return len(self.keys)

    @property
    def hosts(self) -> np.ndarray:
        """The IPs (uint32) of the day's active hosts, in node order."""
        return self.keys[: self.n_hosts].astype(np.uint32)


def _column(table: pa.Table, name: str, dtype) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def _feature_block(table: pa.Table, key: str, ids: np.ndarray, where: str) -> np.ndarray:
    """The scaled feature rows of ``ids`` (sorted) from a features table keyed by column ``key``."""
    table_ids = _column(table, key, np.int64)
    order = np.argsort(table_ids, kind="stable")
    sorted_ids = table_ids[order]
    if len(sorted_ids) > 1 and (sorted_ids[1:] == sorted_ids[:-1]).any():
        raise InputFormatError(f"duplicate {key} rows in the features", where)
    pos = np.searchsorted(sorted_ids, ids)
    found = (pos < len(sorted_ids)) & (sorted_ids[np.minimum(pos, len(sorted_ids) - 1)] == ids)
    if not found.all():
        raise InputFormatError(
            f"{int((~found).sum())} graph node(s) have no feature row (e.g. {key} {ids[~found][0]})", where
        )
    raw = np.column_stack([_column(table, c, np.float64) for c in FEATURE_COLUMNS])
    if not np.isfinite(raw).all() or (raw < 0).any():
        raise InputFormatError("features must be finite and non-negative (raw, unscaled)", where)
    return scale_by_day_max(raw)[order[pos]].astype(np.float32)


def build_day_graph(snapshot: Snapshot, *, features: bool, weighted: bool = True, where: str = "") -> DayGraph:
    """The day's graph: active hosts and ports, Â, and (optionally) the day-max scaled features."""
    edges = snapshot.edges
    e_ip = _column(edges, "ip", np.int64)
    e_port = _column(edges, "port", np.int64)
    packets = _column(edges, "packets", np.float64)
    if (packets <= 0).any():
        raise InputFormatError("edge packet counts must be positive", where)
    hosts = np.union1d(e_ip, _column(snapshot.host_features, "ip", np.int64))
    ports = np.union1d(e_port, _column(snapshot.port_features, "port", np.int64))
    keys = node_keys(hosts, ports)
    n_hosts, n = len(hosts), len(keys)
    # Coalesce repeated (host, port) rows: one edge per pair, weights summed.
    src = np.searchsorted(hosts, e_ip)
    dst = n_hosts + np.searchsorted(ports, e_port)
    codes, inverse = np.unique(src * n + dst, return_inverse=True)
    weight = np.bincount(inverse, weights=packets).astype(np.float64) if weighted else np.ones(len(codes))
    edge_host, edge_port = codes // n, codes % n
    loops = np.arange(n)
    rows = np.concatenate([edge_host, edge_port, loops])
    cols = np.concatenate([edge_port, edge_host, loops])
    vals = np.concatenate([weight, weight, np.ones(n)])
    a = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    a = sp.diags(1.0 / np.asarray(a.sum(axis=1)).ravel()) @ a
    a = a.astype(np.float32).tocsr()
    a.sort_indices()
    x = None
    if features:
        x = np.vstack(
            [
                _feature_block(snapshot.host_features, "ip", hosts, f"{where}/host_features.parquet"),
                _feature_block(snapshot.port_features, "port", ports, f"{where}/port_features.parquet"),
            ]
        )
    return DayGraph(snapshot.day, keys, n_hosts, edge_host, edge_port, a, x)


def window_positions(n_days: int, index: int, history: int, *, include_target: bool = True) -> list[int]:
    """Positions of the snapshots [t-H … t] (or [t-H … t-1]) for the day at ``index``, clipped at day 0."""
    if not 0 <= index < n_days:
        raise IndexError(index)
    last = index if include_target else index - 1
    return list(range(max(0, index - history), last + 1))


@dataclass(frozen=True)
class Window:
    """The snapshots a model reads for one target day, and where the target's nodes sit in each."""

    target: DayGraph
    snapshots: tuple[DayGraph, ...]
    target_rows: tuple[np.ndarray, ...]  # per snapshot: target node indices present in it
    snapshot_rows: tuple[np.ndarray, ...]  # per snapshot: the same nodes' indices in the snapshot

    @property
    def always_present(self) -> np.ndarray:
        """Mask of target nodes active in every snapshot of the window."""
        count = np.zeros(self.target.n_nodes, np.int64)
        for rows in self.target_rows:
            count[rows] += 1
        return count == len(self.snapshots)


def make_window(target: DayGraph, snapshots: list[DayGraph]) -> Window:
    """Align the target day's nodes with each snapshot of its window (by node key)."""
    t_rows, s_rows = [], []
    for snap in snapshots:
        pos = np.searchsorted(snap.keys, target.keys)
        clipped = np.minimum(pos, max(snap.n_nodes - 1, 0))
        present = (
            (pos < snap.n_nodes) & (snap.keys[clipped] == target.keys)
            if snap.n_nodes
            else np.zeros(target.n_nodes, bool)
        )
        t_rows.append(np.flatnonzero(present))
        s_rows.append(pos[present])
    return Window(target, tuple(snapshots), tuple(t_rows), tuple(s_rows))


@dataclass(frozen=True)
class NegativePool:
    """What negative sampling draws from: the hosts and ports with an edge that day, the sorted edge codes."""

    n_nodes: int
    hosts: np.ndarray
    ports: np.ndarray
    edge_codes: np.ndarray  # sorted host·n + port of every edge

    @classmethod
    def of(cls, graph: DayGraph) -> NegativePool:
        n = graph.n_nodes
        return cls(n, np.unique(graph.edge_host), np.unique(graph.edge_port), np.sort(graph.edge_host * n + graph.edge_port))


def sample_negatives(graph: DayGraph, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct host-port pairs that are not edges of ``graph`` (fewer only if fewer exist)."""
    return draw_negatives(NegativePool.of(graph), count, rng)


def draw_negatives(pool: NegativePool, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct non-edges from ``pool`` (built once per day when many batches draw from it).

    Hosts are drawn from the hosts with an edge that day and ports from the ports with an edge, as the
    reference does. Pairs are encoded as host·n + port and tested against the sorted edge codes.
    """
    n, hosts, ports, edge_codes = pool.n_nodes, pool.hosts, pool.ports, pool.edge_codes
    capacity = len(hosts) * len(ports) - len(edge_codes)
    want = min(count, capacity)
    if want <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if capacity <= 2 * want:  # dense graph: enumerate every non-edge and pick at random
        every = (hosts[:, None] * n + ports[None, :]).ravel()
        free = every[~_isin_sorted(every, edge_codes)]
        chosen = rng.permutation(free)[:want]
    else:
        chosen = np.zeros(0, np.int64)
        while len(chosen) < want:
            draw = max(2 * (want - len(chosen)), 64)
            cand = rng.choice(hosts, draw) * n + rng.choice(ports, draw)
            cand = np.concatenate([chosen, cand[~_isin_sorted(cand, edge_codes)]])
            _, first = np.unique(cand, return_index=True)
            chosen = cand[np.sort(first)][:want]
    return chosen // n, chosen % n


def _isin_sorted(values: np.ndarray, sorted_codes: np.ndarray) -> np.ndarray:
    """Membership of ``values`` in the sorted array ``sorted_codes``."""
    if len(sorted_codes) == 0:
        return np.zeros(len(values), bool)
    pos = np.minimum(np.searchsorted(sorted_codes, values), len(sorted_codes) - 1)
    return sorted_codes[pos] == values
