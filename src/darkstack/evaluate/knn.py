"""k-nearest-neighbour search by cosine similarity, neighbour class shares and the vote.

Used by the evaluation (3-NN leave-one-out) and by stacking. Neighbour order is defined exactly: by
decreasing cosine similarity (computed in float64, compared at float32 resolution), equal
similarities broken by the lower row index. Two candidate generators feed one exact re-ranking:

* ``exact`` (pools up to ``exact_max`` hosts): blocked float32 matrix products and a top-k per row;
* ``faiss`` (larger pools): ``faiss.IndexFlatIP`` on the L2-normalised vectors (an exact, not an
  approximate, index: its blocked SIMD kernels only make the scan faster).

Each generator proposes ``k + CANDIDATE_PAD`` candidates per query in float32; the candidates are
re-ranked exactly, and a query whose ranking could depend on a host outside its candidates
(near-ties at the boundary, e.g. duplicated vectors) is recomputed against the whole pool. So both
generators return the same neighbours, bit for bit.
"""

from __future__ import annotations

import numpy as np

from darkstack.errors import ConfigError

EXACT_MAX = 20_000
"""Pools with more hosts than this use the FAISS candidate generator (faster above; see BENCHMARKS.md)."""
CANDIDATE_PAD = 16
"""Candidates proposed per query beyond k, re-ranked exactly."""
FLOAT32_TOLERANCE = 1e-4
"""Least margin on the float32 error of a cosine similarity of unit vectors (see ``_tolerance``)."""
BLOCK_ELEMENTS = 1 << 25
"""Similarity-matrix elements computed at once by the exact generator (128 MiB of float32)."""
METRICS = ("cosine",)


def standardise(X: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per column over all rows (scikit-learn's StandardScaler; constant columns → 0)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ConfigError(f"embeddings must be a 2-d matrix, got shape {X.shape}")
    if X.shape[0] == 0:
        return X.copy()
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return (X - X.mean(axis=0)) / std


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero: cosine similarity 0 to everything)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return X / norms


def _as_indices(selection, n: int, what: str) -> np.ndarray:
    """A boolean mask or an index array over ``n`` rows → sorted-as-given int64 indices."""
    if selection is None:
        return np.arange(n, dtype=np.int64)
    arr = np.asarray(selection)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ConfigError(f"{what} mask has {arr.shape[0] if arr.ndim else 0} entries for {n} rows")
        return np.flatnonzero(arr).astype(np.int64)
    arr = arr.astype(np.int64).ravel()
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ConfigError(f"{what} index out of range for {n} rows")
    return arr


def neighbours(
    X: np.ndarray,
    k: int = 3,
    *,
    pool=None,
    queries=None,
    metric: str = "cosine",
    exact_max: int = EXACT_MAX,
) -> np.ndarray:
    """Row indices into ``X`` of the ``k`` nearest members of ``pool`` for each query, nearest first.

    ``pool``: bool mask or index array of the rows that may be neighbours (default all);
    ``queries``: index array (default all rows). A query is never its own neighbour (leave-one-out).
    Ties in similarity go to the lower row index. Pools above ``exact_max`` hosts use FAISS.
    """
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {METRICS}, not {metric!r}")
    if k < 1:
        raise ConfigError(f"k must be at least 1, not {k}")
    X = np.asarray(X)
    if X.ndim != 2:
        raise ConfigError(f"embeddings must be a 2-d matrix, got shape {X.shape}")
    n = X.shape[0]
    pool_idx = np.unique(_as_indices(pool, n, "pool"))
    query_idx = _as_indices(queries, n, "queries")
    if query_idx.size == 0:
        return np.zeros((0, k), dtype=np.int64)
    if pool_idx.size - 1 < k:
        raise ConfigError(f"{k} neighbours need at least {k + 1} hosts in the pool, got {pool_idx.size}")
    unit64 = unit_rows(np.asarray(X, dtype=np.float64))
    unit32 = np.ascontiguousarray(unit64, dtype=np.float32)
    n_cand = min(k + CANDIDATE_PAD, pool_idx.size)
    if pool_idx.size > exact_max:
        cand, cand_sim = _faiss_candidates(unit32, pool_idx, query_idx, n_cand)
    else:
        cand, cand_sim = _exact_candidates(unit32, pool_idx, query_idx, n_cand)
    return _rerank(unit64, pool_idx, query_idx, cand, cand_sim, k)


def _exact_candidates(unit32, pool_idx, query_idx, n_cand):
    """Top ``n_cand`` pool rows per query by float32 similarity (self excluded): blocked products + top-k."""
    import torch

    pool_vec = torch.from_numpy(np.ascontiguousarray(unit32[pool_idx]))
    position = np.full(unit32.shape[0], -1, dtype=np.int64)
    position[pool_idx] = np.arange(pool_idx.size)
    block = max(1, BLOCK_ELEMENTS // pool_idx.size)
    cand = np.empty((query_idx.size, n_cand), dtype=np.int64)
    cand_sim = np.empty((query_idx.size, n_cand), dtype=np.float32)
    for start in range(0, query_idx.size, block):
        rows = query_idx[start : start + block]
        sim = torch.from_numpy(np.ascontiguousarray(unit32[rows])) @ pool_vec.T
        own = position[rows]
        inside = np.flatnonzero(own >= 0)
        sim[torch.from_numpy(inside), torch.from_numpy(own[inside])] = -np.inf
        values, where = torch.topk(sim, n_cand, dim=1, sorted=True)
        values = values.numpy()
        cand[start : start + rows.size] = np.where(np.isneginf(values), -1, pool_idx[where.numpy()])
        cand_sim[start : start + rows.size] = values
    return cand, cand_sim


def _faiss_candidates(unit32, pool_idx, query_idx, n_cand):
    """Top ``n_cand`` pool rows per query by float32 similarity (self excluded), via faiss.IndexFlatIP."""
    import faiss

    index = faiss.IndexFlatIP(unit32.shape[1])
    index.add(np.ascontiguousarray(unit32[pool_idx]))
    sims, where = index.search(np.ascontiguousarray(unit32[query_idx]), min(n_cand + 1, pool_idx.size))
    found = np.where(where >= 0, pool_idx[np.maximum(where, 0)], -1)
    invalid = (found == query_idx[:, None]) | (where < 0)
    keep = np.argsort(invalid, axis=1, kind="stable")[:, :n_cand]  # drop self, keep the order
    cand = np.take_along_axis(np.where(invalid, -1, found), keep, axis=1)
    return cand, np.take_along_axis(sims, keep, axis=1)


def _resolved(sim64: np.ndarray) -> np.ndarray:
    """Similarities at the resolution they are compared at: float64 results rounded to float32.

    Different float64 routines (BLAS blocks, einsum) can disagree in the last bits, e.g. for two
    identical hosts; rounding makes such values equal, so the tie rule (lower index) decides.
    """
    return sim64.astype(np.float32)


def _tolerance(dims: int) -> float:
    """Bound on |float32 similarity − exact| for unit vectors: rounding the inputs (2u) plus summing ``dims``
    products (dims·u, worst case), doubled; never below FLOAT32_TOLERANCE."""
    return max(FLOAT32_TOLERANCE, 2 * (dims + 2) * 2.0**-24)


def _order(sim: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per row, the column order by decreasing similarity, then increasing index."""
    return np.lexsort((idx, -sim), axis=-1)


def _rerank(unit64, pool_idx, query_idx, cand, cand_sim, k):
    """Exact float64 order of the candidates; rows whose boundary is uncertain are recomputed in full."""
    in_pool = np.zeros(unit64.shape[0], dtype=bool)
    in_pool[pool_idx] = True
    others = pool_idx.size - in_pool[query_idx]
    out = np.empty((query_idx.size, k), dtype=np.int64)
    block = max(1, BLOCK_ELEMENTS // (8 * cand.shape[1] * unit64.shape[1]))
    tolerance = _tolerance(unit64.shape[1])
    uncertain = []
    for start in range(0, query_idx.size, block):
        stop = min(start + block, query_idx.size)
        c = cand[start:stop]
        valid = c >= 0
        sim = _resolved(np.einsum("qd,qcd->qc", unit64[query_idx[start:stop]], unit64[np.maximum(c, 0)]))
        sim[~valid] = -np.inf
        order = _order(sim, c)
        top = np.take_along_axis(c, order[:, :k], axis=1)
        kth = np.take_along_axis(sim, order[:, k - 1 : k], axis=1)[:, 0]
        # A host outside the candidates has float32 similarity ≤ the last candidate's; it can only
        # matter if its exact similarity could reach the k-th exact one.
        exhaustive = valid.sum(axis=1) >= others[start:stop]
        safe = exhaustive | (kth.astype(np.float64) > cand_sim[start:stop, -1].astype(np.float64) + tolerance)
        out[start:stop] = top
        uncertain.extend((start + np.flatnonzero(~safe)).tolist())
    if uncertain:
        out[uncertain] = _full_rows(unit64, pool_idx, query_idx[uncertain], k)
    return out


def _full_rows(unit64, pool_idx, rows, k):
    """Exact neighbours of a few queries against the whole pool, in float64.

    Per row: the (fewer than k) hosts above the k-th similarity, sorted, then the hosts equal to it
    in index order (the pool is sorted), so a large group of identical hosts costs no sort.
    """
    import torch

    pool_vec = unit64[pool_idx]
    out = np.empty((rows.size, k), dtype=np.int64)
    block = max(1, BLOCK_ELEMENTS // (2 * pool_idx.size))
    for start in range(0, rows.size, block):
        part = rows[start : start + block]
        sim = _resolved(unit64[part] @ pool_vec.T)
        sim[pool_idx[None, :] == part[:, None]] = -np.inf
        kth = torch.topk(torch.from_numpy(sim), k, dim=1).values[:, -1].numpy()[:, None]
        block_out = out[start : start + part.size]
        r, c = np.nonzero(sim > kth)
        order = np.lexsort((c, -sim[r, c], r))
        r, c = r[order], c[order]
        block_out[r, np.arange(r.size) - np.searchsorted(r, np.arange(part.size))[r]] = pool_idx[c]
        n_above = np.bincount(r, minlength=part.size)
        r, c = np.nonzero(sim == kth)
        slot = np.arange(r.size) - np.searchsorted(r, np.arange(part.size))[r] + n_above[r]
        keep = slot < k
        block_out[r[keep], slot[keep]] = pool_idx[c[keep]]
    return out


def class_probabilities(neigh: np.ndarray, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Fraction of each query's neighbours in each class: ``codes[i]`` is the class code of row ``i`` of X."""
    neigh = np.asarray(neigh, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    n_q, k = neigh.shape
    if n_q == 0:
        return np.zeros((0, n_classes))
    neighbour_codes = codes[neigh]
    if neighbour_codes.min() < 0 or neighbour_codes.max() >= n_classes:
        raise ConfigError(f"class codes must lie in 0..{n_classes - 1}")
    flat = (np.arange(n_q)[:, None] * n_classes + neighbour_codes).ravel()
    counts = np.bincount(flat, minlength=n_q * n_classes).reshape(n_q, n_classes)
    return counts / k


def vote(proba: np.ndarray, classes, *, neighbour_codes: np.ndarray | None = None) -> np.ndarray:
    """The class with the highest share per row; deterministic ties.

    Ties go to the tied class met first among the row's ``neighbour_codes`` (class codes of the
    neighbours, nearest first: the 1-1-1 tie of 3-NN goes to the nearest neighbour's class) when
    they are given, else to the tied class listed first in ``classes`` (sorted classes give the
    reference's alphabetical rule).
    """
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray(list(classes), dtype=object)
    if proba.ndim != 2 or proba.shape[1] != classes.size:
        raise ConfigError(f"probabilities of shape {proba.shape} do not match {classes.size} classes")
    if proba.shape[0] == 0:
        return classes[np.zeros(0, dtype=np.int64)]
    tied = proba >= proba.max(axis=1, keepdims=True) - 1e-12
    if neighbour_codes is None:
        return classes[tied.argmax(axis=1)]
    neighbour_codes = np.asarray(neighbour_codes, dtype=np.int64)
    k = neighbour_codes.shape[1]
    first_seen = np.full(proba.shape, k, dtype=np.int64)
    rows = np.repeat(np.arange(proba.shape[0]), k)
    ranks = np.tile(np.arange(k), proba.shape[0])
    np.minimum.at(first_seen, (rows, neighbour_codes.ravel()), ranks)
    first_seen[~tied] = k + 1
    return classes[first_seen.argmin(axis=1)]
