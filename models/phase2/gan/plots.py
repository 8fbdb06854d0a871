"""The plots of `gan` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, image_grid


def gan_progress(data: PlotData):
    """The generator's image of each digit from one fixed noise, at snapshots over training."""
    snapshots = data.models["ours"].snapshots_
    images = np.concatenate([grid for _, grid in snapshots])
    per_row = len(snapshots[0][1])
    titles = [f"epoch {epoch}" if i == 0 else "" for epoch, _ in snapshots for i in range(per_row)]
    figure = image_grid(images, len(snapshots), per_row, titles, size=1.0)
    figure.suptitle("Generated digits 0-9 over training (fixed noise)", fontsize=9)
    return figure, None


def generated_samples(data: PlotData, per_class: int = 4):
    """Four images of each digit from ours (the GAN, left) and the reference (a mixture per class)."""
    labels = np.repeat(np.arange(10), per_class)
    grids = [np.asarray(model.predict(labels[:, None])) for model in data.models.values()]
    images = np.concatenate([np.concatenate([g[labels == d] for g in grids]) for d in range(10)])
    figure = image_grid(images, 10, 2 * per_class, size=0.9)
    figure.suptitle("Each digit: ours (GAN) on the left, the Gaussian mixture on the right", fontsize=9)
    return figure, None


PLOTS = {
    function.__name__: function
    for function in (
        gan_progress,
        generated_samples,
    )
}
