"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations

from sklearn.base import BaseEstimator  # get_params / set_params from __init__, so clone() works


class ClassConditionalGMM(BaseEstimator):
    """A Gaussian mixture per class on flattened images (scikit-learn): the classical generative
    model a conditional GAN is compared with. ``predict`` samples one image of each wanted class,
    clipped to the pixel range [0, 1]; the same request gets the same images."""

    def __init__(self, n_components: int = 3, covariance_type: str = "full", random_state: int | None = None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.random_state = random_state

    def fit(self, X, y):
        import numpy as np
        from sklearn.mixture import GaussianMixture

        labels = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0].astype(np.int64)
        images = np.asarray(y, dtype=np.float64)
        self.shape_ = images.shape[1:]
        flat = images.reshape(len(images), -1)
        self.mixtures_ = {
            int(label): GaussianMixture(
                min(self.n_components, int((labels == label).sum())), covariance_type=self.covariance_type,
                reg_covar=1e-3, random_state=self.random_state,
            ).fit(flat[labels == label])
            for label in np.unique(labels)
        }  # fmt: skip
        return self

    def predict(self, X):
        import numpy as np

        labels = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0].astype(np.int64)
        rng = np.random.default_rng(self.random_state)
        out = np.empty((len(labels), int(np.prod(self.shape_))))
        for label in np.unique(labels):
            rows = np.flatnonzero(labels == label)
            if int(label) not in self.mixtures_:
                raise ValueError(f"class {label} was not in the training data")
            mixture = self.mixtures_[int(label)]
            components = rng.choice(len(mixture.weights_), size=len(rows), p=mixture.weights_)
            for row, k in zip(rows, components, strict=True):
                cov = mixture.covariances_[k] if self.covariance_type == "full" else np.diag(mixture.covariances_[k])
                out[row] = rng.multivariate_normal(mixture.means_[k], cov)
        return np.clip(out, 0.0, 1.0).reshape(len(labels), *self.shape_)
