"""Agglomerative clustering from scratch: single, complete, average and ward linkage.

Starts from every point as its own cluster and merges the closest pair until one is left,
updating the distance matrix by the Lance-Williams formula of the linkage (ward works on
squared Euclidean distances and reports their square root, as scipy). The merge history is a
scipy-style linkage matrix (dendrograms); ``labels_`` cut it at ``n_clusters``. New points are
assigned to the nearest cluster centroid (``predict``), which is how a fitted clustering serves.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClusterMixin

from models.base import EpochTrainable, require_fitted, validate_xy

LINKAGES = ("ward", "complete", "average", "single")


def linkage_matrix(X: np.ndarray, linkage: str) -> np.ndarray:
    """(n - 1) x 4 merges: [cluster a, cluster b, distance, size]; merged clusters get ids n, n+1, ..."""
    n = len(X)
    squared = np.maximum((X**2).sum(1)[:, None] - 2 * X @ X.T + (X**2).sum(1)[None, :], 0.0)
    D = squared if linkage == "ward" else np.sqrt(squared)
    np.fill_diagonal(D, np.inf)
    sizes = np.ones(n)
    ids = np.arange(n)  # the cluster id held in each row of D
    active = np.ones(n, dtype=bool)
    merges = np.empty((n - 1, 4))
    for step in range(n - 1):
        i, j = divmod(int(np.argmin(D)), n)
        i, j = min(i, j), max(i, j)
        distance = D[i, j]
        ni, nj = sizes[i], sizes[j]
        if linkage == "single":
            new = np.minimum(D[i], D[j])
        elif linkage == "complete":
            new = np.maximum(D[i], D[j])
        elif linkage == "average":
            new = (ni * D[i] + nj * D[j]) / (ni + nj)
        else:  # ward, on squared distances
            total = ni + nj + sizes
            new = ((ni + sizes) * D[i] + (nj + sizes) * D[j] - sizes * distance) / total
        merges[step] = [*sorted((ids[i], ids[j])), np.sqrt(distance) if linkage == "ward" else distance, ni + nj]
        new[~active] = np.inf
        D[i, :] = D[:, i] = new  # row i becomes the merged cluster; row j is retired
        D[i, i] = np.inf
        D[j, :] = D[:, j] = np.inf
        active[j] = False
        sizes[i] = ni + nj
        ids[i] = n + step
    return merges


def cut(merges: np.ndarray, n: int, n_clusters: int) -> np.ndarray:
    """Flat labels 0..n_clusters-1 after the first n - n_clusters merges, numbered by first member."""
    parent = np.arange(2 * n - 1)
    for step in range(n - n_clusters):
        a, b = int(merges[step, 0]), int(merges[step, 1])
        parent[a] = parent[b] = n + step

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    roots = np.array([root(i) for i in range(n)])
    _, first = np.unique(roots, return_index=True)
    order = {roots[i]: label for label, i in enumerate(sorted(first))}
    return np.array([order[r] for r in roots])


class AgglomerativeClustering(ClusterMixin, EpochTrainable):
    """Fitted attributes: ``labels_``, ``linkage_matrix_``, ``cluster_centers_`` (centroids)."""

    def __init__(self, n_clusters: int = 2, linkage: str = "ward", random_state: int | None = None):
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.random_state = random_state

    def _trains_in_epochs(self) -> bool:
        return False

    def fit(self, X, y=None):
        X, _ = validate_xy(X)
        if self.linkage not in LINKAGES:
            raise ValueError(f"linkage must be one of {LINKAGES}, got {self.linkage!r}")
        if not 1 <= self.n_clusters <= len(X):
            raise ValueError(f"n_clusters must lie in [1, {len(X)}] (the rows), got {self.n_clusters}")
        self.linkage_matrix_ = linkage_matrix(X, self.linkage)
        self.labels_ = cut(self.linkage_matrix_, len(X), self.n_clusters)
        self.cluster_centers_ = np.array([X[self.labels_ == c].mean(axis=0) for c in range(self.n_clusters)])
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "cluster_centers_")
        X, _ = validate_xy(X)
        distances = ((X[:, None, :] - self.cluster_centers_[None]) ** 2).sum(axis=2)
        return np.argmin(distances, axis=1)
