"""One real library each: the Feast store, and training with checkpoints that a rerun resumes."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from models.phase1.linear_regression.model import LinearRegression
from pipeline.context import make_context
from pipeline.etl import run_etl
from pipeline.features import open_store, run_features
from pipeline.train import fit_epochs, train_model
from pipeline.validate import run_validate
from s2p import catalog
from s2p.config import DeliverableParams

LR = catalog.get("linear_regression")


@pytest.fixture
def prepared(stores):
    ctx = make_context(
        LR, DeliverableParams(size=120, checkpoint_every=10, model={"solver": "gd", "learning_rate": 0.2}), stores
    )
    run_etl(ctx)
    run_validate(ctx)
    return ctx


def test_feast_training_set_equals_the_dataset_and_the_online_store_serves_it(prepared):
    result = run_features(prepared)
    dataset = pd.read_parquet(prepared.paths.dataset)
    training = pd.read_parquet(prepared.paths.training_set)
    assert result.training_rows == len(dataset) == 120
    pd.testing.assert_frame_equal(
        training[LR.feature_names].reset_index(drop=True), dataset[LR.feature_names].reset_index(drop=True)
    )
    store = open_store(prepared.stores)
    assert [view.name for view in store.list_feature_views()] == ["linear_regression"]
    first = dataset.iloc[0]
    online = store.get_online_features(
        features=["linear_regression:bmi", "linear_regression:s5"], entity_rows=[{"entity_id": int(first["entity_id"])}]
    ).to_dict()
    assert online["bmi"] == [pytest.approx(first["bmi"])] and online["s5"] == [pytest.approx(first["s5"])]


def test_training_resumes_from_its_checkpoint_after_a_crash(prepared, monkeypatch):
    run_features(prepared)
    X = np.random.default_rng(0).normal(size=(80, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    checkpoint = prepared.paths.checkpoint
    crashing = LinearRegression(solver="gd", learning_rate=0.2, max_epochs=300, tol=0.0, random_state=0)
    original = LinearRegression._run_epoch

    def crash_at_epoch_55(self, X, y, rng):
        if len(self.loss_history_) == 55:
            raise KeyboardInterrupt("killed")
        return original(self, X, y, rng)

    monkeypatch.setattr(LinearRegression, "_run_epoch", crash_at_epoch_55)
    with pytest.raises(KeyboardInterrupt):
        fit_epochs(crashing, X, y, checkpoint=checkpoint, every=10, progress=False)
    assert checkpoint.exists()
    monkeypatch.setattr(LinearRegression, "_run_epoch", original)

    fresh = LinearRegression(solver="gd", learning_rate=0.2, max_epochs=300, tol=0.0, random_state=0)
    resumed, start = fit_epochs(fresh, X, y, checkpoint=checkpoint, every=10, progress=False)
    assert start == 50
    straight = LinearRegression(solver="gd", learning_rate=0.2, max_epochs=300, tol=0.0, random_state=0).fit(X, y)
    np.testing.assert_array_equal(resumed.coef_, straight.coef_)
    assert resumed.n_epochs_ == straight.n_epochs_ > 55

    other = LinearRegression(solver="gd", learning_rate=0.1, max_epochs=300, tol=0.0, random_state=0)
    _, start = fit_epochs(other, X, y, checkpoint=checkpoint, every=10, progress=False)
    assert start == 0  # a checkpoint of another job (other hyperparameters) is not resumed


def test_train_step_writes_model_and_report_and_removes_the_checkpoint(prepared):
    run_features(prepared)
    result = train_model(prepared, progress=False)
    assert result.device == "cpu" and result.epochs > 1 and result.loss_history[-1] < result.loss_history[0]
    assert prepared.paths.model.exists() and not prepared.paths.checkpoint.exists()


def test_an_inference_log_of_the_first_schema_is_migrated_in_place(tmp_path):
    import sqlite3

    from serving.inference_log import InferenceLog

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE predictions (id INTEGER PRIMARY KEY AUTOINCREMENT, deliverable TEXT NOT NULL, "
        "model_version TEXT NOT NULL, ts REAL NOT NULL, latency_ms REAL NOT NULL, features TEXT NOT NULL, "
        "prediction TEXT NOT NULL)"
    )
    old.execute("INSERT INTO predictions VALUES (1, 'd', '1', 0.0, 1.0, ?, '2.0')", ('{"x": 1.0}',))
    old.commit()
    old.close()
    log = InferenceLog(path)
    (new_id,) = log.append("d", "2", [{"x": 3.0}], [4.0], 1.0)
    assert log.add_labels("d", {1: 2.5, new_id: 4.5}) == 2
    frame = log.recent("d", 10)
    assert list(frame["role"]) == ["champion", "champion"] and list(frame["label"]) == [2.5, 4.5]
    log.close()


def test_the_same_seed_twice_gives_identical_metrics_and_model_bytes(tmp_path):
    import hashlib

    from pipeline.evaluate import run_evaluate
    from pipeline.train import fit_reference
    from s2p.files import read_json
    from s2p.paths import Stores
    from tests.conftest import ROOT

    outputs = []
    for attempt in ("first", "second"):
        base = tmp_path / attempt
        stores = Stores.from_env(ROOT)
        stores = dataclasses.replace(
            stores,
            data=base / "data",
            artifacts=base / "artifacts",
            feast_registry=base / "registry.db",
            feast_online_store=base / "online.db",
        )
        ctx = make_context(LR, DeliverableParams(seed=7, model={"solver": "minibatch", "max_epochs": 50}), stores)
        run_etl(ctx)
        run_validate(ctx)
        run_features(ctx)
        train_model(ctx, progress=False)
        fit_reference(ctx)
        run_evaluate(ctx)
        metrics = read_json(ctx.paths.metrics)
        outputs.append(
            (metrics["ours"], metrics["reference"], hashlib.sha256(ctx.paths.model.read_bytes()).hexdigest())
        )
    assert outputs[0] == outputs[1]


def test_processes_opening_a_new_mlflow_database_at_once_do_not_collide(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "from s2p.paths import Stores; from pipeline.registry import mlflow_client; "
        "mlflow_client(Stores.from_env()).search_experiments(); print('ok')"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'fresh.db'}"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0 and out.strip() == "ok", err[-2000:]


def test_features_of_many_deliverables_at_once_keep_every_view(stores):
    """Feast rewrites its file registry whole: concurrent applies once lost views and read torn files."""
    from concurrent.futures import ThreadPoolExecutor

    chosen = ["linear_regression", "kmeans", "pca", "naive_bayes"]
    contexts = [make_context(catalog.get(d), DeliverableParams(size=100), stores) for d in chosen]
    for ctx in contexts:
        run_etl(ctx)
        run_validate(ctx)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run_features, contexts))
    assert [r.training_rows for r in results] == [100] * 4
    assert sorted(view.name for view in open_store(stores).list_feature_views()) == sorted(chosen)
