"""The plots of `knn_search` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

from pipeline.plots import PlotData, subplots


def recall_latency(data: PlotData):
    """Recall@k against milliseconds per query: our three algorithms, scikit-learn's and faiss's."""
    from sklearn.base import clone

    from models.dsa.knn_search.reference import FaissIndex, SklearnNeighbourIndex
    from s2p import metrics

    ours = data.models["ours"]
    candidates = {f"ours {a}": clone(ours).set_params(algorithm=a) for a in ("brute", "ball_tree", "external")}
    candidates |= {f"sklearn {a}": SklearnNeighbourIndex(ours.k, ours.metric, a) for a in ("brute", "ball_tree")}
    candidates |= {f"faiss {i}": FaissIndex(ours.k, ours.metric, index=i) for i in ("flat", "hnsw")}
    table = {}
    for label, index in candidates.items():
        fitted = index.fit(data.X_train)
        found = fitted.transform(data.X_test)
        table[label] = {
            "recall_at_k": metrics.compute(["recall_at_k"], None, found, data.X_test, fitted)["recall_at_k"],
            "query_ms": metrics.compute(["query_ms"], None, found, data.X_test, fitted)["query_ms"],
        }
    figure, ((axis,),) = subplots(1, 6)
    for label, row in table.items():
        axis.scatter(row["query_ms"], row["recall_at_k"], s=40)
        axis.annotate(
            label, (row["query_ms"], row["recall_at_k"]), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    axis.set(xscale="log", xlabel="ms per query (log)", ylabel=f"recall@{ours.k}", title="Recall against latency")
    return figure, table


PLOTS = {function.__name__: function for function in (recall_latency,)}
