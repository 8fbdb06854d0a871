"""Linear regression from scratch: closed-form least squares and three gradient-descent solvers.

    solver="ols"        least squares through an SVD-based solver (np.linalg.lstsq), never an inverse
    solver="gd"         batch gradient descent on the whole training set each epoch
    solver="sgd"        stochastic gradient descent, one shuffled sample per step
    solver="minibatch"  mini-batch SGD, ``batch_size`` shuffled samples per step

The gradient solvers work on standardized features (zero mean, unit variance) and map the
coefficients back to the original units, so the learning rate does not depend on feature
scales. The stochastic ones decay the step as lr / (1 + epoch * lr_decay) and average the
iterates of each epoch (Polyak-Ruppert), which is what lets them reach the least-squares
solution instead of wandering around it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from models.base import EpochTrainable, require_fitted, validate_xy

SOLVERS = ("ols", "gd", "sgd", "minibatch")


def mean_squared_error(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float(np.mean((y_true - y_pred) ** 2))


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination: 1 - SS_res / SS_tot (0 for a constant target predicted exactly)."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


class LinearRegression(RegressorMixin, EpochTrainable):
    """Ordinary least squares, solved in closed form or by (stochastic) gradient descent.

    Fitted attributes: ``coef_`` (n_features,), ``intercept_``, ``n_features_in_``,
    ``loss_history_`` (training MSE after each epoch; empty for ``ols``), ``n_epochs_``.
    """

    def __init__(
        self,
        solver: str = "ols",
        learning_rate: float = 0.1,
        max_epochs: int = 10000,
        tol: float = 1e-14,
        batch_size: int = 32,
        lr_decay: float = 0.0,
        fit_intercept: bool = True,
        random_state: int | None = None,
    ):
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.tol = tol
        self.batch_size = batch_size
        self.lr_decay = lr_decay
        self.fit_intercept = fit_intercept
        self.random_state = random_state

    # -- scikit-learn API -------------------------------------------------------------------
    def fit(self, X, y):
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self._trains_in_epochs():
            return super().fit(X, y)
        X, y = validate_xy(X, y)
        x_mean = X.mean(axis=0) if self.fit_intercept else np.zeros(X.shape[1])
        y_mean = y.mean() if self.fit_intercept else 0.0
        coef, *_ = np.linalg.lstsq(X - x_mean, y - y_mean, rcond=None)
        self.coef_ = coef
        self.intercept_ = float(y_mean - x_mean @ coef)
        self.n_features_in_ = X.shape[1]
        self.loss_history_ = []
        self.n_epochs_ = 0
        return self

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "coef_")
        X, _ = validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, the model was fitted on {self.n_features_in_}")
        return X @ self.coef_ + self.intercept_

    # -- epoch-wise training (gd, sgd, minibatch) --------------------------------------------
    def _trains_in_epochs(self) -> bool:
        return self.solver != "ols"

    def _init_state(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        self.n_features_in_ = X.shape[1]
        self.x_mean_ = X.mean(axis=0) if self.fit_intercept else np.zeros(X.shape[1])
        scale = X.std(axis=0)
        self.x_scale_ = np.where(scale > 0, scale, 1.0)
        self.w_ = np.zeros(X.shape[1])  # weights on standardized features (the current iterate)
        self.b_ = 0.0
        self.w_avg_, self.b_avg_ = self.w_.copy(), 0.0  # what the model predicts with
        self.steps_ = 0
        self.loss_history_ = []
        self._set_public()

    def _standardize(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean_) / self.x_scale_

    def _run_epoch(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
        Z = self._standardize(X)
        n = Z.shape[0]
        epoch = len(self.loss_history_)
        if self.solver == "gd":
            self._step(Z, y, self.learning_rate)
            self.w_avg_, self.b_avg_ = self.w_, self.b_
        else:
            batch = 1 if self.solver == "sgd" else min(self.batch_size, n)
            lr = self.learning_rate / (1.0 + epoch * self.lr_decay)
            order = rng.permutation(n)
            for start in range(0, n, batch):
                self._step(Z[order[start : start + batch]], y[order[start : start + batch]], lr)
                self.steps_ += 1
                weight = 1.0 / self.steps_  # running mean of every iterate so far (Polyak-Ruppert)
                self.w_avg_ = self.w_avg_ + weight * (self.w_ - self.w_avg_)
                self.b_avg_ = self.b_avg_ + weight * (self.b_ - self.b_avg_)
        self._set_public()
        return mean_squared_error(y, Z @ self.w_avg_ + self.b_avg_)

    def _step(self, Z: np.ndarray, y: np.ndarray, lr: float) -> None:
        residual = Z @ self.w_ + self.b_ - y  # (batch,)
        self.w_ -= lr * 2.0 * (Z.T @ residual) / len(y)
        if self.fit_intercept:
            self.b_ -= lr * 2.0 * residual.mean()

    def _set_public(self) -> None:
        """Coefficients in the original feature units, kept current so a checkpoint can predict."""
        self.coef_ = self.w_avg_ / self.x_scale_
        self.intercept_ = float(self.b_avg_ - self.x_mean_ @ self.coef_)

    def _finish(self) -> None:
        self.n_epochs_ = len(self.loss_history_)
