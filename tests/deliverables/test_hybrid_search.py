"""hybrid_search: BM25 against bm25s, fusion and metrics by hand, the dense retriever and FAISS,
bad documents, and the derived WordNet data."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import ndcg_score

from models.phase4.hybrid_search import data
from models.phase4.hybrid_search.metrics import evaluate, ndcg_at_k, recall_at_k, reciprocal_rank
from models.phase4.hybrid_search.model import (
    BM25,
    DocumentError,
    FlatInnerProductIndex,
    HybridSearch,
    minmax_fusion,
    reciprocal_rank_fusion,
    tokenize,
)
from models.phase4.hybrid_search.reference import BM25sSearch

SMOKE_DOCUMENTS, SMOKE_DIMENSIONS = 1000, 32
SMALL_CORPUS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["dog", "dog", "barked", "at", "the", "cat"],
    ["a", "bird", "sang"],
    ["cat", "cat", "cat", "purred", "loudly", "on", "a", "very", "long", "sofa", "today"],
    ["mat"],
]


@pytest.fixture(scope="module")
def smoke_documents() -> pd.DataFrame:
    return data.documents(SMOKE_DOCUMENTS)


@pytest.fixture(scope="module")
def smoke_model(smoke_documents) -> HybridSearch:
    return HybridSearch(dimensions=SMOKE_DIMENSIONS, candidates=50, random_state=0).fit(smoke_documents)


# -- model: BM25 against bm25s ---------------------------------------------------------------------
@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.0), (0.9, 1.0), (2.0, 0.4)])
def test_bm25_scores_equal_bm25s_on_a_small_corpus(k1, b):
    ours = BM25(k1=k1, b=b).fit_tokens(SMALL_CORPUS)
    theirs = BM25sSearch(k1=k1, b=b).fit_tokens(SMALL_CORPUS)
    for query in (["cat"], ["cat", "cat", "mat"], ["dog", "bird", "unknown"], ["the", "sofa"], ["nothing"]):
        np.testing.assert_allclose(ours.score_tokens(query), theirs.score_tokens(query), rtol=0, atol=1e-6)
    assert ours.score_tokens(["cat"])[2] == 0.0  # no shared term, no score


def test_bm25_scores_equal_bm25s_on_a_sample_of_the_real_corpus(smoke_documents):
    ours = HybridSearch(dimensions=SMOKE_DIMENSIONS, k1=1.2, b=0.6, random_state=0).fit(smoke_documents)
    theirs = BM25sSearch(k1=1.2, b=0.6).fit(smoke_documents)
    queries = data.queries(SMOKE_DOCUMENTS)["text"].head(60).tolist()
    for query in queries:
        np.testing.assert_allclose(ours.bm25_.scores(query), theirs.scores(query), rtol=0, atol=1e-6)
    for mine, reference in zip(ours.search(queries, 10, "bm25"), theirs.search(queries, 10), strict=True):
        np.testing.assert_allclose([s for _, s in mine], [s for _, s in reference], rtol=0, atol=1e-6)


def test_tokenizer_lowercases_splits_and_drops_stop_words():
    assert tokenize("The Dog's 2 BONES, and-more!") == ["dog", "s", "2", "bones"]
    assert tokenize("The Dog", stopwords=False) == ["the", "dog"]


# -- code: fusion by hand --------------------------------------------------------------------------
def test_reciprocal_rank_fusion_by_hand():
    fused = dict(reciprocal_rank_fusion([[("a", 9), ("b", 5), ("c", 1)], [("c", 0.9), ("a", 0.5), ("d", 0.1)]], 60))
    assert fused == pytest.approx({"a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61, "b": 1 / 62, "d": 1 / 63})
    order = [doc for doc, _ in reciprocal_rank_fusion([[("a", 9), ("b", 5)], [("b", 1), ("a", 0)]], 60)]
    assert order == ["a", "b"]  # a tie keeps the order of first appearance
    with pytest.raises(ValueError, match="rrf_k"):
        reciprocal_rank_fusion([], 0)


def test_minmax_fusion_by_hand():
    rankings = [[("a", 10.0), ("b", 6.0), ("c", 2.0)], [("c", 0.9), ("a", 0.5), ("d", 0.1)]]
    fused = minmax_fusion(rankings, (0.5, 0.5))
    assert dict(fused) == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.5, "d": 0.0})
    assert [doc for doc, _ in fused] == ["a", "c", "b", "d"]
    weighted = dict(minmax_fusion(rankings, (0.8, 0.2)))
    assert weighted["c"] == pytest.approx(0.2) and weighted["a"] == pytest.approx(0.8 + 0.2 * 0.5)
    assert dict(minmax_fusion([[("x", 3.0), ("y", 3.0)], []], (1.0, 0.0))) == {"x": 1.0, "y": 1.0}
    with pytest.raises(ValueError, match="one weight per ranking"):
        minmax_fusion(rankings, (1.0,))


# -- code: metrics against scikit-learn and by hand ------------------------------------------------
def test_ndcg_equals_scikit_learn_on_graded_labels():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = 40
        grades = np.where(rng.random(n) < 0.15, rng.integers(1, 4, n), 0)
        grades[rng.integers(n)] = 2  # at least one relevant
        scores = rng.permutation(n).astype(float)  # distinct scores: no tie averaging
        ranked = list(np.argsort(-scores))
        relevant = {i: int(g) for i, g in enumerate(grades) if g > 0}
        expected = ndcg_score(grades[None, :], scores[None, :], k=10)
        assert ndcg_at_k(ranked, relevant, 10) == pytest.approx(expected, abs=1e-12)


def test_recall_and_reciprocal_rank_by_hand():
    ranked = ["x", "a", "y", "b", "z"]
    assert recall_at_k(ranked, {"a": 2, "b": 1, "c": 1}, 10) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, ["b"], 3) == 0.0
    assert reciprocal_rank(ranked, {"b": 1, "a": 2}) == 0.5
    assert reciprocal_rank(ranked, ["q"]) == 0.0
    assert ndcg_at_k(["a"], {"a": 2, "b": 1}, 10) == pytest.approx(2 / (2 + 1 / np.log2(3)))


# -- model: dense retriever and FAISS --------------------------------------------------------------
def test_dense_retriever_finds_an_exact_duplicate_first(smoke_model, smoke_documents):
    rows = smoke_documents.sample(10, random_state=1)
    queries = (rows["title"] + ". " + rows["text"]).tolist()
    found = smoke_model.search(queries, 3, retriever="dense")
    assert [hits[0][0] for hits in found] == rows["doc_id"].tolist()
    assert all(hits[0][1] == pytest.approx(1.0, abs=1e-5) for hits in found)


def test_faiss_equals_brute_force_inner_products():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((500, 16)).astype(np.float32)
    queries = rng.standard_normal((20, 16)).astype(np.float32)
    scores, indices = FlatInnerProductIndex().fit(vectors).search(queries, 10)
    exact = queries.astype(np.float64) @ vectors.T.astype(np.float64)
    np.testing.assert_array_equal(indices, np.argsort(-exact, axis=1)[:, :10])
    np.testing.assert_allclose(scores, np.sort(exact, axis=1)[:, ::-1][:, :10], rtol=1e-5, atol=1e-5)


def test_dense_vectors_in_faiss_equal_numpy_on_the_real_corpus(smoke_model, smoke_documents):
    queries = data.queries(SMOKE_DOCUMENTS)["text"].head(20).tolist()
    vectors = smoke_model.dense_.transform(queries)
    exact = vectors.astype(np.float64) @ smoke_model.dense_.embeddings_.T.astype(np.float64)
    known = np.abs(vectors).sum(axis=1) > 0
    assert known.sum() >= 10
    for row, hits, ok in zip(exact, smoke_model.search(queries, 5, retriever="dense"), known, strict=True):
        expected = np.sort(row)[::-1][:5] if ok else []  # no known term: no dense answer at all
        np.testing.assert_allclose([s for _, s in hits], expected, atol=1e-5)


# -- model: the estimator --------------------------------------------------------------------------
def test_every_retriever_answers_ranked_doc_ids(smoke_model, smoke_documents):
    assert smoke_model.retrievers_ == ("bm25", "dense", "rrf", "minmax")
    known = set(smoke_documents["doc_id"])
    for name in smoke_model.retrievers_:
        (hits,) = smoke_model.search(["a domestic animal that barks"], 7, retriever=name)
        assert 0 < len(hits) <= 7 and {doc for doc, _ in hits} <= known
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_pickle_round_trip_answers_the_same(smoke_model):
    queries = ["a tree with edible fruit", "music played loudly"]
    restored = pickle.loads(pickle.dumps(smoke_model))
    for name in smoke_model.retrievers_:
        assert restored.search(queries, 5, retriever=name) == smoke_model.search(queries, 5, retriever=name)


def test_snippet_shows_the_text_around_the_query_terms(smoke_model):
    documents = pd.DataFrame(
        {"doc_id": ["long", "short"], "title": ["x", "y"], "text": ["filler " * 40 + "zebra crossing", "a zebra"]}
    )
    model = HybridSearch(dimensions=1, min_df=1).fit(documents)
    snippet = model.snippet("long", "zebra", width=60)
    assert "zebra" in snippet and snippet.startswith("…") and len(snippet) <= 62
    assert model.snippet("short", "zebra") == "a zebra"
    with pytest.raises(KeyError, match="unknown doc_id"):
        model.snippet("missing", "zebra")


def test_unfitted_and_bad_arguments_raise_clear_errors(smoke_model, smoke_documents):
    with pytest.raises(NotFittedError):
        HybridSearch().search(["query"])
    with pytest.raises(ValueError, match="fusion must be one of"):
        HybridSearch(fusion="max").fit(smoke_documents)
    with pytest.raises(ValueError, match="alpha"):
        HybridSearch(alpha=1.5).fit(smoke_documents)
    with pytest.raises(ValueError, match="dimensions must be between"):
        HybridSearch(dimensions=10**6).fit(smoke_documents)
    with pytest.raises(ValueError, match="retriever must be one of"):
        smoke_model.search(["query"], 5, retriever="splade")
    with pytest.raises(ValueError, match="list of strings"):
        smoke_model.search("a bare string", 5)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        smoke_model.search(["query"], 0)


# -- code: bad documents ---------------------------------------------------------------------------
@pytest.mark.parametrize("bad_text", ["", "   ", None])
def test_empty_document_text_is_refused_by_id(bad_text):
    documents = pd.DataFrame({"doc_id": ["d1", "d2", "d3"], "title": ["a", "b", "c"], "text": ["ok", bad_text, "ok"]})
    for estimator in (HybridSearch(dimensions=1, min_df=1), BM25sSearch()):
        with pytest.raises(DocumentError, match=r"empty text: \['d2'\]"):
            estimator.fit(documents)


def test_duplicate_doc_ids_and_missing_columns_are_refused():
    documents = pd.DataFrame({"doc_id": ["d1", "d2", "d1"], "title": ["a", "b", "c"], "text": ["x", "y", "z"]})
    with pytest.raises(DocumentError, match=r"not unique: \['d1'\]"):
        HybridSearch(dimensions=1, min_df=1).fit(documents)
    with pytest.raises(DocumentError, match="missing \\['title'\\]"):
        HybridSearch().fit(documents.drop(columns="title"))


# -- data: the derived WordNet set -----------------------------------------------------------------
def test_documents_are_unique_and_non_empty():
    documents = data.documents()
    assert list(documents.columns) == ["doc_id", "title", "text"]
    assert len(documents) == 24_000 and documents["doc_id"].is_unique
    assert (documents["text"].str.strip() != "").all() and (documents["title"].str.strip() != "").all()


def test_no_query_occurs_verbatim_in_its_relevant_documents():
    documents = data.documents().set_index("doc_id")
    whole = (documents["title"] + " " + documents["text"]).str.lower()
    queries = data.queries()
    assert len(queries) > 8_000 and queries["query_id"].is_unique
    for text, relevant in zip(queries["text"], queries["relevant"], strict=True):
        assert len(data.WORD.findall(text)) >= data.MIN_QUERY_WORDS
        assert sorted(relevant.values(), reverse=True)[0] == 2 and set(relevant.values()) <= {1, 2}
        for doc_id in relevant:
            assert text.lower() not in whole[doc_id]


def test_a_smaller_size_keeps_only_labels_inside_it():
    documents = set(data.documents(SMOKE_DOCUMENTS)["doc_id"])
    queries = data.queries(SMOKE_DOCUMENTS)
    assert len(queries) > 200
    assert all(set(relevant) <= documents for relevant in queries["relevant"])
    with pytest.raises(ValueError, match="n_documents"):
        data.documents(0)


# -- end to end: evaluation of every retriever, ours and the reference -----------------------------
def test_evaluate_every_retriever_on_the_smoke_size(smoke_model, smoke_documents):
    queries = data.queries(SMOKE_DOCUMENTS)
    ours = evaluate(smoke_model, queries, 10)
    reference = evaluate(BM25sSearch().fit(smoke_documents), queries, 10)
    assert set(ours) == {"bm25", "dense", "rrf", "minmax"} and set(reference) == {"bm25s"}
    for figures in (*ours.values(), *reference.values()):
        assert set(figures) == {"ndcg_at_10", "recall_at_10", "mrr"}
        assert all(0.0 <= value <= 1.0 for value in figures.values())
    assert ours["bm25"]["ndcg_at_10"] == pytest.approx(reference["bm25s"]["ndcg_at_10"], abs=0.01)
    assert ours["bm25"]["ndcg_at_10"] > 0.3  # the labels are learnable: far above chance (~0.001)


# -- the index recipe's validation: bad documents stop, named, and the last good documents stay -----------
def good_documents(n_documents=None):
    return data.documents(300)


def good_queries(n_documents=None):
    return data.queries(300)


def empty_text(n_documents=None):
    frame = data.documents(300)
    frame.loc[5, "text"] = "   "
    return frame


def duplicate_ids(n_documents=None):
    frame = data.documents(300)
    frame.loc[7, "doc_id"] = frame.loc[8, "doc_id"]
    return frame


@pytest.mark.parametrize(
    ("broken", "expectation"),
    [("empty_text", "expect_column_values_to_not_match_regex"), ("duplicate_ids", "expect_column_values_to_be_unique")],
)
def test_bad_documents_stop_at_validation_and_the_last_good_documents_stay(stores, broken, expectation):
    import dataclasses

    from pipeline.context import make_context
    from pipeline.index import ingest_documents, validate_documents
    from pipeline.validate import ValidationFailed
    from s2p import catalog
    from s2p.config import params_for

    here = "tests.deliverables.test_hybrid_search"
    declared = dataclasses.replace(
        catalog.get("hybrid_search"), source=f"{here}:good_documents", queries=f"{here}:good_queries"
    )
    ctx = make_context(declared, params_for(stores.params_file, "hybrid_search", "smoke"), stores)
    ingest_documents(ctx)
    assert validate_documents(ctx).passed
    good = ctx.paths.documents.read_bytes()
    ctx = dataclasses.replace(ctx, deliverable=dataclasses.replace(declared, source=f"{here}:{broken}"))
    ingest_documents(ctx)
    with pytest.raises(ValidationFailed) as stopped:
        validate_documents(ctx)
    assert expectation in [f.expectation for f in stopped.value.report.failures], stopped.value.report.describe()
    assert ctx.paths.documents.read_bytes() == good
