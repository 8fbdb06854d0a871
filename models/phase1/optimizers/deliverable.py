"""The declaration of `optimizers`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate
from s2p.columns import diabetes_columns

DELIVERABLE = Deliverable(
    id="optimizers",
    order=12,
    phase="1",
    title="Optimizers: GD, momentum, Nesterov, RMSProp and Adam in NumPy, step for step as torch.optim",
    task="regression",
    source="s2p.sources:diabetes",
    features=diabetes_columns(),
    target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
    model="models.phase1.optimizers.model:MLPRegressor",
    reference="models.phase1.optimizers.reference:TorchMLPRegressor",
    metrics=("rmse", "mae", "r2"),
    gate=Gate(metric="rmse", greater_is_better=False),
    plots=("loss_curve", "optimizer_paths", "optimizer_race"),
)
