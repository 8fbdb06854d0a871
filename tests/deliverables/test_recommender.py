"""recommender: ALS against implicit, the metrics by hand, the generated log and its validation, the
served model's use of fresh features, the answer kind, and Feast on a real Redis (read p99, freshness)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.exceptions import NotFittedError

from models.sd.recommender import data
from models.sd.recommender.metrics import METRICS, Popularity, evaluate, leave_last_out, ndcg_at_k, recall_at_k
from models.sd.recommender.model import (
    ImplicitALS,
    InteractionError,
    OnlineRecommender,
    interaction_matrix,
    solve_factors,
)
from models.sd.recommender.online import UserFeatureStore, UserHistory, feature_objects, repo_config
from models.sd.recommender.reference import ImplicitReference
from tests.backends.conftest import redis_url  # noqa: F401 - the session's real redis-server

SMALL = dict(factors=8, regularization=0.1, alpha=10.0, iterations=4, random_state=3)


@pytest.fixture(scope="module")
def log() -> data.Interactions:
    return data.interactions(300)


@pytest.fixture(scope="module")
def split(log) -> tuple[pd.DataFrame, sparse.csr_matrix]:
    events = log.events.assign(split=leave_last_out(log.events))
    train = events[events["split"] == "train"]
    shape = (len(log.users), len(log.items))
    return events, interaction_matrix(train["user_id"], train["item_id"], train["plays"], shape)


@pytest.fixture(scope="module")
def fitted(split) -> tuple[ImplicitALS, ImplicitReference]:
    _, plays = split
    return ImplicitALS(**SMALL).fit(plays), ImplicitReference(**SMALL).fit(plays)


# -- model: ours against implicit ------------------------------------------------------------------
def test_factors_and_recommendations_equal_implicit_with_its_exact_solver(fitted, split):
    ours, reference = fitted
    np.testing.assert_allclose(ours.user_factors_, reference.user_factors_, rtol=0, atol=2e-3)
    np.testing.assert_allclose(ours.item_factors_, reference.item_factors_, rtol=0, atol=2e-3)
    users = np.arange(100)
    ours_items, ours_scores = ours.recommend(users, 10)
    theirs_items, theirs_scores = reference.recommend(users, 10)
    np.testing.assert_allclose(ours_scores, theirs_scores, rtol=0, atol=2e-3)
    assert (ours_items == theirs_items).mean() > 0.97  # near-ties may swap at float32 precision
    events, _ = split
    assert evaluate(ours, events) == pytest.approx(evaluate(reference, events), abs=0.01)
    served = OnlineRecommender(ours, None, 0)  # as the registry scores it: s2p.metrics on the served model
    assert METRICS["ndcg_at_10"][0](None, None, events, served) == evaluate(ours, events)["ndcg_at_10"]
    assert METRICS["ndcg_lift_over_popularity"][0](None, None, events, served) > 1.0


def test_fold_in_equals_implicits_recalculated_user(fitted):
    """Fresh plays folded into a known user (training plays + fresh ones) and into an unknown one."""
    ours, reference = fitted
    fresh = [(3, 2.0), (40, 1.0), (int(ours.user_items_[5].indices[0]), 1.0)]
    for user in (5, 10**6):
        mine, played = ours.score_user(user, fresh)
        theirs, their_played = reference.score_user(user, fresh)
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=5e-3)
        assert played.tolist() == their_played.tolist()


def test_the_objective_falls_at_every_iteration_and_beats_popularity(split):
    events, plays = split
    model = ImplicitALS(factors=8, iterations=6, random_state=0).fit(plays)
    assert all(b < a for a, b in zip(model.loss_history_, model.loss_history_[1:], strict=False))
    assert evaluate(model, events)["ndcg_at_10"] > 1.2 * evaluate(Popularity().fit(plays), events)["ndcg_at_10"]


def test_one_user_step_by_hand():
    """x = (Y^T Y + reg I + Y^T (C - I) Y)^-1 Y^T C p for one user, written out densely."""
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(6, 3))
    plays = sparse.csr_matrix(np.array([[0, 2.0, 0, 1.0, 0, 0], [0, 0, 0, 0, 0, 0]]))
    alpha, reg = 4.0, 0.5
    C = np.diag(1 + alpha * plays.toarray()[0])
    p = (plays.toarray()[0] > 0).astype(float)
    expected = np.linalg.solve(Y.T @ C @ Y + reg * np.eye(3), Y.T @ C @ p)
    got = solve_factors(plays * alpha, Y, reg)
    np.testing.assert_allclose(got[0], expected, atol=1e-10)
    assert np.all(got[1] == 0)  # a user with no plays


# -- code: bad input ---------------------------------------------------------------------------------
def test_bad_interactions_and_unfitted_models_are_refused(split):
    _, plays = split
    with pytest.raises(InteractionError, match="negative"):
        ImplicitALS().fit(sparse.csr_matrix(np.array([[1.0, -2.0]])))
    with pytest.raises(InteractionError, match="sparse"):
        ImplicitALS().fit(np.ones((3, 3)))
    with pytest.raises(InteractionError, match="no plays"):
        ImplicitALS().fit(sparse.csr_matrix((3, 3)))
    with pytest.raises(ValueError, match="factors"):
        ImplicitALS(factors=0).fit(plays)
    with pytest.raises(InteractionError, match="item ids"):
        interaction_matrix([0], [9], [1], (1, 5))
    with pytest.raises(NotFittedError):
        ImplicitALS().recommend([0])
    with pytest.raises(KeyError, match="user ids"):
        ImplicitALS(**SMALL).fit(plays).recommend([10**6])


def test_recall_and_ndcg_by_hand():
    assert recall_at_k([5, 3, 9], {3}, k=10) == 1.0 and recall_at_k([5, 3, 9], {4}, k=10) == 0.0
    assert recall_at_k([5, 3, 9], {3, 4}, k=2) == 0.5
    assert ndcg_at_k([5, 3, 9], {3}, k=10) == pytest.approx(1 / np.log2(3))
    assert ndcg_at_k([3, 4], {3, 4}, k=10) == pytest.approx(1.0)
    events = pd.DataFrame(
        {
            "event_id": [0, 1, 2, 3],
            "user_id": [0, 0, 1, 1],
            "item_id": [1, 2, 3, 4],
            "event_timestamp": pd.to_datetime([3, 1, 1, 1], unit="s", utc=True),
        }
    )
    assert leave_last_out(events).tolist() == ["test", "train", "train", "test"]  # latest, then largest id


# -- data: the generated log ---------------------------------------------------------------------------
def test_the_generated_log_is_deterministic_skewed_and_ordered(log):
    again = data.interactions(300)
    pd.testing.assert_frame_equal(log.events, again.events)
    events = log.events
    assert events.groupby("user_id").size().min() >= 4 and set(events["user_id"]) == set(log.users["user_id"])
    assert not events.duplicated(["user_id", "item_id"]).any()  # a user meets an item once
    top = events["item_id"].value_counts()
    assert top.head(len(log.items) // 10).sum() > 0.2 * len(events)  # popularity skew: twice a uniform share
    assert (events.groupby("user_id")["event_timestamp"].diff().dropna() > pd.Timedelta(0)).all()
    with pytest.raises(ValueError, match="n_users"):
        data.interactions(1)


def test_validation_names_what_interaction_logs_get_wrong(log):
    from pipeline.interactions import check_interactions

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert check_interactions(log.events, log.users, log.items, "ok", 100, now).passed
    bad = log.events.copy()
    bad.loc[0, "user_id"] = 10_000  # an unknown user
    bad.loc[1, "item_id"] = -1  # an unknown item
    bad.loc[2, "plays"] = -3  # a negative count
    bad.loc[3, "event_timestamp"] = pd.Timestamp("2030-01-01", tz="UTC")  # in the future
    bad = pd.concat([bad, bad.iloc[[10]]])  # an event delivered twice
    users = pd.concat([log.users, pd.DataFrame({"user_id": [300]})])  # a user without events
    report = check_interactions(bad, users, log.items, "bad", 100, now)
    failed = {(failure.expectation, failure.column) for failure in report.failures}
    assert not report.passed
    assert {
        ("expect_column_values_to_be_in_set", "user_id"),
        ("expect_column_values_to_be_in_set", "item_id"),
        ("expect_column_values_to_be_between", "plays"),
        ("expect_column_values_to_be_between", "seconds_in_future"),
        ("expect_column_values_to_be_unique", "event_id"),
        ("expect_compound_columns_to_be_unique", None),
        ("expect_column_values_to_be_between", "events"),
    } <= failed
    assert "leave-last-out" in report.describe()


# -- model: the served recommender and its fresh features ------------------------------------------
def test_fresh_events_are_folded_in_and_seen_items_left_out(fitted):
    ours, _ = fitted
    served = OnlineRecommender(ours, None, trained_until=1_000)
    trained = set(ours.user_items_[7].indices)
    old = int(ours.user_items_[7].indices[0])
    stale = served.recommend_user(7, 10, UserHistory(7, (old,), (1,), (500,)))  # before training: not fresh
    assert stale.fresh == 0 and stale.items == ours.recommend([7], 10)[0][0].tolist()
    cluster = data.interactions(300).items.query("cluster == 3")["item_id"].head(5).tolist()
    fresh = UserHistory(7, tuple(cluster), (3,) * 5, (2_000,) * 5)
    answer = served.recommend_user(7, 10, fresh)
    assert answer.fresh == 5 and answer.history == 5
    assert answer.items != stale.items and not set(answer.items) & (trained | set(cluster))
    assert answer.scores == sorted(answer.scores, reverse=True)
    cold = served.recommend_user(10**6, 3, UserHistory.empty(10**6))  # unknown, no events: popularity
    assert cold.items == np.argsort(-ours.popularity_, kind="stable")[:3].tolist()
    warmed = served.recommend_user(10**6, 3, fresh)  # unknown to training, events pushed: folded in
    assert warmed.fresh == 5 and warmed.items != cold.items
    with pytest.raises(KeyError, match="not in the catalog"):
        served.recommend_user(7, 3, UserHistory(7, (10**6,), (1,), (2_000,)))


def test_history_appends_in_time_order_and_keeps_the_window():
    history = UserHistory(1, (10, 11), (1, 2), (100, 200), interactions=2)
    grown = history.append([(12, 1, 150_000_000), (13, 4, 300_000_000)], window=3)  # microseconds
    assert grown.items == (12, 11, 13) and grown.times == (150, 200, 300) and grown.interactions == 4
    assert grown.since(160) == [(11, 2.0), (13, 4.0)]
    assert grown.version == 300_000_000 and grown.row()["event_timestamp"] == datetime.fromtimestamp(300, tz=UTC)
    late = grown.append([(14, 1, 250_000_000)], window=3)  # older than the row: a newer version all the same
    assert late.items == (11, 14, 13) and late.version == 300_000_001


def test_the_answer_kind_answers_refuses_and_summarizes_feedback(fitted):
    from serving.kinds import kind_for

    kind = kind_for({"kind": "recommendations", "recommendation": {"max_k": 20}})
    answer = kind.answer(OnlineRecommender(fitted[0], None, 0), kind.Request(user_id=4, k=5))
    response = kind.respond([11], answer, "3")
    assert response.id == 11 and len(response.items) == 5 and response.history == 0
    assert answer.records == [{"user_id": 4, "k": 5, "history": 0, "fresh": 0}]
    for body in ({"user_id": -1, "k": 5}, {"user_id": 4, "k": 21}, {"user_id": "4", "k": 5}):
        with pytest.raises(ValueError):
            kind.Request(**body)
    played = [item["item_id"] for item in answer.logged[0][:2]]
    summary = kind.feedback_summary([[*played, -5, -6]], [answer.logged[0]])
    assert summary == {"measure": "hit_rate_of_served_recommendations", "rows": 1, "value": 0.5}
    columns = kind.describe(pd.DataFrame(answer.records), answer.logged)
    assert list(columns) == ["k", "history", "prediction_top_score"]


def test_the_served_config_is_the_pipelines_for_the_same_stores(tmp_path):
    import dataclasses

    from pipeline.features import feast_config
    from s2p.paths import Stores

    for registry, online in (
        (tmp_path / "registry.db", tmp_path / "online.db"),
        ("postgresql://u:p@db/feast", "redis://:secret@cache:6380/2"),
    ):
        stores = dataclasses.replace(Stores.from_env(), feast_registry=registry, feast_online_store=online)
        theirs = feast_config(stores)
        ours = repo_config(theirs["project"], str(registry), str(online))
        assert ours["registry"] == theirs["registry"] and ours["online_store"] == theirs["online_store"]


# -- end to end: Feast on a real redis-server -------------------------------------------------------
@pytest.mark.slow
def test_a_pushed_event_is_read_at_once_from_redis_and_changes_the_answer(fitted, tmp_path, redis_url):  # noqa: F811
    """The user features materialized to Redis, then events pushed through the push source: each is
    visible to the next read and changes the recommendation. Read p99 and freshness are printed as
    figures (no timed assertion)."""
    ours, _ = fitted
    histories = [
        UserHistory(u, tuple(map(int, ours.user_items_[u].indices[:3])), (1,) * 3, (900,) * 3, 3, 900 * 10**6)
        for u in range(50)
    ]
    source = tmp_path / "users.parquet"
    pd.DataFrame([h.row() for h in histories]).to_parquet(source)
    features = UserFeatureStore("s2p_test", "recommender_redis", str(tmp_path / "registry.db"), redis_url)
    store = features.store()
    store.apply(list(feature_objects(features.name, str(source))))
    store.materialize(start_date=datetime(1969, 1, 1, tzinfo=UTC), end_date=datetime(1971, 1, 1, tzinfo=UTC))
    assert features.read([0, 1])[1] == histories[1] and features.read([999]) == [UserHistory.empty(999)]
    served = OnlineRecommender(ours, features, trained_until=1_000)
    before = served.recommend_user(2, 10)
    reads = []
    for user in range(200):
        started = time.perf_counter()
        features.read([user % 50])
        reads.append(time.perf_counter() - started)
    lags = []
    for step in range(30):
        item = int(before.items[step % 10])
        started = time.perf_counter()
        now = pd.Timestamp.now(tz="UTC")
        features.apply_events(pd.DataFrame({"user_id": [2], "item_id": [item], "plays": [2], "event_timestamp": [now]}))
        assert features.read([2])[0].items[-1] == item  # the very next read sees it
        lags.append(time.perf_counter() - started)
    after = served.recommend_user(2, 10)
    assert after.fresh == 30 and after.history == 33 and after.items != before.items
    assert not set(after.items) & set(before.items[:10])  # what was just played is not recommended again
    p50, p99 = np.percentile(reads, [50, 99]) * 1e3
    f50, f99 = np.percentile(lags, [50, 99]) * 1e3
    print(f"\nredis read p50 {p50:.2f} ms p99 {p99:.2f} ms; push-to-read freshness p50 {f50:.2f} ms p99 {f99:.2f} ms")
