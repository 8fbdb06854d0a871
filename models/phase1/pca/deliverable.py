"""The declaration of `pca`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import DIGIT, digit_columns

DELIVERABLE = Deliverable(
    id="pca",
    order=10,
    phase="1",
    title="PCA: via SVD and via eigendecomposition, explained variance, whitening",
    task="decomposition",
    source="s2p.sources:digits",
    features=digit_columns(),
    target=DIGIT,
    model="models.phase1.pca.model:PCA",
    reference="sklearn.decomposition:PCA",
    metrics=("explained_variance", "reconstruction_rmse"),
    gate=Gate(metric="explained_variance", greater_is_better=True),
    plots=("explained_variance", "projection_2d"),
)
