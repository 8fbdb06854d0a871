"""The team's MLflow server with authentication (MLflow's basic-auth app, users and permissions in
PostgreSQL): a data scientist owns what she creates, a colleague with READ can look but not log nor
register (403), a stranger or a wrong password gets 401, the admin's EDIT grant opens the door; and
`s2p run` works against it with MLFLOW_TRACKING_USERNAME / _PASSWORD, or fails with one line naming
the server when the password is wrong. Through MLflow's own clients (MlflowClient, AuthServiceClient)."""

import contextlib
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from s2p.backends import MLFLOW_TRACKING, Backend, probe
from tests.conftest import ROOT, store_variables

pytestmark = pytest.mark.slow  # a real PostgreSQL, moto and `mlflow server --app-name basic-auth`

CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


@contextlib.contextmanager
def signed_in(user: str, password: str):
    """MLflow's clients read their credentials from the environment on every request."""
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(dict(zip(CREDENTIALS, (user, password), strict=True)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def team(mlflow_auth_server):
    """Two data scientists, alice and bob (fresh names: the server lives for the session)."""
    from mlflow.server import get_app_client

    suffix = uuid.uuid4().hex[:6]
    people = {"alice": (f"alice-{suffix}", "alice-pw-0123456"), "bob": (f"bob-{suffix}", "bob-pw-0123456")}
    with signed_in(*mlflow_auth_server.admin):
        admin = get_app_client("basic-auth", tracking_uri=mlflow_auth_server.url)
        for user, password in people.values():
            admin.create_user(user, password)
    return people


@pytest.fixture
def alices_work(mlflow_auth_server, team):
    """alice's experiment with one run (a param, a metric, an artifact through the server) and her
    registered model with version 1 as champion; bob is granted READ on both."""
    from mlflow import MlflowClient
    from mlflow.server import get_app_client

    client = MlflowClient(mlflow_auth_server.url)
    name = f"s2p-auth-{uuid.uuid4().hex[:6]}"
    with signed_in(*team["alice"]):
        experiment = client.create_experiment(name)
        run = client.create_run(experiment)
        client.log_param(run.info.run_id, "alpha", "0.1")
        client.log_metric(run.info.run_id, "rmse", 1.25)
        client.log_text(run.info.run_id, "weights", "model/weights.txt")
        client.set_terminated(run.info.run_id)
        client.create_registered_model(name)
        version = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        client.set_registered_model_alias(name, "champion", version.version)
    with signed_in(*mlflow_auth_server.admin):
        admin = get_app_client("basic-auth", tracking_uri=mlflow_auth_server.url)
        admin.grant_user_permission(team["bob"][0], "experiment", experiment, "READ")
        admin.grant_user_permission(team["bob"][0], "registered_model", name, "READ")
    return {"client": client, "experiment": experiment, "run": run.info.run_id, "model": name, "version": version}


def refused(call, status: int) -> str:
    """The MlflowException that ``call`` raises: its HTTP status must be ``status``."""
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as caught:
        call()
    assert caught.value.get_http_status_code() == status, caught.value
    return str(caught.value)


def test_a_data_scientist_owns_what_she_creates(mlflow_auth_server, team, alices_work):
    from mlflow.server import get_app_client

    client, run_id = alices_work["client"], alices_work["run"]
    with signed_in(*team["alice"]):
        run = client.get_run(run_id)
        assert run.data.metrics == {"rmse": 1.25} and run.data.params == {"alpha": "0.1"}
        assert [item.path for item in client.list_artifacts(run_id, "model")] == ["model/weights.txt"]
        assert client.get_model_version_by_alias(alices_work["model"], "champion").run_id == run_id
    with signed_in(*mlflow_auth_server.admin):
        admin = get_app_client("basic-auth", tracking_uri=mlflow_auth_server.url)
        owner = team["alice"][0]
        assert admin.get_user_permission(owner, "experiment", alices_work["experiment"]).permission == "MANAGE"
        assert admin.get_user_permission(owner, "registered_model", alices_work["model"]).permission == "MANAGE"


def test_a_reader_cannot_log_nor_register_nor_move_an_alias(team, alices_work):
    from mlflow.entities import Param

    client, run_id, model = alices_work["client"], alices_work["run"], alices_work["model"]
    with signed_in(*team["bob"]):
        assert client.get_run(run_id).data.metrics == {"rmse": 1.25}  # READ: he may look
        assert "Permission denied" in refused(lambda: client.create_run(alices_work["experiment"]), 403)
        refused(lambda: client.log_metric(run_id, "rmse", 0.1), 403)
        refused(lambda: client.log_batch(run_id, params=[Param("beta", "2")]), 403)
        refused(lambda: client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id), 403)
        refused(lambda: client.set_registered_model_alias(model, "champion", "1"), 403)
        refused(lambda: client.delete_registered_model_alias(model, "champion"), 403)
    with signed_in(*team["alice"]):
        assert client.get_run(run_id).data.metrics == {"rmse": 1.25}  # nothing of bob's landed
        assert [v.version for v in client.search_model_versions(f"name='{model}'")] == ["1"]
        assert client.get_model_version_by_alias(model, "champion").version == "1"


def test_an_unknown_user_or_a_wrong_password_gets_401(mlflow_auth_server, team):
    from mlflow import MlflowClient

    search = f"{mlflow_auth_server.url}/api/2.0/mlflow/experiments/search"
    for auth in (None, ("mallory", "guess"), (team["alice"][0], "not-her-password")):
        response = httpx.get(search, params={"max_results": 1}, auth=auth, timeout=30)
        assert response.status_code == 401, (auth, response.status_code)
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    with signed_in(team["alice"][0], "not-her-password"):
        refused(lambda: MlflowClient(mlflow_auth_server.url).search_experiments(max_results=1), 401)


def test_the_admin_grants_edit_and_the_reader_then_can(mlflow_auth_server, team, alices_work):
    from mlflow.server import get_app_client

    client, run_id, model = alices_work["client"], alices_work["run"], alices_work["model"]
    bob = team["bob"][0]
    with signed_in(*mlflow_auth_server.admin):
        admin = get_app_client("basic-auth", tracking_uri=mlflow_auth_server.url)
        for kind, resource in (("experiment", alices_work["experiment"]), ("registered_model", model)):
            admin.revoke_user_permission(bob, kind, resource)  # a grant does not overwrite one (409): READ goes
            admin.grant_user_permission(bob, kind, resource, "EDIT")
        assert admin.get_user_permission(bob, "experiment", alices_work["experiment"]).permission == "EDIT"
    with signed_in(*team["bob"]):
        his_run = client.create_run(alices_work["experiment"])
        client.log_metric(his_run.info.run_id, "rmse", 0.9)
        client.log_metric(run_id, "mae", 0.5)
        version = client.create_model_version(model, f"{his_run.info.artifact_uri}/model", run_id=his_run.info.run_id)
        client.set_registered_model_alias(model, "champion", version.version)
        assert client.get_model_version_by_alias(model, "champion").run_id == his_run.info.run_id
        refused(lambda: client.delete_registered_model(model), 403)  # EDIT is not MANAGE


def s2p_run(env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "s2p.cli", "run", "linear_regression", "--size", "smoke", "--json"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def authenticated_environment(base, url: str, user: str, password: str) -> dict[str, str]:
    """Fresh local stores for everything but MLflow, which is the authenticated server."""
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"} | store_variables(base)
    env.pop("S2P_MLFLOW_ARTIFACTS")  # the server's proxied artifact store decides
    return env | {
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_TRACKING_USERNAME": user,
        "MLFLOW_TRACKING_PASSWORD": password,
        "PREFECT_HOME": str(base / "prefect"),
        "BENTOML_HOME": str(base / "bentoml"),
    }


def test_s2p_runs_against_the_authenticated_server(mlflow_auth_server, team, tmp_path):
    import json

    from mlflow import MlflowClient
    from mlflow.server import get_app_client

    env = authenticated_environment(tmp_path, mlflow_auth_server.url, *team["alice"])
    done = s2p_run(env)
    assert done.returncode == 0, done.stderr[-5000:]
    summary = json.loads(done.stdout)
    assert set(summary["steps"].values()) == {"completed"}
    assert summary["mlflow"]["tracking_uri"] == mlflow_auth_server.url
    with signed_in(*team["alice"]):
        champion = MlflowClient(mlflow_auth_server.url).get_model_version_by_alias("linear_regression", "champion")
        assert champion.version == summary["mlflow"]["champion_version"]
    with signed_in(*mlflow_auth_server.admin):
        admin = get_app_client("basic-auth", tracking_uri=mlflow_auth_server.url)
        assert (
            admin.get_user_permission(team["alice"][0], "registered_model", "linear_regression").permission == "MANAGE"
        )


def test_a_wrong_password_stops_s2p_with_one_line_naming_the_server(mlflow_auth_server, team, tmp_path, monkeypatch):
    user = team["alice"][0]
    env = authenticated_environment(tmp_path, mlflow_auth_server.url, user, "not-her-password")
    done = s2p_run(env)
    assert done.returncode != 0
    expected = (
        f"the MLflow tracking store at {mlflow_auth_server.url} refused our credentials (HTTP 401 for user {user!r}"
    )
    assert expected in done.stderr, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "not-her-password" not in done.stderr
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", team["alice"][1])
    assert probe(Backend(MLFLOW_TRACKING, mlflow_auth_server.url)) is None
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    assert "HTTP 401 for no credentials" in probe(Backend(MLFLOW_TRACKING, mlflow_auth_server.url))
