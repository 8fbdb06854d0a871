"""The declaration of `decision_tree`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import CLASSIFICATION_METRICS, DIAGNOSIS, breast_cancer_columns

DELIVERABLE = Deliverable(
    id="decision_tree",
    order=3,
    phase="1",
    title="Decision tree: CART with gini or entropy, vectorized split search, cost-complexity pruning",
    task="classification",
    source="s2p.sources:breast_cancer",
    features=breast_cancer_columns(),
    target=DIAGNOSIS,
    model="models.phase1.decision_tree.model:DecisionTreeClassifier",
    reference="sklearn.tree:DecisionTreeClassifier",
    metrics=CLASSIFICATION_METRICS,
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("confusion_matrix", "feature_importance", "pruning_path"),
    fit_time_budget=10.0,
)
