"""Ranking metrics: nDCG@k (linear gains, as scikit-learn's ndcg_score), recall@k and MRR.

``relevant`` is a dict doc_id -> grade (grade > 0 is relevant) or a list of relevant ids (grade 1).
MRR is the mean over queries of 1 / rank of the first relevant document in the returned list.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


def grades(relevant: Mapping[Hashable, float] | Iterable[Hashable]) -> dict[Hashable, float]:
    """The labels as a dict doc_id -> grade, only positive grades kept."""
    pairs = relevant.items() if isinstance(relevant, Mapping) else ((doc, 1.0) for doc in relevant)
    return {doc: float(grade) for doc, grade in pairs if grade > 0}


def ndcg_at_k(ranked: Sequence[Hashable], relevant, k: int = 10) -> float:
    """DCG of the first k ranked ids (gain = grade, discount 1 / log2(rank + 1)) over the ideal DCG."""
    labels = grades(relevant)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    gains = np.array([labels.get(doc, 0.0) for doc in ranked[:k]])
    ideal = np.sort(np.fromiter(labels.values(), float))[::-1][:k]
    if ideal.sum() == 0:
        return 0.0
    return float(gains @ discounts[: len(gains)] / (ideal @ discounts[: len(ideal)]))


def recall_at_k(ranked: Sequence[Hashable], relevant, k: int = 10) -> float:
    """The share of the relevant documents found among the first k ranked ids."""
    labels = grades(relevant)
    return len(labels.keys() & set(ranked[:k])) / len(labels) if labels else 0.0


def reciprocal_rank(ranked: Sequence[Hashable], relevant) -> float:
    """1 / rank of the first relevant id (rank from 1), 0 when none is ranked."""
    labels = grades(relevant)
    return next((1.0 / rank for rank, doc in enumerate(ranked, start=1) if doc in labels), 0.0)


def ranking_metrics(rankings: Sequence[Sequence[Hashable]], relevants: Sequence, k: int = 10) -> dict[str, float]:
    """Mean nDCG@k, recall@k and reciprocal rank (MRR) over queries."""
    if len(rankings) != len(relevants) or not rankings:
        raise ValueError(f"need one ranking per query and at least one: {len(rankings)} for {len(relevants)}")
    return {
        f"ndcg_at_{k}": float(np.mean([ndcg_at_k(r, rel, k) for r, rel in zip(rankings, relevants, strict=True)])),
        f"recall_at_{k}": float(np.mean([recall_at_k(r, rel, k) for r, rel in zip(rankings, relevants, strict=True)])),
        "mrr": float(np.mean([reciprocal_rank(r, rel) for r, rel in zip(rankings, relevants, strict=True)])),
    }


def evaluate(searcher, queries: pd.DataFrame, k: int = 10) -> dict[str, dict[str, float]]:
    """Every retriever of a fitted searcher (its ``retrievers_``), on queries (text, relevant)."""
    texts = queries["text"].tolist()
    results = {}
    for name in searcher.retrievers_:
        found = searcher.search(texts, k, retriever=name)
        results[name] = ranking_metrics([[doc for doc, _ in hits] for hits in found], queries["relevant"].tolist(), k)
    return results


def _served(name: str):
    def metric(y_true, y_pred, X=None, model=None) -> float:
        found = model.search(X["text"].tolist(), 10)
        return float(ranking_metrics([[doc for doc, _ in hits] for hits in found], X["relevant"].tolist(), 10)[name])

    metric.__name__ = name
    return metric


#: The ranking metrics as s2p.metrics takes them, (y_true, y_pred, X, model): X the queries (text,
#: relevant), model a fitted searcher, scored on the retriever it serves (search with none named).
METRICS = {name: (_served(name), True) for name in ("ndcg_at_10", "recall_at_10", "mrr")}
