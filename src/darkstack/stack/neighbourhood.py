"""Neighbours of every host restricted to a pool, cut from one search per base.

One search per base and day finds each host's ``k + margin`` nearest other hosts (nearest first,
ties to the lower index). The k nearest members of any pool are then the first k entries of that
list inside the pool: the same neighbours a search of the pool alone returns, because removing
hosts from an ordered list keeps the order. A host with fewer than k pool members in its list (rare:
the margin covers the one held-out fold) is searched again against the pool itself.
"""

from __future__ import annotations

import numpy as np

from darkstack.evaluate.knn import class_probabilities, neighbours


class NeighbourLists:
    """The ordered ``k + margin`` nearest other hosts of every host of one base."""

    def __init__(self, X: np.ndarray, k: int, margin: int, metric: str = "cosine"):
        self.X = X
        self.k = k
        self.metric = metric
        width = min(k + margin, X.shape[0] - 1)
        self.lists = neighbours(X, width, metric=metric)

    def within(self, pool: np.ndarray | None = None) -> np.ndarray:
        """For every host, its k nearest other hosts among ``pool`` (bool mask; None = all hosts)."""
        if pool is None:
            return self.lists[:, : self.k].copy()
        inside = pool[self.lists]
        rank = np.cumsum(inside, axis=1)
        take = inside & (rank <= self.k)
        rows, cols = np.nonzero(take)
        out = np.empty((self.X.shape[0], self.k), dtype=np.int64)
        out[rows, rank[rows, cols] - 1] = self.lists[rows, cols]
        short = np.flatnonzero(rank[:, -1] < self.k)
        if short.size:
            # Few queries: the exact generator (a few rows against the pool) beats building a FAISS index.
            out[short] = neighbours(self.X, self.k, pool=pool, queries=short, metric=self.metric, exact_max=len(self.X))
        return out

    def probabilities(self, codes: np.ndarray, n_classes: int, pool: np.ndarray | None = None) -> np.ndarray:
        """Class shares of every host's k nearest neighbours among ``pool``."""
        return class_probabilities(self.within(pool), codes, n_classes)
