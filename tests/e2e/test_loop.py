"""The production loop on the real stack: train -> serve -> shifted traffic over HTTP with delayed
labels -> monitoring finds drift -> retraining -> the champion changes (or stays, with the reason)
-> rollback restores the previous one. Then shadow and canary serving of a challenger."""

import concurrent.futures
import json
import subprocess
import sys

import httpx
import pandas as pd
import pytest

from pipeline.context import load_context
from serving.inference_log import InferenceLog
from tests.conftest import ROOT, served, store_variables

pytestmark = pytest.mark.slow
SHIFT = {"age": 15.0, "bmi": 8.0, "bp": 25.0, "s1": 60.0, "s2": 50.0, "s5": 1.0, "s6": 25.0}


@pytest.fixture(scope="module")
def loop_env(tmp_path_factory):
    """Stores of its own (registry, data, inference log), so this loop starts from nothing."""
    base = tmp_path_factory.mktemp("loop")
    with pytest.MonkeyPatch.context() as patch:
        for var, value in store_variables(base).items():
            patch.setenv(var, value)
        yield base


@pytest.fixture(scope="module")
def champion(loop_env):
    from flows.deliverable import deliverable_flow

    summary = deliverable_flow("linear_regression")
    assert summary["mlflow"]["champion_version"] == "1"
    return summary


@pytest.fixture(scope="module")
def server(champion):
    with served() as url:
        yield url


def rows(n: int, seed: int, shift: dict | None = None) -> list[dict]:
    ctx = load_context("linear_regression")
    frame = pd.read_parquet(ctx.paths.training_set)
    sample = frame[frame["split"] == "train"].sample(n, random_state=seed, replace=True)
    records = sample[ctx.deliverable.feature_names].to_dict(orient="records")
    return [{k: v + (shift or {}).get(k, 0.0) for k, v in record.items()} for record in records]


def log_count(role: str | None = None) -> int:
    log = InferenceLog(load_context("linear_regression").stores.inference_db)
    try:
        return log.count("linear_regression", role)
    finally:
        log.close()


def test_concurrent_requests_lose_no_log_rows_and_metrics_are_exposed(server):
    before = log_count()
    payloads = [{"rows": [row]} for row in rows(320, seed=0)]
    with httpx.Client(timeout=30) as client, concurrent.futures.ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda body: client.post(f"{server}/predict", json=body).status_code, payloads))
    assert statuses == [200] * 320
    assert log_count() == before + 320
    metrics = httpx.get(f"{server}/metrics", timeout=10).text
    assert "bentoml_service_request_total" in metrics and 'endpoint="/predict"' in metrics


def test_delayed_labels_come_back_through_feedback(server):
    answered = httpx.post(f"{server}/predict", json={"rows": rows(150, seed=1, shift=SHIFT)}, timeout=30).json()
    # the world changed: true values are now far above what the champion predicts
    labels = [{"id": item["id"], "label": min(item["prediction"] + 110.0, 399.0)} for item in answered]
    response = httpx.post(f"{server}/feedback", json={"labels": labels}, timeout=30)
    assert response.status_code == 200 and response.json() == {"labeled": 150}
    unknown = httpx.post(f"{server}/feedback", json={"labels": [{"id": 10**9, "label": 1.0}]}, timeout=10)
    assert unknown.status_code == 400 and "unknown prediction id" in unknown.text


def test_drift_triggers_a_gated_retraining_then_rollback_restores_the_previous_champion(server):
    from mlflow.tracking import MlflowClient

    from flows.lifecycle import monitor_flow

    result = monitor_flow("linear_regression", window=150)
    assert result["drift_detected"] and set(SHIFT) <= set(result["drifted_columns"])
    assert result["prediction_drift"] is True
    assert result["quality"]["degraded"] is True and result["quality"]["labeled_rows"] == 150
    retraining = result["retraining"]
    assert retraining["via"] == "direct"
    retrained = retraining["result"]
    assert retrained["retrain"]["new_rows"] == 150 and "drift" in retrained["retrain"]["reason"]
    mlflow = retrained["mlflow"]
    assert mlflow["version"] == "2" and mlflow["reason"]
    assert mlflow["promoted"] is True, mlflow["reason"]  # v1 scores badly on the new held-out rows

    client = MlflowClient()
    assert str(client.get_model_version_by_alias("linear_regression", "champion").version) == "2"
    history = json.loads(_s2p("history", "linear_regression", "--json").stdout)
    assert [(m["from_version"], m["to_version"]) for m in history] == [(None, "1"), ("1", "2")]
    assert history[1]["metrics"]["before"] > history[1]["metrics"]["after"] and history[1]["run_id"]

    rolled = _s2p("rollback", "linear_regression")
    assert rolled.returncode == 0, rolled.stderr[-2000:]
    assert "champion v2 -> v1" in rolled.stdout
    assert str(client.get_model_version_by_alias("linear_regression", "champion").version) == "1"
    history = json.loads(_s2p("history", "linear_regression", "--json").stdout)
    assert history[-1]["to_version"] == "1" and history[-1]["reason"].startswith("rollback from v2")
    bento = json.loads(load_context("linear_regression").paths.bento.read_text())
    assert bento["model_version"] == "1"


def _s2p(*args):
    return subprocess.run([sys.executable, "-m", "s2p.cli", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("mode", ["canary", "shadow"])
def test_a_challenger_in_canary_or_shadow_mode(mode, champion, tmp_path, monkeypatch):
    from pipeline.package import run_package

    params = tmp_path / "params.yaml"
    text = (ROOT / "params.yaml").read_text().replace("mode: single", f"mode: {mode}")
    params.write_text(text.replace("canary_fraction: 0.1", "canary_fraction: 0.5"))
    monkeypatch.setenv("S2P_PARAMS", str(params))
    info = run_package(load_context("linear_regression"))  # champion v1, challenger v2 (after the rollback)
    assert info.model_version == "1" and not info.reused
    before = {role: log_count(role) for role in ("champion", "canary", "shadow")}
    with served() as url:
        answers = [
            httpx.post(f"{url}/predict", json={"rows": rows(1, seed=i)}, timeout=10).json()[0] for i in range(60)
        ]
    versions = {item["model_version"] for item in answers}
    after = {role: log_count(role) for role in before}
    grown = {role: after[role] - before[role] for role in before}
    if mode == "canary":
        assert versions == {"1", "2"}  # both answer, about half each
        assert grown["champion"] + grown["canary"] == 60 and grown["canary"] > 10 and grown["shadow"] == 0
    else:
        assert versions == {"1"}  # only the champion answers
        assert grown == {"champion": 60, "canary": 0, "shadow": 60}
