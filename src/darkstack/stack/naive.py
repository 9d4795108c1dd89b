"""Naive stacking: each base votes for its predicted class; the most voted class wins, ties drawn at random."""

from __future__ import annotations

import numpy as np


def naive_vote(votes: np.ndarray, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Majority of the bases' votes per host (``votes``: hosts × bases class codes).

    Ties among the most voted classes are broken uniformly at random with ``rng`` (same seed, same
    result).
    """
    votes = np.asarray(votes, dtype=np.int64)
    n = votes.shape[0]
    counts = np.zeros((n, n_classes), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n), votes.shape[1]), votes.ravel()), 1)
    best = counts == counts.max(axis=1, keepdims=True)
    draw = rng.random((n, n_classes))
    return np.where(best, draw, -1.0).argmax(axis=1)
