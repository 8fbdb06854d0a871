"""Evaluation metrics by name: the measuring stick both our model and the reference are held to."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _rmse(y_true, y_pred) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


def _mae(y_true, y_pred) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def _r2(y_true, y_pred) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y_true, y_pred))


def _accuracy(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


METRICS: dict[str, tuple[Callable, bool]] = {
    # name: (function(y_true, y_pred), greater is better)
    "rmse": (_rmse, False),
    "mae": (_mae, False),
    "r2": (_r2, True),
    "accuracy": (_accuracy, True),
}


def compute(names: tuple[str, ...] | list[str], y_true, y_pred) -> dict[str, float]:
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    return {name: METRICS[name][0](y_true, y_pred) for name in names}
