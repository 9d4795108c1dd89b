"""Density clusters of one day's hosts: HDBSCAN (scikit-learn) on L2-normalised vectors.

The papers compare hosts by cosine similarity (3-NN); HDBSCAN has no cosine tree, so rows are scaled to
unit length and clustered with the euclidean distance, which orders pairs as the cosine distance does
(``|a - b|² = 2 - 2 cos(a, b)`` for unit vectors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from darkstack.discover.settings import DiscoverSettings
from darkstack.evaluate.knn import unit_rows

NOISE = -1
"""Cluster number of the hosts HDBSCAN leaves out of every cluster."""


@dataclass(frozen=True)
class Clusters:
    """Cluster number (``NOISE`` for none) and membership strength in [0, 1] of every host, and the unit vectors."""

    labels: np.ndarray
    strength: np.ndarray
    unit: np.ndarray

    @property
    def numbers(self) -> list[int]:
        return sorted(set(self.labels.tolist()) - {NOISE})


def cluster_hosts(X: np.ndarray, settings: DiscoverSettings) -> Clusters:
    """HDBSCAN clusters of the rows of ``X`` under the cosine distance (deterministic: no random step)."""
    from sklearn.cluster import HDBSCAN

    unit = unit_rows(np.asarray(X, dtype=np.float64))
    model = HDBSCAN(
        min_cluster_size=settings.min_cluster_size, min_samples=settings.min_samples, metric="euclidean", copy=True
    ).fit(unit)
    return Clusters(model.labels_.astype(np.int32), model.probabilities_.astype(np.float32), unit)
