"""The declaration of `knn_search`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate
from s2p.columns import digit_columns

DELIVERABLE = Deliverable(
    id="knn_search",
    order=4,
    phase="DSA",
    title="Nearest-neighbour search: brute force, a ball tree and out-of-core search, custom metrics",
    task="retrieval",
    source="s2p.sources:digits",
    features=digit_columns(),
    target=Column("digit", "int", 0, 9, "carried with the vectors; search never reads it", values=tuple(range(10))),
    model="models.dsa.knn_search.model:NeighbourIndex",
    reference="models.dsa.knn_search.reference:FaissIndex",
    metrics=("recall_at_k", "query_ms"),
    gate=Gate(metric="recall_at_k", greater_is_better=True),
    plots=("recall_latency",),
    fit_time_budget=100.0,  # fit stores the vectors; the race is query time (query_ms, the plot)
)
