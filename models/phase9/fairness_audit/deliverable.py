"""The declaration of `fairness_audit`: the income classifier's champion audited and mitigated (the audit recipe)."""

from __future__ import annotations

from models.phase9.income.columns import COLUMNS, TARGET_COLUMN
from s2p.catalog import Column, Deliverable, Gate


def _column(spec) -> Column:
    return Column(spec.name, spec.dtype, spec.min, spec.max, spec.description, varies=spec.varies)


DELIVERABLE = Deliverable(
    id="fairness_audit",
    order=2,
    phase="9",
    title="Fairness audit: per-group rates of the income champion, per-group thresholds against fairlearn",
    task="classification",
    recipe="audit",
    upstream="income",
    depends_on=("income",),
    source="models.phase9.fairness_audit.data:audit_split",  # the upstream champion's held-out rows, split
    features=tuple(_column(spec) for spec in COLUMNS),  # served like its upstream, on the same rows
    target=Column(TARGET_COLUMN.name, "int", 0, 1, TARGET_COLUMN.description, values=(0, 1)),
    model="models.phase9.fairness_audit.model:GroupThresholdClassifier",
    reference="models.phase9.fairness_audit.reference:FairlearnThresholdClassifier",
    metrics=("disparate_impact", "equalized_odds_difference", "accuracy", "accuracy_drop"),
    # Promoted only when disparate impact reaches the four-fifths rule and accuracy falls by at most 2 points.
    gate=Gate(
        metric="disparate_impact", greater_is_better=True, threshold=0.8, limits=(("accuracy_drop", None, 0.02),)
    ),
    fit_time_budget=None,  # a threshold search against fairlearn's: reported, not held to a budget
)
