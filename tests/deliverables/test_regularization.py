"""The ``regularization`` deliverable: ridge and lasso against scikit-learn, dropout in the NumPy network."""

import numpy as np
import pytest
from sklearn import datasets, linear_model

from models.phase1.optimizers.model import MLPRegressor
from models.phase1.regularization.model import Lasso, Ridge


def test_ridge_closed_form_and_gradient_descent_match_scikit_learn():
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    reference = linear_model.Ridge(alpha=2.0).fit(X, y)
    closed = Ridge(alpha=2.0).fit(X, y)
    np.testing.assert_allclose(closed.coef_, reference.coef_, rtol=1e-6, atol=1e-6)
    assert closed.intercept_ == pytest.approx(reference.intercept_, rel=1e-6)
    descent = Ridge(alpha=2.0, solver="gd", max_epochs=50000, tol=1e-18).fit(X, y)
    np.testing.assert_allclose(descent.coef_, reference.coef_, rtol=1e-4, atol=1e-3)


def test_lasso_coordinate_descent_matches_scikit_learn_and_zeros_coefficients():
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    reference = linear_model.Lasso(alpha=10.0, tol=1e-14, max_iter=200000).fit(X, y)
    ours = Lasso(alpha=10.0, tol=1e-12, max_epochs=100000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-5)
    assert (ours.coef_ == 0).sum() == (reference.coef_ == 0).sum() > 0
    assert np.all(np.diff(ours.loss_history_) <= 1e-9)  # coordinate descent never increases the objective


def test_dropout_is_active_in_training_and_off_at_prediction():
    X, y = datasets.load_diabetes(return_X_y=True)
    net = MLPRegressor(hidden=64, activation="relu", dropout=0.5, max_epochs=30, random_state=0).fit(X, y)
    np.testing.assert_array_equal(net.predict(X), net.predict(X))  # no dropout at inference
    plain = MLPRegressor(hidden=64, activation="relu", dropout=0.0, max_epochs=30, random_state=0).fit(X, y)
    assert not np.allclose(net.predict(X), plain.predict(X))
    train_error = lambda model: np.mean((model.predict(X) - y) ** 2)  # noqa: E731
    assert train_error(net) > train_error(plain)  # dropout regularizes: a worse fit of the training set
    with pytest.raises(ValueError, match="dropout"):
        MLPRegressor(dropout=1.0).fit(X, y)
