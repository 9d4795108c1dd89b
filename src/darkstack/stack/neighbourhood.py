"""Neighbours of every host restricted to a pool, cut from one search per base.

One search per base and day finds each host's ``k + margin`` nearest other hosts (nearest first,
ties to the lower index). The k nearest members of any pool are then the first k entries of that
list inside the pool: the same neighbours a search of the pool alone returns, because removing
hosts from an ordered list keeps the order. A host with fewer than k pool members in its list (rare:
the margin covers the one held-out fold) is searched again against the pool itself.
"""

from __future__ import annotations

import numpy as np

from darkstack.evaluate.knn import APPROX_ABOVE, class_probabilities, neighbours


class NeighbourLists:
    """The ordered ``k + margin`` nearest other hosts of every host of one base (or of ``rows`` only).

    Searching only the hosts whose probabilities are used (the scored hosts and the unknown hosts
    kept for training) saves the search of the others; their rows hold -1 and zero probabilities.
    ``search`` / ``approx_above``: the candidate generator of ``knn.neighbours`` (the evaluation's choice).
    """

    def __init__(
        self,
        X: np.ndarray,
        k: int,
        margin: int,
        metric: str = "cosine",
        rows: np.ndarray | None = None,
        *,
        search: str = "auto",
        approx_above: int = APPROX_ABOVE,
    ):
        self.X = X
        self.k = k
        self.metric = metric
        n = X.shape[0]
        width = min(k + margin, n - 1)
        self.rows = np.arange(n, dtype=np.int64) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
        chosen = {"metric": metric, "search": search, "approx_above": approx_above}
        if rows is None:
            self.lists = neighbours(X, width, **chosen)
        else:
            self.lists = np.full((n, width), -1, dtype=np.int64)
            self.lists[self.rows] = neighbours(X, width, queries=self.rows, **chosen)

    def within(self, pool: np.ndarray | None = None) -> np.ndarray:
        """For every searched host, its k nearest other hosts among ``pool`` (bool mask; None = all hosts)."""
        out = np.full((self.X.shape[0], self.k), -1, dtype=np.int64)
        lists = self.lists[self.rows]
        if pool is None:
            out[self.rows] = lists[:, : self.k]
            return out
        inside = pool[lists]
        rank = np.cumsum(inside, axis=1)
        take = inside & (rank <= self.k)
        rows, cols = np.nonzero(take)
        found = np.empty((self.rows.size, self.k), dtype=np.int64)
        found[rows, rank[rows, cols] - 1] = lists[rows, cols]
        short = np.flatnonzero(rank[:, -1] < self.k)
        if short.size:
            # Few queries: the exact generator (a few rows against the pool) beats building a FAISS index.
            found[short] = neighbours(
                self.X, self.k, pool=pool, queries=self.rows[short], metric=self.metric, exact_max=len(self.X),
                search="exact",
            )
        out[self.rows] = found
        return out

    def probabilities(self, codes: np.ndarray, n_classes: int, pool: np.ndarray | None = None) -> np.ndarray:
        """Class shares of every searched host's k nearest neighbours among ``pool`` (zeros for the others)."""
        out = np.zeros((self.X.shape[0], n_classes))
        out[self.rows] = class_probabilities(self.within(pool)[self.rows], codes, n_classes)
        return out
