"""Ours for ``fairness_audit``: per-group decision thresholds on an upstream model's scores, and the gate.

``GroupThresholdClassifier`` wraps a fitted probabilistic classifier (the upstream champion) and
chooses one threshold on its positive-class probability per group of a sensitive feature, on a
calibration split. A constraint names the rate to equalize across groups:

    demographic_parity          the selection rate P(yhat = 1 | group)
    true_positive_rate_parity   P(yhat = 1 | y = 1, group)  (equal opportunity)
    false_positive_rate_parity  P(yhat = 1 | y = 0, group)

For each target rate ``r`` on a grid, every group keeps a rate in ``[min_ratio * r, r]`` (the rates'
min/max ratio is then at least ``min_ratio``: 1.0 asks for equal rates, 0.8 for the four-fifths rule)
and, within that band, the threshold most accurate on its own rows (accuracy is a sum over groups, so
the groups choose independently); the ``r`` of the best total accuracy wins. Unlike fairlearn's
ThresholdOptimizer the thresholds are deterministic (no randomization between two thresholds), so a
prediction depends on the row alone; equalizing TPR and FPR at once needs that randomization and is
not offered.

The group is read from a named column of X (``sensitive_feature``), so the model predicts from the
same feature rows as the upstream model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

CONSTRAINTS = ("demographic_parity", "true_positive_rate_parity", "false_positive_rate_parity")


class FairnessInputError(ValueError):
    """Input a fairness mitigation cannot use (an unfitted base, an unknown group, a missing column)."""


class SensitiveColumn:
    """Finds the sensitive feature in X: by name in a DataFrame, or by position in an array."""

    sensitive_feature: str | int

    def _locate_sensitive(self, X) -> None:
        """At fit: remember the columns and where the sensitive one is."""
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        if not isinstance(self.sensitive_feature, str):
            self.sensitive_index_ = int(self.sensitive_feature)
        elif isinstance(X, pd.DataFrame):
            names = list(X.columns)
            if self.sensitive_feature not in names:
                raise FairnessInputError(
                    f"X has no sensitive column {self.sensitive_feature!r}; it has {names[:10]}..."
                )
            self.sensitive_index_ = names.index(self.sensitive_feature)
        else:
            raise FairnessInputError(
                f"sensitive_feature {self.sensitive_feature!r} is a name: fit on a DataFrame with that column, "
                "or give its position as an int"
            )
        self.n_features_in_ = np.shape(X)[1]
        if not 0 <= self.sensitive_index_ < self.n_features_in_:
            raise FairnessInputError(
                f"sensitive_feature {self.sensitive_feature} is outside X's {self.n_features_in_} columns"
            )

    def _sensitive_values(self, X) -> np.ndarray:
        """At predict: the group of each row, from the same column as at fit."""
        if np.ndim(X) != 2 or np.shape(X)[1] != self.n_features_in_:
            raise FairnessInputError(f"X must have {self.n_features_in_} columns, got shape {np.shape(X)}")
        if isinstance(X, pd.DataFrame):
            if hasattr(self, "feature_names_in_") and list(X.columns) != list(self.feature_names_in_):
                raise FairnessInputError("X's columns differ from those the model was fitted on")
            return X.iloc[:, self.sensitive_index_].to_numpy()
        return np.asarray(X)[:, self.sensitive_index_]


def positive_scores(estimator, X) -> np.ndarray:
    """The fitted upstream model's probability of the positive class (the larger label) for each row."""
    if not hasattr(estimator, "predict_proba"):
        raise FairnessInputError(f"the upstream model {type(estimator).__name__} has no predict_proba")
    try:
        check_is_fitted(estimator)
    except NotFittedError as error:
        raise FairnessInputError(f"the upstream model {type(estimator).__name__} is not fitted") from error
    return np.asarray(estimator.predict_proba(X))[:, -1]


def _band_choice(correct: np.ndarray, rates: np.ndarray, low: float, high: float) -> int:
    """The most accurate cut whose rate lies in [low, high]; if none does, the cut nearest the band."""
    first, last = np.searchsorted(rates, low - 1e-12, "left"), np.searchsorted(rates, high + 1e-12, "right")
    if first < last:
        return int(first + np.argmax(correct[first:last]))
    distance = np.maximum(low - rates, rates - high)
    return int(np.argmin(distance))


class GroupThresholdClassifier(SensitiveColumn, ClassifierMixin, BaseEstimator):
    """Fitted attributes: ``classes_``, ``groups_``, ``thresholds_`` (group -> threshold on the
    positive-class probability; a row is positive when its score is >= its group's threshold),
    ``target_rate_`` (the chosen ``r``), ``calibration_rates_`` (group -> rate on the calibration
    rows), ``calibration_accuracy_``, ``sensitive_index_``, ``n_features_in_``."""

    def __init__(
        self,
        estimator=None,
        sensitive_feature: str | int = "sex",
        constraint: str = "demographic_parity",
        min_ratio: float = 1.0,
        grid_size: int = 201,
    ):
        self.estimator = estimator
        self.sensitive_feature = sensitive_feature
        self.constraint = constraint
        self.min_ratio = min_ratio
        self.grid_size = grid_size

    def _check_params(self) -> None:
        if self.constraint not in CONSTRAINTS:
            raise FairnessInputError(f"constraint must be one of {CONSTRAINTS}, got {self.constraint!r}")
        if not 0.0 < self.min_ratio <= 1.0:
            raise FairnessInputError(f"min_ratio must be in (0, 1], got {self.min_ratio}")
        if self.grid_size < 2:
            raise FairnessInputError(f"grid_size must be at least 2, got {self.grid_size}")

    def _group_cuts(self, scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For one group, each possible cut (select the j best-scored rows, j between tied scores
        excluded): its threshold, its number of correct rows and its constrained rate."""
        order = np.argsort(-scores, kind="stable")
        s, labels = scores[order], y[order]
        reference = {"demographic_parity": np.ones_like(labels), "true_positive_rate_parity": labels,
                     "false_positive_rate_parity": 1 - labels}[self.constraint]  # fmt: skip
        selected_positive = np.r_[0, np.cumsum(labels)]
        selected_negative = np.r_[0, np.cumsum(1 - labels)]
        correct = selected_positive + (selected_negative[-1] - selected_negative)
        rates = np.r_[0, np.cumsum(reference)] / max(reference.sum(), 1)
        valid = np.r_[True, s[:-1] > s[1:], True]  # a cut between two equal scores cannot be made
        thresholds = np.r_[np.inf, (s[:-1] + s[1:]) / 2, -np.inf]  # midway between kept and dropped
        return thresholds[valid], correct[valid], rates[valid]

    def fit(self, X, y):
        """Choose the thresholds on calibration rows X, y (rows the upstream model did not train on)."""
        self._check_params()
        self._locate_sensitive(X)
        scores = positive_scores(self.estimator, X)
        y = np.asarray(y).ravel()
        if y.shape[0] != scores.shape[0]:
            raise FairnessInputError(f"X has {scores.shape[0]} rows but y has {y.shape[0]}")
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise FairnessInputError(f"y must hold two classes, got {self.classes_.tolist()}")
        positive = (y == self.classes_[1]).astype(np.int64)
        group = self._sensitive_values(X)
        self.groups_ = np.unique(group)
        if len(self.groups_) < 2:
            raise FairnessInputError(f"the sensitive column has a single group ({self.groups_.tolist()})")
        cuts = {g: self._group_cuts(scores[group == g], positive[group == g]) for g in self.groups_}
        best = (-1, None, None)  # (correct rows, target rate, chosen cut per group)
        for rate in np.linspace(0.0, 1.0, self.grid_size):
            choice = {g: _band_choice(c, r, self.min_ratio * rate, rate) for g, (_, c, r) in cuts.items()}
            total = sum(int(cuts[g][1][j]) for g, j in choice.items())
            if total > best[0]:
                best = (total, rate, choice)
        total, self.target_rate_, choice = best
        self.thresholds_ = {g.item(): float(cuts[g][0][j]) for g, j in choice.items()}
        self.calibration_rates_ = {g.item(): float(cuts[g][2][j]) for g, j in choice.items()}
        self.calibration_accuracy_ = total / len(y)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "thresholds_")
        group = self._sensitive_values(X)
        unknown = sorted(set(np.unique(group).tolist()) - set(self.thresholds_))
        if unknown:
            raise FairnessInputError(f"groups {unknown} were not in the calibration data {sorted(self.thresholds_)}")
        scores = positive_scores(self.estimator, X)
        thresholds = np.array([self.thresholds_[g] for g in group.tolist()])
        return self.classes_[(scores >= thresholds).astype(np.int64)]


def gate(
    before: Mapping[str, float],
    after: Mapping[str, float],
    min_disparate_impact: float = 0.8,
    max_accuracy_drop: float = 0.02,
) -> tuple[bool, str]:
    """Whether the mitigated model (``after``) should replace the upstream one (``before``), and why.

    Each mapping holds ``accuracy`` and ``disparate_impact`` (fractions, as ``metrics.fairness_summary``
    gives them). Promote only when disparate impact after is at least ``min_disparate_impact`` and
    accuracy fell by at most ``max_accuracy_drop`` (0.02 = 2 points).
    """
    for name, figures in (("before", before), ("after", after)):
        missing = [key for key in ("accuracy", "disparate_impact") if key not in figures]
        if missing:
            raise FairnessInputError(f"the {name} figures lack {missing}")
    di_before, di_after = float(before["disparate_impact"]), float(after["disparate_impact"])
    drop = float(before["accuracy"]) - float(after["accuracy"])
    di_ok = di_after >= min_disparate_impact
    accuracy_ok = drop <= max_accuracy_drop + 1e-12
    facts = (
        f"disparate impact {di_before:.3f} -> {di_after:.3f} ({'>=' if di_ok else '<'} {min_disparate_impact:.2f}), "
        f"accuracy {before['accuracy']:.4f} -> {after['accuracy']:.4f} (drop {100 * drop:.2f} points, "
        f"{'<=' if accuracy_ok else '>'} {100 * max_accuracy_drop:.2f})"
    )
    if di_ok and accuracy_ok:
        return True, f"promoted: {facts}"
    failures = [
        text for ok, text in ((di_ok, "disparate impact too low"), (accuracy_ok, "accuracy drop too large")) if not ok
    ]
    return False, f"not promoted ({' and '.join(failures)}): {facts}"
