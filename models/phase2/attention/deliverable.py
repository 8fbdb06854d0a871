"""The declaration of `attention`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate

DELIVERABLE = Deliverable(
    id="attention",
    order=5,
    phase="2",
    title="Attention: scaled dot-product and multi-head attention, a toy sorting task, attention maps",
    task="generation",
    kind="sequence",
    source="models.phase2.attention.data:sort_sequences",
    features=(Column("sequence", "tensor", 0, 9, "8 digits", values=tuple(range(10)), shape=(8,)),),
    target=Column("answer", "tensor", 0, 9, "the same digits sorted", values=tuple(range(10)), shape=(8,)),
    model="models.phase2.attention.model:SequenceTransformer",
    reference="models.phase2.attention.model:TorchAttentionTransformer",
    metrics=("sequence_accuracy", "token_accuracy"),
    gate=Gate(metric="token_accuracy", greater_is_better=True),
    plots=("loss_curve", "attention_maps"),
    framework="torch",
)
