"""Hybrid search from scratch: BM25, a dense LSA retriever over a FAISS index, and two fusions.

    BM25          Lucene's variant (bm25s ``method="lucene"``): for a query term t in document d,
                  idf(t) * tf / (tf + k1 (1 - b + b |d| / avgdl)), idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)),
                  summed over the query's tokens (a repeated token counts again). The per-term weights
                  are computed once at ``fit`` and stored term by term (a CSC layout in three arrays),
                  so a query reads only the postings of its own terms.
    dense (LSA)   TF-IDF (sublinear tf, smoothed idf, unit rows) reduced to ``dimensions`` by a
                  randomized truncated SVD (Halko et al. 2011, in NumPy); documents and queries are
                  projected on the right singular vectors and L2-normalized, so the inner product a
                  FAISS flat index ranks by is the cosine.
    fusion        reciprocal rank fusion, sum of 1 / (rrf_k + rank) (Cormack et al. 2009), and min-max
                  fusion, each list's scores rescaled to [0, 1] then summed with weights (alpha, 1 - alpha).

``HybridSearch`` fits all of it on a documents table (doc_id, title, text) and answers a query with
(doc_id, score) pairs from any of its ``retrievers_``, so each can be evaluated on the same queries.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from models.base import require_fitted

WORD = re.compile(r"[a-z0-9]+")
FUSIONS = ("rrf", "minmax")
RETRIEVERS = ("bm25", "dense", "rrf", "minmax")
Ranking = list[tuple[Hashable, float]]


class DocumentError(ValueError):
    """A documents table that cannot be indexed (missing columns, empty text, duplicate ids)."""


def tokenize(text: str, stopwords: bool = True) -> list[str]:
    """Lower-cased runs of letters and digits, without scikit-learn's English stop words if asked.
    Both BM25s (ours and bm25s) and the dense retriever read these same tokens."""
    tokens = WORD.findall(text.lower())
    return [t for t in tokens if t not in ENGLISH_STOP_WORDS] if stopwords else tokens


def validate_documents(documents: pd.DataFrame) -> pd.DataFrame:
    """The table itself when it has doc_id, title, text, no empty text and no duplicate id; else a
    DocumentError naming the offending documents."""
    missing = [c for c in ("doc_id", "title", "text") if c not in getattr(documents, "columns", ())]
    if missing:
        raise DocumentError(f"documents need columns doc_id, title, text; missing {missing}")
    if len(documents) == 0:
        raise DocumentError("documents table is empty")
    text = documents["text"]
    empty = documents.loc[text.isna() | ~text.map(lambda t: isinstance(t, str) and t.strip() != ""), "doc_id"]
    if len(empty):
        raise DocumentError(f"{len(empty)} document(s) have empty text: {empty.tolist()[:10]}")
    duplicated = documents.loc[documents["doc_id"].duplicated(keep=False), "doc_id"].unique()
    if len(duplicated):
        raise DocumentError(f"{len(duplicated)} doc_id(s) are not unique: {duplicated.tolist()[:10]}")
    return documents


def document_texts(documents: pd.DataFrame) -> list[str]:
    """What the retrievers index: each document's title, then its text."""
    titles = documents["title"].fillna("").astype(str)
    return (titles + ". " + documents["text"].astype(str)).tolist()


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first, ties broken by the smaller index."""
    if k >= len(scores):
        return np.lexsort((np.arange(len(scores)), -scores))
    threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
    candidates = np.flatnonzero(scores >= threshold)  # every tie of the k-th score, then ordered
    return candidates[np.lexsort((candidates, -scores[candidates]))][:k]


def check_queries(queries: Sequence[str], k: int) -> None:
    if isinstance(queries, str) or not all(isinstance(q, str) for q in queries):
        raise ValueError("queries must be a list of strings")
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


class BM25(BaseEstimator):
    """Okapi BM25, Lucene's variant, over pre-tokenized text; equal to bm25s(method="lucene")."""

    def __init__(self, k1: float = 1.5, b: float = 0.75, stopwords: bool = True):
        self.k1 = k1
        self.b = b
        self.stopwords = stopwords

    def fit(self, texts: Sequence[str], y=None):
        return self.fit_tokens([tokenize(text, self.stopwords) for text in texts])

    def fit_tokens(self, corpus: Sequence[Sequence[str]]):
        """Fit on token lists directly (the oracle test feeds bm25s and us the same lists)."""
        if not self.k1 >= 0 or not 0 <= self.b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}")
        if len(corpus) == 0:
            raise ValueError("BM25 needs at least one document")
        self.vocabulary_: dict[str, int] = {}
        doc_index, term_index, counts = [], [], []
        for d, tokens in enumerate(corpus):
            for token, count in Counter(tokens).items():
                doc_index.append(d)
                term_index.append(self.vocabulary_.setdefault(token, len(self.vocabulary_)))
                counts.append(count)
        doc_index, term_index = np.asarray(doc_index, np.int64), np.asarray(term_index, np.int64)
        tf = np.asarray(counts, dtype=np.float64)
        lengths = np.array([len(tokens) for tokens in corpus], dtype=np.float64)
        n_docs = len(corpus)
        df = np.bincount(term_index, minlength=len(self.vocabulary_)).astype(np.float64)
        self.idf_ = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        average = lengths.mean() if lengths.mean() > 0 else 1.0
        norm = self.k1 * (1.0 - self.b + self.b * lengths[doc_index] / average)
        weights = self.idf_[term_index] * tf / (tf + norm)
        order = np.lexsort((doc_index, term_index))  # postings grouped by term: a CSC matrix
        self.postings_docs_ = doc_index[order]
        self.postings_weights_ = weights[order]
        self.postings_start_ = np.concatenate([[0], np.cumsum(df.astype(np.int64))])
        self.n_documents_ = n_docs
        return self

    def score_tokens(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for one tokenized query: shape (n_documents,)."""
        require_fitted(self, "idf_")
        ids = [self.vocabulary_[t] for t in tokens if t in self.vocabulary_]
        if not ids:
            return np.zeros(self.n_documents_)
        spans = [slice(self.postings_start_[i], self.postings_start_[i + 1]) for i in ids]
        docs = np.concatenate([self.postings_docs_[s] for s in spans])
        weights = np.concatenate([self.postings_weights_[s] for s in spans])
        return np.bincount(docs, weights=weights, minlength=self.n_documents_)

    def scores(self, query: str) -> np.ndarray:
        return self.score_tokens(tokenize(query, self.stopwords))

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[int, float]]]:
        """Per query, up to k (document index, score) pairs, best first; documents sharing no term
        with the query (score 0) are not returned."""
        check_queries(queries, k)
        results = []
        for query in queries:
            scores = self.scores(query)
            best = top_k(scores, k)
            results.append([(int(i), float(scores[i])) for i in best if scores[i] > 0])
        return results


class DenseRetriever(BaseEstimator):
    """Latent semantic analysis: TF-IDF rows projected on the top singular vectors, unit length."""

    def __init__(
        self,
        dimensions: int = 128,
        min_df: int = 2,
        stopwords: bool = True,
        n_iter: int = 4,
        n_oversamples: int = 10,
        random_state: int | None = None,
    ):
        self.dimensions = dimensions
        self.min_df = min_df
        self.stopwords = stopwords
        self.n_iter = n_iter
        self.n_oversamples = n_oversamples
        self.random_state = random_state

    def _counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        rows, columns = [], []
        for row, text in enumerate(texts):
            ids = [self.vocabulary_[t] for t in tokenize(text, self.stopwords) if t in self.vocabulary_]
            rows += [row] * len(ids)
            columns += ids
        matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(texts), len(self.vocabulary_)))
        matrix.sum_duplicates()
        return matrix

    def _tfidf(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Sublinear tf times smoothed idf, rows scaled to unit length (zero rows stay zero)."""
        matrix = self._counts(texts)
        matrix.data = 1.0 + np.log(matrix.data)
        matrix = matrix @ sparse.diags(self.idf_)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        return sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix

    def fit(self, texts: Sequence[str], y=None):
        document_frequency = Counter(t for text in texts for t in set(tokenize(text, self.stopwords)))
        kept = sorted(t for t, df in document_frequency.items() if df >= self.min_df)
        limit = min(len(texts), len(kept))
        if not 1 <= self.dimensions < limit:
            raise ValueError(
                f"dimensions must be between 1 and {limit - 1} (documents {len(texts)}, "
                f"terms with df >= {self.min_df}: {len(kept)}), got {self.dimensions}"
            )
        self.vocabulary_ = {t: i for i, t in enumerate(kept)}
        df = np.array([document_frequency[t] for t in kept], dtype=np.float64)
        self.idf_ = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        X = self._tfidf(texts)
        _, self.singular_values_, self.components_ = randomized_svd(
            X, self.dimensions, self.n_iter, self.n_oversamples, np.random.default_rng(self.random_state)
        )
        self.embeddings_ = self._project(X)
        return self

    def _project(self, X: sparse.csr_matrix) -> np.ndarray:
        vectors = np.asarray(X @ self.components_.T)  # (n, vocabulary) -> (n, dimensions)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (n, dimensions), float32; a text with no known term maps to zeros."""
        require_fitted(self, "components_")
        return self._project(self._tfidf(texts))


def randomized_svd(
    X, rank: int, n_iter: int, n_oversamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top ``rank`` singular triplets of X (U, s, Vt) by a randomized range finder with power
    iterations (Halko, Martinsson & Tropp 2011, alg. 4.4); between iterations the block is kept well
    conditioned by an LU factor (cheaper than QR, as scikit-learn does), and one QR closes the range."""
    from scipy.linalg import lu

    width = min(rank + n_oversamples, min(X.shape))
    Q = np.asarray(X @ rng.standard_normal((X.shape[1], width)))  # (n, width)
    for _ in range(n_iter):
        Q = lu(Q, permute_l=True)[0]
        Q = lu(np.asarray(X.T @ Q), permute_l=True)[0]  # (vocabulary, width)
        Q = np.asarray(X @ Q)  # (n, width)
    Q = np.linalg.qr(Q)[0]
    B = np.asarray((X.T @ Q).T)  # (width, vocabulary) = Q^T X
    U_small, s, Vt = np.linalg.svd(B, full_matrices=False)
    U = Q @ U_small
    signs = np.sign(U[np.abs(U).argmax(axis=0), np.arange(U.shape[1])])  # deterministic signs
    return U[:, :rank] * signs[:rank], s[:rank], Vt[:rank] * signs[:rank, None]


class FlatInnerProductIndex:
    """An exact FAISS inner-product index (IndexFlatIP); pickles through faiss.serialize_index."""

    def fit(self, vectors: np.ndarray):
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise ValueError(f"the index needs a non-empty 2-D array of vectors, got shape {vectors.shape}")
        self.index_ = faiss.IndexFlatIP(vectors.shape[1])
        self.index_.add(vectors)
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, indices), each (n_queries, k) best first; missing neighbours have index -1."""
        if not hasattr(self, "index_"):
            raise ValueError("FlatInnerProductIndex is not fitted: call fit(vectors) first")
        return self.index_.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def __getstate__(self) -> dict:
        import faiss

        state = dict(self.__dict__)
        if "index_" in state:
            state["index_"] = faiss.serialize_index(state["index_"])
        return state

    def __setstate__(self, state: dict) -> None:
        import faiss

        if "index_" in state:
            state["index_"] = faiss.deserialize_index(state["index_"])
        self.__dict__.update(state)


def reciprocal_rank_fusion(rankings: Sequence[Ranking], rrf_k: float = 60) -> Ranking:
    """Each document scores sum over rankings of 1 / (rrf_k + rank), rank counted from 1; ties keep
    the order in which documents first appear across the rankings."""
    if rrf_k <= 0:
        raise ValueError(f"rrf_k must be positive, got {rrf_k}")
    fused: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, (doc, _) in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])


def minmax_fusion(rankings: Sequence[Ranking], weights: Sequence[float]) -> Ranking:
    """Each ranking's scores rescaled to [0, 1] by its own min and max (a ranking of equal scores maps
    to 1), a document missing from a ranking counts 0 there, and the weighted sum ranks."""
    if len(weights) != len(rankings):
        raise ValueError(f"minmax_fusion needs one weight per ranking: {len(weights)} for {len(rankings)}")
    fused: dict[Hashable, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        scores = np.array([score for _, score in ranking], dtype=np.float64)
        low, span = scores.min(), scores.max() - scores.min()
        for (doc, _), score in zip(ranking, scores, strict=True):
            normalized = (score - low) / span if span > 0 else 1.0
            fused[doc] = fused.get(doc, 0.0) + weight * normalized
    for ranking in rankings:  # documents seen anywhere are candidates, even at 0
        for doc, _ in ranking:
            fused.setdefault(doc, 0.0)
    return sorted(fused.items(), key=lambda item: -item[1])


class HybridSearch(BaseEstimator):
    """BM25 + LSA over a FAISS index, fused by reciprocal rank or min-max; see the module docstring.

    ``alpha`` weighs BM25 in min-max fusion (dense gets 1 - alpha); ``candidates`` is how many
    results each retriever hands to a fusion.
    """

    def __init__(
        self,
        k1: float = 1.5,
        b: float = 0.75,
        dimensions: int = 128,
        fusion: str = "rrf",
        rrf_k: float = 60,
        alpha: float = 0.5,
        candidates: int = 100,
        min_df: int = 2,
        stopwords: bool = True,
        random_state: int | None = None,
    ):
        self.k1 = k1
        self.b = b
        self.dimensions = dimensions
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.alpha = alpha
        self.candidates = candidates
        self.min_df = min_df
        self.stopwords = stopwords
        self.random_state = random_state

    def _check_hyperparameters(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.rrf_k <= 0:
            raise ValueError(f"rrf_k must be positive, got {self.rrf_k}")
        if not isinstance(self.candidates, int | np.integer) or self.candidates < 1:
            raise ValueError(f"candidates must be a positive integer, got {self.candidates!r}")

    def fit(self, documents: pd.DataFrame, y=None):
        self._check_hyperparameters()
        documents = validate_documents(documents)
        texts = document_texts(documents)
        self.bm25_ = BM25(self.k1, self.b, self.stopwords).fit(texts)
        self.dense_ = DenseRetriever(self.dimensions, self.min_df, self.stopwords, random_state=self.random_state).fit(
            texts
        )
        self.index_ = FlatInnerProductIndex().fit(self.dense_.embeddings_)
        self.doc_ids_ = documents["doc_id"].to_numpy()
        self.positions_ = {doc_id: i for i, doc_id in enumerate(self.doc_ids_)}
        self.titles_ = documents["title"].fillna("").astype(str).tolist()
        self.texts_ = documents["text"].astype(str).tolist()
        self.retrievers_ = RETRIEVERS
        self.served_retriever_ = self.fusion  # what search() answers with no retriever named
        return self

    def _bm25(self, queries: Sequence[str], k: int) -> list[Ranking]:
        return [[(self.doc_ids_[i], s) for i, s in found] for found in self.bm25_.search(queries, k)]

    def _dense(self, queries: Sequence[str], k: int) -> list[Ranking]:
        vectors = self.dense_.transform(queries)
        scores, indices = self.index_.search(vectors, min(k, len(self.doc_ids_)))
        known = np.abs(vectors).sum(axis=1) > 0  # a query with no known term has no dense answer
        return [
            [(self.doc_ids_[i], float(s)) for i, s in zip(row_i, row_s, strict=True) if i >= 0] if ok else []
            for row_i, row_s, ok in zip(indices, scores, known, strict=True)
        ]

    def search(self, queries: Sequence[str], k: int = 10, retriever: str | None = None) -> list[Ranking]:
        """Per query, up to k (doc_id, score) pairs, best first, from ``retriever`` (one of
        ``retrievers_``; None: the fusion this model was configured with)."""
        require_fitted(self, "doc_ids_")
        check_queries(queries, k)
        retriever = self.fusion if retriever is None else retriever
        if retriever not in RETRIEVERS:
            raise ValueError(f"retriever must be one of {RETRIEVERS}, got {retriever!r}")
        if retriever == "bm25":
            return self._bm25(queries, k)
        if retriever == "dense":
            return self._dense(queries, k)
        depth = max(k, self.candidates)
        pairs = zip(self._bm25(queries, depth), self._dense(queries, depth), strict=True)
        if retriever == "rrf":
            return [reciprocal_rank_fusion(pair, self.rrf_k)[:k] for pair in pairs]
        return [minmax_fusion(pair, (self.alpha, 1.0 - self.alpha))[:k] for pair in pairs]

    def snippet(self, doc_id: Hashable, query: str, width: int = 160) -> str:
        """The ``width`` characters of the document's text holding the most query terms, with an
        ellipsis where the text was cut."""
        require_fitted(self, "doc_ids_")
        if doc_id not in self.positions_:
            raise KeyError(f"unknown doc_id {doc_id!r}")
        text = self.texts_[self.positions_[doc_id]]
        if len(text) <= width:
            return text
        terms = set(tokenize(query, self.stopwords))
        hits = [m.start() for m in WORD.finditer(text.lower()) if m.group() in terms]
        starts = [max(0, min(h - width // 4, len(text) - width)) for h in hits] or [0]
        best = max(starts, key=lambda s: sum(s <= h < s + width for h in hits))
        return ("…" if best > 0 else "") + text[best : best + width] + ("…" if best + width < len(text) else "")
