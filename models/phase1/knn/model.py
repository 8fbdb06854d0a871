"""k-nearest neighbours from scratch: vectorized brute force and a KD-tree, uniform or distance votes.

    algorithm="brute"    all query-to-training distances, a block of queries at a time
                         (models.dsa.knn_search.model.brute_force, shared with the search deliverable)
    algorithm="kd_tree"  a KD-tree split at the median of the widest dimension, searched depth
                         first with the nearer child first and a k-best heap, pruning every
                         box farther than the current k-th distance
Both return the same neighbours; ties in the vote go to the smallest class, as scikit-learn's.
"""

from __future__ import annotations

import heapq

import numpy as np
from sklearn.base import ClassifierMixin

from models.base import EpochTrainable, require_fitted, validate_labels, validate_xy

ALGORITHMS = ("brute", "kd_tree")


class KDTree:
    """A KD-tree over the rows of ``X``; leaves hold at most ``leaf_size`` points."""

    def __init__(self, X: np.ndarray, leaf_size: int = 30):
        self.X = X
        self.leaf_size = max(1, leaf_size)
        self.nodes: list[tuple] = []  # (dimension, split, left, right, indices or None, low, high)
        self._build(np.arange(len(X)))

    def _build(self, indices: np.ndarray) -> int:
        points = self.X[indices]
        low, high = points.min(axis=0), points.max(axis=0)
        node = len(self.nodes)
        self.nodes.append(None)
        if len(indices) <= self.leaf_size:
            self.nodes[node] = (-1, 0.0, -1, -1, indices, low, high)
            return node
        dimension = int(np.argmax(high - low))
        order = np.argsort(points[:, dimension], kind="stable")
        middle = len(order) // 2
        split = float(points[order[middle], dimension])
        left = self._build(indices[order[:middle]])
        right = self._build(indices[order[middle:]])
        self.nodes[node] = (dimension, split, left, right, None, low, high)
        return node

    def _box_distance(self, node: int, point: np.ndarray) -> float:
        _, _, _, _, _, low, high = self.nodes[node]
        gap = np.maximum(low - point, 0.0) + np.maximum(point - high, 0.0)
        return float(gap @ gap)

    def query(self, point: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest rows to ``point``: (distances, indices), nearest first."""
        best: list[tuple[float, int]] = []  # max-heap of (-squared distance, -index)
        stack = [(0.0, 0)]
        while stack:
            bound, node = stack.pop()
            if len(best) == k and bound > -best[0][0]:
                continue
            dimension, split, left, right, indices, _, _ = self.nodes[node]
            if indices is not None:
                squared = ((self.X[indices] - point) ** 2).sum(axis=1)
                for distance, index in zip(squared.tolist(), indices.tolist(), strict=True):
                    item = (-distance, -index)  # equal distances: the smaller index wins, as brute force
                    if len(best) < k:
                        heapq.heappush(best, item)
                    elif item > best[0]:
                        heapq.heapreplace(best, item)
                continue
            near, far = (left, right) if point[dimension] < split else (right, left)
            stack.append((self._box_distance(far, point), far))  # searched after the nearer child
            stack.append((self._box_distance(near, point), near))
        ordered = sorted((-d, -i) for d, i in best)
        return np.sqrt([d for d, _ in ordered]), np.array([i for _, i in ordered])


class KNeighborsClassifier(ClassifierMixin, EpochTrainable):
    def __init__(
        self,
        n_neighbors: int = 5,
        weights: str = "uniform",
        algorithm: str = "brute",
        leaf_size: int = 30,
        random_state: int | None = None,
    ):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.random_state = random_state

    def _trains_in_epochs(self) -> bool:
        return False

    def fit(self, X, y):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.weights not in ("uniform", "distance"):
            raise ValueError(f"weights must be 'uniform' or 'distance', got {self.weights!r}")
        X, self.classes_, self._y = validate_labels(X, y)
        if not 1 <= self.n_neighbors <= len(X):
            raise ValueError(f"n_neighbors must lie in [1, {len(X)}] (the training rows), got {self.n_neighbors}")
        self._X = X
        self.n_features_in_ = X.shape[1]
        self._tree = KDTree(X, self.leaf_size) if self.algorithm == "kd_tree" else None
        return self

    def kneighbors(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of each row's ``n_neighbors`` nearest training rows, nearest first."""
        require_fitted(self, "_X")
        X, _ = validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the model was fitted on {self.n_features_in_}")
        k = self.n_neighbors
        if self._tree is not None:
            found = [self._tree.query(row, k) for row in X]
            return np.array([d for d, _ in found]), np.array([i for _, i in found])
        from models.dsa.knn_search.model import brute_force  # the shared search: chunked, ties to the smaller index

        return brute_force(self._X, X, k)

    def predict_proba(self, X) -> np.ndarray:
        distances, indices = self.kneighbors(X)
        if self.weights == "distance":
            with np.errstate(divide="ignore"):
                weights = 1.0 / distances
            exact = np.isinf(weights)  # a training point at distance 0 takes the whole vote
            weights = np.where(exact.any(axis=1, keepdims=True), exact.astype(float), weights)
        else:
            weights = np.ones_like(distances)
        votes = np.zeros((len(indices), len(self.classes_)))
        np.add.at(votes, (np.arange(len(indices))[:, None], self._y[indices]), weights)
        return votes / votes.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
