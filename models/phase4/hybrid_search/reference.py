"""The reference: bm25s (``method="lucene"``, float64) on the very token lists our BM25 reads.

``BM25sSearch`` takes the same documents table and answers ``search`` like ``HybridSearch`` does, so
the metrics and the benchmark treat both alike; its only retriever is ``"bm25s"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.base import require_fitted
from models.phase4.hybrid_search.model import Ranking, check_queries, document_texts, tokenize, validate_documents


class BM25sSearch(BaseEstimator):
    """bm25s.BM25 with our tokenizer, k1 and b; the Lucene variant our BM25 implements."""

    def __init__(self, k1: float = 1.5, b: float = 0.75, stopwords: bool = True):
        self.k1 = k1
        self.b = b
        self.stopwords = stopwords

    def fit_tokens(self, corpus: Sequence[Sequence[str]]):
        """Index token lists directly (the oracle test hands both BM25s the same lists)."""
        import bm25s

        self.retriever_ = bm25s.BM25(k1=self.k1, b=self.b, method="lucene", dtype="float64")
        self.retriever_.index([list(tokens) for tokens in corpus], show_progress=False)
        self.n_documents_ = len(corpus)
        return self

    def fit(self, documents: pd.DataFrame, y=None):
        documents = validate_documents(documents)
        self.fit_tokens([tokenize(text, self.stopwords) for text in document_texts(documents)])
        self.doc_ids_ = documents["doc_id"].to_numpy()
        self.retrievers_ = ("bm25s",)
        self.served_retriever_ = "bm25s"
        return self

    def score_tokens(self, tokens: Sequence[str]) -> np.ndarray:
        require_fitted(self, "retriever_")
        known = [t for t in tokens if t in self.retriever_.vocab_dict and t != ""]
        return self.retriever_.get_scores(known) if known else np.zeros(self.n_documents_)

    def scores(self, query: str) -> np.ndarray:
        return self.score_tokens(tokenize(query, self.stopwords))

    def search(self, queries: Sequence[str], k: int = 10, retriever: str | None = None) -> list[Ranking]:
        """Per query, up to k (doc_id, score) pairs from bm25s.retrieve, zero scores left out."""
        require_fitted(self, "doc_ids_")
        check_queries(queries, k)
        if retriever not in (None, "bm25s"):
            raise ValueError(f"the reference has one retriever, 'bm25s', not {retriever!r}")
        tokens = [tokenize(query, self.stopwords) for query in queries]
        k = min(k, self.n_documents_)
        indices, scores = self.retriever_.retrieve(tokens, k=k, show_progress=False, n_threads=0)
        return [
            [(self.doc_ids_[i], float(s)) for i, s in zip(row_i, row_s, strict=True) if s > 0]
            for row_i, row_s in zip(indices, scores, strict=True)
        ]
