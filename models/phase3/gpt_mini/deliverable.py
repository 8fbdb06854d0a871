"""The declaration of `gpt_mini`: a character-level GPT on a Shakespeare corpus (the corpus recipe)."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate

DELIVERABLE = Deliverable(
    id="gpt_mini",
    order=3,
    phase="3",
    title="GPT mini: a character-level GPT in torch ops (causal attention, KV cache, top-k / nucleus sampling)",
    task="generation",
    kind="text_generation",
    recipe="corpus",
    source="models.phase3.gpt_mini.data:shakespeare",
    tokenizer="models.phase3.gpt_mini.data:CharTokenizer",
    features=(Column("prompt", "text", 1, 2000, "text for the model to continue"),),
    model="models.phase3.gpt_mini.model:GPTLanguageModel",
    reference="models.phase3.gpt_mini.reference:TorchTransformerLanguageModel",
    metrics=("val_loss", "perplexity"),
    gate=Gate(metric="val_loss", greater_is_better=False),
    plots=("learning_curves", "samples"),
    framework="torch",
    min_rows=50,  # lines of text, at least
    fit_time_budget=1.5,  # the same network and loop: only the attention differs
)
