"""The declaration of `knn`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import CLASSIFICATION_METRICS, DIGIT, digit_columns

DELIVERABLE = Deliverable(
    id="knn",
    order=5,
    phase="1",
    title="k-nearest neighbours: vectorized brute force and a KD-tree, distance weighting",
    task="classification",
    source="s2p.sources:digits",
    features=digit_columns(),
    target=DIGIT,
    model="models.phase1.knn.model:KNeighborsClassifier",
    reference="sklearn.neighbors:KNeighborsClassifier",
    metrics=CLASSIFICATION_METRICS,
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("confusion_matrix",),
    fit_time_budget=10.0,
)
