"""The interactions recipe's steps: an interaction log -> its validation -> user features in Feast ->
implicit-feedback models -> leave-last-out evaluation.

    ingest     the declaration's users, items and events (``source(size)``) to candidate files
    validate   Great Expectations on what interaction logs get wrong: unknown user or item ids,
               plays below 1, duplicate events (an event id twice, or the same user, item and time
               under two ids), timestamps in the future, a user without events to learn from; on
               success the events become the dataset, on failure the last good one stays
    features   each user's last event held out (leave-last-out, the ``split`` column of the training
               set); each user's recent history from the training events into Feast: the offline
               source (a parquet file), the feature view fed by a push source, materialized to the
               online store and read back; the request-like rows the drift monitor compares with
    train      ours and the reference on the same plays matrix, each wrapped with the user features'
               locations as the served model (models/sd/recommender/model.py ``OnlineRecommender``)
    evaluate   recall@10 and nDCG@10 of both, and nDCG's lift over the popularity baseline

Register and package are the shared steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from pipeline.context import RunContext
from pipeline.evaluate import Evaluation, record_evaluation
from pipeline.train import TrainResult, fit_timed, seed_everything, side
from pipeline.validate import ValidationReport, accept_candidate, check_frame
from s2p.files import read_json, read_pickle, write_json, write_parquet, write_pickle
from s2p.imports import import_object
from s2p.paths import RunPaths

#: The most plays one event may carry: more is a broken counter, not a listener.
MAX_PLAYS = 10_000
EVENT_COLUMNS = ["event_id", "user_id", "item_id", "plays", "event_timestamp"]
#: What a request asks when the monitor's reference rows are written (the kind's default k).
REFERENCE_K = 10


@dataclass(frozen=True)
class InteractionsResult:
    users: int
    items: int
    events: int
    source: str

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.events:,} events of {self.users:,} users on {self.items:,} items from {self.source}"


@dataclass(frozen=True)
class UserFeaturesResult:
    feature_view: str
    push_source: str
    materialized_rows: int  # users whose history went to the online store
    training_events: int
    held_out_events: int
    read_back: int  # users whose online row was read back and compared with the offline one

    def to_dict(self) -> dict:
        return asdict(self)


def _candidates(ctx: RunContext) -> dict[str, Path]:
    return {name: ctx.paths.data / f"candidate_{name}.parquet" for name in ("events", "users", "items")}


def user_features_path(paths: RunPaths) -> Path:
    """Feast's offline source of the user features (written by the features step)."""
    return paths.data / "user_features.parquet"


def ingest_interactions(ctx: RunContext) -> InteractionsResult:
    d = ctx.deliverable
    log = import_object(d.source)(ctx.params.size)
    candidates = _candidates(ctx)
    for name, frame in (("events", log.events), ("users", log.users), ("items", log.items)):
        write_parquet(candidates[name], frame)
    return InteractionsResult(len(log.users), len(log.items), len(log.events), d.source)


def event_expectations(users: list[int], items: list[int], min_rows: int) -> list:
    import great_expectations.expectations as E

    future = {"why": "an event timestamped after the validation ran: a clock or a time zone is wrong"}
    copies = {"why": "one event delivered twice under two ids (an at-least-once stream's retry)"}
    return [
        E.ExpectTableRowCountToBeBetween(min_value=min_rows),
        E.ExpectColumnValuesToBeUnique(column="event_id", meta={"why": "an event id delivered twice"}),
        E.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "item_id", "event_timestamp"], meta=copies),
        *[E.ExpectColumnValuesToNotBeNull(column=column) for column in EVENT_COLUMNS],
        E.ExpectColumnValuesToBeInSet(column="user_id", value_set=users, meta={"why": "a user id not in users"}),
        E.ExpectColumnValuesToBeInSet(column="item_id", value_set=items, meta={"why": "an item id not in items"}),
        E.ExpectColumnValuesToBeBetween(column="plays", min_value=1, max_value=MAX_PLAYS),
        E.ExpectColumnValuesToBeBetween(column="seconds_in_future", min_value=0, max_value=0, meta=future),
    ]


def user_expectations() -> list:
    import great_expectations.expectations as E

    held_out = {"why": "a user with fewer than 2 events: leave-last-out holds one out and learns from the rest"}
    return [
        E.ExpectColumnValuesToBeUnique(column="user_id"),
        E.ExpectColumnValuesToBeBetween(column="events", min_value=2, meta=held_out),
    ]


def item_expectations() -> list:
    import great_expectations.expectations as E

    return [E.ExpectColumnValuesToBeUnique(column="item_id"), E.ExpectColumnValuesToNotBeNull(column="item_id")]


def check_interactions(
    events: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame, name: str, min_rows: int, now: datetime
) -> ValidationReport:
    """Every expectation on the three tables, as one report."""
    timestamps = pd.to_datetime(events["event_timestamp"], utc=True)
    ahead = ((timestamps - pd.Timestamp(now)).dt.total_seconds()).clip(lower=0)
    checked_events = events.assign(seconds_in_future=ahead)
    per_user = events.groupby("user_id").size()
    user_stats = users[["user_id"]].assign(events=users["user_id"].map(per_user).fillna(0).astype(int))
    known_users = sorted(int(user) for user in users["user_id"].unique())
    known_items = sorted(int(item) for item in items["item_id"].unique())
    reports = [
        check_frame(checked_events, f"{name}-events", event_expectations(known_users, known_items, min_rows)),
        check_frame(user_stats, f"{name}-users", user_expectations()),
        check_frame(items[["item_id"]], f"{name}-items", item_expectations()),
    ]
    return ValidationReport(
        passed=all(report.passed for report in reports),
        rows=reports[0].rows,
        expectations=sum(report.expectations for report in reports),
        failures=[failure for report in reports for failure in report.failures],
    )


def validate_interactions(ctx: RunContext) -> ValidationReport:
    candidates = _candidates(ctx)
    events, users, items = (pd.read_parquet(candidates[name]) for name in ("events", "users", "items"))
    report = check_interactions(events, users, items, ctx.deliverable.id, ctx.deliverable.min_rows, datetime.now(UTC))
    rejected = ctx.paths.data / "rejected_events.parquet"
    accept_candidate(ctx, report, candidates["events"], ctx.paths.dataset, rejected)
    for name in ("users", "items"):  # read by validation alone: the events carry every id downstream
        candidates[name].unlink(missing_ok=True)
    return report


def user_histories(events: pd.DataFrame, window: int):
    """Each user's history as the online store holds it (models/sd/recommender/online.py UserHistory)."""
    from models.sd.recommender.online import UserHistory, epoch_micros

    ordered = events.sort_values(["user_id", "event_timestamp", "event_id"])
    micros = epoch_micros(ordered["event_timestamp"])
    ordered = ordered.assign(seconds=micros // 1_000_000, micros=micros)
    histories = []
    for user, group in ordered.groupby("user_id", sort=True):
        recent = group.tail(window)
        histories.append(
            UserHistory(
                int(user),
                tuple(recent["item_id"].astype(int)),
                tuple(recent["plays"].astype(int)),
                tuple(recent["seconds"].astype(int)),
                len(group),
                int(group["micros"].iloc[-1]),  # the row's version: its newest event
            )
        )
    return histories


def feature_store(ctx: RunContext):
    """Where the served model reads its user features: this run's view in the project's Feast stores
    (passwords left out: the service's S2P_FEAST_* variables carry them)."""
    from models.sd.recommender.online import WINDOW, UserFeatureStore
    from pipeline.features import feast_config
    from s2p.backends import hidden_password

    stores = ctx.stores
    return UserFeatureStore(
        project=feast_config(stores)["project"],
        name=ctx.run_key,
        registry=hidden_password(str(stores.feast_registry)),
        online_store=hidden_password(str(stores.feast_online_store)),
        window=WINDOW,
    )


def build_user_features(ctx: RunContext) -> UserFeaturesResult:
    import contextlib
    import sys

    from models.sd.recommender.metrics import leave_last_out
    from models.sd.recommender.online import feature_objects
    from pipeline.features import open_store, registry_lock

    events = pd.read_parquet(ctx.paths.dataset)
    training_set = events.assign(split=leave_last_out(events))
    write_parquet(ctx.paths.training_set, training_set)
    train = training_set[training_set["split"] == "train"]
    source = feature_store(ctx)
    histories = user_histories(train, source.window)
    offline = pd.DataFrame([history.row() for history in histories])
    write_parquet(user_features_path(ctx.paths), offline)
    entity, push, view = feature_objects(ctx.run_key, str(user_features_path(ctx.paths)), source.window)
    start = offline["event_timestamp"].min().to_pydatetime()
    end = offline["event_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    with registry_lock(ctx.stores):  # one run at a time applies and materializes (pipeline/features.py)
        store = open_store(ctx.stores)
        store.apply([entity, push, view])
        with contextlib.redirect_stdout(sys.stderr):  # Feast prints progress; stdout stays for results
            store.materialize(start_date=start, end_date=end, feature_views=[view.name])
    sample = histories[:: max(1, len(histories) // 50)]
    online = source.read([history.user_id for history in sample])
    wrong = [h.user_id for h, o in zip(sample, online, strict=True) if h != o]
    if wrong:
        raise RuntimeError(f"Feast's online store holds other features than materialized for users {wrong[:10]}")
    requests = pd.DataFrame(
        {"user_id": [h.user_id for h in histories], "k": REFERENCE_K, "history": [len(h.items) for h in histories]}
    )
    write_parquet(ctx.paths.reference_requests, requests)  # what the monitor compares served requests with
    return UserFeaturesResult(
        view.name, push.name, len(histories), len(train), int((training_set["split"] == "test").sum()), len(sample)
    )


def _fit(ctx: RunContext, who: str) -> TrainResult:
    from models.sd.recommender.metrics import training_plays
    from models.sd.recommender.model import OnlineRecommender
    from models.sd.recommender.online import epoch_seconds

    seed_everything(ctx.params.seed, uses_torch=False)
    training_set = pd.read_parquet(ctx.paths.training_set)
    plays = training_plays(training_set)
    chosen = side(ctx, who)
    estimator, elapsed = fit_timed(ctx, chosen, lambda model: model.fit(plays))
    trained_until = int(epoch_seconds(training_set.loc[training_set["split"] == "train", "event_timestamp"]).max())
    write_pickle(chosen.pickle_path, OnlineRecommender(estimator, feature_store(ctx), trained_until))
    history = [float(loss) for loss in getattr(estimator, "loss_history_", [])]
    iterations = int(getattr(estimator, "iterations", 1))
    rate = plays.nnz * iterations / elapsed if elapsed else None  # interactions x iterations per second
    result = TrainResult(
        chosen.import_path, "cpu", elapsed, iterations, 0, history[-1] if history else None, history, rate
    )
    write_json(chosen.report, result.to_dict())
    return result


def train_recommender(ctx: RunContext) -> TrainResult:
    return _fit(ctx, "ours")


def fit_reference_recommender(ctx: RunContext) -> TrainResult:
    return _fit(ctx, "reference")


def evaluate_recommenders(ctx: RunContext) -> Evaluation:
    from models.sd.recommender.metrics import Popularity, evaluate, training_plays
    from pipeline.plots import PlotData, draw

    d, paths = ctx.deliverable, ctx.paths
    training_set = pd.read_parquet(paths.training_set)
    models = {"ours": read_pickle(paths.model).model, "reference": read_pickle(paths.reference_model).model}
    every = {name: evaluate(model, training_set, k=10) for name, model in models.items()}
    every["popularity"] = evaluate(Popularity().fit(training_plays(training_set)), training_set, k=10)
    baseline = every["popularity"]["ndcg_at_10"]
    for name in models:
        every[name]["ndcg_lift_over_popularity"] = every[name]["ndcg_at_10"] / baseline if baseline else float("inf")
    scores = {name: {metric: float(every[name][metric]) for metric in d.metrics} for name in models}
    reports = {"ours": read_json(paths.training_report), "reference": read_json(paths.reference_report)}
    test = training_set[training_set["split"] == "test"]
    data = PlotData(d, None, None, test, None, models, every, reports["ours"]["loss_history"], ctx.params.seed, reports)
    return record_evaluation(ctx, scores, len(test), draw(d.plots, data, paths.plots))
