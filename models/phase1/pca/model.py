"""PCA from scratch, two ways: the SVD of the centred data, or the eigendecomposition of its
covariance. Both give the same components (up to sign, fixed as scikit-learn does: the largest
absolute entry of each component is positive), explained variances and optional whitening.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from models.base import require_fitted, validate_xy

SOLVERS = ("svd", "eigh")


class PCA(TransformerMixin, BaseEstimator):
    """Fitted attributes: ``components_`` (k, d), ``explained_variance_``,
    ``explained_variance_ratio_``, ``singular_values_``, ``mean_``, ``n_components_``."""

    def __init__(self, n_components: int | None = None, solver: str = "svd", whiten: bool = False,
                 random_state: int | None = None):  # fmt: skip
        self.n_components = n_components
        self.solver = solver
        self.whiten = whiten
        self.random_state = random_state  # unused: both solvers are exact; kept for the common interface

    def fit(self, X, y=None):
        X, _ = validate_xy(X)
        n, d = X.shape
        if n < 2:
            raise ValueError("PCA needs at least 2 rows")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        k = min(n, d) if self.n_components is None else self.n_components
        if not 1 <= k <= min(n, d):
            raise ValueError(f"n_components must lie in [1, {min(n, d)}], got {k}")
        self.mean_ = X.mean(axis=0)
        centred = X - self.mean_
        if self.solver == "svd":
            _, singular, components = np.linalg.svd(centred, full_matrices=False)
            variance = singular**2 / (n - 1)
        else:
            eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / (n - 1))
            order = np.argsort(eigenvalues)[::-1]
            variance = np.maximum(eigenvalues[order], 0.0)
            components = eigenvectors[:, order].T
            singular = np.sqrt(variance * (n - 1))
        signs = np.sign(components[np.arange(len(components)), np.argmax(np.abs(components), axis=1)])
        components = components * np.where(signs == 0, 1.0, signs)[:, None]
        total = variance.sum()
        self.components_ = components[:k]
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = variance[:k] / total if total > 0 else np.zeros(k)
        self.singular_values_ = singular[:k]
        self.n_components_, self.n_features_in_ = k, d
        return self

    def transform(self, X) -> np.ndarray:
        require_fitted(self, "components_")
        X, _ = validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; PCA was fitted on {self.n_features_in_}")
        projected = (X - self.mean_) @ self.components_.T
        if self.whiten:
            projected /= np.sqrt(np.maximum(self.explained_variance_, 1e-300))
        return projected

    def inverse_transform(self, Z) -> np.ndarray:
        require_fitted(self, "components_")
        Z = np.asarray(Z, dtype=float)
        if self.whiten:
            Z = Z * np.sqrt(self.explained_variance_)
        return Z @ self.components_ + self.mean_
