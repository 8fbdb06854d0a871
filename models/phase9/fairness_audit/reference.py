"""The reference mitigation: fairlearn's ThresholdOptimizer on the same fitted upstream model.

Same interface as ours (``GroupThresholdClassifier``): built around a fitted probabilistic estimator,
``fit(X, y)`` on calibration rows, ``predict(X)`` from ordinary feature rows, the group read from the
column ``sensitive_feature``. fairlearn randomizes between two thresholds per group to meet its
constraint exactly; ``random_state`` fixes those draws, so a prediction is reproducible.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from models.phase9.fairness_audit.model import SensitiveColumn, positive_scores


class FairlearnThresholdClassifier(SensitiveColumn, ClassifierMixin, BaseEstimator):
    """Fitted attributes: ``optimizer_`` (the fitted ThresholdOptimizer), ``classes_``,
    ``sensitive_index_``, ``n_features_in_``."""

    def __init__(
        self,
        estimator=None,
        sensitive_feature: str | int = "sex",
        constraint: str = "demographic_parity",
        grid_size: int = 1000,
        random_state: int | None = 0,
    ):
        self.estimator = estimator
        self.sensitive_feature = sensitive_feature
        self.constraint = constraint
        self.grid_size = grid_size
        self.random_state = random_state

    def fit(self, X, y):
        from fairlearn.postprocessing import ThresholdOptimizer

        self._locate_sensitive(X)
        positive_scores(self.estimator, X[:1] if hasattr(X, "iloc") else np.asarray(X)[:1])  # fitted, probabilistic
        self.classes_ = np.unique(np.asarray(y))
        self.optimizer_ = ThresholdOptimizer(
            estimator=self.estimator,
            constraints=self.constraint,
            objective="accuracy_score",
            grid_size=self.grid_size,
            prefit=True,
            predict_method="predict_proba",
        )
        self.optimizer_.fit(X, y, sensitive_features=self._sensitive_values(X))
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "optimizer_")
        labels = self.optimizer_.predict(
            X, sensitive_features=self._sensitive_values(X), random_state=self.random_state
        )
        return np.asarray(labels)
