"""Deployments against a real `prefect server start`: listed with their schedules and typed form,
and a run created the way the UI's Run button does it completes with the parameters given."""

import os
import sys
import time

import httpx
import pandas as pd
import pytest

from tests.conftest import start, stop, store_variables, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployed(prefect_api, tmp_path_factory):
    base = tmp_path_factory.mktemp("deployed")
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_HOME": str(base / "prefect-client"),
        **store_variables(base),
    }
    runner = start([sys.executable, "-m", "s2p.cli", "deploy"], env, base / "deploy.log")
    try:
        yield prefect_api, base
    finally:
        stop(runner)


def deployments(api: str) -> list[dict]:
    return httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()


def create_run(api: str, deployment: dict, parameters: dict) -> httpx.Response:
    """POST create_flow_run as the UI's Run button does, again after a 503: Prefect's SQLite answers
    503 while it is busy (16 deployments registering and polling on 2 cores), as a user would retry."""
    url = f"{api}/deployments/{deployment['id']}/create_flow_run"
    for _ in range(20):
        response = httpx.post(url, json={"parameters": parameters}, timeout=10)
        if response.status_code != 503:
            return response
        time.sleep(2)
    return response


def deployment_of(api: str, deliverable: str) -> dict:
    return next(d for d in wait_for(lambda: deployments(api), 120, "deployments") if d["name"] == deliverable)


def test_every_deliverable_is_a_deployment_with_its_schedules_and_a_typed_form(deployed):
    from s2p import catalog

    api, _ = deployed
    found = wait_for(
        lambda: deployments(api) if len(deployments(api)) >= len(catalog.CATALOG) else None, 120, "deployments"
    )
    by_name = {d["name"]: d for d in found}
    assert set(by_name) == {d.id for d in catalog.CATALOG}
    deployment = by_name["linear_regression"]
    crons = {s["schedule"]["cron"]: s["parameters"] for s in deployment["schedules"]}
    assert crons == {
        "0 3 * * 0": {"deliverable_id": "linear_regression", "task": "retrain"},
        "0 * * * *": {"deliverable_id": "linear_regression", "task": "monitor"},
    }
    form = deployment["parameter_openapi_schema"]["properties"]
    assert {"deliverable_id", "task", "reason", "size", "force"} <= set(form)
    assert "retrain" in str(form["task"]) and "monitor" in str(form["task"])


def test_a_run_created_like_the_ui_run_button_completes_with_its_parameters(deployed):
    api, base = deployed
    deployment = deployment_of(api, "linear_regression")
    parameters = {"deliverable_id": "linear_regression", "task": "train", "size": 150, "force": True}
    created = create_run(api, deployment, parameters)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]

    def finished():
        run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
        return run if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    run = wait_for(finished, 300, "the flow run to finish")
    assert run["state"]["type"] == "COMPLETED", (base / "deploy.log").read_text()[-3000:]
    assert run["parameters"] == parameters
    assert len(pd.read_parquet(base / "data" / "linear_regression" / "dataset.parquet")) == 150
    assert (base / "artifacts" / "linear_regression" / "bento.json").exists()


def test_the_deployed_monitor_finds_drift_and_starts_retraining_through_the_deployment(deployed):
    from serving.inference_log import InferenceLog

    api, base = deployed
    training = pd.read_parquet(base / "data" / "linear_regression" / "training_set.parquet")
    features = [c for c in training.columns if c not in ("entity_id", "event_timestamp", "progression", "split")]
    shifted = training[features].head(60).copy()
    for column, delta in {"age": 15.0, "bmi": 8.0, "bp": 25.0, "s1": 60.0, "s2": 50.0, "s6": 25.0}.items():
        shifted[column] += delta
    log = InferenceLog(base / "inference.db")  # what the served model would have logged
    log.append("linear_regression", "1", shifted.to_dict(orient="records"), [150.0] * 60, 1.0)
    log.close()

    deployment = deployment_of(api, "linear_regression")
    created = create_run(api, deployment, {"deliverable_id": "linear_regression", "task": "monitor"}).json()

    def retraining_run():
        runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).json()
        monitor = next(r for r in runs if r["id"] == created["id"])
        if monitor["state"]["type"] in ("FAILED", "CRASHED"):
            raise AssertionError((base / "deploy.log").read_text()[-3000:])
        retrain = [
            r for r in runs if r["parameters"].get("task") == "retrain" and r["deployment_id"] == deployment["id"]
        ]
        done = retrain and retrain[0]["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED")
        return (monitor, retrain[0]) if done and monitor["state"]["type"] == "COMPLETED" else None

    _, retrain = wait_for(retraining_run, 300, "the monitoring run to start a retraining run")
    assert retrain["state"]["type"] == "COMPLETED", (base / "deploy.log").read_text()[-3000:]
    assert retrain["parameters"]["reason"].startswith("drift:")
