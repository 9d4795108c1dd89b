"""Neighbour search, class shares and the vote of darkstack.evaluate.knn, on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest

from darkstack.errors import DarkstackError
from darkstack.evaluate.knn import class_probabilities, neighbours, standardise, vote


def brute_force(X, k, pool=None, queries=None):
    """Reference: cosine in float64 compared at float32 resolution, ties to the lower index, self excluded."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    U = X / np.where(norms == 0, 1, norms)
    pool = np.arange(len(X)) if pool is None else np.flatnonzero(pool)
    queries = np.arange(len(X)) if queries is None else queries
    out = []
    for q in queries:
        cand = pool[pool != q]
        sim = (U[cand] @ U[q]).astype(np.float32)
        out.append(cand[np.lexsort((cand, -sim))][:k])
    return np.array(out)


def clustered(n, d, seed, duplicates=True):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((8, d))
    X = centres[rng.integers(0, 8, n)] + 0.3 * rng.standard_normal((n, d))
    if duplicates:
        X[10:40] = X[10]  # a block of identical hosts: ties everywhere
        X[50:53] = 0.0  # zero vectors: similarity 0 to everything
    return X


@pytest.mark.parametrize("exact_max", [10**9, 0], ids=["exact", "faiss"])
def test_matches_brute_force_with_ties_pool_and_queries(exact_max):
    X = clustered(400, 8, seed=1)
    assert np.array_equal(neighbours(X, 3, exact_max=exact_max), brute_force(X, 3))
    pool = np.arange(400) % 3 != 0
    queries = np.array([0, 3, 10, 11, 50, 399])
    got = neighbours(X, 3, pool=pool, queries=queries, exact_max=exact_max)
    assert np.array_equal(got, brute_force(X, 3, pool=pool, queries=queries))
    assert pool[got].all()


def test_leave_one_out_never_returns_the_query():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    neigh = neighbours(X, 2)
    assert not (neigh == np.arange(4)[:, None]).any()
    assert neigh[0].tolist() == [1, 3]  # its identical twin first, never itself
    assert neigh[1].tolist() == [0, 3]


def test_tie_order_is_lower_index_first():
    X = np.ones((6, 3))
    assert neighbours(X, 3).tolist() == [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2], [0, 1, 2], [0, 1, 2]]
    assert neighbours(X, 3, exact_max=0).tolist() == neighbours(X, 3).tolist()


def test_faiss_equals_exact_on_a_mid_size_day():
    X = standardise(clustered(6000, 32, seed=2))
    exact = neighbours(X, 3, exact_max=10**9)
    approx = neighbours(X, 3, exact_max=1000)
    assert np.array_equal(exact, approx)


def test_standardise_matches_standard_scaler():
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(3).standard_normal((50, 4))
    X[:, 2] = 7.0  # constant column
    assert np.allclose(standardise(X), StandardScaler().fit_transform(X))
    assert (standardise(X)[:, 2] == 0).all()


def test_class_probabilities_are_neighbour_shares():
    codes = np.array([0, 1, 1, 2, 0])
    neigh = np.array([[1, 2, 3], [0, 4, 3]])
    proba = class_probabilities(neigh, codes, 4)
    assert np.allclose(proba, [[0, 2 / 3, 1 / 3, 0], [2 / 3, 0, 1 / 3, 0]])


def test_vote_majority_and_ties():
    classes = ["censys", "mirai", "unknown"]
    proba = np.array([[1 / 3, 1 / 3, 1 / 3], [0, 2 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]])
    neighbour_codes = np.array([[2, 1, 0], [2, 1, 1], [1, 0, 2]])
    assert vote(proba, classes, neighbour_codes=neighbour_codes).tolist() == ["unknown", "mirai", "mirai"]
    # Without the neighbours' order: the first tied class in ``classes`` (alphabetical when sorted).
    assert vote(proba, classes).tolist() == ["censys", "mirai", "censys"]


def test_bad_inputs_raise_one_line_errors():
    X = np.eye(3)
    with pytest.raises(DarkstackError, match="at least 4 hosts"):
        neighbours(X, 3)
    with pytest.raises(DarkstackError, match="metric"):
        neighbours(np.eye(5), 3, metric="euclidean")
    with pytest.raises(DarkstackError, match="pool mask"):
        neighbours(np.eye(5), 2, pool=np.ones(4, dtype=bool))
