"""The declaration of `linear_svm`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import CLASSIFICATION_METRICS, REVIEW, SENTIMENT

DELIVERABLE = Deliverable(
    id="linear_svm",
    order=9,
    phase="1",
    title="Linear SVM: primal hinge loss by Pegasos subgradient steps, against naive Bayes",
    task="classification",
    source="s2p.sources:movie_reviews",
    features=REVIEW,
    target=SENTIMENT,
    model="models.phase1.linear_svm.model:TextLinearSVM",
    reference="models.phase1.linear_svm.reference:text_linear_svc",
    metrics=CLASSIFICATION_METRICS,
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("loss_curve", "confusion_matrix", "vs_naive_bayes"),
)
