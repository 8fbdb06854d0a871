"""The declaration of `income`: a classifier of adult census incomes, the upstream of the fairness audit."""

from __future__ import annotations

from models.phase9.income.columns import COLUMNS, TARGET_COLUMN
from s2p.catalog import Column, Deliverable, Gate


def _column(spec) -> Column:
    return Column(spec.name, spec.dtype, spec.min, spec.max, spec.description, varies=spec.varies)


DELIVERABLE = Deliverable(
    id="income",
    order=1,
    phase="9",
    title="Income classifier: our logistic regression on the adult census data, the fairness audit's upstream",
    task="classification",
    source="models.phase9.income.data:adult",
    features=tuple(_column(spec) for spec in COLUMNS),
    target=Column(TARGET_COLUMN.name, "int", 0, 1, TARGET_COLUMN.description, values=(0, 1)),
    model="models.phase9.income.model:LogisticRegression",
    reference="models.phase9.income.reference:scaled_logistic_regression",
    metrics=("accuracy", "f1_macro", "log_loss"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("roc", "confusion_matrix", "calibration"),
)
