"""The plots of `kmeans` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.plots import PlotData, subplots


def over_k(data: PlotData, score: Callable) -> tuple[list[int], list[float]]:
    from sklearn.base import clone

    ks = list(range(2, 11))
    return ks, [score(clone(data.models["ours"]).set_params(n_clusters=k).fit(data.X_train)) for k in ks]


def elbow(data: PlotData):
    ks, inertia = over_k(data, lambda fitted: fitted.inertia_)
    figure, ((axis,),) = subplots()
    axis.plot(ks, inertia, marker="o")
    axis.set(xlabel="k", ylabel="inertia (train)", title="Elbow")
    return figure, [{"k": k, "inertia": float(v)} for k, v in zip(ks, inertia, strict=True)]


def silhouette(data: PlotData):
    from sklearn.metrics import silhouette_score

    ks, scores = over_k(data, lambda fitted: silhouette_score(data.X_train, fitted.labels_))
    figure, ((axis,),) = subplots()
    axis.plot(ks, scores, marker="o")
    axis.set(xlabel="k", ylabel="mean silhouette (train)", title="Silhouette by k")
    return figure, [{"k": k, "silhouette": float(v)} for k, v in zip(ks, scores, strict=True)]


PLOTS = {
    function.__name__: function
    for function in (
        elbow,
        silhouette,
    )
}
