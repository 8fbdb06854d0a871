"""The ``knn`` deliverable: brute force and the k-d tree against scikit-learn's neighbours."""

import numpy as np
import pytest
from sklearn import neighbors
from sklearn.model_selection import train_test_split

from models.phase1.knn.model import KNeighborsClassifier
from tests.deliverables._helpers import load


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_predicts_like_scikit_learn(weights):
    X, y = load("digits")
    X_train, X_test, y_train, _y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    ours = KNeighborsClassifier(weights=weights).fit(X_train, y_train)
    theirs = neighbors.KNeighborsClassifier(weights=weights).fit(X_train, y_train)
    np.testing.assert_array_equal(ours.predict(X_test), theirs.predict(X_test))
    np.testing.assert_allclose(ours.kneighbors(X_test)[0], theirs.kneighbors(X_test)[0], atol=1e-9)


def test_kd_tree_finds_the_same_neighbours_as_brute_force():
    rng = np.random.default_rng(0)
    X, queries = rng.normal(size=(500, 4)), rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    brute = KNeighborsClassifier(n_neighbors=7).fit(X, y).kneighbors(queries)
    kd = KNeighborsClassifier(n_neighbors=7, algorithm="kd_tree", leaf_size=10).fit(X, y).kneighbors(queries)
    reference = neighbors.NearestNeighbors(n_neighbors=7).fit(X).kneighbors(queries)
    np.testing.assert_array_equal(kd[1], brute[1])
    np.testing.assert_array_equal(kd[1], reference[1])
    np.testing.assert_allclose(kd[0], reference[0], atol=1e-12)
