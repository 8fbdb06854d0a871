"""The declaration of `rnn`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from dataclasses import replace

from s2p.catalog import Column, Deliverable, Gate
from s2p.columns import SENTIMENT

DELIVERABLE = Deliverable(
    id="rnn",
    order=4,
    phase="2",
    title="RNN, GRU and LSTM cells in NumPy: a character-level language model, truncated BPTT",
    task="generation",
    kind="continuation",
    source="s2p.sources:movie_reviews",
    features=(Column("text", "text", 1, 2000, "a movie-review sentence; served: a prompt to continue"),),
    target=replace(SENTIMENT, description="carried with the text; a language model never reads it"),
    model="models.phase2.rnn.model:CharLanguageModel",
    reference="models.phase2.rnn.model:TorchCharLanguageModel",
    metrics=("perplexity",),
    gate=Gate(metric="perplexity", greater_is_better=False),
    plots=("loss_curve", "generated_text"),
    fit_time_budget=10.0,  # a Python loop over time steps against torch's fused recurrent kernels
)
