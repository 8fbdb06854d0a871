"""Random forest from scratch: bagging over our CART trees with feature subsampling at each split.

Each tree sees a bootstrap sample of the rows and considers ``max_features`` features per split;
the forest averages the trees' class probabilities. The rows a tree never saw give the
out-of-bag score; impurity importances are averaged over the trees.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin

from models.base import EpochTrainable, require_fitted, validate_labels
from models.phase1.decision_tree.model import DecisionTreeClassifier


class RandomForestClassifier(ClassifierMixin, EpochTrainable):
    """Fitted attributes: ``estimators_``, ``classes_``, ``feature_importances_``,
    ``oob_score_`` (accuracy on out-of-bag rows, when ``oob_score``)."""

    def __init__(
        self,
        n_estimators: int = 100,
        criterion: str = "gini",
        max_depth: int | None = None,
        min_samples_split: int = 2,
        min_samples_leaf: int = 1,
        max_features: int | float | str | None = "sqrt",
        bootstrap: bool = True,
        oob_score: bool = True,
        random_state: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.random_state = random_state

    def _trains_in_epochs(self) -> bool:
        return False

    def fit(self, X, y):
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be at least 1, got {self.n_estimators}")
        X, self.classes_, encoded = validate_labels(X, y)
        n, k = len(X), len(self.classes_)
        self.n_features_in_ = X.shape[1]
        rng = np.random.default_rng(self.random_state)
        oob_votes = np.zeros((n, k))
        self.estimators_ = []
        for _ in range(self.n_estimators):
            rows = rng.integers(0, n, n) if self.bootstrap else np.arange(n)
            tree = DecisionTreeClassifier(
                criterion=self.criterion,
                max_depth=self.max_depth,
                min_samples_split=self.min_samples_split,
                min_samples_leaf=self.min_samples_leaf,
                max_features=self.max_features,
                random_state=int(rng.integers(2**31)),
            )
            tree.fit(X[rows], encoded[rows])  # trees see class indices; the forest maps them back
            self.estimators_.append(tree)
            if self.bootstrap and self.oob_score:
                unseen = np.setdiff1d(np.arange(n), rows)
                oob_votes[unseen[:, None], tree.classes_] += tree.predict_proba(X[unseen])
        if self.bootstrap and self.oob_score:
            voted = oob_votes.sum(axis=1) > 0
            self.oob_score_ = float(np.mean(np.argmax(oob_votes[voted], axis=1) == encoded[voted]))
        importances = np.mean([tree.feature_importances_ for tree in self.estimators_], axis=0)
        self.feature_importances_ = importances / importances.sum() if importances.sum() > 0 else importances
        return self

    def predict_proba(self, X) -> np.ndarray:
        require_fitted(self, "estimators_")
        proba = np.zeros((len(X), len(self.classes_)))
        for tree in self.estimators_:  # a tree may miss a class its bootstrap never drew
            proba[:, tree.classes_] += tree.predict_proba(X)
        return proba / len(self.estimators_)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
