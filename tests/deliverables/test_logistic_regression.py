"""The ``logistic_regression`` deliverable: Newton and gradient descent against scikit-learn's solver."""

import numpy as np
import pytest
from sklearn import linear_model
from sklearn.preprocessing import StandardScaler

from models.phase1.logistic_regression.model import LogisticRegression
from tests.deliverables._helpers import load


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "digits"])
def test_logistic_regression_matches_scikit_learn(name):
    X, y = load(name)
    ours = LogisticRegression(C=0.5).fit(X, y)
    scaled = StandardScaler().fit(X)
    reference = linear_model.LogisticRegression(C=0.5, tol=1e-12, max_iter=10000).fit(scaled.transform(X), y)
    np.testing.assert_allclose(ours.coef_ * scaled.scale_, reference.coef_, atol=2e-5)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(scaled.transform(X)), atol=1e-5)
    assert ours.n_epochs_ < 30  # Newton converges in a few steps


def test_logistic_regression_gradient_descent_reaches_the_newton_solution():
    X, y = load("breast_cancer")
    newton = LogisticRegression().fit(X, y)
    descent = LogisticRegression(solver="gd", learning_rate=1.0, max_epochs=20000, tol=1e-13).fit(X, y)
    assert descent.loss_history_[-1] == pytest.approx(newton.loss_history_[-1], rel=1e-4)
    assert np.all(np.diff(descent.loss_history_) <= 1e-12)  # monotone


def test_logistic_regression_refuses_a_single_class():
    with pytest.raises(ValueError, match="single class"):
        LogisticRegression().fit(np.ones((5, 2)) * np.arange(5)[:, None], np.zeros(5))
