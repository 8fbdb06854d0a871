"""What a model reads and answers, by task: the one place that knows regression from clustering.

Training, evaluation, the registry's champion gate, the monitor and the served model all ask
``inputs`` for the array a model reads from rows of features, ``outputs`` for its answer to them,
and ``answer`` for the JSON form of one answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from s2p.catalog import Deliverable
from s2p.tensors import stack


def inputs(deliverable: Deliverable, rows: pd.DataFrame) -> np.ndarray:
    """Feature columns as the model reads them: floats (n, features), texts as objects, or the
    arrays of a tensor column as (n, *shape)."""
    tensor = [column for column in deliverable.features if column.dtype == "tensor"]
    if tensor:  # the catalog declares a tensor column alone
        return stack(rows[tensor[0].name], tensor[0].shape)
    dtype = object if deliverable.has_text else np.float64
    return rows[deliverable.feature_names].to_numpy(dtype=dtype)


def targets(deliverable: Deliverable, rows: pd.DataFrame) -> np.ndarray:
    """The target as the model fits it: classes stay integers, a tensor target is (n, *shape)."""
    target = deliverable.target
    if target.dtype == "tensor":
        return stack(rows[target.name], target.shape)
    return rows[target.name].to_numpy(dtype=np.int64 if target.dtype == "int" else np.float64)


def outputs(deliverable: Deliverable, model, X: np.ndarray) -> np.ndarray:
    """The model's answer for each row: a value, a class, a cluster id, a vector of components, or
    what it generates (a text, an image, a sequence)."""
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
    if deliverable.task == "generation":  # how long a text is, how bright an image is
        return np.array([len(v) if isinstance(v, str) else np.mean(v) for v in values], dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    return values[:, 0] if values.ndim == 2 else values


def answer(deliverable: Deliverable, value):
    """The JSON form of one row's output."""
    if deliverable.task == "decomposition":
        return [float(v) for v in value]
    if deliverable.task in ("encoding", "retrieval"):
        return [int(v) for v in value]
    if deliverable.task == "generation":
        return value if isinstance(value, str) else np.asarray(value).tolist()
    if deliverable.task in ("classification", "clustering"):
        return int(value)
    return float(value)
