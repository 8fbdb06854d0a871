"""Regularization from scratch: ridge (closed form and gradient descent) and lasso (coordinate
descent with soft-thresholding). Dropout is a parameter of the small network in models.phase1.optimizers.model.

Ridge minimizes ``||y - Xw - b||^2 + alpha ||w||^2`` and lasso ``||y - Xw - b||^2 / (2n) +
alpha ||w||_1``, scikit-learn's objectives, with an unpenalized intercept (both centre the data).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from models.base import EpochTrainable, Standardizer, require_fitted, validate_xy


class _Linear(RegressorMixin, EpochTrainable):
    def predict(self, X) -> np.ndarray:
        require_fitted(self, "coef_")
        X, _ = validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the model was fitted on {self.n_features_in_}")
        return X @ self.coef_ + self.intercept_

    def _centre(self, X, y):
        X, y = validate_xy(X, y)
        if self.alpha < 0:
            raise ValueError(f"alpha must be non-negative, got {self.alpha}")
        self.n_features_in_ = X.shape[1]
        self._x_mean, self._y_mean = X.mean(axis=0), y.mean()
        return X - self._x_mean, y - self._y_mean

    def _set_intercept(self) -> None:
        self.intercept_ = float(self._y_mean - self._x_mean @ self.coef_)


class Ridge(_Linear):
    """solver="closed": solve (X'X + alpha I) w = X'y; solver="gd": gradient descent on standardized
    columns (the same minimizer, a better-conditioned path), step 1 / Lipschitz constant."""

    def __init__(self, alpha: float = 1.0, solver: str = "closed", max_epochs: int = 20000, tol: float = 1e-15,
                 random_state: int | None = None):  # fmt: skip
        self.alpha = alpha
        self.solver = solver
        self.max_epochs = max_epochs
        self.tol = tol
        self.random_state = random_state

    def _trains_in_epochs(self) -> bool:
        return self.solver == "gd"

    def _init_state(self, X, y) -> None:
        if self.solver not in ("closed", "gd"):
            raise ValueError(f"solver must be 'closed' or 'gd', got {self.solver!r}")
        Xc, yc = self._centre(X, y)
        self._scale = Standardizer(Xc).scale
        self._Z, self._yc = Xc / self._scale, yc
        self._penalty = self.alpha / self._scale**2  # alpha ||w||^2 with w = z / scale
        lipschitz = 2 * (np.linalg.eigvalsh(self._Z.T @ self._Z).max() + self._penalty.max())
        self._step = 1.0 / lipschitz
        self._z = np.zeros(X.shape[1])
        self.loss_history_ = []

    def _run_epoch(self, X, y, rng) -> float:
        residual = self._Z @ self._z - self._yc
        gradient = 2 * self._Z.T @ residual + 2 * self._penalty * self._z
        self._z = self._z - self._step * gradient
        residual = self._Z @ self._z - self._yc
        return float(residual @ residual + self._penalty @ self._z**2) / len(self._yc)

    def _finish(self) -> None:
        self.coef_ = self._z / self._scale
        self._set_intercept()
        self.n_epochs_ = len(self.loss_history_)
        for name in ("_Z", "_yc", "_z", "_scale", "_penalty"):
            delattr(self, name)

    def fit(self, X, y):
        if self.solver == "gd":
            return super().fit(X, y)
        Xc, yc = self._centre(X, y)
        gram = Xc.T @ Xc + self.alpha * np.eye(Xc.shape[1])
        self.coef_ = np.linalg.solve(gram, Xc.T @ yc)
        self._set_intercept()
        self.loss_history_, self.n_epochs_ = [], 0
        return self


class Lasso(_Linear):
    """Cyclic coordinate descent: each coefficient in turn is set to its soft-thresholded
    least-squares value given the others (from the Gram matrix X'X); one epoch is one sweep. Stops when the largest
    coefficient change of a sweep is below ``tol`` times the largest coefficient."""

    def __init__(self, alpha: float = 1.0, max_epochs: int = 10000, tol: float = 1e-10,
                 random_state: int | None = None):  # fmt: skip
        self.alpha = alpha
        self.max_epochs = max_epochs
        self.tol = tol
        self.random_state = random_state

    def _init_state(self, X, y) -> None:
        Xc, yc = self._centre(X, y)
        self._n = len(yc)
        # Covariance updates: c = X'(y - Xw) is kept current; a coordinate step reads c[j] and,
        # when w[j] moves by delta, subtracts delta times column j of the Gram matrix.
        self._gram = Xc.T @ Xc
        self._xty = Xc.T @ yc
        self._c = self._xty.copy()
        self._yty = float(yc @ yc)
        self._w = np.zeros(X.shape[1])
        self._change = float("inf")
        self.loss_history_ = []

    def _run_epoch(self, X, y, rng) -> float:
        gram, c, w = self._gram, self._c, self._w
        diagonal = gram.diagonal().tolist()
        threshold = self._n * self.alpha
        largest = 0.0
        for j, norm in enumerate(diagonal):
            if norm == 0.0:
                continue
            old = float(w[j])
            rho = float(c[j]) + norm * old
            new = (rho - threshold if rho > threshold else rho + threshold if rho < -threshold else 0.0) / norm
            if new != old:
                c -= (new - old) * gram[j]
                w[j] = new
                largest = max(largest, abs(new - old))
        self._change = largest / max(float(np.abs(w).max()), 1e-300)
        squared_error = self._yty - w @ (self._xty + c)  # ||y - Xw||^2 from c = X'y - Gw
        return float(squared_error / (2 * self._n) + self.alpha * np.abs(w).sum())

    def _converged(self) -> bool:
        return self._change <= self.tol

    def _finish(self) -> None:
        self.coef_ = np.array(self._w)
        self._set_intercept()
        self.n_epochs_ = len(self.loss_history_)
        for name in ("_n", "_gram", "_xty", "_c", "_yty", "_w", "_change"):
            delattr(self, name)
