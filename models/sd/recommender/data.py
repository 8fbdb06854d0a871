"""Interaction data, generated offline and deterministic: users x items with latent taste clusters,
popularity skew and timestamps.

Nothing like it ships offline (DATA.md lists no user-item log), so it is generated, with the
structure implicit-feedback models are meant to find:

    items     each belongs to one of ``n_clusters`` taste clusters (a genre) and has a popularity
              drawn from a Zipf law (exponent ``skew``): a few items take most interactions;
    users     each has a primary and a secondary cluster; over a user's history the share of items
              from the secondary cluster grows from 10% to 50% (tastes drift), and a share
              ``exploration`` of the items is drawn from the whole catalog by popularity alone;
    events    one row per (user, item) first seen: ``plays`` >= 1 (geometric), a timestamp (a user's
              events follow each other by exponential gaps from a start in the first months of
              2025) and a unique ``event_id``. A user has at least ``min_events`` events.

So recent items say more about a user's next item than old ones (the drift), which is why the served
model folds fresh events in (model.py), and popularity is a baseline that a model must beat.
``interactions(n_users)`` returns the three tables the ingest step validates: users, items, events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-01-01", tz="UTC")
#: Mean gap between two events of one user, and the span over which users start.
MEAN_GAP_HOURS, START_SPAN_DAYS = 36.0, 90


@dataclass(frozen=True)
class Interactions:
    """The tables of an interaction log: ``users`` (user_id), ``items`` (item_id, cluster,
    popularity) and ``events`` (event_id, user_id, item_id, plays, event_timestamp)."""

    users: pd.DataFrame
    items: pd.DataFrame
    events: pd.DataFrame


def catalog_size(n_users: int) -> int:
    """Items in the catalog for ``n_users`` users: a third as many, at least 100."""
    return max(100, n_users // 3)


def _draw(rng: np.random.Generator, cumulative: np.ndarray, fallback: np.ndarray, taken: set[int]) -> int:
    """One item index from a distribution given by its ``cumulative`` weights, among those not
    ``taken`` (a user meets an item once): redrawn when taken, from ``fallback`` (popularity) after
    100 taken draws; the first item not taken if even that fails."""
    for weights in (cumulative, fallback):
        for _ in range(100):
            item = int(np.searchsorted(weights, rng.random() * weights[-1], side="right"))
            if item not in taken:
                return item
    return next(item for item in range(len(cumulative)) if item not in taken)


def interactions(
    n_users: int,
    seed: int = 0,
    n_clusters: int = 12,
    skew: float = 0.9,
    min_events: int = 4,
    mean_events: float = 14.0,
    exploration: float = 0.2,
) -> Interactions:
    """The generated log of ``n_users`` users; see the module docstring. Same arguments, same tables."""
    if n_users < 2:
        raise ValueError(f"n_users must be at least 2, got {n_users}")
    if not 1 <= min_events <= mean_events:
        raise ValueError(f"need 1 <= min_events <= mean_events, got {min_events} and {mean_events}")
    rng = np.random.default_rng(seed)
    n_items = catalog_size(n_users)
    cluster = rng.integers(0, n_clusters, size=n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** skew
    popularity = popularity[rng.permutation(n_items)]  # popular items spread over the clusters
    popularity /= popularity.sum()
    in_cluster = [np.cumsum(np.where(cluster == c, popularity, 0.0)) for c in range(n_clusters)]
    overall = np.cumsum(popularity)
    most = n_items // 3
    rows = []
    for user in range(n_users):
        primary, secondary = rng.choice(n_clusters, size=2, replace=False)
        count = int(min(most, min_events + rng.geometric(1.0 / (mean_events - min_events + 1)) - 1))
        moment = rng.uniform(0, START_SPAN_DAYS * 86_400.0)  # seconds after START
        taken: set[int] = set()
        for position in range(count):
            drift = 0.1 + 0.4 * position / max(1, count - 1)  # the secondary cluster's share grows
            roll = rng.random()
            if roll < exploration:
                weights = overall
            elif roll < exploration + (1 - exploration) * drift:
                weights = in_cluster[secondary]
            else:
                weights = in_cluster[primary]
            item = _draw(rng, weights, overall, taken)
            taken.add(item)
            moment += rng.exponential(MEAN_GAP_HOURS * 3600.0)
            rows.append((user, item, int(rng.geometric(0.4)), int(moment)))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "plays", "event_timestamp"])
    events["event_timestamp"] = START + pd.to_timedelta(events["event_timestamp"], unit="s")
    events.insert(0, "event_id", np.arange(len(events), dtype=np.int64))
    events = events.astype({"user_id": np.int64, "item_id": np.int64, "plays": np.int64})
    users = pd.DataFrame({"user_id": np.arange(n_users, dtype=np.int64)})
    items = pd.DataFrame({"item_id": np.arange(n_items, dtype=np.int64), "cluster": cluster, "popularity": popularity})
    return Interactions(users, items, events)
