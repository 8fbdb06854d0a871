"""Group fairness metrics of binary predictions, from counts (NumPy only).

Definitions are fairlearn's (the tests hold them equal to fairlearn.metrics to 1e-9):

    selection rate        P(yhat = 1 | group)
    true positive rate    P(yhat = 1 | y = 1, group)   (0 for a group without positives)
    false positive rate   P(yhat = 1 | y = 0, group)   (0 for a group without negatives)
    disparate impact      min over groups / max over groups of the selection rate (fairlearn's
                          demographic_parity_ratio; 1.0 when no group selects anyone)
    demographic parity difference   max - min of the selection rate
    equalized-odds difference       the larger of (max - min TPR) and (max - min FPR)

Labels are 0/1 (1 the favourable outcome, ``income > 50K``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RATES = ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy")


class FairnessMetricError(ValueError):
    """Arrays the metrics cannot score (lengths differ, labels not 0/1, empty)."""


def _check(y_true, y_pred, group) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true, y_pred, group = (np.asarray(a).ravel() for a in (y_true, y_pred, group))
    if not len(y_true) == len(y_pred) == len(group):
        raise FairnessMetricError(f"lengths differ: y_true {len(y_true)}, y_pred {len(y_pred)}, group {len(group)}")
    if len(y_true) == 0:
        raise FairnessMetricError("no rows to score")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.isin(labels, (0, 1)).all():
            raise FairnessMetricError(f"{name} must hold 0/1 labels, got {np.unique(labels)[:5].tolist()}")
    return y_true.astype(np.int64), y_pred.astype(np.int64), group


def _ratio(count: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.divide(count, total, out=np.zeros(len(count)), where=total > 0)


def group_table(y_true, y_pred, group) -> pd.DataFrame:
    """One row per group (sorted): ``count``, ``selection_rate``, ``true_positive_rate``,
    ``false_positive_rate``, ``accuracy``."""
    y_true, y_pred, group = _check(y_true, y_pred, group)
    groups, index = np.unique(group, return_inverse=True)

    def per_group(values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=len(groups))

    count = per_group(np.ones(len(y_true)))
    positives, negatives = per_group(y_true), per_group(1 - y_true)
    table = {
        "count": count.astype(np.int64),
        "selection_rate": per_group(y_pred) / count,
        "true_positive_rate": _ratio(per_group(y_true * y_pred), positives),
        "false_positive_rate": _ratio(per_group((1 - y_true) * y_pred), negatives),
        "accuracy": per_group(y_true == y_pred) / count,
    }
    return pd.DataFrame(table, index=pd.Index(groups, name="group"))


def disparate_impact(y_pred, group) -> float:
    """The smallest group selection rate over the largest (1.0 is parity; < 0.8 fails the 4/5 rule)."""
    rates = group_table(np.zeros(len(np.ravel(y_pred)), np.int64), y_pred, group)["selection_rate"]
    return 1.0 if rates.max() == 0 else float(rates.min() / rates.max())


def demographic_parity_difference(y_pred, group) -> float:
    rates = group_table(np.zeros(len(np.ravel(y_pred)), np.int64), y_pred, group)["selection_rate"]
    return float(rates.max() - rates.min())


def equalized_odds_difference(y_true, y_pred, group) -> float:
    table = group_table(y_true, y_pred, group)
    spread = table[["true_positive_rate", "false_positive_rate"]].agg(lambda rate: rate.max() - rate.min())
    return float(spread.max())


def fairness_summary(y_true, y_pred, group) -> dict[str, float]:
    """The audit's figures for one model's predictions: ``accuracy``, ``disparate_impact``,
    ``demographic_parity_difference``, ``equalized_odds_difference``."""
    y_true, y_pred, group = _check(y_true, y_pred, group)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "disparate_impact": disparate_impact(y_pred, group),
        "demographic_parity_difference": demographic_parity_difference(y_pred, group),
        "equalized_odds_difference": equalized_odds_difference(y_true, y_pred, group),
    }


def _group(X, model) -> np.ndarray:
    """The sensitive group of each row, from the column the mitigated model reads it from."""
    return np.asarray(
        X.iloc[:, model.sensitive_index_] if hasattr(X, "iloc") else np.asarray(X)[:, model.sensitive_index_]
    )


def _after(name: str):
    def metric(y_true, y_pred, X=None, model=None) -> float:
        return fairness_summary(y_true, y_pred, _group(X, model))[name]

    metric.__name__ = name
    return metric


def accuracy_drop(y_true, y_pred, X=None, model=None) -> float:
    """Accuracy of the upstream champion (``model.estimator``) minus the mitigated model's, same rows."""
    before = np.asarray(model.estimator.predict(X))
    return float(np.mean(np.asarray(y_true) == before) - np.mean(np.asarray(y_true) == np.asarray(y_pred)))


#: The audit's metrics as s2p.metrics takes them, (y_true, y_pred, X, model): ``model`` a mitigation
#: of the upstream champion (its ``estimator``), X the upstream's feature rows with the group column.
METRICS = {
    "disparate_impact": (_after("disparate_impact"), True),
    "equalized_odds_difference": (_after("equalized_odds_difference"), False),
    "accuracy": (_after("accuracy"), True),
    "accuracy_drop": (accuracy_drop, False),
}
