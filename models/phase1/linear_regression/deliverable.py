"""The declaration of `linear_regression`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate
from s2p.columns import diabetes_columns

DELIVERABLE = Deliverable(
    id="linear_regression",
    order=1,
    phase="1",
    title="Linear regression: closed-form OLS, batch GD, SGD and mini-batch SGD",
    task="regression",
    source="s2p.sources:diabetes",
    features=diabetes_columns(),
    target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
    model="models.phase1.linear_regression.model:LinearRegression",
    reference="sklearn.linear_model:LinearRegression",
    metrics=("rmse", "mae", "r2"),
    gate=Gate(metric="rmse", greater_is_better=False),
    plots=("loss_curve", "residuals"),
    min_rows=50,
)
