"""What every from-scratch estimator shares: scikit-learn's contract, and epoch-wise training.

An estimator that trains in epochs implements ``_init_state`` and ``_run_epoch``; the generic
trainer (tasks/train) drives those two with a progress bar and checkpoints, and ``fit`` drives
them without either, so both paths give the same model.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


class EpochTrainable(BaseEstimator):
    """Mixin for estimators trained by repeated epochs until a tolerance or ``max_epochs``."""

    max_epochs: int
    tol: float
    random_state: int | None

    def _trains_in_epochs(self) -> bool:
        """Whether this configuration trains epoch by epoch (a closed-form solver does not)."""
        return True

    def _init_state(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _run_epoch(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
        """One pass over the data; returns the training loss after the pass."""
        raise NotImplementedError

    def _finish(self) -> None:
        """Turn the training state into the public fitted attributes (ending in ``_``)."""

    def _converged(self) -> bool:
        losses = self.loss_history_
        if len(losses) < 2:
            return False
        previous, current = losses[-2], losses[-1]
        return abs(previous - current) <= self.tol * max(abs(previous), 1e-12)

    def _epoch(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
        """Run and record one epoch; a non-finite loss stops training with a clear error."""
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, by name
            loss = float(self._run_epoch(X, y, rng))
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"{type(self).__name__} diverged at epoch {len(self.loss_history_) + 1} "
                f"(loss {loss}); lower learning_rate (now {getattr(self, 'learning_rate', '?')})"
            )
        self.loss_history_.append(loss)
        return loss

    def _validate(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """The data as ``fit`` trains on it: 2-D float X and 1-D y unless a model reads other shapes."""
        return validate_xy(X, y)

    def fit(self, X, y):
        X, y = self._validate(X, y)
        rng = np.random.default_rng(self.random_state)
        self._init_state(X, y)
        for _ in range(self.max_epochs):
            self._epoch(X, y, rng)
            if self._converged():
                break
        self._finish()
        return self


def validate_xy(X, y=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Float 2-D X (and 1-D y) with finite values, or a ValueError that says what is wrong."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    if y is None:
        return X, None
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values")
    return X, y


def require_fitted(estimator: BaseEstimator, attribute: str) -> None:
    """Refuse an unfitted estimator with scikit-learn's NotFittedError."""
    check_is_fitted(estimator, attribute)


def validate_labels(X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float X, and y as (classes, index of each row's class): what a classifier fits on."""
    X, _ = validate_xy(X)
    y = np.asarray(y).ravel()
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y has a single class ({classes.tolist()}); a classifier needs at least two")
    return X, classes, encoded


class Standardizer:
    """Zero mean, unit variance per column (a constant column keeps scale 1), as StandardScaler."""

    def __init__(self, X: np.ndarray):
        self.mean = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale = np.where(scale > 0, scale, 1.0)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale
