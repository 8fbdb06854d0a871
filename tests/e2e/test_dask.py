"""The syllabus flow refuses a Dask cluster it cannot use, naming why: no scheduler at the address, or
workers that report to no Prefect server or to another one than the flow's (a worker without one
starts a private server of its own, to which the flow never sees its tasks finish). That a phase on
a real cluster gives the local run's results is test_catalog's (it reuses the catalog's local run)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow


def refused(address: str, env: dict, api: str | None, tmp_path: Path) -> str:
    env = {key: value for key, value in env.items() if key != "PREFECT_API_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "s2p.cli", "run", "--phase", "DSA", "--cluster", address],
        cwd=ROOT,
        env={**env, "PREFECT_HOME": str(tmp_path / "prefect"), **({"PREFECT_API_URL": api} if api else {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr


def test_a_cluster_that_is_not_there_is_named(dask_cluster, tmp_path):
    _, env = dask_cluster
    address = f"tcp://127.0.0.1:{free_port()}"
    assert f"no Dask scheduler answers at {address}" in refused(address, env, env["PREFECT_API_URL"], tmp_path)


def test_a_cluster_needs_a_prefect_server_its_workers_report_to(dask_cluster, tmp_path):
    address, env = dask_cluster
    assert "start one (`prefect server start`)" in refused(address, env, None, tmp_path)
    api = env["PREFECT_API_URL"]
    other = api.replace("127.0.0.1", "localhost")  # the same server under another name: not the workers'
    assert f"reports to {api}, not to {other}: start the workers with PREFECT_API_URL={other}" in refused(
        address, env, other, tmp_path
    )
