"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations


def single_feature_knn(key: int = 0, n_neighbors: int = 5):
    """scikit-learn's k-nearest-neighbour regression (brute force) on the one column ``key``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline

    column = ColumnTransformer([("key", "passthrough", [key])])
    return make_pipeline(column, KNeighborsRegressor(n_neighbors=n_neighbors, algorithm="brute"))
