"""Deployment patterns on the real stack (a real `bentoml serve` with its 2 workers, real HTTP): a bad
version deployed as canary (a real registered model: a diverged fit whose every answer is NaN; a
healthy one held to a latency SLO it cannot meet; a biased one that delayed labels expose) is rolled
back within a stated number of requests with every request in the inference log; blue-green switches
all traffic at once under concurrent load, and back, without a failed request."""

import concurrent.futures
import copy
import json
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.context import load_context
from serving.inference_log import InferenceLog
from tests.conftest import ROOT, served, store_variables

pytestmark = pytest.mark.slow
DELIVERABLE = "linear_regression"
WORKERS = 2  # params.yaml's serving.workers: each worker judges the canary's answers it served


@pytest.fixture(scope="module")
def deploy_env(tmp_path_factory):
    """Stores of its own (registry, data, inference log, deployment state)."""
    base = tmp_path_factory.mktemp("deployment")
    with pytest.MonkeyPatch.context() as patch:
        for var, value in store_variables(base).items():
            patch.setenv(var, value)
        yield base


@pytest.fixture(scope="module")
def champion(deploy_env):
    from flows.deliverable import deliverable_flow

    summary = deliverable_flow(DELIVERABLE)
    assert summary["mlflow"]["champion_version"] == "1"
    return summary


def register(change) -> str:
    """Register a copy of the champion (v1) changed by ``change`` as a new version of the real
    registered model, the way training registers one; returns its version. It is the challenger
    the next bento packs (the newest version after the champion)."""
    import mlflow

    from pipeline.registry import load_registered, tracking

    ctx = load_context(DELIVERABLE)
    model = copy.deepcopy(load_registered(ctx.model_name, "1"))
    change(model)
    _, experiment = tracking(ctx)
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="pickle", pip_requirements=[])
    return str(mlflow.register_model(info.model_uri, ctx.model_name).version)


def package(tmp_path, monkeypatch, serving: dict):
    """A bento of the champion and the newest version, with these serving params over params.yaml's."""
    from pipeline.package import run_package

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["defaults"]["serving"] = {**params["defaults"]["serving"], **serving}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    monkeypatch.setenv("S2P_PARAMS", str(path))
    info = run_package(load_context(DELIVERABLE))
    assert info.model_version == "1"
    return info


def samples(n: int, seed: int) -> pd.DataFrame:
    ctx = load_context(DELIVERABLE)
    frame = pd.read_parquet(ctx.paths.training_set)
    return frame[frame["split"] == "train"].sample(n, random_state=seed, replace=True)


def bodies(n: int, seed: int) -> list[dict]:
    features = load_context(DELIVERABLE).deliverable.feature_names
    return [{"rows": [row]} for row in samples(n, seed)[features].to_dict(orient="records")]


def counts() -> dict[str, int]:
    log = InferenceLog(load_context(DELIVERABLE).stores.inference_db)
    try:
        return {role: log.count(DELIVERABLE, role) for role in ("champion", "canary", "canary_error", "shadow")}
    finally:
        log.close()


def grown(before: dict, after: dict) -> dict:
    return {role: after[role] - before[role] for role in before}


def s2p(*args):
    return subprocess.run([sys.executable, "-m", "s2p.cli", *args], cwd=ROOT, capture_output=True, text=True)


def state(url: str) -> dict:
    return httpx.post(f"{url}/deployment", json={}, timeout=10).json()


def budget_bound(window: int, max_error_rate: float) -> int:
    """Canary requests that can fail before every worker stops routing to it: each worker tolerates its
    error budget floor(rate * window), the first one over it rolls back for all."""
    return WORKERS * int(max_error_rate * window) + 1


def test_a_canary_whose_answers_fail_is_rolled_back_within_its_error_budget(champion, tmp_path, monkeypatch):
    def diverged(model):  # what a fit that diverged leaves: every answer NaN
        model.coef_ = np.full_like(model.coef_, np.nan)

    version = register(diverged)
    package(tmp_path, monkeypatch, {"mode": "canary", "canary_fraction": 0.5})  # slo: params.yaml's defaults
    bound = budget_bound(window=100, max_error_rate=0.05)  # 2 workers x 5 + 1 = 11
    before = counts()
    with served() as url:
        answers = [httpx.post(f"{url}/predict", json=body, timeout=30) for body in bodies(160, seed=0)]
        deployed = state(url)
        after_rollback = [httpx.post(f"{url}/predict", json=body, timeout=30) for body in bodies(40, seed=1)]
    assert [r.status_code for r in answers + after_rollback] == [200] * 200  # the champion answered instead
    assert {r.json()[0]["model_version"] for r in answers + after_rollback} == {"1"}
    assert deployed["canary"]["status"] == "rolled_back" and deployed["canary"]["version"] == version
    assert deployed["canary"]["reason"].startswith("error rate: 6 of the canary's last")
    assert [e["event"] for e in deployed["events"]][:2] == ["start", "rollback"]
    added = grown(before, counts())
    assert added["champion"] + added["canary"] == 200  # every request is in the log, as answered
    assert added["canary"] == 0 and 6 <= added["canary_error"] <= bound  # each failed canary attempt too
    print(f"\ncanary v{version} (NaN answers) rolled back after {added['canary_error']} failed canary requests")

    shown = s2p("deployment", DELIVERABLE, "--json")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert json.loads(shown.stdout)["canary"]["status"] == "rolled_back"
    assert registry_tag(version) == "rolled_back"


def registry_tag(version: str, timeout: float = 60.0) -> str | None:
    """The challenger's ``s2p.canary`` tag, which the server sets in the background after a rollback."""
    from mlflow import MlflowClient

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tags = MlflowClient().get_model_version(DELIVERABLE, version).tags
        if "s2p.canary" in tags:
            return tags["s2p.canary"]
        time.sleep(1)
    return None


def test_a_canary_slower_than_its_latency_slo_is_rolled_back(champion, tmp_path, monkeypatch):
    version = register(lambda model: None)  # a healthy copy, held to a p95 no model meets here
    slo = {"max_p95_ms": 0.001, "min_requests": 5}
    package(tmp_path, monkeypatch, {"mode": "canary", "canary_fraction": 0.5, "slo": slo})
    before = counts()
    with served() as url:
        answers = [httpx.post(f"{url}/predict", json=body, timeout=30) for body in bodies(120, seed=2)]
        deployed = state(url)
    assert [r.status_code for r in answers] == [200] * 120
    assert deployed["canary"]["status"] == "rolled_back" and deployed["canary"]["reason"].startswith("latency: p95")
    added = grown(before, counts())
    assert added["champion"] + added["canary"] == 120 and added["canary_error"] == 0
    assert 5 <= added["canary"] <= WORKERS * 4 + 1  # each worker judges once it holds 5 answers
    print(f"\ncanary v{version} (p95 over 0.001 ms) rolled back after {added['canary']} canary answers")


def test_a_canary_that_delayed_labels_show_worse_is_rolled_back(champion, tmp_path, monkeypatch):
    def biased(model):  # answers, but 150 too high
        model.intercept_ = model.intercept_ + 150.0

    version = register(biased)
    slo = {"max_label_mae": 80.0, "min_labels": 10}  # the champion's held-out MAE is about 51
    package(tmp_path, monkeypatch, {"mode": "canary", "canary_fraction": 0.5, "slo": slo})
    target = load_context(DELIVERABLE).deliverable.target.name
    rows = samples(60, seed=3)
    features = load_context(DELIVERABLE).deliverable.feature_names
    with served() as url:
        answers = [
            httpx.post(f"{url}/predict", json={"rows": [row]}, timeout=30).json()[0]
            for row in rows[features].to_dict(orient="records")
        ]
        assert state(url)["canary"]["status"] == "active"  # nothing wrong yet without labels
        labels = [{"id": a["id"], "label": float(y)} for a, y in zip(answers, rows[target], strict=True)]
        assert httpx.post(f"{url}/feedback", json={"labels": labels}, timeout=30).json() == {"labeled": 60}
        deployed = state(url)
        later = [httpx.post(f"{url}/predict", json=body, timeout=30).json()[0] for body in bodies(30, seed=4)]
    assert {a["model_version"] for a in answers} == {"1", version}
    assert deployed["canary"]["status"] == "rolled_back" and deployed["canary"]["reason"].startswith("quality: MAE")
    assert {answer["model_version"] for answer in later} == {"1"}


def test_blue_green_switches_all_traffic_at_once_under_load_and_back(champion, tmp_path, monkeypatch):
    green = register(lambda model: setattr(model, "intercept_", model.intercept_ + 1.0))
    package(tmp_path, monkeypatch, {"mode": "blue_green"})
    before = counts()
    results, stop = [], threading.Event()
    lock = threading.Lock()

    def traffic(seed: int) -> None:
        with httpx.Client(timeout=30) as client:
            for body in bodies(2000, seed):
                if stop.is_set():
                    return
                started = time.monotonic()
                response = client.post(f"{url}/predict", json=body)
                with lock:
                    results.append((started, time.monotonic(), response.status_code, response.json()))

    with served() as url:
        assert state(url)["live"] == "blue"
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            running = [pool.submit(traffic, seed) for seed in range(8)]
            time.sleep(3)
            to_green_called = time.monotonic()
            switched = s2p("deployment", DELIVERABLE, "--switch", "green", "--url", url, "--json")  # the s2p command
            to_green = time.monotonic()
            assert switched.returncode == 0, switched.stderr[-2000:]
            assert json.loads(switched.stdout)["live"] == "green"
            time.sleep(3)
            to_blue_called = time.monotonic()
            back = httpx.post(f"{url}/deployment/switch", json={"colour": "blue"}, timeout=10)  # the REST call
            to_blue = time.monotonic()
            assert back.status_code == 200 and back.json()["live"] == "blue"
            time.sleep(2)
            stop.set()
            for future in running:
                future.result()
        final = state(url)
    assert [status for *_, status, _ in results] == [200] * len(results)  # zero failed requests
    served_by = [(started, done, answer[0]["model_version"]) for started, done, _, answer in results]
    assert {version for *_, version in served_by} == {"1", green}
    assert {version for _, done, version in served_by if done < to_green_called} == {"1"}
    assert {version for started, done, version in served_by if to_green < started and done < to_blue_called} == {green}
    assert {version for started, _, version in served_by if started > to_blue} == {"1"}
    assert [e["detail"] for e in final["events"] if e["event"] == "switch"] == ["blue -> green", "green -> blue"]
    added = grown(before, counts())
    assert added["champion"] == len(results) and added["canary"] == 0  # one log row per request
    answered = {answer[0]["id"]: answer[0]["model_version"] for *_, answer in results}
    log = InferenceLog(load_context(DELIVERABLE).stores.inference_db)
    try:
        logged = log.recent(DELIVERABLE, len(results))
    finally:
        log.close()
    assert dict(zip(logged["id"], logged["model_version"], strict=True)) == answered  # each from one colour
    print(f"\nblue-green: {len(results)} requests from 8 clients, two switches, 0 failed")
