"""The syllabus flow across a real Dask cluster (a `dask scheduler` and two `dask worker` processes on
free ports, through Prefect's DaskTaskRunner, all reporting to a real `prefect server`) gives the same
results as on this machine's worker processes; a cluster that is not there, or whose workers report
to no Prefect server, is named in the error."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, store_variables

pytestmark = pytest.mark.slow

PHASE = "DSA"  # four small deliverables, one with a cross-deliverable edge
TIMED = ("_ms", "_seconds", "per_second")  # measured durations differ from run to run


def environment(base: Path, api: str | None = None) -> dict[str, str]:
    """Stores under ``base``, one compute thread per process (as the local worker processes have), and
    the Prefect server at ``api`` (else a temporary one of the flow's own)."""
    variables = {**os.environ, **store_variables(base), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    variables.update({"PREFECT_HOME": str(base / "prefect"), "BENTOML_HOME": str(base / "bentoml")})
    variables.pop("PREFECT_API_URL", None)
    return {**variables, "PREFECT_API_URL": api} if api else variables


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, prefect_api):
    """A scheduler and two single-threaded workers, each its own process, sharing the run's stores."""
    base = tmp_path_factory.mktemp("dask")
    env = environment(base / "stores", prefect_api)
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]

    def start(*command: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", *command], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    scheduler = start(
        "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port, "--dashboard-address", ":0"
    )
    workers = [
        start(
            "distributed.cli.dask_worker",
            address,
            "--nthreads",
            "1",
            "--no-dashboard",
            "--local-directory",
            str(base / f"worker{i}"),
        )
        for i in range(2)
    ]
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    yield address, base / "stores", prefect_api
    for process in (*workers, scheduler):
        process.terminate()
    for process in (*workers, scheduler):
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def run_phase(stores: Path, *extra: str, api: str | None = None) -> tuple[dict, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "s2p.cli", "run", "--phase", PHASE, "--json", *extra],
        cwd=ROOT,
        env=environment(stores, api),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout), time.perf_counter() - started


def untimed(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items() if not name.endswith(TIMED)}


def test_the_phase_on_a_dask_cluster_equals_the_local_run(cluster, tmp_path):
    address, stores, api = cluster
    on_cluster, _ = run_phase(stores, "--cluster", address, api=api)
    local, _ = run_phase(tmp_path / "local")
    assert list(on_cluster) == list(local) and len(local) == 4
    for deliverable, summary in on_cluster.items():
        assert set(summary["steps"].values()) == {"completed"}, deliverable
        for side in ("ours", "reference"):
            assert untimed(summary["metrics"][side]) == untimed(local[deliverable]["metrics"][side]), deliverable
        assert summary["mlflow"]["promoted"], deliverable
    # The steps ran in the workers' processes: they wrote the cluster's stores, not the flow's machine only.
    assert all((stores / "artifacts" / deliverable / "bento.json").is_file() for deliverable in on_cluster)


def refused(address: str, api: str | None, tmp_path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "s2p.cli", "run", "--phase", PHASE, "--cluster", address],
        cwd=ROOT,
        env=environment(tmp_path, api),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr


def test_a_cluster_that_is_not_there_is_named(prefect_api, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    assert f"no Dask scheduler answers at {address}" in refused(address, prefect_api, tmp_path)


def test_a_cluster_needs_a_prefect_server_its_workers_report_to(cluster, tmp_path):
    address, _, api = cluster
    assert "start one (`prefect server start`)" in refused(address, None, tmp_path)
    other = api.replace("/api", "/other/api")
    assert f"reports to {api}, not to {other}: start the workers with PREFECT_API_URL={other}" in refused(
        address, other, tmp_path
    )
