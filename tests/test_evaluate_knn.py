"""Neighbour search, class shares and the vote of darkstack.evaluate.knn, on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest

from darkstack.errors import DarkstackError
from darkstack.evaluate.knn import class_probabilities, generator, neighbours, recall, standardise, vote


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


def test_near_twin_hosts_match_brute_force():
    """Hosts within the float32 error of each other (a fifth of the /16 day's i-GCN-GRU hosts) are recomputed
    against the whole pool; its float32 filter must keep every true neighbour, in the exact order."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((5, 32))[rng.integers(0, 5, 600)]
    X += 10 ** rng.uniform(-7, -3, (600, 1)) * rng.standard_normal((600, 32))
    expected = brute_force(X, 3)
    for exact_max in (10**9, 0):
        assert np.array_equal(neighbours(X, 3, exact_max=exact_max), expected)


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


@pytest.mark.parametrize("search", ["ivf", "hnsw"])
def test_approximate_search_recalls_the_exact_neighbours(search):
    X = standardise(clustered(4000, 16, seed=4))  # duplicated and zero vectors included
    exact = neighbours(X, 3, search="exact")
    approx = neighbours(X, 3, search=search)
    assert recall(X, approx, exact) >= 0.99
    assert not (approx == np.arange(len(X))[:, None]).any()  # leave-one-out: never the query itself
    assert (approx >= 0).all() and (np.sort(approx, axis=1)[:, 1:] != np.sort(approx, axis=1)[:, :-1]).all()
    assert np.array_equal(approx, neighbours(X, 3, search=search))  # deterministic
    pool = np.arange(len(X)) % 4 != 0
    queries = np.arange(0, len(X), 7)
    got = neighbours(X, 3, pool=pool, queries=queries, search=search)
    assert pool[got].all() and not (got == queries[:, None]).any()
    assert recall(X, got, neighbours(X, 3, pool=pool, queries=queries, search="exact"), queries) >= 0.99


@pytest.mark.parametrize("search", ["ivf", "hnsw"])
def test_approximate_search_does_not_depend_on_the_faiss_thread_count(search):
    import faiss

    X = standardise(clustered(4000, 16, seed=9))
    before = faiss.omp_get_max_threads()
    try:
        found = []
        for threads in (1, 2):
            faiss.omp_set_num_threads(threads)
            found.append(neighbours(X, 3, search=search))
    finally:
        faiss.omp_set_num_threads(before)
    assert np.array_equal(*found)


def test_approximate_neighbours_are_ranked_exactly_among_their_candidates():
    X = standardise(clustered(3000, 16, seed=5, duplicates=False))
    approx = neighbours(X, 3, search="ivf")
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    sim = np.einsum("qd,qkd->qk", unit, unit[approx])
    assert (np.diff(sim, axis=1) <= 1e-7).all()  # nearest first


def test_recall_counts_equally_similar_hosts_and_misses():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    exact = np.array([[1, 2]])
    assert recall(X, np.array([[2, 1]]), exact, queries=[0]) == 1.0  # a tie is no miss
    assert recall(X, np.array([[1, 4]]), exact, queries=[0]) == 0.5


def test_auto_search_switches_to_ivf_above_the_threshold():
    assert generator(1000, "auto", approx_above=1000) == "blocks"
    assert generator(1001, "auto", approx_above=1000) == "ivf"
    assert generator(1001, "exact", approx_above=1000, exact_max=500) == "flat"
    assert generator(10, "hnsw") == "hnsw"
    X = np.random.default_rng(6).standard_normal((3000, 24))  # no structure: IVF misses some neighbours
    exact, ivf = neighbours(X, 3, search="exact"), neighbours(X, 3, search="ivf")
    assert not np.array_equal(exact, ivf)
    assert np.array_equal(neighbours(X, 3, approx_above=3000), exact)
    assert np.array_equal(neighbours(X, 3, approx_above=2999), ivf)


def test_approximate_search_keeps_the_per_class_f1_of_the_exact_one():
    from sklearn.metrics import f1_score

    from darkstack.evaluate import EvalSettings
    from darkstack.evaluate.classify import classify

    rng = np.random.default_rng(7)
    classes = ["a", "b", "c", "d", "e", "unknown"]
    labels = np.array(classes, dtype=object)[rng.integers(0, len(classes), 5000)]
    centres = rng.standard_normal((len(classes), 16))
    X = centres[[classes.index(lab) for lab in labels]] + 1.6 * rng.standard_normal((5000, 16))  # classes overlap
    scored = classes[:-1]
    exact = f1_score(labels, classify(X, labels, classes, EvalSettings(search="exact"))[1], labels=scored, average=None)
    assert 0.5 < exact.min() < 0.99  # neither trivial nor hopeless
    for search in ("ivf", "hnsw"):
        approx = f1_score(labels, classify(X, labels, classes, EvalSettings(search=search))[1], labels=scored, average=None)
        assert np.abs(approx - exact).max() <= 0.01, search


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
    with pytest.raises(DarkstackError, match="search must be one of"):
        neighbours(np.eye(5), 3, search="annoy")
    with pytest.raises(DarkstackError, match="pool mask"):
        neighbours(np.eye(5), 2, pool=np.ones(4, dtype=bool))
