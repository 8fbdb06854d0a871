"""Logistic regression from scratch: binary (sigmoid) and multiclass (softmax), L2, log-loss.

Minimizes scikit-learn's objective, ``C * sum(log-loss) + 0.5 * ||W||^2`` (the intercept is not
penalized), on standardized features (``standardize=True``, as StandardScaler before
scikit-learn's LogisticRegression). Two solvers, one epoch being one step over the whole set:

    solver="newton"  Newton's method with a backtracking line search: the exact Hessian of the
                     penalized log-loss (for softmax, the Kronecker sum over class pairs)
    solver="gd"      gradient descent with a fixed learning rate

The loss history is the penalized objective divided by the number of rows.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax, softmax
from sklearn.base import ClassifierMixin

from models.base import EpochTrainable, Standardizer, require_fitted, validate_labels, validate_xy

SOLVERS = ("newton", "gd")


class LogisticRegression(ClassifierMixin, EpochTrainable):
    """Fitted attributes: ``classes_``, ``coef_`` (1 or n_classes, n_features) and ``intercept_``
    in the original feature units, ``loss_history_``, ``n_epochs_``."""

    def __init__(
        self,
        C: float = 1.0,
        solver: str = "newton",
        learning_rate: float = 0.5,
        max_epochs: int = 100,
        tol: float = 1e-12,
        standardize: bool = True,
        random_state: int | None = None,
    ):
        self.C = C
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state

    # -- the objective ----------------------------------------------------------------------
    def _scores(self, W: np.ndarray) -> np.ndarray:
        return self._Xb @ W  # W: (n_features + 1, n_outputs), the last row is the intercept

    def _objective(self, W: np.ndarray) -> float:
        scores = self._scores(W)
        if self._binary:
            s = scores[:, 0]
            data = np.logaddexp(0.0, s) - self._Y[:, 0] * s  # -log sigmoid(+-s), stable
            loss = data.sum()
        else:
            loss = -(self._Y * log_softmax(scores, axis=1)).sum()
        return float(self.C * loss + 0.5 * (W[:-1] ** 2).sum())

    def _probabilities(self, W: np.ndarray) -> np.ndarray:
        scores = self._scores(W)
        return expit(scores) if self._binary else softmax(scores, axis=1)

    def _gradient(self, W: np.ndarray, P: np.ndarray) -> np.ndarray:
        gradient = self.C * self._Xb.T @ (P - self._Y)
        gradient[:-1] += W[:-1]
        return gradient

    def _hessian(self, W: np.ndarray, P: np.ndarray) -> np.ndarray:
        Xb, (d, k) = self._Xb, W.shape
        if self._binary:
            H = self.C * (Xb.T * (P[:, 0] * (1 - P[:, 0]))) @ Xb
        else:  # block (a, b): X^T diag(p_a (delta_ab - p_b)) X, for parameters ordered class-major
            H = np.empty((k * d, k * d))
            for a in range(k):
                for b in range(a, k):
                    weights = P[:, a] * ((a == b) - P[:, b])
                    block = self.C * (Xb.T * weights) @ Xb
                    H[a * d : (a + 1) * d, b * d : (b + 1) * d] = block
                    H[b * d : (b + 1) * d, a * d : (a + 1) * d] = block.T
        penalty = np.tile(np.r_[np.ones(d - 1), 0.0], k)
        return H + np.diag(penalty + 1e-10)  # the softmax intercepts are defined up to a shared shift

    # -- the EpochTrainable protocol ---------------------------------------------------------
    def _init_state(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.C <= 0:
            raise ValueError(f"C must be positive, got {self.C}")
        X, self.classes_, encoded = validate_labels(X, y)
        self.n_features_in_ = X.shape[1]
        self._scaler = Standardizer(X) if self.standardize else None
        Z = self._scaler(X) if self._scaler else X
        self._Xb = np.column_stack([Z, np.ones(len(Z))])
        self._binary = len(self.classes_) == 2
        self._Y = (encoded == 1).astype(float)[:, None] if self._binary else np.eye(len(self.classes_))[encoded]
        self._W = np.zeros((self._Xb.shape[1], self._Y.shape[1]))
        self.loss_history_ = []

    def _run_epoch(self, X, y, rng) -> float:
        W = self._W
        P = self._probabilities(W)
        gradient = self._gradient(W, P)
        if self.solver == "gd":
            self._W = W - self.learning_rate * gradient / len(self._Xb)
            return self._objective(self._W) / len(self._Xb)
        d, k = W.shape
        flat = gradient.T.ravel()  # class-major, as the Hessian's blocks
        step = np.linalg.solve(self._hessian(W, P), flat).reshape(k, d).T
        current, t = self._objective(W), 1.0
        while t > 1e-10:  # backtracking (Armijo): Newton's full step, halved until it decreases
            candidate = W - t * step
            value = self._objective(candidate)
            if value <= current - 1e-4 * t * flat @ step.T.ravel():
                break
            t /= 2
        else:
            candidate, value = W, current
        self._W = candidate
        return value / len(self._Xb)

    def _finish(self) -> None:
        W = self._W
        coef, intercept = W[:-1].T, W[-1].copy()
        if self._scaler is not None:  # back to the original units
            coef = coef / self._scaler.scale
            intercept = intercept - coef @ self._scaler.mean
        self.coef_, self.intercept_ = coef, intercept
        self.n_epochs_ = len(self.loss_history_)
        for name in ("_Xb", "_Y", "_W", "_scaler"):
            delattr(self, name)

    # -- prediction --------------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        require_fitted(self, "coef_")
        X, _ = validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the model was fitted on {self.n_features_in_}")
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict_proba(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        if len(self.classes_) == 2:
            positive = expit(scores)
            return np.column_stack([1 - positive, positive])
        return softmax(scores, axis=1)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
