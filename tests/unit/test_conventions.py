"""Conventions every model shares: scikit-learn's clone, cross-validation and pipelines; seeded bytes."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from models.phase1.kmeans.model import KMeans
from models.phase1.random_forest.model import RandomForestClassifier
from s2p import catalog
from s2p.imports import import_object
from tests.deliverables._helpers import load

TABLES = [d for d in catalog.CATALOG if d.recipe == "supervised"]  # the other recipes' models read no table


def smoke_params(deliverable) -> dict:
    """The model's hyperparameters at the deliverable's smoke size (params.yaml), its size for tests."""
    from pipeline.context import load_context

    return dict(load_context(deliverable.id, size="smoke").params.model)


@pytest.mark.parametrize("deliverable", TABLES, ids=lambda d: d.id)
def test_every_model_follows_scikit_learns_conventions(deliverable):
    from pipeline import kinds
    from s2p.sources import load as load_source

    learns = deliverable.task == "classification"  # checked below to beat the most frequent class
    rows = 1500 if deliverable.has_text and learns else 600  # sentences carry less signal per row
    frame = load_source(deliverable.source).sample(frac=1.0, random_state=0).head(rows)
    X, y = kinds.inputs(deliverable, frame), kinds.targets(deliverable, frame)
    model = import_object(deliverable.model)(**smoke_params(deliverable))
    if "random_state" in model.get_params():  # a seeded fit: the score below is the same in every run
        model.set_params(random_state=0)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    reference = import_object(deliverable.reference)()  # the reference too: parity and plots clone it
    assert repr(clone(reference)) == repr(reference)  # the same parameters, nested ones included
    if deliverable.task in ("regression", "classification"):
        scores = cross_val_score(copy, X, y, cv=KFold(3, shuffle=True, random_state=0))
        assert np.all(np.isfinite(scores))
        if learns:  # it learned: better than always the most frequent class
            assert scores.mean() > np.bincount(np.asarray(y, dtype=np.int64)).max() / len(y)
    else:
        assert len(kinds.outputs(deliverable, copy.fit(X, y), X)) == len(X)
    if all(column.dtype == "float" for column in deliverable.features):  # measurements: behind a scaler
        piped = make_pipeline(StandardScaler(), clone(model)).fit(X, y)
        assert len(kinds.outputs(deliverable, piped, X)) == len(X)


def test_same_seed_same_model_bytes():
    import pickle

    X, y = load("breast_cancer")
    for make in (lambda: RandomForestClassifier(n_estimators=5, random_state=3), lambda: KMeans(3, random_state=3)):
        assert pickle.dumps(make().fit(X, y)) == pickle.dumps(make().fit(X, y))
