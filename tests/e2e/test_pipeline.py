"""End to end on the real stack: Prefect flow -> MLflow registry -> bento -> `bentoml serve` -> Evidently."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from pipeline.context import load_context
from scheduler.executor import StepsFailed
from serving.inference_log import InferenceLog
from tests.conftest import ROOT, served

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_run():
    from flows.deliverable import deliverable_flow

    return deliverable_flow("linear_regression")


def test_flow_runs_every_step_and_reports_one_json_object(first_run):
    summary = first_run
    assert set(summary["steps"].values()) == {"completed"}
    ours, reference = summary["metrics"]["ours"], summary["metrics"]["reference"]
    assert set(ours) == set(reference) == {"rmse", "mae", "r2"}
    assert ours["rmse"] == pytest.approx(reference["rmse"], rel=1e-3)
    assert summary["validation"] == {"passed": True, "failures": []}
    mlflow = summary["mlflow"]
    assert mlflow["promoted"] and mlflow["version"] == mlflow["champion_version"] == "1"
    assert mlflow["reason"].startswith("first version")
    assert summary["bento"]["tag"].startswith("linear_regression:")
    for key in ("dataset", "training_set", "model", "metrics", "registry_decision", "bento"):
        assert os.path.exists(summary["paths"][key]), key
    assert json.loads(Path(summary["paths"]["summary"]).read_text())["mlflow"]["version"] == "1"


def test_registry_holds_the_champion_and_the_logged_run(first_run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    champion = client.get_model_version_by_alias("linear_regression", "champion")
    assert str(champion.version) == "1" and champion.tags["promoted"] == "True"
    run = client.get_run(champion.run_id)
    assert run.data.metrics["ours_rmse"] == pytest.approx(first_run["metrics"]["ours"]["rmse"])
    assert "reference_rmse" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {"plots/loss_curve.png", "plots/residuals.png"}


def test_a_rerun_that_is_not_better_leaves_the_champion_and_says_why(first_run):
    from flows.deliverable import deliverable_flow

    second = deliverable_flow("linear_regression")
    assert second["mlflow"]["version"] == "2"
    assert second["mlflow"]["promoted"] is False
    assert second["mlflow"]["champion_version"] == "1"
    assert "does not beat champion v1" in second["mlflow"]["reason"]
    assert second["bento"] == {"tag": first_run["bento"]["tag"], "reused": True}


def test_bad_user_data_stops_the_flow_before_features(first_run, tmp_path):
    from flows.deliverable import deliverable_flow

    data = tmp_path / "patients.csv"
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80), "y": rng.normal(size=80)})
    frame.loc[:9, "b"] = np.inf
    frame.to_csv(data, index=False)
    with pytest.raises(StepsFailed) as caught:
        deliverable_flow("linear_regression", data=str(data), target="y")
    assert "expect_column_values_to_be_between on b: 10 unexpected" in str(caught.value.first_error)
    ctx = load_context("linear_regression", data=data, target="y")
    failed = json.loads(ctx.paths.failed_run_summary.read_text())
    assert failed["steps"]["validate"] == "failed"
    assert {failed["steps"][s] for s in ("features", "train", "reference", "evaluate", "register", "package")} == {
        "skipped"
    }
    assert not ctx.paths.dataset.exists() and not ctx.paths.model.exists()


@pytest.fixture(scope="module")
def server(first_run):
    with served("linear_regression") as url:
        yield url


def training_rows(n: int, seed: int) -> list[dict]:
    ctx = load_context("linear_regression")
    frame = pd.read_parquet(ctx.paths.training_set)
    frame = frame[frame["split"] == "train"].sample(n, random_state=seed)
    return frame[ctx.deliverable.feature_names].to_dict(orient="records")


def logged_rows() -> int:
    log = InferenceLog(load_context("linear_regression").stores.inference_db)
    try:
        return log.count("linear_regression")
    finally:
        log.close()


def test_served_model_answers_http_and_logs_each_prediction(server, first_run):
    import pickle

    rows = training_rows(3, seed=0)
    before = logged_rows()
    response = httpx.post(f"{server}/predict", json={"rows": rows}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    with open(first_run["paths"]["model"], "rb") as handle:
        model = pickle.load(handle)
    expected = model.predict(pd.DataFrame(rows).to_numpy())
    assert [item["prediction"] for item in body] == pytest.approx(list(expected), rel=1e-9)
    assert {item["model_version"] for item in body} == {"1"}
    assert logged_rows() == before + 3


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"rows": [{"age": "old"}]}, "age"),
        ({"rows": []}, "at least 1 item"),
        ({"rows": [{"age": 50.0}]}, "Field required"),
        ({"wrong": 1}, "rows"),
    ],
)
def test_malformed_bodies_get_a_4xx_naming_the_problem_and_no_log_rows(server, body, problem):
    before = logged_rows()
    response = httpx.post(f"{server}/predict", json=body, timeout=10)
    assert 400 <= response.status_code < 500
    assert problem in response.text
    bad_json = httpx.post(f"{server}/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= bad_json.status_code < 500
    assert logged_rows() == before
    assert httpx.get(f"{server}/readyz").status_code == 200  # still serving


def monitor(window: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "s2p.cli", "monitor", "linear_regression", "--json", "--window", str(window)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_monitor_finds_no_drift_on_training_like_traffic_and_drift_on_shifted_traffic(server):
    normal = training_rows(120, seed=1)
    assert httpx.post(f"{server}/predict", json={"rows": normal}, timeout=30).status_code == 200
    calm = monitor(window=120)
    assert calm["drift_detected"] is False and calm["current_rows"] == 120
    assert os.path.getsize(calm["html"]) > 0 and json.loads(Path(calm["json"]).read_text())

    shift = {"age": 15.0, "bmi": 8.0, "bp": 25.0, "s1": 60.0, "s2": 50.0, "s5": 1.0, "s6": 25.0}
    shifted = [{k: v + shift.get(k, 0.0) for k, v in row.items()} for row in training_rows(120, seed=2)]
    assert httpx.post(f"{server}/predict", json={"rows": shifted}, timeout=30).status_code == 200
    drifted = monitor(window=120)
    assert drifted["drift_detected"] is True
    assert set(shift) <= set(drifted["drifted_columns"])
    assert drifted["drifted_share"] >= 0.5


def test_cli_exits_non_zero_with_the_validation_report_on_bad_data(tmp_path):
    data = tmp_path / "ages.csv"
    frame = pd.DataFrame({"age": np.arange(60.0), "weight": np.linspace(50, 90, 60), "y": np.arange(60.0)})
    frame.loc[:4, "weight"] = np.nan
    frame.to_csv(data, index=False)
    result = subprocess.run(
        [sys.executable, "-m", "s2p.cli", "run", "linear_regression", "--data", str(data), "--target", "y"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "expect_column_values_to_not_be_null on weight: 5 unexpected" in result.stderr
    assert "s2p: error: validation failed" in result.stderr


def test_the_syllabus_flow_runs_a_phase_and_publishes_its_report(first_run):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.deliverable import syllabus_flow

    summaries = syllabus_flow(selection="1")
    assert list(summaries) == ["linear_regression"]
    assert set(summaries["linear_regression"]["steps"].values()) == {"completed"}
    with get_client(sync_client=True) as client:
        steps = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["syllabus-1-steps"])))
        dag = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["syllabus-1-dag"])))
    rows = json.loads(steps[0].data) if isinstance(steps[0].data, str) else steps[0].data
    assert {row["step"] for row in rows} >= {"linear_regression.etl", "linear_regression.package"}
    assert {row["state"] for row in rows} == {"completed"}
    assert "graph TD" in dag[0].data and "linear_regression.train" in dag[0].data
