"""Recommender benchmark: training throughput of our ALS against implicit, and the online feature
store's read latency and freshness, Redis against SQLite, in the same run.

    .venv/bin/python benchmarks/bench_recommender.py [--size smoke|default|full] [--reads N] [--pushes N]

Training: the same plays matrix (the generated log's training events), factors, regularization,
alpha, iterations and seed; ours (NumPy), implicit with its exact Cholesky solver (the oracle's
setting) and implicit's default conjugate gradient, each single-threaded (BLAS and implicit's own
threads at 1), in alternating order; interactions x iterations per second, and recall@10 / nDCG@10
leave-last-out beside the popularity baseline.
Online store: the users' histories materialized into a real redis-server (started here on a free
port, stopped at the end) and into Feast's SQLite store; ``--reads`` single-user reads alternating
between the two (p50/p99 ms); ``--pushes`` events pushed through the push source and read back
(push -> visible to the next read: freshness p50/p99 ms); and the served answer (read + fold-in +
ranking) p50/p99. Targets (issue 15): read p99 <= 5 ms, freshness <= 1 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.sd.recommender.data import interactions
from models.sd.recommender.metrics import Popularity, evaluate, leave_last_out
from models.sd.recommender.model import ImplicitALS, OnlineRecommender, interaction_matrix
from models.sd.recommender.online import UserFeatureStore, feature_objects
from models.sd.recommender.reference import ImplicitReference
from pipeline.interactions import user_histories

SIZES = {"smoke": 600, "default": 6_000, "full": 60_000}  # users
HYPERPARAMETERS = {"factors": 16, "regularization": 0.1, "alpha": 10.0, "iterations": 10, "random_state": 42}


def percentiles(seconds: list[float]) -> str:
    p50, p99 = np.percentile(np.asarray(seconds) * 1e3, [50, 99])
    return f"p50 {p50:7.3f} ms  p99 {p99:7.3f} ms"


def train(plays, events: pd.DataFrame, repeats: int) -> dict:
    from threadpoolctl import threadpool_limits

    peers = {
        "ours (NumPy)": lambda: ImplicitALS(**HYPERPARAMETERS),
        "implicit exact": lambda: ImplicitReference(**HYPERPARAMETERS, use_cg=False, num_threads=1),
        "implicit cg": lambda: ImplicitReference(**HYPERPARAMETERS, use_cg=True, num_threads=1),
    }
    seconds: dict[str, list[float]] = {name: [] for name in peers}
    fitted = {}
    with threadpool_limits(1, "blas"):
        for repeat in range(repeats):
            for name in list(peers) if repeat % 2 == 0 else list(peers)[::-1]:
                started = time.perf_counter()
                fitted[name] = peers[name]().fit(plays)
                seconds[name].append(time.perf_counter() - started)
    work = plays.nnz * HYPERPARAMETERS["iterations"]
    base = min(seconds["implicit exact"])
    print(
        f"training: {plays.shape[0]:,} users x {plays.shape[1]:,} items, {plays.nnz:,} interactions, best of {repeats}"
    )
    for name, times in seconds.items():
        scores = evaluate(fitted[name], events)
        print(
            f"  {name:15s} {min(times):7.3f} s  {work / min(times):>12,.0f} interactions x iterations/s  "
            f"ratio to implicit exact {min(times) / base:5.2f}  recall@10 {scores['recall_at_10']:.4f}  "
            f"nDCG@10 {scores['ndcg_at_10']:.4f}"
        )
    popular = evaluate(Popularity().fit(plays), events)
    print(f"  {'popularity':15s} recall@10 {popular['recall_at_10']:.4f}  nDCG@10 {popular['ndcg_at_10']:.4f}")
    return fitted


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    import redis

    from tests.conftest import free_port

    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            if redis.Redis.from_url(url, socket_connect_timeout=1).ping():
                return process, url
        except redis.ConnectionError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"redis-server did not answer at {url}")


def online_stores(folder: Path, redis_url: str, rows: pd.DataFrame) -> dict[str, UserFeatureStore]:
    """The same feature view, materialized into Redis and into SQLite (a registry each)."""
    source = folder / "users.parquet"
    rows.to_parquet(source)
    stores = {
        "redis": UserFeatureStore("bench", "recommender", str(folder / "registry_redis.db"), redis_url),
        "sqlite": UserFeatureStore("bench", "recommender", str(folder / "registry_sqlite.db"), str(folder / "o.db")),
    }
    start = rows["event_timestamp"].min().to_pydatetime()
    end = datetime.now(UTC)
    for features in stores.values():
        store = features.store()
        store.apply(list(feature_objects(features.name, str(source))))
        store.materialize(start_date=start, end_date=end)
    return stores


def measure_online(stores: dict[str, UserFeatureStore], model, users: np.ndarray, reads: int, pushes: int) -> None:
    rng = np.random.default_rng(0)
    read_seconds: dict[str, list[float]] = {name: [] for name in stores}
    for step, user in enumerate(rng.choice(users, size=reads)):
        for name in list(stores) if step % 2 == 0 else list(stores)[::-1]:
            started = time.perf_counter()
            stores[name].read([int(user)])
            read_seconds[name].append(time.perf_counter() - started)
    print(f"online read of one user's features ({reads} reads each, interleaved):")
    for name, seconds in read_seconds.items():
        print(f"  {name:7s} {percentiles(seconds)}")
    ratio = np.percentile(read_seconds["sqlite"], 99) / np.percentile(read_seconds["redis"], 99)
    print(f"  p99 sqlite / redis: {ratio:.2f}")
    print(f"freshness: event pushed -> visible to the next read ({pushes} pushes each):")
    for name, features in stores.items():
        lags = []
        for step in range(pushes):
            user, item = int(rng.choice(users)), int(rng.integers(0, model.n_items_))
            event = pd.DataFrame(
                {"user_id": [user], "item_id": [item], "plays": [1], "event_timestamp": [pd.Timestamp.now(tz="UTC")]}
            )
            started = time.perf_counter()
            features.apply_events(event)
            while features.read([user])[0].items[-1] != item:  # poll until the write is visible
                if time.perf_counter() - started > 5:
                    raise RuntimeError(f"{name}: event {step} not visible after 5 s")
            lags.append(time.perf_counter() - started)
        print(f"  {name:7s} {percentiles(lags)}")
    served = OnlineRecommender(model, stores["redis"], trained_until=0)
    answers = []
    for user in rng.choice(users, size=min(reads, 500)):
        started = time.perf_counter()
        served.recommend_user(int(user), 10)
        answers.append(time.perf_counter() - started)
    print(f"served answer from Redis (read + fold-in of every event + top 10): {percentiles(answers)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--pushes", type=int, default=200)
    args = parser.parse_args()
    log = interactions(SIZES[args.size])
    events = log.events.assign(split=leave_last_out(log.events))
    train_events = events[events["split"] == "train"]
    shape = (len(log.users), len(log.items))
    plays = interaction_matrix(train_events["user_id"], train_events["item_id"], train_events["plays"], shape)
    fitted = train(plays, events, args.repeats)
    folder = Path(tempfile.mkdtemp(prefix="bench-recommender-"))
    redis_server, url = start_redis(folder)
    try:
        rows = pd.DataFrame([history.row() for history in user_histories(train_events, 50)])
        stores = online_stores(folder, url, rows)
        measure_online(stores, fitted["ours (NumPy)"], rows["user_id"].to_numpy(), args.reads, args.pushes)
    finally:
        redis_server.terminate()
        redis_server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
