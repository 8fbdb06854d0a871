"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations

from sklearn.base import BaseEstimator  # get_params / set_params from __init__, so clone() works


class FaissIndex(BaseEstimator):
    """faiss (C++): an exact flat index, or HNSW (approximate), answering with the k nearest ids."""

    def __init__(self, k: int = 10, metric: str = "euclidean", index: str = "flat", hnsw_neighbors: int = 32):
        self.k = k
        self.metric = metric
        self.index = index
        self.hnsw_neighbors = hnsw_neighbors

    def _vectors(self, X):
        import numpy as np

        X = np.ascontiguousarray(X, dtype=np.float32)
        if self.metric == "cosine":  # inner product of unit vectors
            X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return X

    def fit(self, X, y=None):
        import faiss
        import numpy as np

        if self.metric not in ("euclidean", "cosine"):
            raise ValueError(f"faiss serves euclidean and cosine here, not {self.metric!r}")
        self.X_fit_ = np.asarray(X, dtype=np.float64)
        vectors = self._vectors(X)
        d = vectors.shape[1]
        inner = self.metric == "cosine"
        if self.index == "hnsw":
            kind = faiss.METRIC_INNER_PRODUCT if inner else faiss.METRIC_L2
            self.index_ = faiss.IndexHNSWFlat(d, self.hnsw_neighbors, kind)
        else:
            self.index_ = faiss.IndexFlatIP(d) if inner else faiss.IndexFlatL2(d)
        self.index_.add(vectors)
        return self

    def transform(self, X):
        return self.index_.search(self._vectors(X), self.k)[1]


class SklearnNeighbourIndex(BaseEstimator):
    """scikit-learn's NearestNeighbors answering like NeighbourIndex: the ids of the k nearest."""

    def __init__(self, k: int = 10, metric: str = "euclidean", algorithm: str = "auto"):
        self.k = k
        self.metric = metric
        self.algorithm = algorithm

    def fit(self, X, y=None):
        from sklearn.neighbors import NearestNeighbors

        self.X_fit_ = X
        self.index_ = NearestNeighbors(n_neighbors=self.k, metric=self.metric, algorithm=self.algorithm).fit(X)
        return self

    def transform(self, X):
        return self.index_.kneighbors(X)[1]
