"""The plots of `cnn` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, image_grid


def conv_filters(data: PlotData):
    """The first convolution's filters as learned by ours (NumPy) and the reference (torch)."""
    ours = data.models["ours"].net_.layers[0].params["weight"]
    theirs = data.models["reference"].module_[0].weight.detach().numpy()
    filters = np.concatenate([ours[:, 0], theirs[:, 0]])
    low, high = filters.min(), filters.max()
    titles = [f"ours {i}" for i in range(len(ours))] + [f"torch {i}" for i in range(len(theirs))]
    figure = image_grid((filters - low) / (high - low + 1e-12), 2, len(ours), titles, size=1.2)
    figure.suptitle("First-layer convolution filters (same scale)", fontsize=9)
    return figure, None


PLOTS = {function.__name__: function for function in (conv_filters,)}
