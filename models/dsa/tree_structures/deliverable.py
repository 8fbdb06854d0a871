"""The declaration of `tree_structures`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate
from s2p.columns import diabetes_columns

DELIVERABLE = Deliverable(
    id="tree_structures",
    order=3,
    phase="DSA",
    title="Tree structures: a B-tree of order m with disk-style pages, a heap for top-k and beam search",
    task="regression",
    source="s2p.sources:diabetes",
    features=diabetes_columns(),
    target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
    model="models.dsa.tree_structures.model:BTreeNeighboursRegressor",
    reference="models.dsa.tree_structures.reference:single_feature_knn",
    metrics=("rmse", "mae", "r2"),
    gate=Gate(metric="rmse", greater_is_better=False),
    plots=("residuals", "btree_io"),
    fit_time_budget=100.0,  # Python pages against a C k-d tree: the lesson is the page count
)
