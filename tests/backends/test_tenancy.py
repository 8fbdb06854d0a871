"""Multi-tenancy (issue 15, docs/multitenancy.md): tenant A cannot read or change anything of tenant B
through any service, API or CLI path, and one tenant's burst holds at most its quota of Prefect slots.

On the real stack: an `mlflow server --app-name basic-auth` whose users get nothing they did not create
(default_permission NO_PERMISSIONS), `s2p run` of tenant acme against it, that run's bento served with
API keys, the session's PostgreSQL (inference logs in a schema per tenant) and a `prefect server`."""

import contextlib
import contextvars
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from s2p import catalog, tenancy
from s2p.paths import Stores
from tests.backends.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    ARTIFACT_BUCKET,
    S3_CREDENTIALS,
    VENV_BIN,
    AuthServer,
    answers_http,
    background,
    create_database,
    wait_until,
)
from tests.backends.test_registry_auth import authenticated_environment, signed_in
from tests.conftest import ROOT, free_port, served

slow = pytest.mark.slow  # real servers: PostgreSQL, moto, `mlflow server`, `prefect server`, `bentoml serve`


# -- names and locations (no server) --------------------------------------------------------------------
def test_a_tenant_is_configuration_and_no_tenant_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("S2P_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv(tenancy.VARIABLE, raising=False)
    shared = Stores.from_env(ROOT)
    assert shared.tenant is None and "S2P_TENANT" not in shared.service_environment()
    assert (tenancy.model_name("iris", None), tenancy.experiment_name("iris", None)) == ("iris", "s2p/iris")

    own = {}
    for tenant in ("acme", "beta"):
        monkeypatch.setenv(tenancy.VARIABLE, tenant)
        own[tenant] = Stores.from_env(ROOT)
        assert own[tenant].state == tmp_path / "state" / "tenants" / tenant
        assert own[tenant].tenant_keys == shared.tenant_keys  # one digest table: a key of B is known to be B's
        # a child process handed the resolved locations resolves them to the same places
        with monkeypatch.context() as child:
            for key, value in own[tenant].service_environment().items():
                child.setenv(key, value)
            child.setenv("MLFLOW_TRACKING_URI", own[tenant].mlflow_tracking_uri)
            assert Stores.from_env(ROOT) == own[tenant]
    places = ("data", "artifacts", "state", "prefect_home", "bentoml_home", "inference_db", "feast_registry")
    for place in (*places, "mlflow_tracking_uri", "mlflow_artifacts", "feast_online_store"):
        assert getattr(own["acme"], place) != getattr(own["beta"], place) != getattr(shared, place), place
    for place in places:
        assert "/tenants/acme" in str(getattr(own["acme"], place)), place

    shared_log = "postgresql://s2p:pw@db:5432/inference"
    assert tenancy.inference_location(shared_log, "acme").endswith("?options=-csearch_path%3Dtenant_acme")
    assert tenancy.artifact_uri("s3://bucket/mlflow", "acme") == "s3://bucket/mlflow/tenants/acme"
    for bad in ("Acme", "a-b", "1x", "x" * 21, "a/b"):
        monkeypatch.setenv(tenancy.VARIABLE, bad)
        with pytest.raises(tenancy.TenantError, match="lowercase letters and digits"):
            Stores.from_env(ROOT)
    with pytest.raises(tenancy.TenantError, match="a path or a postgresql:// URL"):
        tenancy.inference_location("mysql://db/inference", "acme")


@slow
def test_inference_logs_on_one_postgres_are_a_schema_per_tenant(postgres):
    from serving.inference_log import InferenceLog

    shared = postgres.url("inference")
    logs = {}
    for tenant in ("acme", "beta"):
        url = tenancy.inference_location(shared, tenant)
        assert tenancy.create_schema(url) == f"tenant_{tenant}"
        logs[tenant] = InferenceLog(url)
    logs["acme"].append("linear_regression", "1", [{"x": 1.0}] * 3, [0.5] * 3, 1.0)
    logs["beta"].append("linear_regression", "7", [{"x": 2.0}], [9.0], 1.0)
    assert logs["acme"].count("linear_regression") == 3 and logs["beta"].count("linear_regression") == 1
    assert set(logs["beta"].recent("linear_regression", 10)["model_version"]) == {"7"}
    query = "SELECT table_schema FROM information_schema.tables WHERE table_name = %s"
    tables = postgres.query("inference", query, "predictions")
    assert {"tenant_acme", "tenant_beta"} <= {schema for (schema,) in tables}
    for log in logs.values():
        log.close()


# -- Prefect: a quota per tenant -------------------------------------------------------------------------
_started = threading.Event()


def _occupy(index: int, seconds: float) -> tuple[float, float]:
    begun = time.monotonic()
    _started.set()
    time.sleep(seconds)
    return begun, time.monotonic()


def _burst_flow(tasks: int, seconds: float) -> list[tuple[float, float]]:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner

    occupy = task(_occupy, name="occupy", cache_policy=NO_CACHE)

    @flow(name="burst", task_runner=ThreadPoolTaskRunner(max_workers=tasks))
    def burst() -> list[tuple[float, float]]:
        futures = [occupy.submit(index, seconds) for index in range(tasks)]
        return [future.result() for future in futures]

    return burst()


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(begun, 1) for begun, _ in intervals] + [(ended, -1) for _, ended in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@slow
def test_a_tenants_burst_holds_its_quota_while_another_tenant_starts(prefect_api, acme_run):
    """Tenant busy (quota 2) submits 6 tasks of 1 s at once; tenant other's task starts while busy's still
    wait. (``acme_run``: tenant acme's `s2p run` starts now, in the background, for the tests below.)"""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    suffix = uuid.uuid4().hex[:5]
    busy, other = f"busy{suffix}", f"other{suffix}"  # fresh tenants: the server lives for the session
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    limit = [sys.executable, "-m", "s2p.cli", "tenant", "limit", busy, "2"]
    done = subprocess.run(limit, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"tag": f"tenant:{busy}", "limit": 2, "active_slots": 0}

    def as_tenant(tenant: str, tasks: int, seconds: float):
        with tenancy.run_tags(tenant):
            return _burst_flow(tasks, seconds)

    with temporary_settings(updates={PREFECT_API_URL: prefect_api}), ThreadPoolExecutor(2) as pool:
        _started.clear()
        burst = pool.submit(contextvars.copy_context().run, as_tenant, busy, 6, 1.0)
        assert _started.wait(120), "the burst never started"
        single = pool.submit(contextvars.copy_context().run, as_tenant, other, 1, 0.1)
        burst_runs, (other_run,) = burst.result(timeout=300), single.result(timeout=300)
    # Never more than the quota at once. Not asserted: that 2 ever ran together. Prefect 3.9 may deny a
    # slot to a request sent while another is acquired (one run in four locally started its second task
    # after the first ended, and a CI run saw 1 at most throughout); the retry comes after the limit's
    # average occupancy. A quota of 2 makes 6 x 1 s last at least 3 s, where 6 threads take 1 s unlimited.
    assert 1 <= most_at_once(burst_runs) <= 2
    first_begun = min(begun for begun, _ in burst_runs)
    assert max(ended for _, ended in burst_runs) - first_begun >= 2.9
    assert other_run[0] < max(begun for begun, _ in burst_runs)  # started while the burst still queued
    waited = sorted(begun for begun, _ in burst_runs)[-1] - first_begun
    print(f"burst: 6 tasks x 1 s at quota 2 spread over {waited:.1f} s; the other tenant's task started "
          f"{other_run[0] - min(begun for begun, _ in burst_runs):.1f} s after the burst's first")  # fmt: skip


# -- MLflow: a server shared by tenants, each user with permissions on its own work only ---------------
@contextlib.contextmanager
def isolating_mlflow(postgres, s3_endpoint: str, base: Path, name: str = "mlflow_tenants"):
    """`mlflow server --app-name basic-auth` as a multi-tenant server runs it: a user may see and do nothing
    (default_permission NO_PERMISSIONS) but on what it created (MANAGE) or is granted."""
    for database in (name, f"{name}_users"):
        create_database(postgres, database)
    config = base / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
        f"database_uri = {postgres.url(f'{name}_users')}\n"
        f"admin_username = {ADMIN_USER}\nadmin_password = {ADMIN_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_TRACKING_")}
    env |= S3_CREDENTIALS | {
        "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "s2p-tests-only-secret",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    port = free_port()
    command = [str(VENV_BIN / "mlflow"), "server", "--app-name", "basic-auth", "--backend-store-uri",
               postgres.url(name), "--artifacts-destination", f"s3://{ARTIFACT_BUCKET}/{name}/",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    with background(command, base / "mlflow.log", env=env, cwd=base) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers_http(f"{url}/health"), "mlflow server", process, base / "mlflow.log", timeout=180)
        yield AuthServer(url, log=base / "mlflow.log")


@pytest.fixture(scope="module")
def tenants_server(postgres, s3_endpoint, tmp_path_factory):
    from mlflow.server import get_app_client

    with isolating_mlflow(postgres, s3_endpoint, tmp_path_factory.mktemp("mlflow-tenants")) as server:
        suffix = uuid.uuid4().hex[:6]
        users = {tenant: (f"{tenant}-bot-{suffix}", f"{tenant}-pw-{suffix}-0123") for tenant in ("acme", "beta")}
        with signed_in(*server.admin):
            admin = get_app_client("basic-auth", tracking_uri=server.url)
            for user, password in users.values():
                admin.create_user(user, password)
        yield server, users


@pytest.fixture(scope="module")
def acme_run(tenants_server, prefect_api, tmp_path_factory):
    """`s2p run linear_regression --size smoke` as tenant acme (its user's credentials) on the shared
    MLflow server and Prefect server; local stores in the tenant's folders. Started in the background
    so that the tests which do not need it run meanwhile; ``result()`` waits for it."""
    server, users = tenants_server
    base = tmp_path_factory.mktemp("acme")
    env = authenticated_environment(base, server.url, *users["acme"])
    env |= {tenancy.VARIABLE: "acme", "PREFECT_API_URL": prefect_api}
    command = [sys.executable, "-m", "s2p.cli", "run", "linear_regression", "--size", "smoke", "--json"]
    output = base / "run.log"
    with open(output, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)

    def result() -> tuple[dict, dict]:
        stdout, _ = process.communicate(timeout=900)
        assert process.returncode == 0, output.read_text()[-5000:]
        return env, json.loads(stdout)

    result.env = env  # the tenant's configuration, usable before its run ends
    yield result
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def betas_work(tenants_server):
    """What tenant beta owns on the server, made by its own user: its experiment with a run, its
    registered model with version 1 as champion (as its `s2p run` would name them)."""
    from mlflow import MlflowClient

    server, users = tenants_server
    client = MlflowClient(server.url)
    name = tenancy.model_name("linear_regression", "beta")
    with signed_in(*users["beta"]):
        experiment = client.create_experiment(tenancy.experiment_name("linear_regression", "beta"))
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "ours_rmse", 50.0)
        client.create_registered_model(name)
        version = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        client.set_registered_model_alias(name, "champion", version.version)
    return {"experiment": experiment, "run": run.info.run_id, "model": name}


@slow
def test_s2p_with_one_tenants_credentials_cannot_touch_anothers_model(tenants_server, acme_run, betas_work):
    """acme's user pointing `s2p rollback` at beta's names (S2P_TENANT=beta) is refused in one line."""
    server, _ = tenants_server
    env = acme_run.env  # acme's configuration; its own run goes on meanwhile
    intruding = env | {tenancy.VARIABLE: "beta"}
    command = [sys.executable, "-m", "s2p.cli", "rollback", "linear_regression"]
    done = subprocess.run(command, cwd=ROOT, env=intruding, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    said = [line for line in done.stderr.splitlines() if line.startswith("s2p: error:")]
    assert len(said) == 1 and "refused (403)" in said[0] and "registered-models/get" in said[0], done.stderr
    assert "Traceback" not in done.stderr and env["MLFLOW_TRACKING_PASSWORD"] not in done.stderr
    with signed_in(*tenants_server[1]["beta"]):
        from mlflow import MlflowClient

        model = MlflowClient(server.url).get_registered_model(betas_work["model"])
        assert model.aliases == {"champion": "1"} and not model.tags


@slow
def test_a_tenants_credentials_cannot_read_or_change_anothers_runs_or_models(tenants_server, acme_run, betas_work):
    from mlflow.server import get_app_client

    server, users = tenants_server
    _, summary = acme_run()
    acme = summary["mlflow"]
    assert acme["model_name"] == "acme.linear_regression" and acme["promoted"]
    with signed_in(*server.admin):
        admin = get_app_client("basic-auth", tracking_uri=server.url)
        assert (
            admin.get_user_permission(users["acme"][0], "registered_model", acme["model_name"]).permission == "MANAGE"
        )
    api = f"{server.url}/api/2.0/mlflow"
    owned = {  # tenant: (its user's credentials, an experiment, a run, a registered model) of the other
        "acme": (users["beta"], acme["run_id"], "acme/s2p/linear_regression", "acme.linear_regression"),
        "beta": (users["acme"], betas_work["run"], "beta/s2p/linear_regression", "beta.linear_regression"),
    }
    for owner, (intruder, run_id, experiment, model) in owned.items():
        reads = [
            ("GET", "runs/get", {"run_id": run_id}),
            ("GET", "experiments/get-by-name", {"experiment_name": experiment}),
            ("GET", "registered-models/get", {"name": model}),
            ("GET", "registered-models/alias", {"name": model, "alias": "champion"}),
            ("GET", "metrics/get-history", {"run_id": run_id, "metric_key": "ours_rmse"}),
        ]
        writes = [
            ("POST", "runs/log-metric", {"run_id": run_id, "key": "ours_rmse", "value": 0.0, "timestamp": 0}),
            ("POST", "runs/set-tag", {"run_id": run_id, "key": "owner", "value": "intruder"}),
            ("POST", "runs/delete", {"run_id": run_id}),
            ("POST", "registered-models/alias", {"name": model, "alias": "champion", "version": "1"}),
            ("POST", "model-versions/create", {"name": model, "source": "s3://elsewhere/model", "run_id": run_id}),
            ("DELETE", "registered-models/delete", {"name": model}),
        ]
        for method, endpoint, payload in reads + writes:
            arguments = {"params": payload} if method == "GET" else {"json": payload}
            response = httpx.request(method, f"{api}/{endpoint}", auth=intruder, timeout=30, **arguments)
            assert response.status_code == 403, (owner, endpoint, response.status_code, response.text)
        listed = httpx.get(f"{api}/experiments/search", params={"max_results": 1000}, auth=intruder, timeout=30)
        assert experiment not in {item["name"] for item in listed.json().get("experiments", [])}
    with signed_in(*users["beta"]):  # nothing of the intruder landed
        from mlflow import MlflowClient

        client = MlflowClient(server.url)
        run = client.get_run(betas_work["run"])
        assert run.info.lifecycle_stage == "active" and run.data.metrics == {"ours_rmse": 50.0}
        assert "owner" not in run.data.tags
        assert [v.version for v in client.search_model_versions(f"name='{betas_work['model']}'")] == ["1"]


# -- the served bento: only its tenant's API keys ---------------------------------------------------------
@slow
def test_a_tenants_bento_answers_only_its_tenants_keys(acme_run, monkeypatch):
    from serving.inference_log import InferenceLog

    env, summary = acme_run()
    for key in set(os.environ) - set(env):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stores = Stores.from_env(ROOT)
    keys = {tenant: tenancy.issue_key(stores.tenant_keys, tenant) for tenant in ("acme", "beta")}
    assert keys["acme"][0] not in stores.tenant_keys.read_text()  # digests at rest, never the key
    features = catalog.get("linear_regression").feature_names
    rows = pd.read_parquet(summary["paths"]["training_set"])[features].head(1).to_dict(orient="records")

    def predict(url: str, headers: dict) -> httpx.Response:
        return httpx.post(f"{url}/predict", json={"rows": rows}, headers=headers, timeout=30)

    with served("linear_regression") as url:
        assert summary["bento"]["tag"].startswith("acme.linear_regression:")
        assert predict(url, {}).status_code == 401
        assert predict(url, {"Authorization": "Bearer s2p_acme_not-a-key"}).status_code == 401
        refused = predict(url, {"Authorization": f"Bearer {keys['beta'][0]}"})
        assert refused.status_code == 403 and "tenant 'acme'" in refused.json()["error"]
        answered = predict(url, {"X-API-Key": keys["acme"][0]})
        assert answered.status_code == 200, answered.text
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200  # probes stay open
        tenancy.revoke_key(stores.tenant_keys, keys["acme"][1])
        deadline, answers = time.monotonic() + 15, 1  # the service re-reads the keys file within a second
        while (status := predict(url, {"X-API-Key": keys["acme"][0]}).status_code) != 401:
            assert status == 200 and time.monotonic() < deadline, f"a revoked key is still answered ({status})"
            answers += 1
            time.sleep(0.3)
    assert "/tenants/acme/" in str(stores.inference_db)
    log = InferenceLog(stores.inference_db)
    assert log.count("linear_regression") == answers  # the answered requests only, in acme's own log
    log.close()


@slow
def test_a_tenants_s2p_run_carries_its_prefect_tag(prefect_api, acme_run):
    """So the tenant's quota (`s2p tenant limit`) applies to its pipeline's tasks too."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags, TaskRunFilter, TaskRunFilterTags
    from prefect.settings import PREFECT_API_URL, temporary_settings

    acme_run()
    tag = tenancy.prefect_tag("acme")
    with temporary_settings(updates={PREFECT_API_URL: prefect_api}), get_client(sync_client=True) as client:
        flows = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])))
        tasks = client.read_task_runs(task_run_filter=TaskRunFilter(tags=TaskRunFilterTags(all_=[tag])))
    assert [run.name for run in flows] == ["linear_regression"]
    assert {run.flow_run_id for run in tasks} == {flows[0].id} and len(tasks) >= 5
