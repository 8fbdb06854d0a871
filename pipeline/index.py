"""The index recipe's steps: documents -> their validation -> embeddings and an index -> retrieval evaluation.

    ingest     the declaration's documents and query set (relevance labels from the data itself) to
               candidate files
    validate   Great Expectations on the documents (unique ids, non-empty text and title) and on the
               queries (non-empty text, every relevant id an indexed document); on success the
               candidates become documents.parquet and queries.parquet, on failure the last good stay
    train      ours (embeddings, the index, the fusion) and the reference on the same documents
    evaluate   nDCG@10, recall@10 and MRR of the served retriever, ours and the reference, on the same
               queries; every retriever's figures (BM25, dense, both fusions) in retrievers.json

Register and package are the shared steps.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import pandas as pd

from pipeline.context import RunContext
from pipeline.evaluate import Evaluation, record_evaluation
from pipeline.train import TrainResult, fit_timed, seed_everything, side
from pipeline.validate import ValidationFailed, ValidationReport, accept_candidate, check_frame
from s2p.files import atomic_path, read_json, read_pickle, write_json, write_pickle
from s2p.imports import import_object


@dataclass(frozen=True)
class DocumentsResult:
    documents: int
    queries: int
    source: str

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.documents:,} documents and {self.queries:,} queries from {self.source}"


def _labels_json(labels) -> str:
    """Relevance labels (doc id -> grade) as JSON pairs: ids keep their type (JSON keys are strings)."""
    return json.dumps([[doc, grade] for doc, grade in dict(labels).items()])


def _labels(document: str) -> dict:
    return {doc: grade for doc, grade in json.loads(document)}


def _candidates(ctx: RunContext):
    return ctx.paths.data / "candidate_documents.parquet", ctx.paths.data / "candidate_queries.parquet"


def ingest_documents(ctx: RunContext) -> DocumentsResult:
    d = ctx.deliverable
    size = ctx.params.size  # documents to index (the queries are those of these documents)
    documents = import_object(d.source)(size)
    queries = import_object(d.queries)(size)
    queries = queries.assign(relevant=queries["relevant"].map(_labels_json))  # a mapping per row, as JSON
    documents_path, queries_path = _candidates(ctx)
    for frame, path in ((documents, documents_path), (queries, queries_path)):
        with atomic_path(path) as temporary:
            frame.to_parquet(temporary, index=False)
    return DocumentsResult(len(documents), len(queries), d.source)


def document_expectations() -> list:
    import great_expectations.expectations as E

    return [
        E.ExpectTableRowCountToBeBetween(min_value=10),
        E.ExpectColumnValuesToBeUnique(column="doc_id"),
        E.ExpectColumnValuesToNotBeNull(column="doc_id"),
        E.ExpectColumnValuesToNotBeNull(column="text"),
        E.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1, max_value=100_000),
        E.ExpectColumnValuesToNotMatchRegex(column="text", regex=r"^\s*$"),  # blank text
    ]


def query_expectations() -> list:
    import great_expectations.expectations as E

    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeUnique(column="query_id"),
        E.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1, max_value=10_000),
        E.ExpectColumnValuesToBeBetween(column="relevant_documents", min_value=1),
        E.ExpectColumnValuesToBeBetween(column="unknown_relevant", min_value=0, max_value=0),
    ]


def validate_documents(ctx: RunContext) -> ValidationReport:
    paths = ctx.paths
    documents_path, queries_path = _candidates(ctx)
    documents, queries = pd.read_parquet(documents_path), pd.read_parquet(queries_path)
    known = set(documents["doc_id"])
    relevant = queries["relevant"].map(_labels)
    queries_stats = queries.assign(
        relevant_documents=relevant.map(len),
        unknown_relevant=relevant.map(lambda labels: sum(doc not in known for doc in labels)),
    )[["query_id", "text", "relevant_documents", "unknown_relevant"]]
    on_documents = check_frame(documents, f"{ctx.deliverable.id}-documents", document_expectations())
    on_queries = check_frame(queries_stats, f"{ctx.deliverable.id}-queries", query_expectations())
    report = ValidationReport(
        passed=on_documents.passed and on_queries.passed,
        rows=on_documents.rows,
        expectations=on_documents.expectations + on_queries.expectations,
        failures=on_documents.failures + on_queries.failures,
    )
    try:
        accept_candidate(ctx, report, documents_path, paths.documents, paths.data / "rejected_documents.parquet")
    except ValidationFailed:
        os.replace(queries_path, paths.data / "rejected_queries.parquet")
        raise
    os.replace(queries_path, paths.queries)
    with atomic_path(paths.reference_requests) as temporary:  # what the monitor compares served queries with
        queries[["text"]].rename(columns={"text": "query"}).to_parquet(temporary, index=False)
    return report


def _fit(ctx: RunContext, who: str) -> TrainResult:
    seed_everything(ctx.params.seed, uses_torch=False)
    documents = pd.read_parquet(ctx.paths.documents)
    chosen = side(ctx, who)
    estimator, elapsed = fit_timed(ctx, chosen, lambda searcher: searcher.fit(documents))
    write_pickle(chosen.pickle_path, estimator)  # numpy arrays and a serialized faiss index
    rate = len(documents) / elapsed if elapsed else None  # documents indexed per second
    result = TrainResult(chosen.import_path, "cpu", elapsed, 0, 0, None, [], rate)
    write_json(chosen.report, result.to_dict())
    return result


def build_index(ctx: RunContext) -> TrainResult:
    return _fit(ctx, "ours")


def build_reference_index(ctx: RunContext) -> TrainResult:
    return _fit(ctx, "reference")


def load_queries(ctx: RunContext) -> pd.DataFrame:
    queries = pd.read_parquet(ctx.paths.queries)
    return queries.assign(relevant=queries["relevant"].map(_labels))


def evaluate_retrieval(ctx: RunContext) -> Evaluation:
    from pipeline.plots import PlotData, draw

    d, paths = ctx.deliverable, ctx.paths
    evaluate = import_object(f"{d.package}.metrics:evaluate")
    queries = load_queries(ctx)
    models = {"ours": read_pickle(paths.model), "reference": read_pickle(paths.reference_model)}
    every = {name: evaluate(model, queries, k=10) for name, model in models.items()}  # retriever -> metrics
    served = {name: every[name][model.served_retriever_] for name, model in models.items()}
    scores = {name: {metric: float(served[name][metric]) for metric in d.metrics} for name in models}
    write_json(paths.artifacts / "retrievers.json", every)
    reports = {"ours": read_json(paths.training_report), "reference": read_json(paths.reference_report)}
    data = PlotData(d, None, None, queries, None, models, every, [], ctx.params.seed, reports)
    return record_evaluation(ctx, scores, len(queries), draw(d.plots, data, paths.plots))
