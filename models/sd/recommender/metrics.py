"""Ranking metrics on held-out interactions: recall@k and nDCG@k, leave-last-out.

Each user's last event (by time) is held out; a model recommends k items among those the user did
not play in training, and is scored on the held-out item(s):

    recall@k  the share of a user's held-out items among the k recommended,
    nDCG@k    DCG of the k recommended (gain 1 for a held-out item, discount 1 / log2(rank + 1)) over
              the ideal DCG,

both averaged over users. A held-out item the user also played in training cannot be recommended
and counts as missed, for every model alike (the generated data has none: a user meets an item once).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def recall_at_k(ranked: Sequence[int], relevant: set[int], k: int = 10) -> float:
    """The share of ``relevant`` among the first k ranked items (0 when nothing is relevant)."""
    return len(relevant & set(list(ranked)[:k])) / len(relevant) if relevant else 0.0


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int = 10) -> float:
    """Binary-gain nDCG of the first k ranked items."""
    if not relevant:
        return 0.0
    gains = np.array([item in relevant for item in list(ranked)[:k]], dtype=np.float64)
    discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    ideal = (1.0 / np.log2(np.arange(2, min(k, len(relevant)) + 2))).sum()
    return float(gains @ discounts / ideal)


def leave_last_out(events: pd.DataFrame) -> pd.Series:
    """The split of each event: "test" for each user's last one (latest timestamp, then largest event
    id), "train" for the others."""
    order = events.sort_values(["user_id", "event_timestamp", "event_id"])
    last = ~order["user_id"].duplicated(keep="last")
    return pd.Series(np.where(last, "test", "train"), index=order.index).reindex(events.index)


def held_out(training_set: pd.DataFrame) -> dict[int, set[int]]:
    """Each user's held-out items (the test split)."""
    test = training_set[training_set["split"] == "test"]
    return {int(user): set(map(int, items)) for user, items in test.groupby("user_id")["item_id"]}


def training_plays(training_set: pd.DataFrame, split: str = "train"):
    """The plays of ``split`` as a users x items CSR matrix, sized by every id of the training set."""
    from models.sd.recommender.model import interaction_matrix

    shape = (int(training_set["user_id"].max()) + 1, int(training_set["item_id"].max()) + 1)
    part = training_set[training_set["split"] == split]
    return interaction_matrix(part["user_id"], part["item_id"], part["plays"], shape)


def evaluate(model, training_set: pd.DataFrame, k: int = 10, batch: int = 2048) -> dict[str, float]:
    """Mean recall@k and nDCG@k over the users with a held-out item; ``model.recommend(users, k)``."""
    truth = held_out(training_set)
    if not truth:
        raise ValueError("no held-out interactions: the training set has no test split")
    users = np.array(sorted(truth))
    recalls, ndcgs = [], []
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        items, _ = model.recommend(chunk, k)
        for user, ranked in zip(chunk, items, strict=True):
            ranked = [int(item) for item in ranked if item >= 0]
            recalls.append(recall_at_k(ranked, truth[int(user)], k))
            ndcgs.append(ndcg_at_k(ranked, truth[int(user)], k))
    return {f"recall_at_{k}": float(np.mean(recalls)), f"ndcg_at_{k}": float(np.mean(ndcgs)), "users": len(users)}


class Popularity:
    """The baseline a factor model must beat: the most played items the user has not played."""

    def fit(self, plays):
        self.user_items_ = plays.tocsr()
        self.popularity_ = np.asarray((plays > 0).sum(axis=0)).ravel().astype(np.float64)
        return self

    def recommend(self, users, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        from models.sd.recommender.model import top_k

        users = np.asarray(users, dtype=np.int64)
        scores = np.tile(self.popularity_, (len(users), 1))
        seen = self.user_items_[users]
        scores[np.repeat(np.arange(len(users)), np.diff(seen.indptr)), seen.indices] = -np.inf
        return top_k(scores, k)


def lift_over_popularity(model, training_set: pd.DataFrame, k: int = 10) -> float:
    """nDCG@k of ``model`` over the popularity baseline's on the same held-out events."""
    baseline = evaluate(Popularity().fit(training_plays(training_set)), training_set, k)[f"ndcg_at_{k}"]
    return evaluate(model, training_set, k)[f"ndcg_at_{k}"] / baseline if baseline else float("inf")


def _held_out(name: str):
    def metric(y_true, y_pred, X=None, model=None) -> float:
        factors = getattr(model, "model", model)  # the served OnlineRecommender, or the factor model itself
        if name == "ndcg_lift_over_popularity":
            return float(lift_over_popularity(factors, X))
        return float(evaluate(factors, X)[name])

    metric.__name__ = name
    return metric


#: The metrics as s2p.metrics takes them, (y_true, y_pred, X, model): X the training set (events with
#: their split), model a fitted recommender; scored leave-last-out on the test split.
METRICS = {name: (_held_out(name), True) for name in ("ndcg_at_10", "recall_at_10", "ndcg_lift_over_popularity")}
