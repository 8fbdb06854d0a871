"""The declaration of `bert_mini`: a small BERT pretrained by masked language modelling on offline text, then
fine-tuned for movie-review sentence sentiment (the supervised recipe, answer kind `class`)."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import REVIEW, SENTIMENT

DELIVERABLE = Deliverable(
    id="bert_mini",
    order=2,
    phase="3",
    title="BERT mini: masked-LM pretraining (15%, 80/10/10) on BPE tokens, then fine-tuning for sentiment",
    task="classification",
    source="s2p.sources:movie_reviews",
    features=REVIEW,
    target=SENTIMENT,
    model="models.phase3.bert_mini.model:BertMiniClassifier",
    reference="models.phase3.bert_mini.reference:HuggingFaceBertClassifier",
    metrics=("accuracy", "f1_macro", "log_loss", "accuracy_from_random", "pretraining_gain"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("learning_curves", "vs_baselines", "confusion_matrix"),
    framework="torch",
    fit_time_budget=1.5,  # the same networks, steps and batches: only the implementation differs
)
