"""The plots of `hybrid_search`: every retriever's nDCG@10, recall@10 and MRR on the same queries."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def retrievers(data: PlotData):
    """Grouped bars: BM25 (ours and bm25s), dense, reciprocal-rank and min-max fusion."""
    rows = [
        {"retriever": f"{retriever} ({who})", **scores}
        for who, by_retriever in data.outputs.items()
        for retriever, scores in by_retriever.items()
    ]
    figure, ((axis,),) = subplots(1, 8)
    metrics = ("ndcg_at_10", "recall_at_10", "mrr")
    positions = np.arange(len(rows))
    for offset, metric in enumerate(metrics):
        axis.bar(positions + (offset - 1) * 0.27, [row[metric] for row in rows], width=0.27, label=metric)
    axis.set_xticks(positions, [row["retriever"] for row in rows], rotation=20, fontsize=8)
    axis.set(ylabel="score", title=f"Retrieval on {len(data.X_test):,} queries (relevance from WordNet)")
    axis.legend(fontsize=8)
    return figure, rows


PLOTS = {"retrievers": retrievers}
