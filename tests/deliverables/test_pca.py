"""The ``pca`` deliverable: both solvers, whitening and reconstruction against scikit-learn's PCA."""

import numpy as np
import pytest
from sklearn import decomposition

from models.phase1.pca.model import PCA
from tests.deliverables._helpers import load


@pytest.mark.parametrize("solver", ["svd", "eigh"])
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_matches_scikit_learn(solver, whiten):
    X, _ = load("digits")
    ours = PCA(n_components=12, solver=solver, whiten=whiten).fit(X)
    theirs = decomposition.PCA(n_components=12, whiten=whiten, svd_solver="full").fit(X)
    np.testing.assert_allclose(np.abs(ours.components_), np.abs(theirs.components_), atol=1e-6)
    np.testing.assert_allclose(ours.explained_variance_ratio_, theirs.explained_variance_ratio_, atol=1e-9)
    signs = np.sign((ours.components_ * theirs.components_).sum(axis=1))
    np.testing.assert_allclose(ours.transform(X) * signs, theirs.transform(X), atol=1e-6)
    reconstructed = theirs.inverse_transform(theirs.transform(X))
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), reconstructed, atol=1e-6)


def test_pca_with_every_component_reconstructs_exactly():
    X, _ = load("wine")
    model = PCA().fit(X)
    np.testing.assert_allclose(model.inverse_transform(model.transform(X)), X, atol=1e-8)
    assert model.explained_variance_ratio_.sum() == pytest.approx(1.0)
