"""The declaration of `random_forest`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import CLASSIFICATION_METRICS, DIAGNOSIS, breast_cancer_columns

DELIVERABLE = Deliverable(
    id="random_forest",
    order=4,
    phase="1",
    title="Random forest: bootstrap and feature subsampling over our trees, out-of-bag score",
    task="classification",
    source="s2p.sources:breast_cancer",
    features=breast_cancer_columns(),
    target=DIAGNOSIS,
    model="models.phase1.random_forest.model:RandomForestClassifier",
    reference="sklearn.ensemble:RandomForestClassifier",
    metrics=CLASSIFICATION_METRICS,
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("confusion_matrix", "feature_importance"),
    fit_time_budget=10.0,
)
