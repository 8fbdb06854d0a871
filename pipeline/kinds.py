"""A deliverable's answer kind on the pipeline's side: its rows as the model reads them.

The kinds themselves (what a model takes and answers, its feedback, its drift descriptors) are
objects in serving/kinds.py, shipped in every bento; this module builds a deliverable's kind from
its declaration and keeps the helpers training, evaluation, the registry's champion gate and the
monitor call: ``inputs`` for the array a model reads from rows of features, ``targets`` for the
target as it is fitted, ``outputs`` for its answer to them and ``answer`` for the JSON form of one.
"""

from __future__ import annotations

import functools
from dataclasses import asdict

import numpy as np
import pandas as pd

from s2p.catalog import Deliverable
from serving.kinds import Kind, kind_for


def spec_of(deliverable: Deliverable, extra: dict | None = None) -> dict:
    """What a kind reads of a deliverable: its kind name, feature columns and target (and, from
    ``extra``, what the serving spec adds: pipeline/package.py's ``kind_spec``)."""
    return {
        "kind": deliverable.answer_kind,
        "features": [asdict(column) for column in deliverable.features],
        "target": asdict(deliverable.target) if deliverable.target else None,
        **(extra or {}),
    }


@functools.cache
def _kind(deliverable: Deliverable) -> Kind:
    return kind_for(spec_of(deliverable))


def kind_of(deliverable: Deliverable, extra: dict | None = None) -> Kind:
    """The deliverable's answer kind (serving/kinds.py), on ``extra`` spec fields when given."""
    return kind_for(spec_of(deliverable, extra)) if extra else _kind(deliverable)


def inputs(deliverable: Deliverable, rows: pd.DataFrame) -> np.ndarray:
    """Feature columns as the model reads them: floats (n, features), texts as objects, or the
    arrays of a tensor column as (n, *shape)."""
    return _kind(deliverable).model_input(rows)


def targets(deliverable: Deliverable, rows: pd.DataFrame) -> np.ndarray:
    """The target as the model fits it: classes stay integers, a tensor target is (n, *shape)."""
    return _kind(deliverable).model_target(rows)


def outputs(deliverable: Deliverable, model, X: np.ndarray) -> np.ndarray:
    """The model's answer for each row, as its kind asks for it (predict, or transform)."""
    if deliverable.transductive:  # labels only the rows it is fitted on: fit a copy on these rows
        from sklearn.base import clone

        return clone(model).fit_predict(X)
    return _kind(deliverable).outputs(model, X)


def answer(deliverable: Deliverable, value):
    """The JSON form of one row's output."""
    return _kind(deliverable).to_json(value)
