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


GOOD_ROW = {
    "age": 50.0,
    "sex": 1.0,
    "bmi": 25.0,
    "bp": 90.0,
    "s1": 190.0,
    "s2": 115.0,
    "s3": 50.0,
    "s4": 4.0,
    "s5": 4.6,
    "s6": 90.0,
}


def body(**change) -> bytes:
    return json.dumps({"rows": [{**GOOD_ROW, **change}]}).encode()


JSON = {"content-type": "application/json"}
BAD_REQUESTS = {
    "invalid JSON": (b"{not json", JSON, 400, "json_invalid"),
    "binary body": (bytes(range(256)), JSON, 400, "json_invalid"),
    "truncated JSON": (body()[:-5], JSON, 400, "json_invalid"),
    "empty body": (b"", JSON, 400, "Field required"),
    "missing rows": (b'{"wrong": 1}', JSON, 400, "rows"),
    "rows not a list": (json.dumps({"rows": GOOD_ROW}).encode(), JSON, 400, "list_type"),
    "no rows": (b'{"rows": []}', JSON, 400, "at least 1 item"),
    "too many rows": (json.dumps({"rows": [GOOD_ROW] * 1001}).encode(), JSON, 400, "at most 1000 items"),
    "a row as a list": (b'{"rows": [[1, 2, 3]]}', JSON, 400, "model_type"),
    "a missing field": (json.dumps({"rows": [{"age": 50.0}]}).encode(), JSON, 400, "Field required"),
    "an extra field": (body(colour=1.0), JSON, 400, "extra_forbidden"),
    "a string value": (body(age="old"), JSON, 400, "float_type"),
    "a numeric string": (body(age="50"), JSON, 400, "float_type"),
    "a boolean": (body(sex=True), JSON, 400, "float_type"),
    "null": (body(bmi=None), JSON, 400, "float_type"),
    "a nested object": (body(bp={"value": 90}), JSON, 400, "float_type"),
    "NaN": (body().replace(b"50.0", b"NaN", 1), JSON, 400, "finite_number"),
    "Infinity": (body().replace(b"50.0", b"Infinity", 1), JSON, 400, "finite_number"),
    "an overflowing number": (body().replace(b"50.0", b"1e400", 1), JSON, 400, "finite_number"),
    "a huge number": (body(s1=1e300), JSON, 400, "less_than_equal"),
    "out of range": (body(age=500.0), JSON, 400, "less_than_equal"),
    "deep nesting": (b"[" * 100_000 + b"]" * 100_000, JSON, 400, "recursion limit"),
    "wrong content type": (body(), {"content-type": "text/plain"}, 415, "content-type must be application/json"),
    "form content type": (b"age=50", {"content-type": "application/x-www-form-urlencoded"}, 415, "content-type"),
    "oversized body": (json.dumps({"rows": [GOOD_ROW] * 20_000}).encode(), JSON, 413, "the limit is"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_requests_get_a_4xx_naming_the_problem_and_leave_no_log_rows(server, case):
    content, headers, status, problem = BAD_REQUESTS[case]
    before = logged_rows()
    response = httpx.post(f"{server}/predict", content=content, headers=headers, timeout=30)
    assert response.status_code == status, response.text[:500]
    assert problem in response.text
    assert logged_rows() == before
    assert httpx.post(f"{server}/predict", content=body(), headers=JSON, timeout=10).status_code == 200


def test_other_methods_and_paths_are_refused(server):
    assert httpx.get(f"{server}/predict").status_code == 405
    assert httpx.post(f"{server}/nowhere", content=body(), headers=JSON).status_code == 404
    chunked = httpx.post(f"{server}/predict", content=iter([body()]), headers=JSON)  # no Content-Length
    assert chunked.status_code == 411


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
