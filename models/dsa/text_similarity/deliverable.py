"""The declaration of `text_similarity`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import DUPLICATE, PAIR

DELIVERABLE = Deliverable(
    id="text_similarity",
    order=1,
    phase="DSA",
    title="Text similarity: edit distance and LCS by dynamic programming, a near-duplicate detector",
    task="classification",
    source="models.dsa.text_similarity.data:review_pairs",
    features=PAIR,
    target=DUPLICATE,
    model="models.dsa.text_similarity.model:DuplicateDetector",
    reference="models.dsa.text_similarity.reference:FuzzyDuplicateDetector",
    metrics=("f1", "precision", "recall", "accuracy"),
    gate=Gate(metric="f1", greater_is_better=True),
    plots=("similarity_histogram", "corpus_duplicates", "confusion_matrix"),
    fit_time_budget=100.0,  # pure-Python bit vectors against rapidfuzz's C++: a DSA lesson, not a race
)
