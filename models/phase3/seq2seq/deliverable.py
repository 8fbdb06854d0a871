"""The declaration of `seq2seq`: an encoder-decoder transformer on prefixed toy tasks (text in, text out)."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate

DELIVERABLE = Deliverable(
    id="seq2seq",
    order=4,
    phase="3",
    title="seq2seq: an encoder-decoder transformer (cross-attention, denoising pretraining, beam search)",
    task="generation",
    kind="continuation",
    source="models.phase3.seq2seq.data:toy_tasks",
    features=(Column("source", "text", 1, 32, "a task prefix and its input: 'add: 12+345', 'reverse: abc'"),),
    target=Column("target", "text", 1, 31, "the answer: '579', '7 March 2024', 'cba'"),
    model="models.phase3.seq2seq.model:Seq2SeqTransformer",
    reference="models.phase3.seq2seq.reference:TorchTransformerSeq2Seq",
    metrics=("exact_match", "exact_match_addition", "exact_match_date", "exact_match_reverse"),
    gate=Gate(metric="exact_match", greater_is_better=True),
    plots=("learning_curves", "beam_versus_greedy"),
    framework="torch",
    min_rows=50,
    fit_time_budget=1.5,  # the same network and loop: only the attention and layers differ
)
