"""What a model's output is, by task: the one place that knows regression from clustering.

Evaluation, the registry's champion gate, the monitor and the served model all ask ``outputs``
for a model's answer to rows of features, and ``answer`` for its JSON form.
"""

from __future__ import annotations

import numpy as np

from s2p.catalog import Deliverable


def outputs(deliverable: Deliverable, model, X: np.ndarray) -> np.ndarray:
    """The model's answer for each row: a value, a class, a cluster id, or a vector of components."""
    if deliverable.task in ("decomposition", "encoding", "retrieval"):
        return model.transform(X)
    if deliverable.transductive:  # labels only the rows it is fitted on: fit a copy on these rows
        from sklearn.base import clone

        return clone(model).fit_predict(X)
    return model.predict(X)


def scalar(deliverable: Deliverable, values: np.ndarray) -> np.ndarray:
    """One number per row, for drift tests: the output itself, the first component, or the length."""
    if deliverable.task == "encoding":
        return np.array([len(ids) for ids in values], dtype=np.float64)
    if deliverable.task == "retrieval":  # which indexed row answers first
        return np.array([ids[0] for ids in values], dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    return values[:, 0] if values.ndim == 2 else values


def answer(deliverable: Deliverable, value):
    """The JSON form of one row's output."""
    if deliverable.task == "decomposition":
        return [float(v) for v in value]
    if deliverable.task in ("encoding", "retrieval"):
        return [int(v) for v in value]
    if deliverable.task in ("classification", "clustering"):
        return int(value)
    return float(value)
