"""Nearest-neighbour search from scratch, with custom metrics, three ways:

    algorithm="brute"     all query-to-point distances, a block of queries at a time, and the k
                          smallest by argpartition (any metric, a callable included)
    algorithm="ball_tree" a ball tree: each node a centre and a radius; a subtree is skipped when
                          the query is farther from its ball than the current k-th distance
                          (metrics that obey the triangle inequality; cosine through unit vectors)
    algorithm="external"  the points stay on disk (a NumPy memmap) and are read ``block_rows`` at
                          a time; each block's candidates are merged into the running k best, so
                          memory holds one block, never the whole index (data larger than memory)

All three return the same neighbours (ties broken by the smaller index). ``NeighbourIndex`` is the
deliverable's model: fitted on the training vectors, it answers each query with its k neighbours.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from models.base import require_fitted, validate_xy

ALGORITHMS = ("brute", "ball_tree", "external")


def pairwise(A: np.ndarray, B: np.ndarray, metric: str | Callable) -> np.ndarray:
    """Distances between the rows of A and of B under ``metric`` (a name, or f(A, B) -> matrix)."""
    if callable(metric):
        return np.asarray(metric(A, B), dtype=float)
    if metric in ("euclidean", "sqeuclidean"):
        squared = np.maximum((A**2).sum(1)[:, None] - 2.0 * A @ B.T + (B**2).sum(1)[None, :], 0.0)
        return squared if metric == "sqeuclidean" else np.sqrt(squared)
    if metric == "cosine":
        norms = np.linalg.norm(A, axis=1)[:, None] * np.linalg.norm(B, axis=1)[None, :]
        return 1.0 - (A @ B.T) / np.where(norms > 0, norms, 1.0)
    if metric == "manhattan":
        return np.abs(A[:, None, :] - B[None, :, :]).sum(axis=2)
    if metric == "chebyshev":
        return np.abs(A[:, None, :] - B[None, :, :]).max(axis=2)
    raise ValueError(
        f"unknown metric {metric!r}; use euclidean, sqeuclidean, cosine, manhattan, chebyshev or a callable"
    )


def _k_smallest(distances: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k smallest distances and their ids, ordered by distance then id."""
    ids = np.broadcast_to(ids, distances.shape)
    order = np.lexsort((ids, distances), axis=1)[:, :k]
    return np.take_along_axis(distances, order, axis=1), np.take_along_axis(ids, order, axis=1)


def brute_force(points: np.ndarray, queries: np.ndarray, k: int, metric="euclidean", block: int | None = None):
    """The k nearest points of each query: (distances, indices), nearest first."""
    ids = np.arange(len(points))
    if block is None:  # broadcasting metrics hold queries x points x features at once: bound it
        broadcast = callable(metric) or metric in ("manhattan", "chebyshev")
        block = max(1, 2_000_000 // (len(points) * points.shape[1])) if broadcast else 512
    found = [
        _k_smallest(pairwise(queries[s : s + block], points, metric), ids, k) for s in range(0, len(queries), block)
    ]
    return np.concatenate([d for d, _ in found]), np.concatenate([i for _, i in found])


def external(path: Path, queries: np.ndarray, k: int, metric="euclidean", block_rows: int = 1024):
    """Brute force over a .npy file read ``block_rows`` points at a time: the running k best of
    every query are merged with each block's, so memory never holds more than one block."""
    points = np.load(path, mmap_mode="r")
    best_d = np.full((len(queries), 0), np.inf)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(points), block_rows):
        chunk = np.asarray(points[start : start + block_rows], dtype=np.float64)
        distances = pairwise(queries, chunk, metric)
        ids = np.broadcast_to(np.arange(start, start + len(chunk)), distances.shape)
        merged_d = np.concatenate([best_d, distances], axis=1)
        merged_i = np.concatenate([best_i, ids], axis=1)
        best_d, best_i = _k_smallest(merged_d, merged_i, k)
    return best_d, best_i


class BallTree:
    """A ball tree over ``points`` for a metric that obeys the triangle inequality."""

    def __init__(self, points: np.ndarray, metric: str = "euclidean", leaf_size: int = 30):
        if metric not in ("euclidean", "manhattan", "chebyshev"):
            raise ValueError(f"a ball tree needs a true metric (euclidean, manhattan, chebyshev), got {metric!r}")
        self.points, self.metric, self.leaf_size = points, metric, max(1, leaf_size)
        self.nodes: list[tuple] = []  # (centre, radius, left, right, indices or None)
        self._build(np.arange(len(points)))

    def _distance(self, point: np.ndarray, others: np.ndarray) -> np.ndarray:
        return pairwise(point[None], others, self.metric)[0]

    def _build(self, indices: np.ndarray) -> int:
        members = self.points[indices]
        centre = members.mean(axis=0)
        radius = float(self._distance(centre, members).max())
        node = len(self.nodes)
        self.nodes.append(None)
        if len(indices) <= self.leaf_size:
            self.nodes[node] = (centre, radius, -1, -1, indices)
            return node
        spread = np.argmax(members.max(axis=0) - members.min(axis=0))
        order = np.argsort(members[:, spread], kind="stable")
        half = len(order) // 2
        left, right = self._build(indices[order[:half]]), self._build(indices[order[half:]])
        self.nodes[node] = (centre, radius, left, right, None)
        return node

    def query(self, point: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        best_d, best_i = np.full(0, np.inf), np.zeros(0, dtype=np.int64)
        stack = [(0.0, 0)]
        while stack:
            bound, node = stack.pop()
            if len(best_d) == k and bound > best_d[-1]:
                continue
            _, _, left, right, indices = self.nodes[node]
            if indices is not None:
                merged_d = np.concatenate([best_d, self._distance(point, self.points[indices])])
                merged_i = np.concatenate([best_i, indices])
                order = np.lexsort((merged_i, merged_d))[:k]
                best_d, best_i = merged_d[order], merged_i[order]
                continue
            children = []
            for child in (left, right):
                child_centre, child_radius = self.nodes[child][0], self.nodes[child][1]
                gap = max(0.0, float(self._distance(point, child_centre[None])[0]) - child_radius)
                children.append((gap, child))
            children.sort(reverse=True)  # the nearer ball is popped first
            stack += children
        return best_d, best_i


class NeighbourIndex(TransformerMixin, BaseEstimator):
    """Fitted on vectors; ``transform`` answers each query with the ids (training rows) of its
    ``k`` nearest neighbours, ``kneighbors`` with their distances too."""

    def __init__(self, k: int = 10, metric: str = "euclidean", algorithm: str = "brute", leaf_size: int = 30,
                 block_rows: int = 1024, random_state: int | None = None):  # fmt: skip
        self.k = k
        self.metric = metric
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.block_rows = block_rows
        self.random_state = random_state

    def fit(self, X, y=None):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        X, _ = validate_xy(X)
        if not 1 <= self.k <= len(X):
            raise ValueError(f"k must lie in [1, {len(X)}] (the indexed rows), got {self.k}")
        self.X_fit_ = X
        self.n_features_in_ = X.shape[1]
        self._tree = BallTree(X, self.metric, self.leaf_size) if self.algorithm == "ball_tree" else None
        return self

    def kneighbors(self, X) -> tuple[np.ndarray, np.ndarray]:
        require_fitted(self, "X_fit_")
        X, _ = validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the index holds {self.n_features_in_}")
        if self.algorithm == "ball_tree":
            found = [self._tree.query(row, self.k) for row in X]
            return np.array([d for d, _ in found]), np.array([i for _, i in found])
        if self.algorithm == "external":
            with tempfile.TemporaryDirectory() as folder:  # the index as a file, read block by block
                path = Path(folder) / "points.npy"
                np.save(path, self.X_fit_)
                return external(path, X, self.k, self.metric, self.block_rows)
        return brute_force(self.X_fit_, X, self.k, self.metric)

    def transform(self, X) -> np.ndarray:
        return self.kneighbors(X)[1]
