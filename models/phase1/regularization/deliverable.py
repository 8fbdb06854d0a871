"""The declaration of `regularization`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate
from s2p.columns import diabetes_columns

DELIVERABLE = Deliverable(
    id="regularization",
    order=11,
    phase="1",
    title="Regularization: ridge (closed form, gradient), lasso (coordinate descent), dropout",
    task="regression",
    source="s2p.sources:diabetes",
    features=diabetes_columns(),
    target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
    model="models.phase1.regularization.model:Lasso",
    reference="sklearn.linear_model:Lasso",
    metrics=("rmse", "mae", "r2"),
    gate=Gate(metric="rmse", greater_is_better=False),
    plots=("residuals", "penalty_ablation", "dropout_ablation"),
    fit_time_budget=10.0,  # coordinate descent visits coefficients one at a time, in Python
)
