"""Naive Bayes from scratch: Gaussian NB for numeric features and multinomial NB for word counts.

    GaussianNB     per class, each feature normal with its own mean and variance; variances get
                   ``var_smoothing`` times the largest feature variance added (scikit-learn's rule)
    MultinomialNB  per class, word probabilities from counts with additive (Laplace) smoothing
    TextNaiveBayes the deliverable's model: it chooses its form from the data it is fitted on
                   (models.text.form_of): one text column -> MultinomialNB on our own
                   tokenization and counts (models.text); numeric columns -> GaussianNB

Predictions compare joint log-likelihoods; probabilities normalize them with log-sum-exp.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin

from models.base import require_fitted, validate_labels, validate_xy
from models.text import Counts, documents, form_of


class _NaiveBayes(ClassifierMixin, BaseEstimator):
    def _joint_log_likelihood(self, X) -> np.ndarray:
        raise NotImplementedError

    def predict_log_proba(self, X) -> np.ndarray:
        joint = self._joint_log_likelihood(X)
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, X) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self._joint_log_likelihood(X), axis=1)]

    def _priors(self, encoded: np.ndarray) -> None:
        counts = np.bincount(encoded, minlength=len(self.classes_))
        self.class_count_ = counts.astype(float)
        self.class_log_prior_ = np.log(counts / counts.sum())


class GaussianNB(_NaiveBayes):
    def __init__(self, var_smoothing: float = 1e-9, random_state: int | None = None):
        self.var_smoothing = var_smoothing
        self.random_state = random_state

    def fit(self, X, y):
        X, self.classes_, encoded = validate_labels(X, y)
        self._priors(encoded)
        epsilon = self.var_smoothing * X.var(axis=0).max()
        self.theta_ = np.array([X[encoded == k].mean(axis=0) for k in range(len(self.classes_))])
        self.var_ = np.array([X[encoded == k].var(axis=0) for k in range(len(self.classes_))]) + epsilon
        self.n_features_in_ = X.shape[1]
        return self

    def _joint_log_likelihood(self, X) -> np.ndarray:
        require_fitted(self, "theta_")
        X, _ = validate_xy(X)
        normal = -0.5 * np.log(2 * np.pi * self.var_).sum(axis=1)
        squared = ((X[:, None, :] - self.theta_[None]) ** 2 / self.var_[None]).sum(axis=2)
        return self.class_log_prior_ + normal - 0.5 * squared


class MultinomialNB(_NaiveBayes):
    def __init__(self, alpha: float = 1.0, random_state: int | None = None):
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X, y):
        """X: non-negative counts (dense or scipy sparse), one row per document."""
        if self.alpha <= 0:
            raise ValueError(f"alpha must be positive, got {self.alpha}")
        y = np.asarray(y).ravel()
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has a single class ({self.classes_.tolist()}); a classifier needs at least two")
        if X.shape[0] != len(y):
            raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)}")
        if (X.min() if not hasattr(X, "data") else (X.data.min() if X.nnz else 0)) < 0:
            raise ValueError("MultinomialNB needs non-negative counts")
        self._priors(encoded)
        membership = np.eye(len(self.classes_))[encoded]  # (n, k)
        self.feature_count_ = np.asarray((X.T @ membership).T)  # (k, d)
        smoothed = self.feature_count_ + self.alpha
        self.feature_log_prob_ = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        self.n_features_in_ = X.shape[1]
        return self

    def _joint_log_likelihood(self, X) -> np.ndarray:
        require_fitted(self, "feature_log_prob_")
        return np.asarray(X @ self.feature_log_prob_.T) + self.class_log_prior_


class TextNaiveBayes(_NaiveBayes):
    """Naive Bayes on what it is given: raw text (our tokenizer and counts, then MultinomialNB with
    ``alpha`` and ``min_df``) or numeric columns (GaussianNB with ``var_smoothing``). Fitted
    attributes: ``form_`` ("text" or "numbers"), ``nb_`` (the fitted naive Bayes), ``classes_``,
    and ``counts_`` (the vocabulary) for text."""

    def __init__(self, alpha: float = 1.0, min_df: int = 1, var_smoothing: float = 1e-9,
                 random_state: int | None = None):  # fmt: skip
        self.alpha = alpha
        self.min_df = min_df
        self.var_smoothing = var_smoothing
        self.random_state = random_state

    def fit(self, X, y):
        self.form_ = form_of(X)
        if self.form_ == "numbers":
            self.nb_ = GaussianNB(var_smoothing=self.var_smoothing).fit(X, y)
        else:
            texts = documents(X)
            self.counts_ = Counts(texts, self.min_df)
            self.nb_ = MultinomialNB(alpha=self.alpha).fit(self.counts_.transform(texts), y)
        self.classes_ = self.nb_.classes_
        return self

    def __setstate__(self, state: dict) -> None:
        if "counts_" in state:  # pickled before numeric columns were read: it was fitted on text
            state.setdefault("form_", "text")
        super().__setstate__(state)

    def _joint_log_likelihood(self, X) -> np.ndarray:
        require_fitted(self, "nb_")
        if self.form_ == "numbers":
            return self.nb_._joint_log_likelihood(X)
        return self.nb_._joint_log_likelihood(self.counts_.transform(documents(X)))

    def top_words(self, n: int = 15) -> dict:
        """The words whose log-probability differs most between the last class and the first."""
        require_fitted(self, "nb_")
        if self.form_ != "text":
            raise ValueError("top_words needs a model fitted on text; this one was fitted on numbers")
        log_ratio = self.nb_.feature_log_prob_[-1] - self.nb_.feature_log_prob_[0]
        words = np.array(sorted(self.counts_.vocabulary, key=self.counts_.vocabulary.get))
        order = np.argsort(log_ratio)
        return {"first": list(zip(words[order[:n]], log_ratio[order[:n]], strict=True)),
                "last": list(zip(words[order[-n:]], log_ratio[order[-n:]], strict=True))}  # fmt: skip

    def mean_gaps(self) -> np.ndarray:
        """Per feature, how far apart the last class's mean is from the first's, in pooled standard
        deviations (a model fitted on numbers): what tells the two classes apart."""
        require_fitted(self, "nb_")
        if self.form_ != "numbers":
            raise ValueError("mean_gaps needs a model fitted on numbers; this one was fitted on text")
        theta, var = self.nb_.theta_, self.nb_.var_
        return (theta[-1] - theta[0]) / np.sqrt((var[-1] + var[0]) / 2)
