"""Faults on real backends: a backend lost mid-step fails the step after Prefect's retries (only a
transient failure is retried) and leaves no half-written registry entry; a retry or a rerun once it is
back finishes with exactly one version and the champion alias on it; materializing again writes the
same online rows; wrong S3 credentials are refused and named, by `s2p`'s check and by `dvc push`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from prefect import flow, get_run_logger
from prefect.context import get_run_context

from flows.deliverable import flow_steps
from pipeline.context import load_context
from pipeline.features import open_store, run_features
from pipeline.recipes import recipe_of
from pipeline.registry import (
    CHAMPION,
    DECISION_TAG,
    REGISTRATION_TAG,
    SETTLED_TAG,
    champion_history,
    registration_key,
    run_register,
)
from pipeline.validate import Failure, ValidationFailed, ValidationReport
from s2p.backends import Backend, check_backends, dvc_remote, named_when_lost, require, retry_options, transient
from s2p.errors import BackendUnavailable, CredentialsRefused, explain
from s2p.paths import Stores
from scheduler.executor import PrefectEngine, execute
from tests.backends.conftest import PASSWORD, Cluster, Postgres, postgres_cluster
from tests.conftest import ROOT, free_port, store_variables

pytestmark = pytest.mark.slow

DELIVERABLE = "linear_regression"
DOWN_S = 2.0  # how long the crashed PostgreSQL stays down


@flow(name="fault-steps")
def run_steps(names: list[str], retries: dict) -> tuple[str, dict]:
    """Some steps of the deliverable, built as its flow builds them (flow_steps: Prefect tasks with the
    retry policy of ``retries``), on the stores the environment names: their outcomes, the flow run id."""
    ctx = load_context(DELIVERABLE, overrides={"retries": retries}, size="smoke")
    chosen = [dataclasses.replace(s, after=()) for s in flow_steps([ctx], qualified=False) if s.name in names]
    get_run_logger().info("running %s with retries %s", names, retries)
    return str(get_run_context().flow_run.id), execute(chosen, PrefectEngine())


def attempts(flow_run_id: str, step: str) -> int:
    """How many times Prefect ran ``step``'s task in that flow run (1 + its retries)."""
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    only = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:  # task-run states reach the API as events: wait for the final one
            runs = [run for run in client.read_task_runs(flow_run_filter=only) if run.name.startswith(step)]
            if runs and runs[0].state is not None and runs[0].state.is_final():
                return runs[0].run_count
            assert time.monotonic() < deadline, f"{step}'s task run never reached a final state: {runs}"
            time.sleep(0.2)


@dataclasses.dataclass(frozen=True)
class Evaluated:
    """linear_regression at its smoke size, evaluated (ready to register), its files in a temporary
    folder and MLflow directly on a PostgreSQL cluster of this module, which its tests crash."""

    env: dict[str, str]
    server: Postgres
    cluster: Cluster


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    base = tmp_path_factory.mktemp("faults")
    with (
        postgres_cluster(databases=("mlflow", "mlflow_settle")) as (server, cluster),
        pytest.MonkeyPatch.context() as patch,
    ):
        env = store_variables(base) | {"MLFLOW_TRACKING_URI": server.url("mlflow")}
        for key, value in env.items():
            patch.setenv(key, value)
        ctx = load_context(DELIVERABLE, size="smoke")
        for step in recipe_of(ctx.deliverable).steps:
            if step.name in ("etl", "validate", "features", "train", "reference", "evaluate"):
                step.run()(ctx)
        yield Evaluated(env, server, cluster)


@pytest.fixture
def on_stores(evaluated, monkeypatch):
    for key, value in evaluated.env.items():
        monkeypatch.setenv(key, value)
    return evaluated


def mlflow_state(uri: str) -> tuple[list, list, str | None]:
    """The deliverable's runs (oldest first), its live model versions, and the version `champion` names."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(f"s2p/{DELIVERABLE}")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    versions = client.search_model_versions(f"name = '{DELIVERABLE}'")
    champion = str(client.get_model_version_by_alias(DELIVERABLE, CHAMPION).version)
    return runs, versions, champion


# -- what is retried ---------------------------------------------------------------------------------


def test_only_a_backend_failing_for_a_moment_is_retried():
    import httpx
    import redis
    from mlflow.exceptions import MlflowException
    from prefect.states import Failed
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    port = free_port()  # nothing listens there
    once = Retry(NoBackoff(), 0)
    with pytest.raises(ConnectionRefusedError) as refused:
        socket.create_connection(("127.0.0.1", port), timeout=1)
    with pytest.raises(redis.ConnectionError) as redis_down:
        redis.Redis(port=port, socket_connect_timeout=1, retry=once).ping()
    with pytest.raises(httpx.ConnectError) as http_down:
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
    lost = Backend("Feast online store", f"redis://127.0.0.1:{port}/0")
    with pytest.raises(BackendUnavailable) as named, named_when_lost(lost):
        redis.Redis(port=port, socket_connect_timeout=1, retry=once).ping()
    assert str(named.value).startswith(f"the Feast online store at redis://127.0.0.1:{port}/0 was lost mid-step (")
    store_down = MlflowException("(psycopg.OperationalError) server closed the connection", "TEMPORARILY_UNAVAILABLE")
    for error in (refused.value, redis_down.value, http_down.value, named.value, store_down):
        assert transient(error), error
    report = ValidationReport(False, 10, 3, [Failure("expect_column_values_to_not_be_null", "x", 2, "2 nulls")])
    refusal = CredentialsRefused("the MLflow tracking store at http://h:5000 refused our credentials (HTTP 401)")
    for error in (ValidationFailed(report, "report.json"), ValueError("bad input"), KeyError("x"), refusal):
        assert not transient(error), error
    with pytest.raises(KeyError), named_when_lost(lost):  # a bug passes unchanged
        raise KeyError("column")
    options = retry_options(3, 0.5)
    assert (options["retries"], options["retry_delay_seconds"]) == (3, 0.5)
    retry = options["retry_condition_fn"]
    assert retry(None, None, Failed(data=redis_down.value)) and not retry(None, None, Failed(data=ValueError("x")))
    with pytest.raises(ValueError, match="retries"):
        retry_options(-1, 1.0)


# -- MLflow's PostgreSQL crashed in the middle of register --------------------------------------------


def test_postgres_crashed_mid_register_a_retry_leaves_exactly_one_version(on_stores):
    import psycopg

    crashed = threading.Event()

    def crash_once_a_run_is_open() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not crashed.is_set():
            with contextlib.suppress(psycopg.Error):  # the schema appears when register first connects
                if on_stores.server.query("mlflow", "SELECT count(*) FROM runs WHERE status = 'RUNNING'")[0][0]:
                    on_stores.cluster.stop()  # mode immediate: a crash
                    crashed.set()
            time.sleep(0.02)
        time.sleep(DOWN_S)  # longer than the attempt has left: it meets the crash, not just a reconnect
        on_stores.cluster.start()

    killer = threading.Thread(target=crash_once_a_run_is_open, daemon=True)
    killer.start()
    flow_run_id, outcomes = run_steps(["register"], {"count": 6, "delay_s": 1.0})  # outlasts DOWN_S + a restart
    killer.join(timeout=60)
    assert crashed.is_set(), "register never opened its run"
    assert outcomes["register"].succeeded, outcomes["register"].error
    assert attempts(flow_run_id, "register") >= 2  # the attempt PostgreSQL died under, then retries

    runs, versions, champion = mlflow_state(on_stores.env["MLFLOW_TRACKING_URI"])
    assert [run.info.status for run in runs] == ["FAILED", "FINISHED"]
    lost, kept = runs
    assert lost.data.tags[SETTLED_TAG].startswith("abandoned after a lost backend")
    assert lost.data.tags[REGISTRATION_TAG] == kept.data.tags[REGISTRATION_TAG]  # the same registration
    assert [(str(v.version), v.run_id) for v in versions] == [(champion, kept.info.run_id)]
    assert outcomes["register"].result.version == champion


def test_a_rerun_settles_what_a_lost_attempt_left_at_each_point(on_stores, monkeypatch):
    """What a crash leaves at each later point, written with MLflow's client; then a rerun of register."""
    from mlflow.tracking import MlflowClient

    uri = on_stores.server.url("mlflow_settle")  # a registry of its own
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(uri)
    ctx = load_context(DELIVERABLE, size="smoke")
    key = registration_key(ctx)
    assert run_register(ctx).promoted  # v1, the champion
    experiment = client.get_experiment_by_name(f"s2p/{DELIVERABLE}").experiment_id
    _, before, champion = mlflow_state(uri)
    source = before[0].source

    # lost after its version was created, before the alias: the version must not stay as if registered
    orphan_run = client.create_run(experiment, tags={REGISTRATION_TAG: key}).info.run_id
    orphan = str(client.create_model_version(DELIVERABLE, source, run_id=orphan_run).version)
    decision = run_register(ctx)
    runs, versions, now = mlflow_state(uri)
    statuses = {run.info.run_id: run.info.status for run in runs}
    assert statuses[orphan_run] == "FAILED" and statuses[decision.run_id] == "FINISHED"
    assert orphan not in {str(v.version) for v in versions}
    assert sorted(int(v.version) for v in versions) == sorted([int(champion), int(decision.version)])
    assert not decision.promoted and now == champion  # the same model does not beat itself

    # lost after the alias moved, before the run ended: completed, not registered again
    late_run = client.create_run(experiment, tags={REGISTRATION_TAG: key}).info.run_id
    late = str(client.create_model_version(DELIVERABLE, source, run_id=late_run).version)
    recorded = dataclasses.replace(decision, run_id=late_run, version=late, champion_version=late, promoted=True)
    client.set_model_version_tag(DELIVERABLE, late, DECISION_TAG, json.dumps(recorded.to_dict()))
    client.set_registered_model_alias(DELIVERABLE, CHAMPION, late)
    completed = run_register(ctx)
    runs, after, now = mlflow_state(uri)
    assert completed == recorded and now == late
    assert {run.info.run_id: run.info.status for run in runs}[late_run] == "FINISHED"
    assert len(after) == len(versions) + 1  # only the one the late attempt made
    assert champion_history(client, DELIVERABLE)[-1]["to_version"] == late


def test_a_store_that_refuses_our_password_is_never_retried(on_stores):
    wrong = on_stores.server.url("mlflow", password="not-the-password")
    with pytest.raises(CredentialsRefused) as refused:
        require(Backend("MLflow tracking store", wrong))
    assert "refused our credentials" in str(refused.value) and "not-the-password" not in str(refused.value)
    assert PASSWORD not in str(refused.value) and not transient(refused.value)


# -- Redis killed under materialize -------------------------------------------------------------------


def test_redis_killed_the_features_step_fails_naming_it_then_a_rerun_writes_the_same_rows(
    on_stores, killable_redis, monkeypatch
):
    import redis

    monkeypatch.setenv("S2P_FEAST_ONLINE_STORE", killable_redis.url)
    ctx = load_context(DELIVERABLE, size="smoke")
    dataset = pd.read_parquet(ctx.paths.dataset)
    run_features(ctx)  # the online rows in Redis
    online = redis.Redis.from_url(killable_redis.url)
    rows = online.dbsize()
    assert rows == dataset["entity_id"].nunique()

    killable_redis.kill()  # SIGKILL: the process already saw it answer, so only materialize finds it gone
    flow_run_id, outcomes = run_steps(["features"], {"count": 2, "delay_s": 0.2})
    failed = outcomes["features"]
    assert not failed.succeeded and isinstance(failed.error, BackendUnavailable)
    assert f"the Feast online store at {killable_redis.url} " in str(failed.error)
    assert explain(failed.error) == str(failed.error)  # `s2p` prints it as one line
    assert attempts(flow_run_id, "features") == 3  # the first attempt and two retries

    killable_redis.start()  # its append-only file brings back what it had acknowledged
    run_features(ctx)  # the rerun
    assert online.dbsize() == rows  # written again over the same keys: idempotent
    store = open_store(Stores.from_env(ROOT))
    assert [view.name for view in store.list_feature_views()] == [DELIVERABLE]
    sample = dataset.sample(5, random_state=0)
    read = store.get_online_features(
        features=[f"{DELIVERABLE}:bmi", f"{DELIVERABLE}:s5"],
        entity_rows=[{"entity_id": int(i)} for i in sample["entity_id"]],
    ).to_dict()
    assert read["bmi"] == pytest.approx(sample["bmi"].tolist()) and read["s5"] == pytest.approx(sample["s5"].tolist())


# -- S3 credentials -----------------------------------------------------------------------------------


def test_wrong_s3_credentials_are_refused_and_named_by_the_check_and_by_dvc_push(
    authenticated_s3, tmp_path, monkeypatch
):
    import boto3
    from dvc.repo import Repo

    s3 = authenticated_s3
    right = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}
    wrong = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    unknown = {"AWS_ACCESS_KEY_ID": "AKIANOSUCHKEY0000000", "AWS_SECRET_ACCESS_KEY": "whatever"}
    boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1", aws_access_key_id=s3.access_key,
                 aws_secret_access_key=s3.secret_key).create_bucket(Bucket="dvc-remote")  # fmt: skip
    for variable in ("MLFLOW_TRACKING_URI", "S2P_MLFLOW_ARTIFACTS", "PREFECT_API_URL", "S2P_FEAST_ONLINE_STORE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")

    repo = tmp_path / "repo"
    repo.mkdir()
    Repo.init(str(repo), no_scm=True)
    with Repo(str(repo)).config.edit() as config:
        config["core"]["remote"] = "storage"
        config["remote"]["storage"] = {"url": "s3://dvc-remote/project", "endpointurl": s3.endpoint}
    (repo / "data.csv").write_text("a,b\n1,2\n")
    Repo(str(repo)).add(str(repo / "data.csv"))

    monkeypatch.setenv("S2P_MLFLOW_ARTIFACTS", "s3://dvc-remote/mlflow")  # MLflow's artifacts in the same bucket
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3.endpoint)
    stores = Stores.from_env(repo)
    for credentials in (wrong, unknown):  # a wrong secret (SignatureDoesNotMatch), a key moto never issued
        for variable, value in credentials.items():
            monkeypatch.setenv(variable, value)
        with pytest.raises(CredentialsRefused) as refused:
            check_backends(stores)
        said, key = str(refused.value), credentials["AWS_ACCESS_KEY_ID"]
        for store in (
            "the MLflow artifact store at s3://dvc-remote/mlflow",
            "the DVC remote at s3://dvc-remote/project",
        ):
            expected = f"{store} (endpoint {s3.endpoint}) refused our credentials (S3 403 for access key {key!r}: check"
            assert expected in said, said
        assert credentials["AWS_SECRET_ACCESS_KEY"] not in said and not transient(refused.value)

    env = {**os.environ, **wrong}
    push = subprocess.run([str(Path(sys.executable).parent / "dvc"), "push"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert push.returncode != 0 and "403" in push.stderr and "Forbidden" in push.stderr, push.stderr[-2000:]
    for variable, value in right.items():
        monkeypatch.setenv(variable, value)
    assert [backend.name for backend in check_backends(stores)] == ["MLflow artifact store", "DVC remote"]
    assert Repo(str(repo)).push() == 1  # the right key is let in: the refusal was the key's
    (repo / ".dvc" / "config.local").write_text("['remote \"storage\"']\n    profile = team\n")
    assert dvc_remote(repo) is None  # a remote with credentials of its own is DVC's to check
