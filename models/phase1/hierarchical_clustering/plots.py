"""The plots of `hierarchical_clustering` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

from pipeline.plots import PlotData, subplots


def dendrogram(data: PlotData):
    from scipy.cluster.hierarchy import dendrogram as draw

    figure, ((axis,),) = subplots(1, 8)
    draw(data.models["ours"].linkage_matrix_, ax=axis, truncate_mode="lastp", p=30, no_labels=True)
    axis.set(ylabel="merge distance", title=f"Dendrogram ({data.models['ours'].linkage} linkage, train)")
    return figure, None


PLOTS = {function.__name__: function for function in (dendrogram,)}
