"""The declaration of `hybrid_search`: BM25, a dense retriever, a FAISS index and their fusion (the index recipe)."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate

DELIVERABLE = Deliverable(
    id="hybrid_search",
    order=3,
    phase="4",
    title="Hybrid search: BM25 from scratch, a dense LSA retriever in FAISS, reciprocal-rank and min-max fusion",
    task="retrieval",
    kind="ranked_documents",
    recipe="index",
    source="models.phase4.hybrid_search.data:documents",
    queries="models.phase4.hybrid_search.data:queries",
    features=(Column("query", "text", 1, 2000, "what to search the WordNet noun glosses for"),),
    model="models.phase4.hybrid_search.model:HybridSearch",
    reference="models.phase4.hybrid_search.reference:BM25sSearch",
    metrics=("ndcg_at_10", "recall_at_10", "mrr"),
    gate=Gate(metric="ndcg_at_10", greater_is_better=True),
    plots=("retrievers",),
    fit_time_budget=None,  # ours builds BM25, an SVD and a FAISS index; bm25s builds BM25 alone
)
