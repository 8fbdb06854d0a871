"""The ``knn_search`` deliverable: brute force, ball tree and external search against scikit-learn and FAISS."""

import numpy as np
import pytest

SEARCHES = [
    (m, a) for m in ("euclidean", "manhattan", "chebyshev", "cosine") for a in ("brute", "ball_tree", "external")
]


# cosine is no metric (no triangle inequality): the ball tree refuses it (tested below)
@pytest.mark.parametrize(("metric", "algorithm"), [s for s in SEARCHES if s != ("cosine", "ball_tree")])
def test_every_search_algorithm_finds_scikit_learns_neighbours(metric, algorithm):
    from sklearn.neighbors import NearestNeighbors

    from models.dsa.knn_search.model import NeighbourIndex

    rng = np.random.default_rng(1)
    points, queries = rng.normal(size=(700, 6)), rng.normal(size=(40, 6))
    distances, ids = NeighbourIndex(7, metric, algorithm, leaf_size=16, block_rows=100).fit(points).kneighbors(queries)
    expected = NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(points).kneighbors(queries)
    np.testing.assert_array_equal(ids, expected[1])
    np.testing.assert_allclose(distances, expected[0], atol=1e-10)


def test_custom_metric_callable_and_refusals():
    from models.dsa.knn_search.model import BallTree, NeighbourIndex, brute_force

    rng = np.random.default_rng(2)
    points, queries = rng.normal(size=(200, 3)), rng.normal(size=(5, 3))
    weights = np.array([1.0, 10.0, 0.1])

    def weighted(A, B):
        return np.sqrt((((A[:, None, :] - B[None]) * weights) ** 2).sum(axis=2))

    _, ids = brute_force(points, queries, 4, weighted)
    _, expected = brute_force(points * weights, queries * weights, 4, "euclidean")
    np.testing.assert_array_equal(ids, expected)
    with pytest.raises(ValueError, match="true metric"):
        BallTree(points, "cosine")
    with pytest.raises(ValueError, match="k must lie"):
        NeighbourIndex(k=500).fit(points)


def test_external_search_reads_one_block_at_a_time(tmp_path, monkeypatch):
    from models.dsa.knn_search import model as knn_search

    rng = np.random.default_rng(3)
    points, queries = rng.normal(size=(1000, 4)), rng.normal(size=(10, 4))
    np.save(tmp_path / "points.npy", points)
    widest = []
    original = knn_search.pairwise

    def spy(A, B, metric):
        widest.append(len(B))
        return original(A, B, metric)

    monkeypatch.setattr(knn_search, "pairwise", spy)
    _, ids = knn_search.external(tmp_path / "points.npy", queries, 5, block_rows=128)
    assert max(widest) == 128  # never more than one block of points in memory
    monkeypatch.setattr(knn_search, "pairwise", original)
    np.testing.assert_array_equal(ids, knn_search.brute_force(points, queries, 5)[1])


def test_recall_counts_ties_and_faiss_agrees_on_exact_search():
    from sklearn import datasets

    from models.dsa.knn_search.model import NeighbourIndex
    from models.dsa.knn_search.reference import FaissIndex
    from s2p.metrics import compute

    X, _ = datasets.load_digits(return_X_y=True)
    points, queries = X[:1200], X[1200:1400]
    for index in (NeighbourIndex(10).fit(points), FaissIndex(10).fit(points)):
        assert compute(["recall_at_k"], None, index.transform(queries), queries, index)["recall_at_k"] == 1.0
    approximate = FaissIndex(10, index="hnsw", hnsw_neighbors=4).fit(points)
    recall = compute(["recall_at_k"], None, approximate.transform(queries), queries, approximate)["recall_at_k"]
    assert 0.5 < recall <= 1.0
