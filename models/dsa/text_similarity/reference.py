"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations

from sklearn.base import BaseEstimator  # get_params / set_params from __init__, so clone() works


class FuzzyDuplicateDetector(BaseEstimator):
    """rapidfuzz's ``fuzz.ratio`` (indel similarity, in C++) with the same learned threshold as ours."""

    def __init__(self, scorer: str = "ratio", threshold: float | None = None):
        self.scorer = scorer
        self.threshold = threshold

    def scores(self, X):
        import numpy as np
        from rapidfuzz import fuzz

        from models.dsa.text_similarity.model import pairs

        scorer = getattr(fuzz, self.scorer)
        return np.array([scorer(a.lower(), b.lower()) / 100.0 for a, b in pairs(X)])

    def fit(self, X, y):
        import numpy as np

        from models.dsa.text_similarity.model import best_threshold

        self.classes_ = np.array([0, 1])
        labels = np.asarray(y).ravel()
        self.threshold_ = self.threshold if self.threshold is not None else best_threshold(self.scores(X), labels)
        return self

    def predict(self, X):
        return (self.scores(X) >= self.threshold_).astype("int64")
