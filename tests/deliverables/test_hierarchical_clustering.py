"""The ``hierarchical_clustering`` deliverable: the linkage matrix against SciPy, labels against scikit-learn."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage as scipy_linkage
from sklearn import cluster
from sklearn.metrics import adjusted_rand_score

from models.phase1.hierarchical_clustering.model import AgglomerativeClustering, linkage_matrix


@pytest.mark.parametrize("method", ["ward", "complete", "average", "single"])
def test_linkage_matches_scipy_and_labels_match_scikit_learn(method):
    X = np.random.default_rng(1).normal(size=(90, 4))
    ours = linkage_matrix(X, method)
    np.testing.assert_allclose(ours[:, 2:], scipy_linkage(X, method)[:, 2:], atol=1e-10)
    labels = AgglomerativeClustering(n_clusters=4, linkage=method).fit(X).labels_
    theirs = cluster.AgglomerativeClustering(n_clusters=4, linkage=method).fit(X).labels_
    assert adjusted_rand_score(labels, theirs) == 1.0
