"""The declaration of `hierarchical_clustering`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import SPECIES, iris_columns

DELIVERABLE = Deliverable(
    id="hierarchical_clustering",
    order=7,
    phase="1",
    title="Hierarchical clustering: agglomerative with single, complete, average and ward linkage",
    task="clustering",
    source="s2p.sources:iris",
    features=iris_columns(),
    target=SPECIES,
    model="models.phase1.hierarchical_clustering.model:AgglomerativeClustering",
    reference="sklearn.cluster:AgglomerativeClustering",
    metrics=("ari", "silhouette"),
    gate=Gate(metric="silhouette", greater_is_better=True),
    plots=("dendrogram", "clusters_2d"),
    transductive=True,
    fit_time_budget=10.0,
)
