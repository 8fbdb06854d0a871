"""The declaration of `transformer`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import REVIEW, SENTIMENT

DELIVERABLE = Deliverable(
    id="transformer",
    order=1,
    phase="3",
    title="Transformer encoder block in NumPy (hand-written backward) and torch ops: a sentence classifier "
    "with an attention visualizer",
    task="classification",
    source="s2p.sources:movie_reviews",
    features=REVIEW,  # text of 1..2000 characters: validation refuses an empty sentence
    target=SENTIMENT,
    model="models.phase3.transformer.model:TransformerClassifier",
    reference="models.phase3.transformer.reference:ReferenceTransformerClassifier",
    metrics=("accuracy", "f1_macro", "log_loss"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("loss_curve", "confusion_matrix", "attention_heads"),
    explains="attention_maps",  # POST /explain: each head's weights over the words of each sentence
    fit_time_budget=3.0,  # float32 NumPy, hand-written backward: 0.9x the reference fit time (1.23x its samples/s)
)
