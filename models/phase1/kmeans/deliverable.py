"""The declaration of `kmeans`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import SPECIES, iris_columns

DELIVERABLE = Deliverable(
    id="kmeans",
    order=6,
    phase="1",
    title="k-means: Lloyd's algorithm with k-means++ seeding, elbow and silhouette",
    task="clustering",
    source="s2p.sources:iris",
    features=iris_columns(),
    target=SPECIES,
    model="models.phase1.kmeans.model:KMeans",
    reference="sklearn.cluster:KMeans",
    metrics=("ari", "silhouette", "inertia"),
    gate=Gate(metric="silhouette", greater_is_better=True),
    plots=("elbow", "silhouette", "clusters_2d"),
)
