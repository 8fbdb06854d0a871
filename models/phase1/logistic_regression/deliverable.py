"""The declaration of `logistic_regression`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import CLASSIFICATION_METRICS, DIAGNOSIS, breast_cancer_columns

DELIVERABLE = Deliverable(
    id="logistic_regression",
    order=2,
    phase="1",
    title="Logistic regression: binary and softmax, L2, Newton or gradient descent on the log-loss",
    task="classification",
    source="s2p.sources:breast_cancer",
    features=breast_cancer_columns(),
    target=DIAGNOSIS,
    model="models.phase1.logistic_regression.model:LogisticRegression",
    reference="models.phase1.logistic_regression.reference:scaled_logistic_regression",
    metrics=(*CLASSIFICATION_METRICS, "log_loss"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("loss_curve", "roc", "calibration", "decision_boundary"),
)
