"""The plots of `pca` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def explained_variance(data: PlotData):
    figure, ((axis,),) = subplots()
    for label, model in data.models.items():
        ratios = model.explained_variance_ratio_
        axis.plot(np.arange(1, len(ratios) + 1), np.cumsum(ratios), marker=".", label=label)
    axis.set(xlabel="components", ylabel="cumulative explained variance ratio", title="Explained variance (train)")
    axis.legend()
    return figure, None


def projection_2d(data: PlotData):
    figure, axes = subplots(len(data.outputs), 4.5)
    for axis, (label, projected) in zip(axes[0], data.outputs.items(), strict=True):
        points = axis.scatter(projected[:, 0], projected[:, 1], c=data.y_test, s=8, cmap="tab10")
        axis.set(xlabel="component 1", ylabel="component 2", title=f"{label}: 2-D view (test)")
    figure.colorbar(points, ax=axes[0][-1], label=data.deliverable.target.name)
    return figure, None


PLOTS = {
    function.__name__: function
    for function in (
        explained_variance,
        projection_2d,
    )
}
