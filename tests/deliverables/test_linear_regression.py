"""Oracle tests: our linear regression against scikit-learn on the same data."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression as SklearnLinearRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from models.phase1.linear_regression.model import LinearRegression, mean_squared_error, r2_score


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True, scaled=False)


@pytest.fixture(scope="module")
def standardized(diabetes):
    X, y = diabetes
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def relative_error(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def test_ols_equals_sklearn_on_diabetes(diabetes):
    X, y = diabetes
    ours = LinearRegression(solver="ols").fit(X, y)
    theirs = SklearnLinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-6)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-6)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-6)


def test_ols_without_intercept_equals_sklearn(diabetes):
    X, y = diabetes
    ours = LinearRegression(fit_intercept=False).fit(X, y)
    theirs = SklearnLinearRegression(fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-6)
    assert ours.intercept_ == 0.0


def test_batch_gradient_descent_reaches_ols_coefficients(standardized):
    X, y = standardized
    ols = LinearRegression().fit(X, y)
    gd = LinearRegression(solver="gd", learning_rate=0.2, max_epochs=20000, random_state=0).fit(X, y)
    assert relative_error(gd.coef_, ols.coef_) < 1e-3
    assert gd.intercept_ == pytest.approx(ols.intercept_, rel=1e-3)
    assert gd.loss_history_[-1] < gd.loss_history_[0]


@pytest.mark.parametrize(
    ("solver", "settings"),
    [("sgd", {"learning_rate": 0.05, "max_epochs": 150}), ("minibatch", {"learning_rate": 0.2, "max_epochs": 1000})],
)
def test_stochastic_solvers_converge_to_ols(solver, settings, standardized):
    # On diabetes (condition number ~470) the stochastic solvers reach the OLS loss to 1e-3;
    # on well-conditioned standardized data they reach the OLS coefficients to 1e-3 as well.
    X, y = standardized
    ols = LinearRegression().fit(X, y)
    model = LinearRegression(solver=solver, random_state=0, **settings).fit(X, y)
    ols_loss = mean_squared_error(y, ols.predict(X))
    assert abs(mean_squared_error(y, model.predict(X)) - ols_loss) / ols_loss < 1e-3

    Xr, yr = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=1)
    Xr = (Xr - Xr.mean(axis=0)) / Xr.std(axis=0)
    exact = LinearRegression().fit(Xr, yr)
    fitted = LinearRegression(solver=solver, random_state=0, **settings).fit(Xr, yr)
    assert relative_error(fitted.coef_, exact.coef_) < 1e-3


def test_loss_history_and_tolerance_stop(standardized):
    X, y = standardized
    model = LinearRegression(solver="gd", learning_rate=0.2, tol=1e-6, max_epochs=5000).fit(X, y)
    assert 1 < model.n_epochs_ < 5000  # stopped by tolerance, not by the epoch budget
    assert len(model.loss_history_) == model.n_epochs_
    assert all(b <= a + 1e-9 for a, b in zip(model.loss_history_, model.loss_history_[1:], strict=False))


def test_metrics_match_sklearn(diabetes):
    from sklearn.metrics import mean_squared_error as sk_mse
    from sklearn.metrics import r2_score as sk_r2

    X, y = diabetes
    predicted = LinearRegression().fit(X, y).predict(X)
    assert mean_squared_error(y, predicted) == pytest.approx(sk_mse(y, predicted), rel=1e-12)
    assert r2_score(y, predicted) == pytest.approx(sk_r2(y, predicted), rel=1e-12)


def test_speaks_scikit_learn(diabetes):
    X, y = diabetes
    model = LinearRegression(solver="gd", learning_rate=0.2, random_state=3)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "coef_")
    pipeline = make_pipeline(StandardScaler(), LinearRegression())
    ours = cross_val_score(pipeline, X, y, cv=5, scoring="r2")
    theirs = cross_val_score(make_pipeline(StandardScaler(), SklearnLinearRegression()), X, y, cv=5, scoring="r2")
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_refuses_unfitted_and_bad_input(diabetes):
    X, y = diabetes
    with pytest.raises(NotFittedError):
        LinearRegression().predict(X)
    with pytest.raises(ValueError, match="NaN or infinite"):
        LinearRegression().fit(np.where(X > 100, np.nan, X), y)
    with pytest.raises(ValueError, match="rows but y has"):
        LinearRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="solver must be one of"):
        LinearRegression(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="features"):
        LinearRegression().fit(X, y).predict(X[:, :3])


def test_divergence_is_reported(standardized):
    X, y = standardized
    with pytest.raises(FloatingPointError, match=r"diverged.*lower learning_rate"):
        LinearRegression(solver="gd", learning_rate=50.0).fit(X, y)


def test_same_seed_same_model(standardized):
    X, y = standardized
    first = LinearRegression(solver="minibatch", random_state=7, max_epochs=50).fit(X, y)
    second = LinearRegression(solver="minibatch", random_state=7, max_epochs=50).fit(X, y)
    np.testing.assert_array_equal(first.coef_, second.coef_)


def test_only_the_gradient_solvers_train_in_epochs(diabetes):
    X, y = diabetes
    assert not LinearRegression(solver="ols")._trains_in_epochs()
    assert LinearRegression(solver="ols").fit(X, y).loss_history_ == []
    assert all(LinearRegression(solver=s)._trains_in_epochs() for s in ("gd", "sgd", "minibatch"))
