"""A whole deliverable with every production backend switched on at once, by environment variables only:
MLflow through `mlflow server` (PostgreSQL, artifacts proxied to an S3 bucket), Feast's SQL registry on
PostgreSQL and its online store on Redis, the inference log on PostgreSQL (one served request), Prefect's
server database on PostgreSQL. Then DVC's outputs pushed to an S3 remote and pulled into a fresh clone."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from s2p import catalog
from tests.backends.conftest import ARTIFACT_BUCKET, S3_CREDENTIALS, s3_client, s3_keys
from tests.conftest import ROOT, free_port, served, store_variables

pytestmark = pytest.mark.slow

#: What tests/conftest.py points at temporary SQLite files and folders: replaced here.
EMBEDDED = ("S2P_MLFLOW_ARTIFACTS", "S2P_INFERENCE_DB", "MLFLOW_TRACKING_URI", "PREFECT_API_URL")


def production_environment(base: Path, postgres, redis_url: str, mlflow_server: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in EMBEDDED}
    return env | {
        "S2P_STATE_DIR": str(base / "state"),
        "S2P_DATA_DIR": str(base / "data"),
        "S2P_ARTIFACTS_DIR": str(base / "artifacts"),
        "PREFECT_HOME": str(base / "prefect"),
        "BENTOML_HOME": str(base / "bentoml"),
        "MLFLOW_TRACKING_URI": mlflow_server,
        "S2P_FEAST_REGISTRY": postgres.url("feast", driver="psycopg"),
        "S2P_FEAST_ONLINE_STORE": redis_url,
        "S2P_INFERENCE_DB": postgres.url("inference_run"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres.url("prefect", driver="asyncpg"),
    }


@pytest.fixture(scope="module")
def production_run(postgres, redis_url, s3_endpoint, mlflow_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("production")
    env = production_environment(base, postgres, redis_url, mlflow_server)
    command = [sys.executable, "-m", "s2p.cli", "run", "linear_regression", "--size", "smoke", "--json"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-5000:]
    return env, json.loads(done.stdout)


def test_a_deliverable_runs_with_every_backend_switched_at_once(production_run, postgres, redis_url, s3_endpoint):
    import redis

    env, summary = production_run
    assert set(summary["steps"].values()) == {"completed"}
    assert summary["mlflow"]["tracking_uri"] == env["MLFLOW_TRACKING_URI"] and summary["mlflow"]["promoted"]

    # MLflow: runs, the registered version and its champion alias in PostgreSQL ...
    assert postgres.query("mlflow", "SELECT count(*) FROM runs WHERE status = 'FINISHED'")[0][0] >= 1
    aliases = postgres.query("mlflow", "SELECT name, alias, version FROM registered_model_aliases")
    assert ("linear_regression", "champion", 1) in aliases
    locations = postgres.query("mlflow", "SELECT artifact_location FROM experiments WHERE name LIKE 's2p/%%'")
    assert locations and all(location.startswith("mlflow-artifacts:") for (location,) in locations)
    # ... and the model and plots in the S3 bucket, uploaded through the server
    keys = s3_keys(s3_endpoint, ARTIFACT_BUCKET)
    assert any(key.endswith("plots/residuals.png") for key in keys), keys
    assert any(key.endswith("MLmodel") for key in keys), keys

    # Feast: the feature view in the SQL registry, one online row per entity in Redis
    views = postgres.query("feast", "SELECT feature_view_name FROM feature_views")
    assert ("linear_regression",) in views
    dataset = pd.read_parquet(summary["paths"]["dataset"])
    assert redis.Redis.from_url(redis_url).dbsize() == dataset["entity_id"].nunique()

    # Prefect: the flow run is in PostgreSQL, and no SQLite database was created
    states = postgres.query("prefect", "SELECT state_type FROM flow_run")
    assert ("COMPLETED",) in states
    assert not (Path(env["PREFECT_HOME"]) / "prefect.db").exists()

    # the embedded stores' files were never created
    state = Path(env["S2P_STATE_DIR"])
    for embedded in ("mlflow/mlflow.db", "feast/registry.db", "feast/online.db", "inference/inference.db"):
        assert not (state / embedded).exists(), embedded


def test_a_served_request_is_logged_in_postgres(production_run, postgres, monkeypatch):
    env, summary = production_run
    for key in set(os.environ) - set(env):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    features = catalog.get("linear_regression").feature_names
    rows = pd.read_parquet(summary["paths"]["training_set"])[features].head(2).to_dict(orient="records")
    with served("linear_regression") as url:
        response = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=10)
    assert response.status_code == 200, response.text
    logged = postgres.query("inference_run", "SELECT deliverable, model_version, role FROM predictions")
    assert logged == [("linear_regression", "1", "champion")] * 2


def test_a_run_whose_online_store_is_down_ends_with_one_line_naming_it(tmp_path):
    port = free_port()  # nothing listens there
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env |= store_variables(tmp_path) | {"S2P_STATE_DIR": str(tmp_path / "state")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "S2P_FEAST_ONLINE_STORE": f"redis://127.0.0.1:{port}/0"}
    command = [sys.executable, "-m", "s2p.cli", "run", "linear_regression", "--size", "smoke"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    said = [line for line in done.stderr.splitlines() if line.startswith("s2p: error:")]
    assert len(said) == 1, done.stderr[-3000:]
    assert said[0].startswith(f"s2p: error: the Feast online store at redis://127.0.0.1:{port}/0 is unavailable (")


# -- DVC: the project's own outputs through an S3 remote ------------------------------------------


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.email=ci@s2p", "-c", "user.name=ci", *args], cwd=cwd, check=True)


def test_dvc_push_then_pull_into_a_fresh_clone(s3_endpoint, tmp_path):
    from tests.e2e.test_dvc import repo_env, tracked_files

    s3_client(s3_endpoint).create_bucket(Bucket="dvc-remote")
    origin = tmp_path / "origin"
    for name in tracked_files():
        (origin / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, origin / name)
    git("init", "-q", cwd=origin)
    (origin / ".git" / "info" / "exclude").write_text(".venv\n")  # a link, not the folder .gitignore names
    (origin / ".venv").symlink_to(Path(sys.executable).parents[1])

    def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
        env = repo_env(repo) | S3_CREDENTIALS
        done = subprocess.run([".venv/bin/dvc", *args], cwd=repo, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"dvc {' '.join(args)}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        return done

    dvc(origin, "repro", "linear_regression.prepare")
    dvc(origin, "remote", "add", "-d", "storage", "s3://dvc-remote/project")
    dvc(origin, "remote", "modify", "storage", "endpointurl", s3_endpoint)
    git("add", "-A", cwd=origin)
    git("add", "-f", "dvc.lock", cwd=origin)  # the clone learns from dvc.lock which outputs to pull
    git("commit", "-qm", "prepared", cwd=origin)
    pushed = dvc(origin, "push", "linear_regression.prepare")
    assert "1 file pushed" in pushed.stdout, pushed.stdout
    assert s3_keys(s3_endpoint, "dvc-remote", "project/")

    clone = tmp_path / "clone"
    git("clone", "-q", str(origin), str(clone), cwd=tmp_path)
    (clone / ".venv").symlink_to(Path(sys.executable).parents[1])
    dataset = Path("data/linear_regression/dataset.parquet")
    assert not (clone / dataset).exists()
    dvc(clone, "pull", "linear_regression.prepare")
    assert (clone / dataset).read_bytes() == (origin / dataset).read_bytes()
    status = dvc(clone, "status", "linear_regression.prepare")  # validation.json is not cached (cache: false)
    assert "dataset.parquet" not in status.stdout, status.stdout
