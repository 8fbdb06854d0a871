"""The declaration of `naive_bayes`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import CLASSIFICATION_METRICS, REVIEW, SENTIMENT

DELIVERABLE = Deliverable(
    id="naive_bayes",
    order=8,
    phase="1",
    title="Naive Bayes: Gaussian, and multinomial on our own tokenization and word counts",
    task="classification",
    source="s2p.sources:movie_reviews",
    features=REVIEW,
    target=SENTIMENT,
    model="models.phase1.naive_bayes.model:TextNaiveBayes",
    reference="models.phase1.naive_bayes.reference:text_multinomial_nb",
    metrics=(*CLASSIFICATION_METRICS, "log_loss"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("confusion_matrix", "top_words"),
)
