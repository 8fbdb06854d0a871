"""The declaration of `tokenizer`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate

DELIVERABLE = Deliverable(
    id="tokenizer",
    order=2,
    phase="DSA",
    title="Tokenizer: byte-pair encoding trained on offline text, and a trie for autocomplete",
    task="encoding",
    source="s2p.sources:movie_reviews",
    features=(Column("text", "text", 1, 2000, "a movie-review sentence"),),
    target=Column("sentiment", "int", 0, 1, "carried with the text; a tokenizer never reads it", values=(0, 1)),
    model="models.dsa.tokenizer.model:BPETokenizer",
    reference="models.dsa.tokenizer.reference:HuggingFaceBPE",
    metrics=("compression", "roundtrip"),
    gate=Gate(metric="compression", greater_is_better=True),
    plots=("compression_by_vocab", "tokens_per_text"),
    fit_time_budget=100.0,  # Python dictionaries against a Rust trainer
)
