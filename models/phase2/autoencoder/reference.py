"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations

from sklearn.base import BaseEstimator  # get_params / set_params from __init__, so clone() works


class ImagePCA(BaseEstimator):
    """scikit-learn's PCA on flattened images: the linear autoencoder a VAE is compared with.
    ``score`` is probabilistic PCA's mean log-likelihood per image (nats)."""

    def __init__(self, n_components: int = 4):
        self.n_components = n_components

    @staticmethod
    def _flat(X):
        import numpy as np

        X = np.asarray(X, dtype=np.float64)
        return X.reshape(len(X), -1)

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA

        self.pca_ = PCA(n_components=self.n_components, svd_solver="full").fit(self._flat(X))
        return self

    def transform(self, X):
        return self.pca_.transform(self._flat(X))

    def inverse_transform(self, Z):
        return self.pca_.inverse_transform(Z)

    def score(self, X, y=None) -> float:
        return float(self.pca_.score(self._flat(X)))
