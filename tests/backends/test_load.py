"""benchmarks/load_mlflow.py at a small N against the authenticated MLflow server: 10 concurrent users x 3
runs, each run one batch of params and metric points, an artifact through the server and a registered
version; read back through the API, nothing acknowledged is lost or duplicated (no timing asserted)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # PostgreSQL, moto and `mlflow server --app-name basic-auth`, 150 runs' worth of requests


def test_ten_concurrent_writers_lose_and_duplicate_nothing(mlflow_auth_server):
    admin = ":".join(mlflow_auth_server.admin)
    command = [sys.executable, "benchmarks/load_mlflow.py", "--tracking-uri", mlflow_auth_server.url]
    command += ["--admin", admin, "--users", "10", "--runs-per-user", "3", "--curve", "", "--json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (point,) = json.loads(done.stdout.splitlines()[-1])["points"]
    assert point["users"] == 10 and point["failures"] == []
    assert point["lost"] == 0 and point["duplicated"] == 0
    assert point["acknowledged"] == {
        "runs": 30,
        "params": 30 * 10,
        "metric_points": 30 * 4 * 10,
        "artifacts": 30,
        "versions": 30,
    }
    assert point["found"] == point["acknowledged"]
    assert set(point["operations"]) >= {"create_run", "log_batch", "log_artifact", "finish_run", "register"}
