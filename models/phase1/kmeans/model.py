"""k-means from scratch: Lloyd's algorithm with greedy k-means++ seeding and several restarts.

Seeding draws each next centre among ``2 + log k`` candidates sampled proportionally to the
squared distance to the nearest chosen centre, keeping the candidate that lowers the potential
most (scikit-learn's greedy k-means++). Lloyd's iterations stop when the labels stop changing
or the centres move less than ``tol`` times the mean feature variance; the restart with the
lowest inertia wins.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClusterMixin

from models.base import EpochTrainable, require_fitted, validate_xy


def squared_distances(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.maximum((X**2).sum(axis=1)[:, None] - 2.0 * X @ centres.T + (centres**2).sum(axis=1), 0.0)


def kmeans_plus_plus(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    n = len(X)
    trials = 2 + int(np.log(k))
    centres = [X[rng.integers(n)]]
    closest = squared_distances(X, centres[0][None])[:, 0]
    for _ in range(1, k):
        total = closest.sum()
        if total == 0:  # fewer distinct points than clusters: repeat a point
            centres.append(X[rng.integers(n)])
            continue
        candidates = np.searchsorted(np.cumsum(closest), rng.random(trials) * total)
        candidates = np.minimum(candidates, n - 1)
        to_candidates = np.minimum(closest[:, None], squared_distances(X, X[candidates]))
        best = int(np.argmin(to_candidates.sum(axis=0)))
        centres.append(X[candidates[best]])
        closest = to_candidates[:, best]
    return np.array(centres)


class KMeans(ClusterMixin, EpochTrainable):
    """Fitted attributes: ``cluster_centers_``, ``labels_``, ``inertia_``, ``n_iter_``."""

    def __init__(
        self,
        n_clusters: int = 8,
        init: str = "k-means++",
        n_init: int = 1,
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: int | None = None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _trains_in_epochs(self) -> bool:
        return False  # restarts, not epochs: each Lloyd run takes milliseconds

    def _lloyd(self, X: np.ndarray, centres: np.ndarray, tolerance: float):
        labels, iterations = None, 0
        while iterations < self.max_iter:
            iterations += 1
            new_labels = np.argmin(squared_distances(X, centres), axis=1)
            if labels is not None and np.array_equal(new_labels, labels):
                break
            labels = new_labels
            moved = centres.copy()
            for cluster in range(self.n_clusters):
                members = labels == cluster
                if members.any():  # an emptied cluster keeps its centre
                    moved[cluster] = X[members].mean(axis=0)
            shift = ((moved - centres) ** 2).sum()
            centres = moved
            if shift <= tolerance:
                labels = np.argmin(squared_distances(X, centres), axis=1)
                break
        inertia = float(((X - centres[labels]) ** 2).sum())
        return centres, labels, inertia, iterations

    def fit(self, X, y=None):
        X, _ = validate_xy(X)
        if not 1 <= self.n_clusters <= len(X):
            raise ValueError(f"n_clusters must lie in [1, {len(X)}] (the rows), got {self.n_clusters}")
        if self.init not in ("k-means++", "random"):
            raise ValueError(f"init must be 'k-means++' or 'random', got {self.init!r}")
        rng = np.random.default_rng(self.random_state)
        tolerance = self.tol * float(np.mean(np.var(X, axis=0)))
        best = None
        for _ in range(max(1, self.n_init)):
            if self.init == "k-means++":
                start = kmeans_plus_plus(X, self.n_clusters, rng)
            else:
                start = X[rng.choice(len(X), self.n_clusters, replace=False)]
            run = self._lloyd(X, start, tolerance)
            if best is None or run[2] < best[2]:
                best = run
        self.cluster_centers_, self.labels_, self.inertia_, self.n_iter_ = best
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "cluster_centers_")
        X, _ = validate_xy(X)
        return np.argmin(squared_distances(X, self.cluster_centers_), axis=1)

    def transform(self, X) -> np.ndarray:
        require_fitted(self, "cluster_centers_")
        X, _ = validate_xy(X)
        return np.sqrt(squared_distances(X, self.cluster_centers_))

    def score(self, X, y=None) -> float:
        """Minus the inertia of ``X`` around the centres (higher is better), as scikit-learn's."""
        X, _ = validate_xy(X)
        return -float(squared_distances(X, self.cluster_centers_).min(axis=1).sum())
