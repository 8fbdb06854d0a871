"""The declaration of `autoencoder`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from dataclasses import replace

from s2p.catalog import Deliverable, Gate
from s2p.columns import DIGIT, DIGIT_IMAGE

DELIVERABLE = Deliverable(
    id="autoencoder",
    order=6,
    phase="2",
    title="Autoencoder and VAE: reparameterization, ELBO, latent traversals",
    task="decomposition",
    source="s2p.sources:digit_images",
    features=DIGIT_IMAGE,
    target=replace(DIGIT, description="carried with the image; the autoencoder never reads it"),
    model="models.phase2.autoencoder.model:VAE",
    reference="models.phase2.autoencoder.reference:ImagePCA",
    metrics=("reconstruction_rmse", "elbo", "explained_variance"),
    gate=Gate(metric="reconstruction_rmse", greater_is_better=False),
    plots=("loss_curve", "reconstructions", "latent_traversal"),
    framework="torch",
    fit_time_budget=None,  # a network trained for 150 epochs against one SVD: another kind of model
)
