"""k-nearest-neighbour search by cosine similarity, neighbour class shares and the vote.

Used by the evaluation (3-NN leave-one-out) and by stacking. Neighbour order is defined exactly: by
decreasing cosine similarity (computed in float64, compared at float32 resolution), equal
similarities broken by the lower row index. Candidate generators feed one exact re-ranking:

* ``blocks`` (exact, pools up to ``exact_max`` hosts): blocked float32 matrix products and a top-k per row;
* ``flat`` (exact, larger pools): ``faiss.IndexFlatIP`` on the L2-normalised vectors (an exact index:
  its blocked SIMD kernels only make the scan faster);
* ``ivf`` / ``hnsw`` (approximate, ``search="auto"`` above ``approx_above`` hosts, or asked for):
  ``faiss.IndexIVFFlat`` / ``faiss.IndexHNSWFlat`` with inner product on the L2-normalised vectors.
  Not in the papers, whose days are small enough for the exact scan: a 10^6-host day is ~1 CPU-hour
  exact (docs/scaling.md).

Each generator proposes ``k + CANDIDATE_PAD`` candidates per query in float32; the candidates are
re-ranked exactly. After an exact generator, a query whose ranking could depend on a host outside its
candidates (near-ties at the boundary, e.g. duplicated vectors) is recomputed against the whole pool,
so both exact generators return the same neighbours, bit for bit. After an approximate one, the k
neighbours and their order are exact among the candidates, which miss a true neighbour with the
measured probability of ``recall`` (docs/evaluation.md); only queries left with fewer than k
candidates are recomputed.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from darkstack.errors import ConfigError

EXACT_MAX = 20_000
"""Pools with more hosts than this use the FAISS candidate generator (faster above; see BENCHMARKS.md)."""
SEARCHES = ("auto", "exact", "ivf", "hnsw")
"""``auto``: exact up to ``approx_above`` hosts, IVF above; ``exact``: always exact; ``ivf`` / ``hnsw``: approximate."""
APPROX_ABOVE = 200_000
"""``search="auto"``: pools with more hosts than this use the approximate IVF generator (a /16 day stays exact)."""
IVF_LISTS_PER_ROOT = 4
"""IVF cells: 4·√N (FAISS's guideline 4–16·√N), at most N / IVF_MIN_PER_LIST."""
IVF_MIN_PER_LIST = 39
"""Least training points per IVF cell (FAISS warns below 39)."""
IVF_TRAIN_PER_LIST = 64
"""k-means trains on at most this many sampled points per cell (FAISS's seeded sample)."""
IVF_NPROBE = 32
"""IVF cells scanned per query."""
HNSW_M = 32
"""HNSW links per node."""
HNSW_EF_CONSTRUCTION = 80
"""HNSW candidate list while building."""
HNSW_EF_SEARCH = 128
"""HNSW candidate list while searching (at least the candidates asked for)."""
SEED = 1234
"""Seed of the IVF k-means (FAISS's default, fixed here so that it is stated)."""
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
    search: str = "auto",
    approx_above: int = APPROX_ABOVE,
) -> np.ndarray:
    """Row indices into ``X`` of the ``k`` nearest members of ``pool`` for each query, nearest first.

    ``pool``: bool mask or index array of the rows that may be neighbours (default all);
    ``queries``: index array (default all rows). A query is never its own neighbour (leave-one-out).
    Ties in similarity go to the lower row index. The candidate generator: ``generator(pool size, …)``.
    """
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {METRICS}, not {metric!r}")
    if search not in SEARCHES:
        raise ConfigError(f"search must be one of {SEARCHES}, not {search!r}")
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
    name = generator(pool_idx.size, search, approx_above, exact_max)
    cand, cand_sim = GENERATORS[name](unit32, pool_idx, query_idx, n_cand)
    return _rerank(unit64, unit32, pool_idx, query_idx, cand, cand_sim, k, exact=name in EXACT_GENERATORS)


def generator(pool_size: int, search: str = "auto", approx_above: int = APPROX_ABOVE, exact_max: int = EXACT_MAX) -> str:
    """The candidate generator of a pool: ``blocks`` or ``flat`` (exact), ``ivf`` or ``hnsw`` (approximate)."""
    if search in ("ivf", "hnsw"):
        return search
    if search == "auto" and pool_size > approx_above:
        return "ivf"
    return "flat" if pool_size > exact_max else "blocks"


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
    return _index_candidates(index, unit32, pool_idx, query_idx, n_cand)


def _ivf_candidates(unit32, pool_idx, query_idx, n_cand):
    """Approximate top ``n_cand`` per query: faiss.IndexIVFFlat (inner product), IVF_NPROBE cells scanned.

    Deterministic: the k-means sample and start come from SEED, and every query is searched on one thread.
    """
    import faiss

    vectors = np.ascontiguousarray(unit32[pool_idx])
    lists = int(max(1, min(round(IVF_LISTS_PER_ROOT * np.sqrt(pool_idx.size)), pool_idx.size // IVF_MIN_PER_LIST)))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(unit32.shape[1]), unit32.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = SEED
    index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST
    index.train(vectors)
    index.add(vectors)
    index.nprobe = min(IVF_NPROBE, lists)
    return _index_candidates(index, unit32, pool_idx, query_idx, n_cand)


def _hnsw_candidates(unit32, pool_idx, query_idx, n_cand):
    """Approximate top ``n_cand`` per query: faiss.IndexHNSWFlat (inner product; HNSW_M, HNSW_EF_*).

    Built on one thread: FAISS inserts nodes in parallel otherwise, and the graph (so the result) would
    depend on thread scheduling. The search is parallel over queries, each on one thread (deterministic).
    """
    import faiss

    index = faiss.IndexHNSWFlat(unit32.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    with _faiss_threads(1):
        index.add(np.ascontiguousarray(unit32[pool_idx]))
    index.hnsw.efSearch = max(HNSW_EF_SEARCH, n_cand + 1)
    return _index_candidates(index, unit32, pool_idx, query_idx, n_cand)


@contextmanager
def _faiss_threads(n: int):
    """FAISS's OpenMP threads set to ``n`` inside the block (``faiss.omp_set_num_threads``), restored after."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _index_candidates(index, unit32, pool_idx, query_idx, n_cand):
    """The ``n_cand`` best pool rows per query that a FAISS index returns, self dropped (-1 where it found fewer)."""
    sims, where = index.search(np.ascontiguousarray(unit32[query_idx]), min(n_cand + 1, pool_idx.size))
    found = np.where(where >= 0, pool_idx[np.maximum(where, 0)], -1)
    invalid = (found == query_idx[:, None]) | (where < 0)
    keep = np.argsort(invalid, axis=1, kind="stable")[:, :n_cand]  # drop self, keep the order
    cand = np.take_along_axis(np.where(invalid, -1, found), keep, axis=1)
    return cand, np.take_along_axis(sims, keep, axis=1)


GENERATORS = {"blocks": _exact_candidates, "flat": _faiss_candidates, "ivf": _ivf_candidates, "hnsw": _hnsw_candidates}
EXACT_GENERATORS = ("blocks", "flat")


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


def _rerank(unit64, unit32, pool_idx, query_idx, cand, cand_sim, k, exact=True):
    """Exact float64 order of the candidates; rows whose boundary is uncertain are recomputed in full.

    ``exact``: the candidates are the float32 top of the whole pool, so a boundary within the float32
    error is uncertain. Otherwise (approximate candidates) only rows with fewer than k candidates are.
    """
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
        found = valid.sum(axis=1)
        if exact:
            exhaustive = found >= others[start:stop]
            safe = exhaustive | (kth.astype(np.float64) > cand_sim[start:stop, -1].astype(np.float64) + tolerance)
        else:
            safe = found >= k
        out[start:stop] = top
        uncertain.extend((start + np.flatnonzero(~safe)).tolist())
    if uncertain:
        out[uncertain] = _full_rows(unit64, unit32, pool_idx, query_idx[uncertain], k, tolerance)
    return out


def _full_rows(unit64, unit32, pool_idx, rows, k, tolerance):
    """Exact neighbours of some queries against the whole pool, in float64 where it decides.

    Per block of queries: float32 similarities to the whole pool and their k-th largest ``s_k``. Every
    true neighbour has float32 similarity ≥ ``s_k − 2·tolerance`` (its exact one reaches the exact k-th,
    which the k hosts above ``s_k`` reach within ``tolerance``), so only those hosts get float64
    similarities, sorted by decreasing similarity then index (the pool is sorted). Near-twin hosts
    (many within the float32 error) cost a few more float64 products, never a float64 scan of the pool.
    """
    import torch

    pool32 = torch.from_numpy(np.ascontiguousarray(unit32[pool_idx]))
    out = np.empty((rows.size, k), dtype=np.int64)
    block = max(1, BLOCK_ELEMENTS // pool_idx.size)
    pair_block = max(1, BLOCK_ELEMENTS // (8 * unit64.shape[1]))
    for start in range(0, rows.size, block):
        part = rows[start : start + block]
        sim = torch.from_numpy(np.ascontiguousarray(unit32[part])) @ pool32.T
        inside = np.flatnonzero(np.isin(part, pool_idx))
        sim[torch.from_numpy(inside), torch.from_numpy(np.searchsorted(pool_idx, part[inside]))] = -np.inf
        floor = torch.topk(sim, k, dim=1).values[:, -1:] - 2 * tolerance
        r, c = (x.numpy() for x in torch.nonzero(sim >= floor, as_tuple=True))
        exact = np.empty(r.size, dtype=np.float32)
        for p in range(0, r.size, pair_block):
            q = slice(p, p + pair_block)
            exact[q] = _resolved(np.einsum("pd,pd->p", unit64[part[r[q]]], unit64[pool_idx[c[q]]]))
        order = np.lexsort((c, -exact, r))  # r, then decreasing similarity, then index
        r, c = r[order], c[order]
        rank = np.arange(r.size) - np.searchsorted(r, r)
        keep = rank < k
        out[start + r[keep], rank[keep]] = pool_idx[c[keep]]
    return out


def recall(X: np.ndarray, found: np.ndarray, exact: np.ndarray, queries=None) -> float:
    """Share of the exact neighbours matched by ``found`` (both ``queries`` × k), ties counted as matches.

    A found host matches when its similarity (at float32 resolution, as the search compares them)
    reaches that of the exact k-th neighbour: among equally similar hosts, any k are correct.
    """
    unit = unit_rows(np.asarray(X, dtype=np.float64))
    rows = _as_indices(queries, unit.shape[0], "queries")
    found, exact = np.asarray(found, dtype=np.int64), np.asarray(exact, dtype=np.int64)
    if found.shape != exact.shape or found.shape[0] != rows.size:
        raise ConfigError(f"neighbour lists of shapes {found.shape} and {exact.shape} for {rows.size} queries")
    if rows.size == 0:
        return 1.0
    kth = _resolved(np.einsum("qd,qd->q", unit[rows], unit[exact[:, -1]]))
    sim = _resolved(np.einsum("qd,qkd->qk", unit[rows], unit[found]))
    return float(np.mean(sim >= kth[:, None]))


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
