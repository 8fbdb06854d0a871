"""Fixtures shared by the end-to-end modules: a real Dask cluster (a `dask scheduler` and two
single-threaded `dask worker` processes) reporting to the session's `prefect server` (tests/conftest.py)."""

import os
import subprocess
import sys

import pytest

from tests.conftest import free_port, start, stop, store_variables


@pytest.fixture(scope="session")
def dask_cluster(prefect_api, tmp_path_factory):
    """(scheduler address, the environment of its workers: their stores and the Prefect server)."""
    from distributed import Client

    base = tmp_path_factory.mktemp("dask")
    env = {**os.environ, **store_variables(base / "stores"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.update(PREFECT_API_URL=prefect_api, PREFECT_HOME=str(base / "prefect"), BENTOML_HOME=str(base / "bentoml"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"

    def python(*arguments: str, log: str) -> subprocess.Popen:
        return start([sys.executable, "-m", *arguments], env, base / log)

    scheduler = python(
        "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0",
        log="scheduler.log",
    )  # fmt: skip
    workers = [
        python(
            "distributed.cli.dask_worker",
            address,
            "--nthreads",
            "1",
            "--no-dashboard",
            "--local-directory",
            str(base / f"worker{i}"),
            log=f"worker{i}.log",
        )
        for i in range(2)
    ]
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, env
    finally:
        for process in (*workers, scheduler):
            stop(process)
