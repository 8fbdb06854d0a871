"""Linear SVM from scratch in the primal: Pegasos (stochastic subgradient of the hinge loss).

Minimizes ``lambda/2 ||w||^2 + mean(max(0, 1 - y (w.x + b)))`` with ``lambda = 1 / (C n)``: the
hinge-loss objective of scikit-learn's ``LinearSVC(loss="hinge", C=C)`` divided by ``C n``. As
LinearSVC, the intercept is a weight on a constant feature, penalized like the others. Each
epoch visits the rows in shuffled mini-batches with Pegasos's step ``1 / (lambda t)``, its clock
started at ``t0 = 1 / (lambda eta0)`` so that the first step is ``eta0`` rather than ``1 / lambda``
(huge for a small lambda); the iterates of the second half of the epochs are averaged, which is
what settles the stochastic steps on the optimum. With more than two classes it is one-vs-rest,
as LinearSVC: one binary problem per class, all stepped together on the same mini-batches, the
class with the largest decision value predicted.

``TextLinearSVM`` chooses its input from the data it is fitted on (models.text.form_of): our
L2-normalized word counts of one text column (models.text), or standardized numeric columns.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin

from models.base import EpochTrainable, Standardizer, require_fitted, validate_xy
from models.text import Counts, documents, form_of


class LinearSVM(ClassifierMixin, EpochTrainable):
    """Binary, or one-vs-rest over k > 2 classes. Fitted attributes: ``coef_`` ((d,) binary, (k, d)
    one-vs-rest), ``intercept_`` (a float, or (k,)), ``classes_``, ``loss_history_`` (the objective,
    averaged over the one-vs-rest problems)."""

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
        if len(self.classes_) < 2:
            raise ValueError(f"y has a single class ({self.classes_.tolist()}); a classifier needs at least two")
        if self.C <= 0:
            raise ValueError(f"C must be positive, got {self.C}")
        n = X.shape[0]
        self._X = sparse.hstack([sparse.csr_matrix(X), np.ones((n, 1))]).tocsr()  # the intercept column
        positive = [1] if len(self.classes_) == 2 else range(len(self.classes_))  # one problem per class
        self._y = np.column_stack([np.where(encoded == k, 1.0, -1.0) for k in positive])  # (n, problems)
        self._lambda = 1.0 / (self.C * n)
        self._w = np.zeros((self._X.shape[1], self._y.shape[1]))  # (d + 1, problems)
        self._average, self._averaged = np.zeros_like(self._w), 0
        self._t = 0
        self._t0 = 1.0 / (self._lambda * self.eta0)  # the first step is eta0, not 1 / lambda
        self.loss_history_ = []

    def _objective(self, w) -> float:
        margins = self._y * (self._X @ w)  # (n, problems)
        per_problem = self._lambda / 2 * (w * w).sum(axis=0) + np.maximum(0.0, 1.0 - margins).mean(axis=0)
        return float(per_problem.mean())

    def _run_epoch(self, X, y, rng) -> float:
        n = self._X.shape[0]
        order = rng.permutation(n)
        for start in range(0, n, self.batch_size):
            rows = order[start : start + self.batch_size]
            self._t += 1
            step = 1.0 / (self._lambda * (self._t + self._t0))
            batch, labels = self._X[rows], self._y[rows]
            violated = labels * (batch @ self._w) < 1.0  # (batch, problems)
            self._w *= 1.0 - step * self._lambda
            if violated.any():
                self._w += step / len(rows) * np.asarray(batch.T @ (labels * violated))
        if len(self.loss_history_) >= self.max_epochs // 2:  # average the second half of the epochs
            self._averaged += 1
            self._average += (self._w - self._average) / self._averaged
        return self._objective(self._average if self._averaged else self._w)

    def _finish(self) -> None:
        w = self._average if self._averaged else self._w
        binary = w.shape[1] == 1
        self.coef_ = w[:-1, 0].copy() if binary else w[:-1].T.copy()
        self.intercept_ = float(w[-1, 0]) if binary else w[-1].copy()
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
        """(n,) for two classes (positive: the second class), else (n, k)."""
        require_fitted(self, "coef_")
        scores = X @ self.coef_.T
        return (scores.toarray() if sparse.issparse(scores) else np.asarray(scores)) + self.intercept_

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        return self.classes_[(scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)]


class TextLinearSVM(ClassifierMixin, BaseEstimator):
    """LinearSVM (Pegasos) on what it is given: raw text (our tokenizer, counts and L2 row
    normalization) or numeric columns (standardized, as StandardScaler). Fitted attributes:
    ``form_`` ("text" or "numbers"), ``svm_``, ``classes_``, ``loss_history_``, and ``counts_``
    (text) or ``scaler_`` (numbers)."""

    def __init__(self, C: float = 1.0, max_epochs: int = 30, batch_size: int = 32, eta0: float = 30.0,
                 min_df: int = 1, random_state: int | None = None):  # fmt: skip
        self.C = C
        self.eta0 = eta0
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.min_df = min_df
        self.random_state = random_state

    def fit(self, X, y):
        self.form_ = form_of(X)
        if self.form_ == "numbers":
            X, _ = validate_xy(X)
            self.scaler_ = Standardizer(X)
        else:
            self.counts_ = Counts(documents(X), self.min_df)
        features = self._features(X)
        svm = LinearSVM(self.C, self.max_epochs, self.batch_size, self._first_step(features),
                        random_state=self.random_state)  # fmt: skip
        self.svm_ = svm.fit(features, y)
        self.classes_ = self.svm_.classes_
        self.loss_history_ = self.svm_.loss_history_
        return self

    def __setstate__(self, state: dict) -> None:
        if "counts_" in state:  # pickled before numeric columns were read: it was fitted on text
            state.setdefault("form_", "text")
        super().__setstate__(state)

    def _first_step(self, features) -> float:
        """``eta0`` is the first step on L2-normalized word counts; a standardized row is sqrt(d)
        times longer, so there the first step is divided by the rows' mean squared length (the
        intercept's constant 1 included): the optimum is the same, it is only reached sooner."""
        if self.form_ == "text":
            return self.eta0
        return self.eta0 / (1.0 + float(np.mean((features**2).sum(axis=1))))

    def _features(self, X):
        if self.form_ == "numbers":
            return self.scaler_(validate_xy(X)[0])
        return self.counts_.transform(documents(X), normalize=True)

    def decision_function(self, X) -> np.ndarray:
        require_fitted(self, "svm_")
        return self.svm_.decision_function(self._features(X))

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "svm_")
        return self.svm_.predict(self._features(X))
