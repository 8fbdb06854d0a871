"""Linear SVM from scratch in the primal: Pegasos (stochastic subgradient of the hinge loss).

Minimizes ``lambda/2 ||w||^2 + mean(max(0, 1 - y (w.x + b)))`` with ``lambda = 1 / (C n)``: the
hinge-loss objective of scikit-learn's ``LinearSVC(loss="hinge", C=C)`` divided by ``C n``. As
LinearSVC, the intercept is a weight on a constant feature, penalized like the others. Each
epoch visits the rows in shuffled mini-batches with Pegasos's step ``1 / (lambda t)``, its clock
started at ``t0 = 1 / (lambda eta0)`` so that the first step is ``eta0`` rather than ``1 / lambda``
(huge for a small lambda); the iterates of the second half of the epochs are averaged, which is
what settles the stochastic steps on the optimum.

``TextLinearSVM`` runs it on our L2-normalized word counts (models.text).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin

from models.base import EpochTrainable, require_fitted
from models.text import Counts, documents


class LinearSVM(ClassifierMixin, EpochTrainable):
    """Binary. Fitted attributes: ``coef_`` (d,), ``intercept_``, ``classes_``, ``loss_history_``."""

    def __init__(self, C: float = 1.0, max_epochs: int = 30, batch_size: int = 32, eta0: float = 30.0,
                 tol: float = 0.0, random_state: int | None = None):  # fmt: skip
        self.C = C
        self.eta0 = eta0
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.tol = tol
        self.random_state = random_state

    def _init_state(self, X, y) -> None:
        y = np.asarray(y).ravel()
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"LinearSVM is binary; y has {len(self.classes_)} classes")
        if self.C <= 0:
            raise ValueError(f"C must be positive, got {self.C}")
        n = X.shape[0]
        self._X = sparse.hstack([sparse.csr_matrix(X), np.ones((n, 1))]).tocsr()  # the intercept column
        self._y = np.where(encoded == 1, 1.0, -1.0)
        self._lambda = 1.0 / (self.C * n)
        self._w = np.zeros(self._X.shape[1])
        self._average, self._averaged = np.zeros_like(self._w), 0
        self._t = 0
        self._t0 = 1.0 / (self._lambda * self.eta0)  # the first step is eta0, not 1 / lambda
        self.loss_history_ = []

    def _objective(self, w) -> float:
        margins = self._y * (self._X @ w)
        return float(self._lambda / 2 * w @ w + np.maximum(0.0, 1.0 - margins).mean())

    def _run_epoch(self, X, y, rng) -> float:
        n = self._X.shape[0]
        order = rng.permutation(n)
        for start in range(0, n, self.batch_size):
            rows = order[start : start + self.batch_size]
            self._t += 1
            step = 1.0 / (self._lambda * (self._t + self._t0))
            batch, labels = self._X[rows], self._y[rows]
            violated = labels * (batch @ self._w) < 1.0
            self._w *= 1.0 - step * self._lambda
            if violated.any():
                self._w += step / len(rows) * (batch[violated].T @ labels[violated])
        if len(self.loss_history_) >= self.max_epochs // 2:  # average the second half of the epochs
            self._averaged += 1
            self._average += (self._w - self._average) / self._averaged
        return self._objective(self._average if self._averaged else self._w)

    def _finish(self) -> None:
        w = self._average if self._averaged else self._w
        self.coef_, self.intercept_ = w[:-1].copy(), float(w[-1])
        self.n_epochs_ = len(self.loss_history_)
        for name in ("_X", "_y", "_lambda", "_w", "_average", "_averaged", "_t", "_t0"):
            delattr(self, name)

    def _converged(self) -> bool:
        return False  # stochastic steps: a fixed number of epochs, then the average

    def fit(self, X, y):  # X may be sparse: skip the dense validation of EpochTrainable.fit
        rng = np.random.default_rng(self.random_state)
        self._init_state(X, y)
        for _ in range(self.max_epochs):
            self._epoch(X, y, rng)
        self._finish()
        return self

    def decision_function(self, X) -> np.ndarray:
        require_fitted(self, "coef_")
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class TextLinearSVM(ClassifierMixin, BaseEstimator):
    """LinearSVM (Pegasos) on raw text: our tokenizer, counts and L2 row normalization."""

    def __init__(self, C: float = 1.0, max_epochs: int = 30, batch_size: int = 32, eta0: float = 30.0,
                 min_df: int = 1, random_state: int | None = None):  # fmt: skip
        self.C = C
        self.eta0 = eta0
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.min_df = min_df
        self.random_state = random_state

    def fit(self, X, y):
        texts = documents(X)
        self.counts_ = Counts(texts, self.min_df)
        svm = LinearSVM(self.C, self.max_epochs, self.batch_size, self.eta0, random_state=self.random_state)
        self.svm_ = svm.fit(self.counts_.transform(texts, normalize=True), y)
        self.classes_ = self.svm_.classes_
        self.loss_history_ = self.svm_.loss_history_
        return self

    def decision_function(self, X) -> np.ndarray:
        require_fitted(self, "svm_")
        return self.svm_.decision_function(self.counts_.transform(documents(X), normalize=True))

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
