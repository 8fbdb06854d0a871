"""The plots of `autoencoder` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, image_grid


def reconstructions(data: PlotData):
    """Test images (top row) and their reconstructions by ours (the VAE) and by the reference (PCA)."""
    images = data.X_test[:10]
    rows = [images]
    for model in data.models.values():
        rows.append(np.asarray(model.inverse_transform(model.transform(images))).reshape(images.shape))
    figure = image_grid(np.concatenate(rows), len(rows), len(images), size=1.0)
    figure.suptitle("Test images; ours (VAE); reference (PCA), same latent size", fontsize=9)
    return figure, None


def latent_traversal(data: PlotData, steps: int = 9):
    """Decoded images as one latent dimension moves from -3 to 3 (the others at 0), a row each."""
    model = data.models["ours"]
    latent = model.transform(data.X_test[:1]).shape[1]
    values = np.linspace(-3, 3, steps)
    codes = np.zeros((latent * steps, latent))
    for dim in range(latent):
        codes[dim * steps : (dim + 1) * steps, dim] = values
    side = data.X_test.shape[1:]
    images = np.asarray(model.inverse_transform(codes)).reshape(len(codes), *side)
    figure = image_grid(images, latent, steps, size=1.0)
    figure.suptitle("Latent traversal: dimension by row, -3 to 3 across", fontsize=9)
    return figure, None


PLOTS = {
    function.__name__: function
    for function in (
        reconstructions,
        latent_traversal,
    )
}
