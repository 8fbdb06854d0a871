"""The ``kmeans`` deliverable: Lloyd's algorithm and k-means++ seeding against scikit-learn's KMeans."""

import numpy as np
import pytest
from sklearn import cluster, datasets
from sklearn.metrics import adjusted_rand_score

from models.phase1.kmeans.model import KMeans
from tests.deliverables._helpers import load


def test_kmeans_finds_scikit_learns_solution_on_iris():
    X, _y = load("iris")
    ours = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
    theirs = cluster.KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)
    assert adjusted_rand_score(ours.labels_, theirs.labels_) == 1.0
    assert ours.score(X) == pytest.approx(theirs.score(X))
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)


def test_kmeans_plus_plus_seeding_beats_random_seeding_on_average():
    X, _ = datasets.make_blobs(n_samples=600, centers=12, cluster_std=0.5, random_state=3)
    plus = [KMeans(12, random_state=s, max_iter=1).fit(X).inertia_ for s in range(10)]
    random = [KMeans(12, init="random", random_state=s, max_iter=1).fit(X).inertia_ for s in range(10)]
    assert np.mean(plus) < np.mean(random)
