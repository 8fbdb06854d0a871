"""Reference implementations that need a preprocessing step to match ours on the same data.

Ours standardize the features inside (``standardize=True``); scikit-learn's linear models do not,
so their reference is the same model behind a StandardScaler.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator  # get_params / set_params from __init__, so clone() works


def scaled_logistic_regression(**params):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(**params))


def scaled_linear_svc(**params):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(StandardScaler(), LinearSVC(**params))


def _text_column():
    """scikit-learn's vectorizers take a 1-D sequence of texts; the pipeline hands a one-column table."""
    import numpy as np
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(np.ravel)


def text_multinomial_nb(alpha: float = 1.0, min_df: int = 1):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_text_column(), CountVectorizer(min_df=min_df), MultinomialNB(alpha=alpha))


def text_linear_svc(C: float = 1.0, min_df: int = 1, **params):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer
    from sklearn.svm import LinearSVC

    svc = LinearSVC(C=C, loss="hinge", **params)
    return make_pipeline(_text_column(), CountVectorizer(min_df=min_df), Normalizer(), svc)


class TorchMLPRegressor(BaseEstimator):
    """The same network as models.phase1.mlp.MLPRegressor (same initial weights for the same
    seed, same batches), built from torch.nn and trained by torch.optim: the optimizers' reference."""

    def __init__(self, optimizer="adam", learning_rate=0.01, hidden=32, batch_size=32, max_epochs=200,
                 random_state=None):  # fmt: skip
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.random_state = random_state

    def _optimizer(self, parameters):
        import torch

        lr = self.learning_rate
        return {
            "gd": lambda: torch.optim.SGD(parameters, lr=lr),
            "momentum": lambda: torch.optim.SGD(parameters, lr=lr, momentum=0.9),
            "nesterov": lambda: torch.optim.SGD(parameters, lr=lr, momentum=0.9, nesterov=True),
            "rmsprop": lambda: torch.optim.RMSprop(parameters, lr=lr, alpha=0.99, eps=1e-8),
            "adam": lambda: torch.optim.Adam(parameters, lr=lr, eps=1e-8),
        }[self.optimizer]()

    def fit(self, X, y):
        import numpy as np
        import torch

        from models.base import Standardizer
        from models.phase1.mlp import init_mlp

        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self._scale, self._y_mean, self._y_std = Standardizer(X), float(y.mean()), float(max(y.std(), 1e-12))
        start = init_mlp(X.shape[1], self.hidden, np.random.default_rng(self.random_state))
        self.net_ = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], self.hidden), torch.nn.Tanh(), torch.nn.Linear(self.hidden, 1)
        ).double()
        with torch.no_grad():  # torch stores a layer's weight as (out, in)
            self.net_[0].weight.copy_(torch.from_numpy(start["W1"].T))
            self.net_[0].bias.copy_(torch.from_numpy(start["b1"]))
            self.net_[2].weight.copy_(torch.from_numpy(start["W2"].T))
            self.net_[2].bias.copy_(torch.from_numpy(start["b2"]))
        Z = torch.from_numpy(self._scale(X))
        target = torch.from_numpy((y - self._y_mean) / self._y_std)[:, None]
        optimizer = self._optimizer(self.net_.parameters())
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.max_epochs):
            order = torch.from_numpy(rng.permutation(len(Z)))
            for start_row in range(0, len(Z), self.batch_size):
                rows = order[start_row : start_row + self.batch_size]
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(self.net_(Z[rows]), target[rows])
                loss.backward()
                optimizer.step()
        return self

    def predict(self, X):
        import numpy as np
        import torch

        with torch.no_grad():
            output = self.net_(torch.from_numpy(self._scale(np.asarray(X, dtype=np.float64))))
        return output.numpy()[:, 0] * self._y_std + self._y_mean


class FuzzyDuplicateDetector(BaseEstimator):
    """rapidfuzz's ``fuzz.ratio`` (indel similarity, in C++) with the same learned threshold as ours."""

    def __init__(self, scorer: str = "ratio", threshold: float | None = None):
        self.scorer = scorer
        self.threshold = threshold

    def scores(self, X):
        import numpy as np
        from rapidfuzz import fuzz

        from models.dsa.text_similarity import pairs

        scorer = getattr(fuzz, self.scorer)
        return np.array([scorer(a.lower(), b.lower()) / 100.0 for a, b in pairs(X)])

    def fit(self, X, y):
        import numpy as np

        from models.dsa.text_similarity import best_threshold

        self.classes_ = np.array([0, 1])
        labels = np.asarray(y).ravel()
        self.threshold_ = self.threshold if self.threshold is not None else best_threshold(self.scores(X), labels)
        return self

    def predict(self, X):
        return (self.scores(X) >= self.threshold_).astype("int64")


class HuggingFaceBPE(BaseEstimator):
    """Hugging Face ``tokenizers`` byte-level BPE (Rust), trained on the same texts and vocabulary size."""

    def __init__(self, vocab_size: int = 1000):
        self.vocab_size = vocab_size

    def fit(self, X, y=None):
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        from models.phase1.text import documents

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=self.vocab_size,
            min_frequency=2,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tokenizer.train_from_iterator(documents(X), trainer=trainer)
        self.tokenizer_ = tokenizer
        return self

    def transform(self, X):
        import numpy as np

        from models.phase1.text import documents

        encoded = np.empty(len(texts := documents(X)), dtype=object)
        encoded[:] = [encoding.ids for encoding in self.tokenizer_.encode_batch(texts)]
        return encoded

    def inverse_transform(self, encoded):
        import numpy as np

        return np.array([self.tokenizer_.decode(list(ids)) for ids in encoded], dtype=object)


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


def single_feature_knn(key: int = 0, n_neighbors: int = 5):
    """scikit-learn's k-nearest-neighbour regression (brute force) on the one column ``key``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline

    column = ColumnTransformer([("key", "passthrough", [key])])
    return make_pipeline(column, KNeighborsRegressor(n_neighbors=n_neighbors, algorithm="brute"))


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
