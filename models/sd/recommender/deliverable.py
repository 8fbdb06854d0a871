"""The declaration of `recommender`: implicit-feedback ALS from scratch against implicit, served with
real-time user features from the Feast online store (the interactions recipe)."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate

DELIVERABLE = Deliverable(
    id="recommender",
    order=1,
    phase="SD",
    title="Real-time features for a recommender: implicit-feedback ALS, user histories pushed to Feast's online store",
    task="retrieval",
    kind="recommendations",
    recipe="interactions",
    source="models.sd.recommender.data:interactions",
    model="models.sd.recommender.model:ImplicitALS",
    reference="models.sd.recommender.reference:ImplicitReference",
    metrics=("ndcg_at_10", "recall_at_10", "ndcg_lift_over_popularity"),
    # promoted only when it ranks the held-out items better than the most played items do
    gate=Gate(metric="ndcg_at_10", greater_is_better=True, limits=(("ndcg_lift_over_popularity", 1.0, None),)),
    plots=("ranking", "loss_curve"),
    min_rows=200,
    fit_time_budget=5.0,  # the same equations: NumPy batched solves against implicit's compiled loop
)
